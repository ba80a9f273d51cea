/** The table renderings: exact text, markdown and CSV of a small table. */
import { describe, expect, it } from 'vitest';
import { formatCell, renderCsv, renderMarkdown, renderText, type Table } from '../../src/report/table.js';

const T: Table = {
  columns: [
    { key: 'case', title: 'case', kind: 'text' },
    { key: 'faults', title: 'faults', kind: 'int' },
    { key: 'cycles_per_op', title: 'cycles/op', kind: 'float' },
    { key: 'ratio', title: 'vs base', kind: 'ratio' },
    { key: 'error', title: 'error', kind: 'text' },
  ],
  rows: [
    ['base', 8192, 3617.7, 1, null],
    ['folds, "quoted" | piped', 8192, 0.5, 0.4567, null],
    ['broken', null, null, null, 'FAILED: exit code 2: bad knob'],
  ],
  notes: ['counts: dump page_fault3', 'cost: an estimate'],
};

describe('table renderings', () => {
  it('text: aligned columns, numbers right-aligned and grouped, notes after a blank line', () => {
    expect(renderText(T)).toBe(
      [
        'case                     faults  cycles/op  vs base  error',
        '-----------------------  ------  ---------  -------  -----------------------------',
        'base                      8,192      3,618    1.00x',
        'folds, "quoted" | piped   8,192        0.5    0.46x',
        'broken                                               FAILED: exit code 2: bad knob',
        '',
        'counts: dump page_fault3',
        'cost: an estimate',
        '',
      ].join('\n'),
    );
  });

  it('markdown: a pipe table with alignment markers and escaped pipes', () => {
    expect(renderMarkdown(T)).toBe(
      [
        '| case | faults | cycles/op | vs base | error |',
        '|:---|---:|---:|---:|:---|',
        '| base | 8,192 | 3,618 | 1.00x |  |',
        '| folds, "quoted" \\| piped | 8,192 | 0.5 | 0.46x |  |',
        '| broken |  |  |  | FAILED: exit code 2: bad knob |',
        '',
        'counts: dump page_fault3',
        'cost: an estimate',
        '',
      ].join('\n'),
    );
  });

  it('CSV: keys as the header, raw numbers, quoted fields where needed, CRLF', () => {
    expect(renderCsv(T)).toBe(
      [
        'case,faults,cycles_per_op,ratio,error',
        'base,8192,3617.7,1,',
        '"folds, ""quoted"" | piped",8192,0.5,0.4567,',
        'broken,,,,FAILED: exit code 2: bad knob',
        '',
      ].join('\r\n'),
    );
  });

  it('formats each kind of number', () => {
    expect(formatCell(1234567, 'int')).toBe('1,234,567');
    expect(formatCell(1234567, 'int', false)).toBe('1234567');
    expect(formatCell(0.000123456, 'float')).toBe('0.000123');
    expect(formatCell(612345.6, 'float')).toBe('612,346');
    expect(formatCell(0.999, 'ratio')).toBe('1.00x');
    expect(formatCell(null, 'int')).toBe('');
  });
});
