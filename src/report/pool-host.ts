/**
 * The process that holds compare's thread pool (pool-process.ts): it runs the cases it is sent in
 * a CaseThreadPool and sends each result back. compare coordinates SIGINT and SIGTERM: a
 * terminal's Ctrl-C reaches this process too, and is left to compare, which asks for the stop by
 * message. When compare goes away (its channel closes) this process ends with it.
 */
import { hardExit } from '../util/hard-exit.js';
import type { FromPoolHost, ToPoolHost } from './pool-process.js';
import { CaseThreadPool } from './threads.js';

const send = (m: FromPoolHost): void => void process.send!(m);
let pool: CaseThreadPool | null = null;

process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
// A thread may be inside native code (a guest loop): _exit does not wait for it.
process.on('disconnect', () => void hardExit(0));

process.on('message', (m: ToPoolHost) => {
  switch (m.kind) {
    case 'init':
      pool = new CaseThreadPool(m.size, m.options);
      return;
    case 'run':
      void pool!.run(m.spec).then((result) => send({ kind: 'done', id: m.id, result }));
      return;
    case 'stop':
      void pool!.stop(m.signal, m.waitMs).then((s) => send({ kind: 'stopped', stopped: s.stopped, settled: s.settled }));
      return;
    case 'close':
      void pool!.close().then(() => (pool!.stuck > 0 ? hardExit(0) : process.exit(0)));
      return;
    default: {
      const never: never = m;
      throw new Error(`pool host: unknown message ${JSON.stringify(never)}`);
    }
  }
});
