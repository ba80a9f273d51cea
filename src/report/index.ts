/**
 * Reports: the JSON summary of a run and its text rendering, the cost model, the cases and
 * children of a comparison, its table renderings and the HTML report.
 */
export * from './summary.js';
export * from './summary-text.js';
export * from './cost.js';
export * from './extrapolate.js';
export * from './cases.js';
export * from './runner.js';
export * from './compare.js';
export * from './table.js';
export * from './svg.js';
export * from './timeline.js';
export * from './html.js';
export * from './output.js';
export * from './jobs.js';
export * from './launchers.js';
