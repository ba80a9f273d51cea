export * from './events.js';
export * from './stats.js';
export * from './calls.js';
export * from './tracer.js';
export * from './telemetry.js';
