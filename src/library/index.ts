export { run, type RunRequest } from './run.js';
export { firmwarePath, FIRMWARE, type FirmwareName } from './package.js';
export type { KnobSettings, CostSettings, KnobName, ProfileName, CostParamName } from './knobs.js';
export type { RunSummary } from './summary.js';
