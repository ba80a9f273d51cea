/**
 * A trace file: text appended to a big in-memory buffer and written with `fs.writeSync` when the
 * buffer is full and at close. Synchronous on purpose: a trace must be complete when the process
 * leaves, whatever path it leaves by (an exit handler can still write), and the tracer is called
 * on the emulator's hot path, where awaiting a stream is not possible.
 *
 * The sinks write pure ASCII (format.ts escapes the rest), so characters are bytes.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { LabError, UsageError } from '../../util/errors.js';

/**
 * Node's native Latin-1 copy (the undocumented method Buffer#write dispatches to), called
 * directly: Buffer#write's argument handling costs more than the copy of a 200-byte record.
 */
type Latin1Write = (this: Buffer, text: string, offset: number) => number;
const nativeLatin1Write = (Buffer.prototype as unknown as { latin1Write?: Latin1Write }).latin1Write;
const latin1Write: Latin1Write =
  typeof nativeLatin1Write === 'function'
    ? nativeLatin1Write
    : function (this: Buffer, text: string, offset: number): number {
        return this.write(text, offset, 'latin1');
      };

/** Bytes buffered before a write: big writes, few system calls. */
export const TRACE_BUFFER_BYTES = 1 << 21;

export class TraceFile {
  private fd: number | null;
  private readonly buf = Buffer.allocUnsafe(TRACE_BUFFER_BYTES);
  private pos = 0;
  private flushed = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
      throw new UsageError(`--trace: cannot create '${path}' (${code}); give a writable file path`);
    }
  }

  /** Bytes written so far, buffered or not. */
  get bytes(): number {
    return this.flushed + this.pos;
  }

  get open(): boolean {
    return this.fd !== null;
  }

  /**
   * Appends ASCII text. Each record is copied into the buffer as it comes (a small string is
   * cheap to copy; one big string built from many small ones is not).
   */
  append(text: string): void {
    if (this.pos + text.length > this.buf.length) {
      this.flush();
      if (text.length > this.buf.length) {
        this.writeAll(Buffer.from(text, 'latin1'));
        return;
      }
    }
    this.pos += latin1Write.call(this.buf, text, this.pos);
  }

  flush(): void {
    if (this.fd === null || this.pos === 0) return;
    const n = this.pos;
    this.pos = 0;
    this.writeAll(this.buf.subarray(0, n));
  }

  private writeAll(bytes: Buffer): void {
    if (this.fd === null) return;
    let done = 0;
    try {
      // writeSync may write less than asked (a pipe, a full disk reporting late): loop.
      while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
      throw new LabError(`--trace: writing '${this.path}' failed (${code})`, 1);
    } finally {
      this.flushed += done;
    }
  }

  /** Writes what is buffered and closes; safe to call more than once. */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    try {
      this.flush();
    } finally {
      this.fd = null;
      closeSync(fd);
    }
  }
}
