export * from './parse.js';
export * from './run.js';
