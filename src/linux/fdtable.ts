/**
 * The file descriptor table (struct files_struct): descriptor → open file plus the close-on-exec
 * flag, lowest free descriptor first, bounded by RLIMIT_NOFILE (fs/file.c, v6.9).
 *
 * Each descriptor holds one reference to its open file (OpenFile.get/put), so a file shared by
 * dup, fork or several processes is released (a pipe end closed) when its last descriptor goes.
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

  get(fd: number): FdEntry | null {
    if (!(Number.isInteger(fd) && fd >= 0)) return null;
    return this.slots[fd] ?? null;
  }

  /** The lowest free descriptor ≥ `min` (alloc_fd), or -EMFILE. */
  install(file: OpenFile, cloexec: boolean, min = 0): number {
    const limit = this.limit();
    for (let fd = min; fd < limit; fd++) {
      if (this.slots[fd] === undefined) {
        this.slots[fd] = { file: file.get(), cloexec };
        return fd;
      }
    }
    return -EMFILE;
  }

  /** Puts `file` at `fd`, closing what was there (do_dup2); the caller checks the limit. */
  installAt(fd: number, file: OpenFile, cloexec: boolean): void {
    const old = this.slots[fd];
    this.slots[fd] = { file: file.get(), cloexec };
    old?.file.put();
  }

  close(fd: number): number {
    const e = this.get(fd);
    if (e === null) return -EBADF;
    this.slots[fd] = undefined;
    while (this.slots.length > 0 && this.slots[this.slots.length - 1] === undefined) this.slots.pop();
    e.file.put();
    return 0;
  }

  /** dup_fd for fork without CLONE_FILES: the same open files, one more reference each. */
  fork(limit: () => number = this.limit): FdTable {
    const t = new FdTable(limit);
    this.slots.forEach((e, fd) => {
      if (e !== undefined) t.slots[fd] = { file: e.file.get(), cloexec: e.cloexec };
    });
    return t;
  }

  /** do_close_on_exec. */
  closeOnExec(): void {
    for (const fd of this.open()) if (this.slots[fd]!.cloexec) this.close(fd);
  }

  /** exit_files: every descriptor closed. */
  closeAll(): void {
    for (const fd of this.open()) this.close(fd);
  }

  /** The table's size as /proc/<pid>/status FDSize reports it (a multiple of 64, at least 64). */
  get size(): number {
    return Math.max(64, Math.ceil(this.slots.length / 64) * 64);
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
