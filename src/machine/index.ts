export * from './machine.js';
export * from './run.js';
