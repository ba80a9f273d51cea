/**
 * The file descriptor table (struct files_struct): descriptor → open file plus the close-on-exec
 * flag, lowest free descriptor first, bounded by RLIMIT_NOFILE (fs/file.c, v6.9).
 */
import { EBADF, EMFILE } from '../util/errno.js';
import type { OpenFile } from './file.js';

export interface FdEntry {
  readonly file: OpenFile;
  cloexec: boolean;
}

export class FdTable {
  private readonly slots: (FdEntry | undefined)[] = [];

  /** `limit()` is RLIMIT_NOFILE's soft value, read at each allocation as the kernel does. */
  constructor(private readonly limit: () => number) {}

  /** dup_fd: a copy for a forked child, sharing the open files (their positions too). */
  fork(limit: () => number): FdTable {
    const t = new FdTable(limit);
    this.slots.forEach((e, fd) => {
      if (e !== undefined) t.slots[fd] = { file: e.file, cloexec: e.cloexec };
    });
    return t;
  }

  /** exec: closes every descriptor marked close-on-exec; returns the files closed. */
  closeOnExec(): OpenFile[] {
    const closed: OpenFile[] = [];
    this.slots.forEach((e, fd) => {
      if (e !== undefined && e.cloexec) {
        closed.push(e.file);
        this.close(fd);
      }
    });
    return closed;
  }

  /** exit_files: closes everything; returns the files closed. */
  closeAll(): OpenFile[] {
    const closed: OpenFile[] = [];
    for (const fd of this.open()) {
      closed.push(this.slots[fd]!.file);
      this.close(fd);
    }
    return closed;
  }

  get(fd: number): FdEntry | null {
    if (!(Number.isInteger(fd) && fd >= 0)) return null;
    return this.slots[fd] ?? null;
  }

  /** The lowest free descriptor ≥ `min` (alloc_fd), or -EMFILE. */
  install(file: OpenFile, cloexec: boolean, min = 0): number {
    const limit = this.limit();
    for (let fd = min; fd < limit; fd++) {
      if (this.slots[fd] === undefined) {
        this.slots[fd] = { file, cloexec };
        return fd;
      }
    }
    return -EMFILE;
  }

  /** Puts `file` at `fd`, closing what was there (do_dup2); the caller checks the limit. */
  installAt(fd: number, file: OpenFile, cloexec: boolean): void {
    this.slots[fd] = { file, cloexec };
  }

  close(fd: number): number {
    if (this.get(fd) === null) return -EBADF;
    this.slots[fd] = undefined;
    while (this.slots.length > 0 && this.slots[this.slots.length - 1] === undefined) this.slots.pop();
    return 0;
  }

  /** Descriptors in use, ascending. */
  open(): number[] {
    const out: number[] = [];
    this.slots.forEach((e, fd) => {
      if (e !== undefined) out.push(fd);
    });
    return out;
  }

  /** Whether any descriptor refers to `file`. */
  references(file: OpenFile): boolean {
    return this.slots.some((e) => e?.file === file);
  }
}
