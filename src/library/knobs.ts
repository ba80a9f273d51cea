/**
 * Typed knob settings for the library: `run({ set: { cpus: 4, contpte: false } })`. The names are
 * the knob table's (`KnobName`, the keys of `MmPolicy`, which every entry of KNOBS is typed
 * with), and each value's type follows the resolved value's: a boolean knob takes a boolean or
 * 'on'/'off', a number knob a number, an mTHP size list a string ('64K', '16K,64K', 'none') or
 * an array of sizes, an enum one of its strings, ra_kb also 'auto'. They become the same
 * "knob=value" strings `--set` takes, so parsing and its errors are the CLI's.
 */
import type { KnobName, MmPolicy } from '../mm/knobs.js';
import type { ProfileName } from '../mm/profiles.js';
import type { CostParamName } from '../report/cost.js';

type KnobInput<V> = V extends boolean
  ? boolean | 'on' | 'off'
  : V extends readonly number[]
    ? string | readonly string[]
    : V extends number | null
      ? number | (null extends V ? 'auto' : never)
      : V extends string
        ? V
        : never;

/** One value per knob name, each optional; an unknown name is a type error. */
export type KnobSettings = { readonly [K in KnobName]?: KnobInput<MmPolicy[K]> };

/** Cost-model parameters by name (`--set cost.<name>=value`). */
export type CostSettings = { readonly [K in CostParamName]?: number };

export type { KnobName, ProfileName, CostParamName };

function valueText(v: boolean | number | string | readonly string[]): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  return v.length === 0 ? 'none' : v.join(',');
}

/** The settings as `knob=value` strings, in the order given. */
export function knobSets(set: KnobSettings | undefined): string[] {
  if (set === undefined) return [];
  const out: string[] = [];
  for (const [name, v] of Object.entries(set) as [string, boolean | number | string | readonly string[] | undefined][]) {
    if (v !== undefined) out.push(`${name}=${valueText(v)}`);
  }
  return out;
}

/** The cost settings as `cost.<name>=value` strings. */
export function costSets(cost: CostSettings | undefined): string[] {
  if (cost === undefined) return [];
  return Object.entries(cost).flatMap(([name, v]) => (v === undefined ? [] : [`cost.${name}=${v}`]));
}
