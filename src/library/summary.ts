/** What the library's `run` returns: the JSON summary with its modeled cost, as `run --json` prints it. */
import type { CostResult } from '../report/cost.js';
import type { Summary } from '../report/summary.js';

export interface RunSummary extends Summary {
  /** The cost model applied to the measured counts (`source`: the last dump, or the whole run). */
  cost: CostResult & { source: string };
}
