/**
 * contpte-lab as a library. `run` executes an arm64 program in a worker thread and resolves to
 * the JSON summary with its cost (what `run --json` prints); `runMachine` is the same run on the
 * calling thread, with the Machine. The models are exported for scripts that drive them directly
 * (the page-table Workbench, the mmu).
 */
export { run, firmwarePath, FIRMWARE, type RunRequest, type RunSummary, type FirmwareName, type KnobSettings, type CostSettings, type KnobName, type ProfileName, type CostParamName } from './library/index.js';
export { runMachine, type RunOptions, type RunOutcome, type TraceRequest } from './machine/run.js';
export { Machine, type MachineOptions, type RunEnd } from './machine/machine.js';
export type { Summary, Counts, Dump } from './report/summary.js';
export { PROFILES, resolvePolicy, DEFAULT_PROFILE } from './mm/profiles.js';
export { KNOBS } from './mm/knobs.js';
export { Workbench } from './pgtable/workbench.js';
export * as mmu from './mmu/index.js';
export * as pgtable from './pgtable/index.js';
