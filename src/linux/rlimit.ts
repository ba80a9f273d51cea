/**
 * Resource limits (include/uapi/asm-generic/resource.h). The starting values are the kernel's
 * INIT_RLIMITS (include/asm-generic/resource.h, v6.9) with fixed numbers where the kernel sizes
 * a limit from the machine at boot (RLIMIT_NPROC, RLIMIT_SIGPENDING), so every run sees the same.
 * Values are bigints: RLIM_INFINITY is 2^64 - 1.
 */
import { EINVAL, EPERM } from '../util/errno.js';

export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
export const RLIMIT_LOCKS = 10;
export const RLIMIT_SIGPENDING = 11;
export const RLIMIT_MSGQUEUE = 12;
export const RLIMIT_NICE = 13;
export const RLIMIT_RTPRIO = 14;
export const RLIMIT_RTTIME = 15;
export const RLIM_NLIMITS = 16;

export const RLIM_INFINITY = 2n ** 64n - 1n;

export interface Rlimit {
  readonly cur: bigint;
  readonly max: bigint;
}

const INF: Rlimit = { cur: RLIM_INFINITY, max: RLIM_INFINITY };
const MiB = 1024n * 1024n;
/** Threads and pending signals the model's "machine" allows (the kernel derives these from RAM). */
const BOOT_SIZED_LIMIT = 7823n;

function initialLimits(): Rlimit[] {
  const l: Rlimit[] = Array.from({ length: RLIM_NLIMITS }, () => INF);
  l[RLIMIT_STACK] = { cur: 8n * MiB, max: RLIM_INFINITY };
  l[RLIMIT_CORE] = { cur: 0n, max: RLIM_INFINITY };
  l[RLIMIT_NPROC] = { cur: BOOT_SIZED_LIMIT, max: BOOT_SIZED_LIMIT };
  l[RLIMIT_NOFILE] = { cur: 1024n, max: 4096n };
  l[RLIMIT_MEMLOCK] = { cur: 8n * MiB, max: 8n * MiB };
  l[RLIMIT_SIGPENDING] = { cur: BOOT_SIZED_LIMIT, max: BOOT_SIZED_LIMIT };
  l[RLIMIT_MSGQUEUE] = { cur: 819200n, max: 819200n };
  l[RLIMIT_NICE] = { cur: 0n, max: 0n };
  l[RLIMIT_RTPRIO] = { cur: 0n, max: 0n };
  return l;
}

export class Rlimits {
  private readonly limits = initialLimits();

  /** fork: the child starts with the parent's limits. */
  copyFrom(other: Rlimits): void {
    for (let r = 0; r < this.limits.length; r++) this.limits[r] = other.limits[r]!;
  }

  get(resource: number): Rlimit {
    const r = this.limits[resource];
    if (r === undefined) throw new RangeError(`no resource limit ${resource}`);
    return r;
  }

  /**
   * do_prlimit's checks for a new value: cur ≤ max, raising max needs CAP_SYS_RESOURCE (which
   * an unprivileged guest lacks), RLIMIT_NOFILE at most nr_open (1048576). Returns 0 or -errno.
   */
  set(resource: number, next: Rlimit, privileged: boolean): number {
    const old = this.get(resource);
    if (next.cur > next.max) return -EINVAL;
    if (resource === RLIMIT_NOFILE && next.max > 1048576n) return -EPERM;
    if (next.max > old.max && !privileged) return -EPERM;
    this.limits[resource] = next;
    return 0;
  }

  /** A limit as a number for the kernel paths that use one (capped at 2^53). */
  curNumber(resource: number): number {
    const c = this.get(resource).cur;
    return c > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(c);
  }
}
