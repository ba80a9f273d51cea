/**
 * Ending the process at once with a given status, without waiting for its worker threads:
 * process.exit joins every worker, and a worker inside native code that never calls back into
 * JavaScript (a guest loop under Unicorn 2.0.1) would keep it waiting for as long as the loop
 * runs. libc's `_exit` ends every thread now. Output already written stays written: Node writes
 * stdout and stderr synchronously on Linux (files, pipes and terminals).
 */
export async function hardExit(status: number): Promise<never> {
  const koffi = (await import('koffi')).default;
  const exit = koffi.load('libc.so.6').func('void _exit(int status)') as (status: number) => void;
  exit(status);
  throw new Error('_exit returned');
}
