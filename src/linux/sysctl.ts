/**
 * /proc/sys: the sysctls programs and test suites read (kernel/sysctl.c, mm/*.c, v6.12 defaults
 * for a Debian arm64 kernel). Files are root's, 0644 (0200 for the write-only triggers), so only a
 * guest running as root can change them. A written value is checked as proc_dointvec and friends
 * check it and then reads back; the model's behaviour depends on none of them but those that set
 * a knob (vm/overcommit_memory), whose write changes the knob as `--set` would and is refused
 * (EINVAL) for a value the model does not follow (mode 2, strict accounting).
 */
import type { KnobName } from '../mm/knobs.js';
import { EINVAL } from '../util/errno.js';
import { DEFAULT_MMAP_MIN_ADDR } from '../mm/vma.js';
import { PROC_SB, type DirNode, type FileSystem } from './fs.js';
import type { ProcHost } from './prochost.js';
import { PIPE_MAX_SIZE } from './pipe.js';
import { snapshot } from './procfs.js';

interface Sysctl {
  readonly path: string;
  readonly value: (host: ProcHost) => string;
  /** 'int': one integer (minimum given); 'text': any line; 'trigger': write-only, 1..max. */
  readonly kind: { readonly type: 'int'; readonly min?: number; readonly max?: number } | { readonly type: 'text' } | { readonly type: 'trigger'; readonly max: number };
  /** The knob a write sets (the value then reads from the knob, not from what was stored). */
  readonly knob?: KnobName;
}

const INT = { type: 'int' } as const;
const NONNEG = { type: 'int', min: 0 } as const;

function memKb(host: ProcHost): number {
  return host.kernel === null ? 0 : host.kernel.buddy.poolPages * 4;
}

/** calculate_min_free_kbytes: sqrt(lowmem_kbytes * 16), within [128, 262144]. */
function minFreeKbytes(host: ProcHost): number {
  return Math.min(262144, Math.max(128, Math.floor(Math.sqrt(memKb(host) * 16))));
}

const SYSCTLS: readonly Sysctl[] = [
  { path: 'vm/mmap_min_addr', value: () => String(DEFAULT_MMAP_MIN_ADDR), kind: NONNEG },
  { path: 'vm/overcommit_memory', value: (host) => (host.kernel === null ? '0' : host.kernel.policy.overcommit_memory), kind: { type: 'int', min: 0, max: 2 }, knob: 'overcommit_memory' },
  { path: 'vm/overcommit_ratio', value: () => '50', kind: NONNEG },
  { path: 'vm/overcommit_kbytes', value: () => '0', kind: NONNEG },
  { path: 'vm/max_map_count', value: () => '65530', kind: NONNEG },
  { path: 'vm/nr_hugepages', value: () => '0', kind: NONNEG },
  { path: 'vm/nr_overcommit_hugepages', value: () => '0', kind: NONNEG },
  { path: 'vm/hugetlb_shm_group', value: () => '0', kind: NONNEG },
  { path: 'vm/swappiness', value: () => '60', kind: { type: 'int', min: 0, max: 200 } },
  { path: 'vm/page-cluster', value: () => '3', kind: NONNEG },
  { path: 'vm/dirty_ratio', value: () => '20', kind: { type: 'int', min: 0, max: 100 } },
  { path: 'vm/dirty_background_ratio', value: () => '10', kind: { type: 'int', min: 0, max: 100 } },
  { path: 'vm/dirty_bytes', value: () => '0', kind: NONNEG },
  { path: 'vm/dirty_background_bytes', value: () => '0', kind: NONNEG },
  { path: 'vm/dirty_expire_centisecs', value: () => '3000', kind: NONNEG },
  { path: 'vm/dirty_writeback_centisecs', value: () => '500', kind: NONNEG },
  { path: 'vm/min_free_kbytes', value: (h) => String(minFreeKbytes(h)), kind: NONNEG },
  { path: 'vm/watermark_scale_factor', value: () => '10', kind: { type: 'int', min: 1, max: 3000 } },
  { path: 'vm/zone_reclaim_mode', value: () => '0', kind: NONNEG },
  { path: 'vm/stat_interval', value: () => '1', kind: INT },
  { path: 'vm/unprivileged_userfaultfd', value: () => '0', kind: { type: 'int', min: 0, max: 1 } },
  { path: 'vm/legacy_va_layout', value: () => '0', kind: NONNEG },
  { path: 'vm/admin_reserve_kbytes', value: () => '8192', kind: NONNEG },
  { path: 'vm/user_reserve_kbytes', value: (h) => String(Math.min(131072, Math.floor(memKb(h) / 32))), kind: NONNEG },
  { path: 'vm/memory_failure_early_kill', value: () => '0', kind: { type: 'int', min: 0, max: 1 } },
  { path: 'vm/memory_failure_recovery', value: () => '1', kind: { type: 'int', min: 0, max: 1 } },
  { path: 'vm/oom_kill_allocating_task', value: () => '0', kind: INT },
  { path: 'vm/panic_on_oom', value: () => '0', kind: { type: 'int', min: 0, max: 2 } },
  { path: 'vm/laptop_mode', value: () => '0', kind: INT },
  { path: 'vm/vfs_cache_pressure', value: () => '100', kind: NONNEG },
  { path: 'vm/compaction_proactiveness', value: () => '20', kind: { type: 'int', min: 0, max: 100 } },
  { path: 'vm/extfrag_threshold', value: () => '500', kind: { type: 'int', min: 0, max: 1000 } },
  { path: 'vm/drop_caches', value: () => '', kind: { type: 'trigger', max: 4 } },
  { path: 'vm/compact_memory', value: () => '', kind: { type: 'trigger', max: 1 } },
  { path: 'kernel/pid_max', value: () => '4194304', kind: { type: 'int', min: 301, max: 4194304 } },
  { path: 'kernel/threads-max', value: () => '126976', kind: NONNEG },
  { path: 'kernel/ostype', value: (h) => h.current().utsname.sysname, kind: { type: 'text' } },
  { path: 'kernel/osrelease', value: (h) => h.current().utsname.release, kind: { type: 'text' } },
  { path: 'kernel/version', value: (h) => h.current().utsname.version, kind: { type: 'text' } },
  { path: 'kernel/hostname', value: (h) => h.current().utsname.nodename, kind: { type: 'text' } },
  { path: 'kernel/domainname', value: (h) => h.current().utsname.domainname, kind: { type: 'text' } },
  { path: 'kernel/randomize_va_space', value: () => '0', kind: { type: 'int', min: 0, max: 2 } },
  { path: 'kernel/perf_event_paranoid', value: () => '3', kind: INT },
  { path: 'kernel/ngroups_max', value: () => '65536', kind: INT },
  { path: 'kernel/cap_last_cap', value: () => '40', kind: INT },
  { path: 'kernel/overflowuid', value: () => '65534', kind: NONNEG },
  { path: 'kernel/overflowgid', value: () => '65534', kind: NONNEG },
  { path: 'kernel/shmmax', value: () => '18446744073692774399', kind: { type: 'text' } },
  { path: 'kernel/shmall', value: () => '18446744073692774399', kind: { type: 'text' } },
  { path: 'kernel/shmmni', value: () => '4096', kind: NONNEG },
  { path: 'fs/pipe-max-size', value: () => String(PIPE_MAX_SIZE), kind: NONNEG },
  { path: 'fs/nr_open', value: () => '1048576', kind: NONNEG },
  { path: 'fs/file-max', value: () => '9223372036854775807', kind: { type: 'text' } },
];

/** proc_dointvec's parse of one value: trailing whitespace allowed, nothing else. */
function parseInt10(text: string): number | null {
  const t = text.replace(/[\s]+$/, '');
  if (!/^-?[0-9]+$/.test(t)) return null;
  return Number(t);
}

function dirAt(fs: FileSystem, root: DirNode, parts: readonly string[]): DirNode {
  let d = root;
  for (const part of parts) {
    const next = d.entries.get(part);
    d = next !== undefined && next.kind === 'dir' ? next : fs.newPseudoDir(d, PROC_SB, 0o555, 0, 0, part);
  }
  return d;
}

export function mountSysctl(fs: FileSystem, host: ProcHost): void {
  const sys = dirAt(fs, fs.proc, ['sys']);
  const enc = new TextEncoder();
  for (const s of SYSCTLS) {
    const parts = s.path.split('/');
    const dir = dirAt(fs, sys, parts.slice(0, -1));
    const current = (): string => host.sysctl.get(s.path) ?? s.value(host);
    const kind = s.kind;
    fs.newSynth(
      PROC_SB,
      kind.type === 'trigger' ? 0o200 : 0o644,
      {
        open: () => snapshot(kind.type === 'trigger' ? new Uint8Array(0) : enc.encode(current() + '\n')),
        write: (data) => {
          const text = new TextDecoder().decode(data);
          if (kind.type === 'text') {
            host.sysctl.set(s.path, text.replace(/\n$/, ''));
            return data.length;
          }
          const v = parseInt10(text);
          if (v === null) return -EINVAL;
          if (kind.type === 'trigger') return v >= 1 && v <= kind.max ? data.length : -EINVAL;
          if ((kind.min !== undefined && v < kind.min) || (kind.max !== undefined && v > kind.max)) return -EINVAL;
          if (s.knob !== undefined) {
            const r = host.setKnob(s.knob, String(v));
            return r < 0 ? r : data.length;
          }
          host.sysctl.set(s.path, String(v));
          return data.length;
        },
      },
      dir,
      parts[parts.length - 1]!,
    );
  }
}
