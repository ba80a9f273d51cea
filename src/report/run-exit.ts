/**
 * The exit status of `contpte-lab run` (and of a compare case, which reads as the same run): the
 * guest's own (128 + signal when Linux would have killed it), else 124 when a budget stopped it,
 * 130/143 when SIGINT/SIGTERM interrupted the tool, 70 when the emulation could not go on.
 */
import type { RunEnd } from '../machine/machine.js';

export const EXIT_BUDGET = 124;
export const EXIT_CRASH = 70;
/** 128 + the signal that interrupted the tool, as a shell reports it. */
export const EXIT_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;

export function runExitStatus(end: RunEnd, caught: 'SIGINT' | 'SIGTERM' | null): number {
  if (end.exitCode !== null) return end.exitCode;
  if (end.reason === 'budget') return EXIT_BUDGET;
  return end.reason === 'interrupted' && caught !== null ? EXIT_SIGNAL[caught] : EXIT_CRASH;
}
