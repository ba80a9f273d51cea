import { CallStack } from './calls.js';
import { StatsRegistry } from './stats.js';
import { Tracer } from './tracer.js';

/**
 * What every component is given to report through: the stats registry, the tracer and the
 * attribution call stack. One per machine (or per model instance in tests).
 */
export class Telemetry {
  readonly stats = new StatsRegistry();
  readonly tracer = new Tracer();
  readonly calls = new CallStack();
}
