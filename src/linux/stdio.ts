/**
 * The tool's own standard streams as the guest's stdin, stdout and stderr: synchronous reads and
 * writes on host fds 0, 1 and 2, so guest output interleaves with the tool's in program order.
 */
import { readSync, writeSync } from 'node:fs';
import type { StdioHooks } from './file.js';

/** Writes all of `bytes` to a host fd, waiting out EAGAIN on a non-blocking pipe. */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      // The reader is slow; a 1 ms pause keeps this from spinning.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function readStdin(max: number): Uint8Array {
  const buf = new Uint8Array(Math.min(max, 1 << 20));
  try {
    const n = readSync(0, buf, 0, buf.length, null);
    return buf.subarray(0, n);
  } catch (e) {
    // No stdin at all (closed descriptor) reads as end of file, as a closed pipe does.
    if ((e as NodeJS.ErrnoException).code === 'EOF' || (e as NodeJS.ErrnoException).code === 'EBADF') return new Uint8Array(0);
    throw e;
  }
}

export const HOST_STDIO: StdioHooks = {
  readStdin,
  writeStdout: (bytes) => writeAllSync(1, bytes),
  writeStderr: (bytes) => writeAllSync(2, bytes),
  isatty: false,
};
