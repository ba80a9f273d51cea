/**
 * eventfd (fs/eventfd.c, v6.12): a 64-bit counter behind a file. A read takes the whole count
 * (or 1 in EFD_SEMAPHORE mode) and waits while it is 0; a write adds to it and waits while the
 * sum would reach 2^64 - 1. Reads and writes move exactly 8 bytes.
 */
import { EINVAL } from '../util/errno.js';
import { O_RDWR, OpenFile } from './file.js';
import { POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, type FileOps, type OpsRead, type OpsWrite } from './fileops.js';
import type { FileSystem } from './fs.js';
import { WaitQueue } from './wait.js';

export const EFD_SEMAPHORE = 1;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;

const ULLONG_MAX = (1n << 64n) - 1n;

export class EventFd implements FileOps {
  readonly linkName = 'anon_inode:[eventfd]';
  /** ctx->wqh: readers and writers both wait here. */
  readonly wqh = new WaitQueue('eventfd');

  constructor(
    public count: bigint,
    readonly semaphore: boolean,
  ) {}

  read(f: OpenFile, len: number): OpsRead {
    void f;
    if (len < 8) return { kind: 'error', errno: EINVAL };
    if (this.count === 0n) return { kind: 'wait', on: [this.wqh] };
    const value = this.semaphore ? 1n : this.count;
    this.count -= value;
    this.wqh.wake();
    return { kind: 'ok', bytes: le64(value) };
  }

  write(f: OpenFile, data: Uint8Array): OpsWrite {
    void f;
    if (data.length < 8) return { kind: 'error', errno: EINVAL };
    const value = new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
    if (value === ULLONG_MAX) return { kind: 'error', errno: EINVAL };
    if (ULLONG_MAX - this.count <= value) return { kind: 'wait', on: [this.wqh] };
    this.count += value;
    if (value !== 0n) this.wqh.wake();
    return { kind: 'ok', written: 8 };
  }

  poll(): { mask: number; on: readonly WaitQueue[] } {
    let mask = 0;
    if (this.count > 0n) mask |= POLLIN | POLLRDNORM;
    if (this.count === ULLONG_MAX) mask |= POLLERR;
    if (ULLONG_MAX - 1n > this.count) mask |= POLLOUT | POLLWRNORM;
    return { mask, on: [this.wqh] };
  }

  release(): void {
    this.wqh.wake();
  }
}

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

/** eventfd2's file: O_RDWR plus O_NONBLOCK if asked, on the shared anon inode. */
export function createEventFd(fs: FileSystem, initval: number, flags: number): OpenFile {
  const ops = new EventFd(BigInt(initval), (flags & EFD_SEMAPHORE) !== 0);
  return new OpenFile(fs.anonInode(), O_RDWR | (flags & EFD_NONBLOCK), null, ops);
}
