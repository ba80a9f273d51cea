/**
 * Compile-time checks of the library's types (tsc -p tsconfig.test.json, part of npm test): each
 * `@ts-expect-error` line must fail to type-check, or tsc reports the directive as unused.
 * Nothing here runs.
 */
import type { KnobSettings, RunRequest } from '../../src/index.js';
import { KNOBS } from '../../src/index.js';

export const ok: RunRequest[] = [
  { elf: 'firmware/bin/page_fault3', profile: 'linux-6.9', set: { cpus: 4 } },
  { elf: 'x', set: { contpte: false, tlbi_range: 'off', anon_mthp: '64K', shmem_mthp: ['16K'], ra_kb: 'auto', tmp_fs: 'tmpfs', finish_fault: 'folio' } },
  { elf: 'x', cost: { pte_write: 10 } },
];

// @ts-expect-error an unknown knob name
export const badName: KnobSettings = { cpuz: 4 };
// @ts-expect-error a number for a boolean knob
export const badBool: KnobSettings = { contpte: 1 };
// @ts-expect-error a value outside an enum knob's values
export const badEnum: KnobSettings = { tmp_fs: 'xfs' };
// @ts-expect-error an unknown profile
export const badProfile: RunRequest = { elf: 'x', profile: 'linux-5.0' };
// @ts-expect-error an unknown cost parameter
export const badCost: RunRequest = { elf: 'x', cost: { pte_wrte: 1 } };

/** Every name of the knob table is a key KnobSettings accepts (the table and the type agree). */
export const everyKnob: readonly (keyof KnobSettings)[] = KNOBS.map((k) => k.name);
