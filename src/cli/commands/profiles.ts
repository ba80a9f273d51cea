/**
 * `contpte-lab profiles`: the kernel profiles and every knob, side by side (value in each profile
 * and what the knob means); `--profile NAME` shows one profile resolved with `--set` overrides and
 * the reason for each value; `--json` for machines.
 */
import type { Argv, CommandModule } from 'yargs';
import {
  DEFAULT_PROFILE,
  describeType,
  formatKnobValue,
  KNOBS,
  PROFILES,
  profileValueText,
  resolvePolicy,
  type KnobName,
} from '../../mm/index.js';
import { tableWidth } from '../tty.js';

interface ProfilesArgs {
  profile?: string;
  set?: string[];
  json: boolean;
}

/**
 * Pads a table of rows of cells into aligned columns. The last column is left ragged and, when a
 * line would pass `width` (a terminal's), wrapped at spaces under its own column.
 */
export function table(rows: string[][], width = Infinity): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => {
      const lead = r.slice(0, -1).map((c, i) => c.padEnd(widths[i]!) + '  ').join('');
      const last = r[r.length - 1] ?? '';
      if (lead.length + last.length <= width) return lead + last;
      // Too narrow for the last column beside the others: it goes under them, indented.
      if (width - lead.length < 30) return [lead.trimEnd(), ...wrapWords(last, Math.max(20, width - 6)).map((l) => '      ' + l)].join('\n');
      return lead + wrapWords(last, width - lead.length).join('\n' + ' '.repeat(lead.length));
    })
    .join('\n');
}

/** `text` in lines of at most `width` characters, broken at spaces (a longer word stands alone). */
export function wrapWords(text: string, width: number): string[] {
  if (text.length <= width) return [text];
  const lines: string[] = [];
  let cur = '';
  for (const w of text.split(' ')) {
    if (cur !== '' && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else {
      cur = cur === '' ? w : `${cur} ${w}`;
    }
  }
  lines.push(cur);
  return lines;
}

/** Every profile and knob (the default listing). */
export function profilesListing(json: boolean, width = Infinity): string {
  if (json) {
    return JSON.stringify(
      {
        default_profile: DEFAULT_PROFILE,
        profiles: PROFILES.map((p) => ({
          name: p.name,
          summary: p.summary,
          values: Object.fromEntries(KNOBS.map((k) => [k.name, { value: profileValueText(p, k.name), reason: p.values[k.name].reason }])),
        })),
        knobs: KNOBS.map((k) => ({ name: k.name, accepts: describeType(k.type), reader: k.reader, description: k.description })),
      },
      null,
      2,
    );
  }
  const head = ['knob', ...PROFILES.map((p) => p.name), 'read by', 'description'];
  const rows = KNOBS.map((k) => [k.name, ...PROFILES.map((p) => profileValueText(p, k.name)), k.reader, k.description]);
  // The columns before the description, as table() pads them.
  const lead = head.slice(0, -1).reduce((sum, _, i) => sum + Math.max(...[head, ...rows].map((r) => r[i]!.length)) + 2, 0);
  const lines = [
    `Profiles (default ${DEFAULT_PROFILE}):`,
    ...PROFILES.map((p) => `  ${p.name.padEnd(11)} ${wrapWords(p.summary, Math.max(20, width - 14)).join('\n' + ' '.repeat(14))}`),
    '',
    lead <= width ? table([head, ...rows], width) : knobBlocks(width),
    '',
    ...wrapWords("Override any knob with --set knob=value; 'contpte-lab profiles --profile NAME' shows the reason for each value.", width),
  ];
  return lines.join('\n');
}

/**
 * The knobs for a terminal too narrow for the table's columns: per knob its name and reader, its
 * value in every profile (once when they agree), and its description, each wrapped to `width`.
 */
function knobBlocks(width: number): string {
  const indent = '    ';
  const wrap = (text: string): string[] => wrapWords(text, Math.max(20, width - indent.length)).map((l) => indent + l);
  return KNOBS.map((k) => {
    const values = PROFILES.map((p) => profileValueText(p, k.name));
    const shown = values.every((v) => v === values[0]) ? `${values[0]} in every profile` : PROFILES.map((p, i) => `${p.name}: ${values[i]}`).join(', ');
    return [`${k.name}  (read by ${k.reader})`, ...wrap(shown), ...wrap(k.description)].join('\n');
  }).join('\n');
}

/** One profile resolved with overrides. */
export function profileDetail(name: string, sets: readonly string[], json: boolean, width = Infinity): string {
  const r = resolvePolicy(name, sets);
  const p = PROFILES.find((x) => x.name === r.profile)!;
  const value = (k: KnobName): string => formatKnobValue(KNOBS.find((d) => d.name === k)!, r.policy[k]);
  if (json) {
    return JSON.stringify(
      {
        profile: r.profile,
        policy: Object.fromEntries(KNOBS.map((k) => [k.name, value(k.name)])),
        overridden: KNOBS.filter((k) => r.overridden.has(k.name)).map((k) => k.name),
      },
      null,
      2,
    );
  }
  const rows = KNOBS.map((k) => {
    const over = r.overridden.has(k.name);
    return [k.name, value(k.name), over ? `set (profile: ${profileValueText(p, k.name)})` : p.values[k.name].reason];
  });
  return [...wrapWords(`${r.profile}: ${p.summary}`, width), '', table([['knob', 'value', 'why'], ...rows], width)].join('\n');
}

export const profilesCommand: CommandModule<object, ProfilesArgs> = {
  command: 'profiles',
  describe: 'list the kernel profiles and every knob with its value in each',
  builder: (y: Argv) =>
    y
      .option('profile', { type: 'string', describe: 'show one profile, resolved with --set overrides, with the reason for each value' })
      .option('set', { type: 'string', array: true, describe: 'knob=value override (repeatable; with --profile)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 profiles', 'every knob in every profile')
      .example('$0 profiles --profile linux-6.9 --set finish_fault=folio', 'one profile with an override') as unknown as Argv<ProfilesArgs>,
  handler: (args) => {
    const sets = args.set ?? [];
    const width = tableWidth(process.stdout);
    const out = args.profile !== undefined || sets.length > 0 ? profileDetail(args.profile ?? DEFAULT_PROFILE, sets, args.json, width) : profilesListing(args.json, width);
    process.stdout.write(out + '\n');
  },
};
