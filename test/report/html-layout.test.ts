/**
 * The HTML report in a real browser at 800 px: headless Chromium (Debian package chromium) lays
 * out a `compare --html` report of the regression preset, with a failed case, and the page must
 * not scroll sideways (wide tables scroll inside their own box, charts scale to the page), and a
 * screenshot at that width is made.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exec } from '../cli/exec.js';

const dir = mkdtempSync(join(tmpdir(), 'html-layout-'));

function chromium(): string {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(p)) return p;
  throw new Error('headless Chromium is needed for the layout test: apt-get install -y chromium (Debian package chromium)');
}

/** What the page measures of itself once laid out in a `width`-pixel window. */
function measure(html: string, width: number): { scrollWidth: number; innerWidth: number; wide: string[] } {
  const probe = `<script>
addEventListener('load', () => {
  const root = document.scrollingElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter((e) => !e.closest('.scroll') && e.getBoundingClientRect().right > innerWidth + 0.5)
    .map((e) => e.tagName + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className : ''));
  document.body.setAttribute('data-measure', JSON.stringify({ scrollWidth: root.scrollWidth, innerWidth, wide }));
});
</script>`;
  const file = join(dir, `probe-${width}.html`);
  writeFileSync(file, html.replace('</body>', `${probe}\n</body>`));
  const r = spawnSync(chromium(), ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--window-size=${width},1200`, '--virtual-time-budget=2000', '--dump-dom', `file://${file}`], { encoding: 'utf8', timeout: 120_000 });
  const m = /data-measure="([^"]*)"/.exec(r.stdout);
  if (m === null) throw new Error(`chromium printed no measurement (status ${r.status}): ${r.stderr.slice(-500)}`);
  return JSON.parse(m[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as { scrollWidth: number; innerWidth: number; wide: string[] };
}

describe('the HTML report at 800 px in Chromium', () => {
  it('does not overflow sideways, failed case included', async () => {
    const browser = chromium();
    const cases = join(dir, 'cases.txt');
    writeFileSync(cases, 'regression: --profile linux-6.9 --set tmp_fs=ext4 --set file_large_folios=on\nsmall-folios: --profile linux-6.9 --set tmp_fs=ext4\nbad-size: --profile linux-6.9 --set tmp_fs=ext4 -- banana\n');
    const html = join(dir, 'report.html');
    const r = await exec('node', ['dist/src/cli/main.js', 'compare', 'firmware/bin/page_fault3', '--cases', cases, '--html', html, '--', '1M', '1'], { timeoutMs: 240_000 });
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain('1 of 3 cases failed');
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('FAILED');
    const at800 = measure(page, 800);
    expect(at800.innerWidth).toBe(800);
    expect(at800.wide).toEqual([]);
    expect(at800.scrollWidth).toBeLessThanOrEqual(800);
    // The same page at 1280 px: still nothing sticks out (the check is not an artefact of narrow windows).
    expect(measure(page, 1280).wide).toEqual([]);
    const shot = join(dir, 'report-800.png');
    spawnSync(browser, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=800,1600', `--screenshot=${shot}`, `file://${html}`], { timeout: 120_000 });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  }, 300_000);
});
