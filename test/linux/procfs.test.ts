/**
 * /proc, /sys and the prctl/sysinfo/capget/getrusage calls over the real memory manager, with the
 * firmware's hello loaded: each file's content against the kernel's format, field by field, and
 * against the model's own state (VMAs, PTEs, knobs).
 */
import { describe, expect, it } from 'vitest';
import { realMmRig } from './real-mm-rig.js';
import { EACCES, EBADF, EINVAL, EOPNOTSUPP, EPERM } from '../../src/util/errno.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function setup(opts: { uid?: number; sets?: string[]; cpus?: number } = {}) {
  const { k, mm, p, call, scratch } = realMmRig({
    sets: opts.sets ?? ['anon_mthp=64K'],
    uid: opts.uid ?? 1000,
    cpus: opts.cpus ?? 4,
    exec: { argv: ['hello', 'arg1'], envp: ['HOME=/', 'LANG=C'] },
    scratchBytes: 1 << 20,
  });
  const str = (s: string, off = 0): number => {
    mm.copyToUser(scratch + off, enc.encode(s + '\0'));
    return scratch + off;
  };
  const open = (path: string, flags = 0): number => call('openat', -100, str(path), flags, 0);
  const readAll = (path: string): string => {
    const fd = open(path);
    if (fd < 0) throw new Error(`open ${path}: ${fd}`);
    const parts: string[] = [];
    for (;;) {
      const n = call('read', fd, scratch + 65536, 65536);
      if (n < 0) throw new Error(`read ${path}: ${n}`);
      if (n === 0) break;
      parts.push(dec.decode(mm.copyFromUser(scratch + 65536, n)!));
    }
    call('close', fd);
    return parts.join('');
  };
  const writeTo = (path: string, text: string): number => {
    const fd = open(path, 1);
    if (fd < 0) return fd;
    mm.copyToUser(scratch + 4096, enc.encode(text));
    const n = call('write', fd, scratch + 4096, enc.encode(text).length);
    call('close', fd);
    return n;
  };
  return { k, mm, p, call, scratch, str, open, readAll, writeTo };
}

const hexw = (n: number): string => n.toString(16).padStart(8, '0');

describe('/proc/<pid>/maps', () => {
  it('prints each VMA as show_map_vma does: names at column 73, anonymous lines ending in a space', () => {
    const { readAll, mm, k, scratch, call } = setup();
    expect(call('brk', 0x498000 + 8192)).toBe(0x498000 + 8192);
    const lines = readAll('/proc/self/maps').split('\n');
    expect(lines.pop()).toBe('');
    const exeIno = [...mm.vmas.all()][0]!.file!.ino;
    const top = 2 ** 40;
    const expected = [
      `00400000-0047f000 r-xp 00000000 08:01 ${exeIno}`.padEnd(72) + ' /bin/hello',
      `0048c000-00493000 rw-p 0008c000 08:01 ${exeIno}`.padEnd(72) + ' /bin/hello',
      // brk grew the bss VMA, as Linux's do_brk_flags does for a static binary: all of it is [heap].
      `00493000-0049a000 rw-p 00000000 00:00 0`.padEnd(72) + ' [heap]',
      `${hexw(scratch)}-${hexw(scratch + (1 << 20))} rw-p 00000000 00:00 0 `,
      // The stack's page of strings and the 128 KiB exec adds below it (setup_arg_pages).
      `${hexw(top - 0x21000)}-${hexw(top)} rw-p 00000000 00:00 0`.padEnd(72) + ' [stack]',
    ];
    expect(lines).toEqual(expected);
    void k;
  });

  it('names shared anonymous memory /dev/zero (deleted) and memfds /memfd:NAME (deleted)', () => {
    const { readAll, call, str } = setup();
    const shared = call('mmap', 0, 8192, 3, 0x21, -1, 0);
    const fd = call('memfd_create', str('blob', 100), 0);
    expect(call('ftruncate', fd, 4096)).toBe(0);
    const mf = call('mmap', 0, 4096, 1, 0x01, fd, 0);
    const text = readAll('/proc/self/maps');
    const line = (addr: number): string => text.split('\n').find((l) => l.startsWith(hexw(addr)))!;
    expect(line(shared)).toMatch(/^[0-9a-f]+-[0-9a-f]+ rw-s 00000000 00:01 \d+ +\/dev\/zero \(deleted\)$/);
    expect(line(mf)).toMatch(/^[0-9a-f]+-[0-9a-f]+ r--s 00000000 00:01 \d+ +\/memfd:blob \(deleted\)$/);
    expect(line(mf).indexOf('/memfd')).toBe(73);
  });
});

describe('/proc/<pid>/smaps', () => {
  it('accounts a touched 64K mTHP region field by field, in the 6.12 order and widths', () => {
    const { readAll, mm, call } = setup();
    // Away from the scratch area, so the two VMAs do not merge.
    const a = call('mmap', 0x70000000, 65536 * 2, 3, 0x22 | 0x10, -1, 0);
    mm.copyToUser(a, new Uint8Array(65536).fill(7));
    const text = readAll('/proc/self/smaps');
    const start = text.indexOf(hexw(a) + '-');
    const block = text.slice(start).split('\n').slice(0, 26);
    expect(block).toEqual([
      `${hexw(a)}-${hexw(a + 131072)} rw-p 00000000 00:00 0 `,
      'Size:                128 kB',
      'KernelPageSize:        4 kB',
      'MMUPageSize:           4 kB',
      'Rss:                  64 kB',
      'Pss:                  64 kB',
      'Pss_Dirty:            64 kB',
      'Shared_Clean:          0 kB',
      'Shared_Dirty:          0 kB',
      'Private_Clean:         0 kB',
      'Private_Dirty:        64 kB',
      'Referenced:           64 kB',
      'Anonymous:            64 kB',
      'KSM:                   0 kB',
      'LazyFree:              0 kB',
      'AnonHugePages:         0 kB',
      'ShmemPmdMapped:        0 kB',
      'FilePmdMapped:         0 kB',
      'Shared_Hugetlb:        0 kB',
      'Private_Hugetlb:       0 kB',
      'Swap:                  0 kB',
      'SwapPss:               0 kB',
      'Locked:                0 kB',
      'THPeligible:           1',
      'VmFlags: rd wr mr mw me ac ',
      expect.stringMatching(/^[0-9a-f]+-/),
    ]);
  });

  it('smaps_rollup sums every VMA under one [rollup] header, with Pss split by kind', () => {
    const { readAll, mm } = setup();
    mm.copyFromUser(0x400000, 8);
    readAll('/proc/self/smaps');
    const smaps = readAll('/proc/self/smaps');
    const rollup = readAll('/proc/self/smaps_rollup').split('\n');
    const vmas = mm.vmas.all();
    expect(rollup[0]).toBe(`${hexw(vmas[0]!.start)}-${hexw(vmas[vmas.length - 1]!.end)} ---p 00000000 00:00 0`.padEnd(72) + ' [rollup]');
    const sum = (label: string): number => [...smaps.matchAll(new RegExp(`^${label}:\\s+(\\d+) kB`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    const val = (label: string): number => Number(new RegExp(`^${label}:\\s+(\\d+) kB`, 'm').exec(rollup.join('\n'))![1]);
    expect(val('Rss')).toBe(sum('Rss'));
    expect(val('Pss_Anon') + val('Pss_File') + val('Pss_Shmem')).toBe(val('Pss'));
    expect(val('Pss_File')).toBeGreaterThan(0);
    expect(rollup.slice(1, 7).map((l) => l.split(':')[0])).toEqual(['Rss', 'Pss', 'Pss_Dirty', 'Pss_Anon', 'Pss_File', 'Pss_Shmem']);
  });

  it('THPeligible is 0 once PR_SET_THP_DISABLE is set, and status says THP_enabled: 0', () => {
    const { readAll, call } = setup();
    expect(call('prctl', 41, 1, 0, 0, 0)).toBe(0);
    expect(call('prctl', 42, 0, 0, 0, 0)).toBe(1);
    expect(call('prctl', 41, 1, 1, 0, 0)).toBe(-EINVAL);
    expect(readAll('/proc/self/smaps')).not.toContain('THPeligible:           1');
    expect(readAll('/proc/self/status')).toContain('THP_enabled:\t0\n');
  });
});

describe('/proc/<pid>/pagemap', () => {
  it('gives root PFN, present and exclusive bits; file pages carry PM_FILE; holes read 0', () => {
    const { readAll, mm, call, scratch, open } = setup({ uid: 0 });
    void readAll;
    const a = call('mmap', 0x70000000, 2 * 65536, 3, 0x32, -1, 0);
    mm.copyToUser(a, new Uint8Array(4096).fill(1));
    const fd = open('/proc/self/pagemap');
    expect(fd).toBeGreaterThan(2);
    const entry = (va: number): bigint => {
      expect(call('pread64', fd, scratch + 8192, 8, (va / 4096) * 8)).toBe(8);
      return new DataView(mm.copyFromUser(scratch + 8192, 8)!.buffer).getBigUint64(0, true);
    };
    // Execute-like read of the text: a read fault maps the file page (and its fault-around).
    mm.copyFromUser(0x400000, 8);
    const e = entry(a);
    const pte = mm.inspect().pte(a)!;
    expect(e).toBe((1n << 63n) | (1n << 56n) | BigInt(pte.pfn));
    // The text page the loader read through the page cache: a file page, mapped once.
    const t = entry(0x400000);
    expect(t >> 63n).toBe(1n);
    expect((t >> 61n) & 1n).toBe(1n);
    expect((t >> 55n) & 1n).toBe(0n);
    // No VMA, and a VMA page never touched.
    expect(entry(0x10000)).toBe(0n);
    // The 64K mTHP folio of the first touch covers its 16 pages, each mapped once; the next 64K is untouched.
    expect(entry(a + 65536 - 4096) & ~((1n << 55n) - 1n)).toBe((1n << 63n) | (1n << 56n));
    expect(entry(a + 65536)).toBe(0n);
    expect(call('pread64', fd, scratch + 8192, 8, 4)).toBe(-EINVAL);
    expect(call('pread64', fd, scratch + 8192, 12, 0)).toBe(-EINVAL);
  });

  it('hides PFNs from an unprivileged reader but keeps the flags', () => {
    const { mm, call, scratch, open } = setup();
    const a = call('mmap', 0, 4096, 3, 0x22, -1, 0);
    mm.copyToUser(a, new Uint8Array(8));
    const fd = open('/proc/self/pagemap');
    expect(call('pread64', fd, scratch + 8192, 8, (a / 4096) * 8)).toBe(8);
    expect(new DataView(mm.copyFromUser(scratch + 8192, 8)!.buffer).getBigUint64(0, true)).toBe((1n << 63n) | (1n << 56n));
  });
});

describe('/proc/<pid>/status and stat', () => {
  it('status: the fields of proc_pid_status in order, with tab separators and kB widths', () => {
    const s = setup();
    const { readAll } = s;
    const text = readAll('/proc/self/status');
    const labels = text.trimEnd().split('\n').map((l) => l.split(':')[0]);
    expect(labels).toEqual([
      'Name', 'Umask', 'State', 'Tgid', 'Ngid', 'Pid', 'PPid', 'TracerPid', 'Uid', 'Gid', 'FDSize', 'Groups', 'NStgid', 'NSpid',
      'NSpgid', 'NSsid', 'Kthread', 'VmPeak', 'VmSize', 'VmLck', 'VmPin', 'VmHWM', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem',
      'VmData', 'VmStk', 'VmExe', 'VmLib', 'VmPTE', 'VmSwap', 'HugetlbPages', 'CoreDumping', 'THP_enabled', 'Threads', 'SigQ',
      'SigPnd', 'ShdPnd', 'SigBlk', 'SigIgn', 'SigCgt', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp',
      'Seccomp_filters', 'Speculation_Store_Bypass', 'SpeculationIndirectBranch', 'Cpus_allowed', 'Cpus_allowed_list',
      'Mems_allowed', 'Mems_allowed_list', 'voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches',
    ]);
    expect(text).toContain('Name:\thello\nUmask:\t0022\nState:\tR (running)\nTgid:\t1000\nNgid:\t0\nPid:\t1000\nPPid:\t999\n');
    expect(text).toContain('Uid:\t1000\t1000\t1000\t1000\n');
    const total = s.mm.vmas.all().reduce((n, v) => n + v.end - v.start, 0);
    expect(text).toContain(`VmSize:\t${String(total / 1024).padStart(8)} kB\n`);
    expect(text).toMatch(/\nVmRSS:\t {4}\s*\d+ kB\n/);
    expect(text).toContain('Threads:\t1\n');
    expect(text).toContain('CapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\n');
    expect(text).toContain('Cpus_allowed:\tf\nCpus_allowed_list:\t0-3\n');
  });

  it('stat: 52 fields, comm in parentheses, vsize and rss from the address space', () => {
    const { readAll } = setup();
    // The first read touches the buffer's pages; the resident set is stable after it.
    readAll('/proc/self/status');
    const f = readAll('/proc/self/stat').trimEnd().split(' ');
    const status = readAll('/proc/self/status');
    expect(f).toHaveLength(52);
    expect(f.slice(0, 5)).toEqual(['1000', '(hello)', 'R', '999', '1000']);
    expect(f[19]).toBe('1');
    const vmSize = Number(/VmSize:\s+(\d+) kB/.exec(status)![1]);
    const vmRss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
    expect(Number(f[22])).toBe(vmSize * 1024);
    expect(Number(f[23])).toBe(vmRss / 4);
    expect(f[25]).toBe(String(0x400000));
  });

  it('comm follows PR_SET_NAME (15 bytes kept) and task/<tid> has the thread', () => {
    const { readAll, call, str, scratch, mm } = setup();
    expect(call('prctl', 15, str('averyveryverylongname', 200), 0, 0, 0)).toBe(0);
    expect(call('prctl', 16, scratch + 300, 0, 0, 0)).toBe(0);
    expect(dec.decode(mm.copyFromUser(scratch + 300, 16)!)).toBe('averyveryverylo\0');
    expect(readAll('/proc/self/comm')).toBe('averyveryverylo\n');
    expect(readAll('/proc/1000/task/1000/comm')).toBe('averyveryverylo\n');
    expect(readAll('/proc/self/cmdline')).toBe('hello\0arg1\0');
    expect(readAll('/proc/self/environ')).toBe('HOME=/\0LANG=C\0');
  });
});

describe('/proc/<pid>/mem and clear_refs', () => {
  it('reads and writes the address space at the file position; FOLL_FORCE writes a read-only private page, not a shared one', () => {
    const s = setup();
    const ro = s.call('mmap', 0, 4096, 1, 0x22, -1, 0);
    const roShared = s.call('mmap', 0, 4096, 1, 0x21, -1, 0);
    const fd = s.open('/proc/self/mem', 2);
    expect(fd).toBeGreaterThan(2);
    s.str('secret', 500);
    expect(s.call('pread64', fd, s.scratch + 600, 6, s.scratch + 500)).toBe(6);
    expect(dec.decode(s.mm.copyFromUser(s.scratch + 600, 6)!)).toBe('secret');
    s.str('XY', 700);
    expect(s.call('pwrite64', fd, s.scratch + 700, 2, s.scratch + 500)).toBe(2);
    expect(dec.decode(s.mm.copyFromUser(s.scratch + 500, 6)!)).toBe('XYcret');
    expect(s.call('pwrite64', fd, s.scratch + 700, 2, ro)).toBe(2);
    expect(dec.decode(s.mm.copyFromUser(ro, 2)!)).toBe('XY');
    expect(s.call('pwrite64', fd, s.scratch + 700, 2, roShared)).toBe(-5);
    expect(s.call('pread64', fd, s.scratch + 600, 8, 0x1000)).toBe(-5);
    expect(s.writeTo('/proc/self/clear_refs', '4\n')).toBe(2);
    expect(s.writeTo('/proc/self/clear_refs', '9')).toBe(-EINVAL);
  });
});

describe('/proc directories and links', () => {
  function names(s: ReturnType<typeof setup>, path: string): string[] {
    const fd = s.open(path, 0o200000);
    expect(fd).toBeGreaterThan(2);
    const out: string[] = [];
    for (;;) {
      const n = s.call('getdents64', fd, s.scratch + 16384, 4096);
      if (n <= 0) break;
      const b = s.mm.copyFromUser(s.scratch + 16384, n)!;
      const v = new DataView(b.buffer);
      for (let off = 0; off < n; off += v.getUint16(off + 16, true)) out.push(dec.decode(b.subarray(off + 19, b.indexOf(0, off + 19))));
    }
    s.call('close', fd);
    return out;
  }

  it('lists /proc with self and the pid, the pid directory, fd links and /sys THP sizes', () => {
    const s = setup();
    expect(names(s, '/proc')).toEqual(expect.arrayContaining(['self', 'thread-self', 'cpuinfo', 'meminfo', 'sys', '1000']));
    expect(names(s, '/proc/self/task')).toEqual(['.', '..', '1000']);
    expect(names(s, '/proc/self/fd')).toEqual(['.', '..', '0', '1', '2', '3']);
    expect(names(s, '/sys/kernel/mm/transparent_hugepage').filter((n) => n.startsWith('hugepages-'))).toEqual([
      'hugepages-16kB', 'hugepages-32kB', 'hugepages-64kB', 'hugepages-128kB', 'hugepages-256kB', 'hugepages-512kB', 'hugepages-1024kB', 'hugepages-2048kB',
    ]);
    const link = (path: string): string => {
      const n = s.call('readlinkat', -100, s.str(path), s.scratch + 20000, 256);
      return dec.decode(s.mm.copyFromUser(s.scratch + 20000, n)!);
    };
    expect(link('/proc/self')).toBe('1000');
    expect(link('/proc/self/exe')).toBe('/bin/hello');
    expect(link('/proc/thread-self')).toBe('1000/task/1000');
    expect(s.call('pipe2', s.scratch + 30000, 0)).toBe(0);
    expect(link('/proc/self/fd/4')).toMatch(/^pipe:\[\d+\]$/);
    expect(s.call('openat', -100, s.str('/proc/1001/status'), 0, 0)).toBe(-2);
  });

  it('mountinfo and mounts list the five mounts in the kernel formats', () => {
    const s = setup();
    expect(s.readAll('/proc/self/mountinfo').split('\n')[0]).toBe('21 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw');
    expect(s.readAll('/proc/self/mountinfo').split('\n')).toHaveLength(6);
    expect(s.readAll('/proc/mounts')).toContain('proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n');
    expect(s.readAll('/proc/self/cpuset')).toBe('/\n');
  });
});

describe('machine files', () => {
  it('meminfo: labels padded to 16 columns, 8-wide values, MemTotal from the pool', () => {
    const s = setup();
    const lines = s.readAll('/proc/meminfo').trimEnd().split('\n');
    expect(lines[0]).toBe(`MemTotal:       ${String(s.k.buddy.poolPages * 4).padStart(8)} kB`);
    for (const l of lines) {
      if (l.startsWith('HugePages_')) expect(l).toMatch(/^HugePages_\w+: +\d+$/);
      else if (!l.startsWith('VmallocTotal')) expect(l.indexOf(' kB')).toBe(24);
    }
    expect(lines.map((l) => l.split(':')[0])).toContain('PageTables');
    const vmstat = s.readAll('/proc/vmstat');
    expect(vmstat).toMatch(/^nr_free_pages \d+\n/);
    expect(Number(/\npgfault (\d+)\n/.exec(vmstat)![1])).toBe((s.k.telemetry.stats.group('fault') as { total: number }).total);
    // The THP events are the memory manager's counts, in the kernel's order.
    Object.assign(s.k.mmStats, { thp_fault_alloc: 3, thp_fault_fallback: 1, thp_collapse_alloc: 2, thp_collapse_alloc_failed: 0, thp_file_mapped: 5, thp_split_pmd: 4 });
    expect(s.readAll('/proc/vmstat').split('\n').filter((l) => l.startsWith('thp_'))).toEqual([
      'thp_fault_alloc 3',
      'thp_fault_fallback 1',
      'thp_collapse_alloc 2',
      'thp_collapse_alloc_failed 0',
      'thp_file_mapped 5',
      'thp_split_pmd 4',
    ]);
  });

  it('cpuinfo: one block per CPU with the hwcaps as features', () => {
    const s = setup({ cpus: 2 });
    const text = s.readAll('/proc/cpuinfo');
    expect(text.split('\n\n').filter((b) => b !== '')).toHaveLength(2);
    expect(text).toMatch(/^processor\t: 0\nBogoMIPS\t: 50\.00\nFeatures\t: fp asimd .*\nCPU implementer\t: 0x41\nCPU architecture: 8\n/);
    expect(s.readAll('/sys/devices/system/cpu/online')).toBe('0-1\n');
    expect(s.readAll('/proc/stat').split('\n').slice(0, 3).map((l) => l.split(' ')[0])).toEqual(['cpu', 'cpu0', 'cpu1']);
  });
});

describe('THP and sysctl knobs', () => {
  it('report the profile: 64K always, other sizes never, PMD inherit; an ordinary user may not write', () => {
    const s = setup();
    const base = '/sys/kernel/mm/transparent_hugepage';
    expect(s.readAll(`${base}/hugepages-64kB/enabled`)).toBe('[always] inherit madvise never\n');
    expect(s.readAll(`${base}/hugepages-16kB/enabled`)).toBe('always inherit madvise [never]\n');
    expect(s.readAll(`${base}/hugepages-2048kB/enabled`)).toBe('always [inherit] madvise never\n');
    expect(s.readAll(`${base}/enabled`)).toBe('always madvise [never]\n');
    expect(s.readAll(`${base}/hpage_pmd_size`)).toBe('2097152\n');
    expect(s.writeTo(`${base}/hugepages-16kB/enabled`, 'always\n')).toBe(-EACCES);
    expect(s.readAll('/proc/sys/vm/mmap_min_addr')).toBe('4096\n');
    expect(s.readAll('/proc/sys/vm/overcommit_memory')).toBe('0\n');
  });

  it('root writes change the knobs the model reads, and refuse modes it does not have', () => {
    const s = setup({ uid: 0 });
    const base = '/sys/kernel/mm/transparent_hugepage';
    expect(s.writeTo(`${base}/hugepages-16kB/enabled`, 'always\n')).toBe(7);
    expect(s.k.policy.anon_mthp).toEqual([2, 4]);
    expect(s.readAll(`${base}/hugepages-16kB/enabled`)).toBe('[always] inherit madvise never\n');
    // thp_settings.c writes strlen + 1 bytes: the NUL ends the word.
    expect(s.writeTo(`${base}/hugepages-64kB/enabled`, 'never\0')).toBe(6);
    expect(s.k.policy.anon_mthp).toEqual([2]);
    expect(s.writeTo(`${base}/hugepages-64kB/enabled`, 'madvise')).toBe(-EINVAL);
    expect(s.writeTo(`${base}/hugepages-64kB/shmem_enabled`, 'always')).toBe(6);
    expect(s.k.policy.shmem_mthp).toEqual([4]);
    expect(s.writeTo('/sys/block/sda/queue/read_ahead_kb', '256')).toBe(3);
    expect(s.k.policy.ra_kb).toBe(256);
    expect(s.writeTo('/proc/sys/vm/overcommit_memory', '1\n')).toBe(2);
    expect(s.readAll('/proc/sys/vm/overcommit_memory')).toBe('1\n');
    expect(s.writeTo('/proc/sys/vm/overcommit_memory', 'x')).toBe(-EINVAL);
    expect(s.writeTo('/proc/sys/vm/overcommit_memory', '3')).toBe(-EINVAL);
    expect(s.writeTo('/proc/self/maps', 'x')).toBe(-EINVAL);
  });
});

describe('PMD-size THP through sysfs and proc', () => {
  it('root writes of "always" and "madvise" to enabled set thp_pmd; hugepages-2048kB overrides it unless inherit', () => {
    const s = setup({ uid: 0, sets: [] });
    const base = '/sys/kernel/mm/transparent_hugepage';
    expect(s.writeTo(`${base}/enabled`, 'always\0')).toBe(7);
    expect(s.k.policy.thp_pmd).toBe('always');
    expect(s.readAll(`${base}/enabled`)).toBe('[always] madvise never\n');
    expect(s.writeTo(`${base}/hugepages-2048kB/enabled`, 'never')).toBe(5);
    expect(s.k.policy.thp_pmd).toBe('never');
    expect(s.readAll(`${base}/enabled`)).toBe('[always] madvise never\n');
    expect(s.writeTo(`${base}/hugepages-2048kB/enabled`, 'inherit')).toBe(7);
    expect(s.k.policy.thp_pmd).toBe('always');
    expect(s.writeTo(`${base}/enabled`, 'madvise')).toBe(7);
    expect(s.k.policy.thp_pmd).toBe('madvise');
    expect(s.writeTo(`${base}/enabled`, 'sometimes')).toBe(-EINVAL);
    expect(s.writeTo(`${base}/use_zero_page`, '0')).toBe(1);
    expect(s.k.policy.thp_zero_page).toBe(false);
    expect(s.readAll(`${base}/use_zero_page`)).toBe('0\n');
  });

  it('smaps and meminfo report AnonHugePages, pagemap the PMD-mapped pages', () => {
    const s = setup({ uid: 0, sets: ['thp_pmd=always'] });
    const a = s.call('mmap', 0, 4 << 20, 3, 0x22, -1, 0);
    expect(a % (2 << 20)).toBe(0);
    s.mm.copyToUser(a + 4096, new Uint8Array(8).fill(1));
    const smaps = s.readAll('/proc/self/smaps');
    const block = smaps.slice(smaps.indexOf(a.toString(16).padStart(8, '0') + '-'));
    expect(/AnonHugePages:\s+(\d+) kB/.exec(block)![1]).toBe('2048');
    expect(/Rss:\s+(\d+) kB/.exec(block)![1]).toBe('2048');
    expect(/AnonHugePages:\s+(\d+) kB/.exec(s.readAll('/proc/meminfo'))![1]).toBe('2048');
    const fd = s.open('/proc/self/pagemap');
    const entry = (va: number): bigint => {
      expect(s.call('pread64', fd, s.scratch + 8192, 8, (va / 4096) * 8)).toBe(8);
      return new DataView(s.mm.copyFromUser(s.scratch + 8192, 8)!.buffer).getBigUint64(0, true);
    };
    const first = entry(a);
    // Present, exclusive, and consecutive frames across the 2 MiB.
    expect(first >> 56n).toBe((1n << 7n) | 1n);
    expect(entry(a + (2 << 20) - 4096) - first).toBe(511n);
    expect(entry(a + (2 << 20))).toBe(0n);
  });
});

describe('vmsplice into a pipe', () => {
  it('references the user page: the reader sees what it holds when read, and the owner copies on write once the page is shared', () => {
    const s = setup({ sets: [] });
    const a = s.call('mmap', 0, 4096, 3, 0x22, -1, 0);
    s.mm.copyToUser(a, new Uint8Array(4096).fill(0x41));
    expect(s.call('pipe2', s.scratch + 512, 0)).toBe(0);
    const [rfd, wfd] = new Int32Array(s.mm.copyFromUser(s.scratch + 512, 8)!.buffer);
    const iov = s.scratch + 1024;
    s.mm.copyToUser(iov, new Uint8Array(new BigUint64Array([BigInt(a), 4096n]).buffer));
    const folio = () => s.k.memmap.folioOfPfn(s.mm.inspect().pte(a)!.pfn)!;
    const first = folio();
    expect(s.call('vmsplice', wfd!, iov, 1, 0)).toBe(4096);
    expect(first.refcount).toBe(2);
    // The PTE is writable: the owner writes in place, and the pipe shows it (no copy was made).
    s.mm.copyToUser(a, new Uint8Array(4096).fill(0x42));
    expect(s.call('read', rfd!, s.scratch + 8192, 4096)).toBe(4096);
    expect(s.mm.copyFromUser(s.scratch + 8192, 4096)).toEqual(new Uint8Array(4096).fill(0x42));
    expect(first.refcount).toBe(1);
    // Shared by a fork whose child is gone: not exclusive any more. With the pipe's reference the
    // next write copies (wp_can_reuse_anon_folio sees 2 references), so the pipe keeps 0x42.
    const child = s.mm.fork();
    child.exitMmap();
    s.k.switchTo(s.mm);
    expect(s.call('vmsplice', wfd!, iov, 1, 0)).toBe(4096);
    s.mm.copyToUser(a, new Uint8Array(4096).fill(0x43));
    expect(folio()).not.toBe(first);
    expect(s.call('read', rfd!, s.scratch + 8192, 4096)).toBe(4096);
    expect(s.mm.copyFromUser(s.scratch + 8192, 4096)).toEqual(new Uint8Array(4096).fill(0x42));
    expect(s.call('vmsplice', s.open('/proc/self/maps'), iov, 1, 0)).toBe(-EBADF);
    expect(s.call('vmsplice', wfd!, iov, 1, 0x10)).toBe(-EINVAL);
  });
});

describe('fallocate', () => {
  it('grows i_size to the end of the range unless KEEP_SIZE; a hole keeps it; other modes and bad files are refused', () => {
    const s = setup({ sets: [] });
    const fd = s.call('openat', -100, s.str('/tmp/falloc'), 0o102, 0o600);
    expect(fd).toBeGreaterThan(2);
    expect(s.call('fallocate', fd, 0, 0, 8192)).toBe(0);
    expect(s.call('lseek', fd, 0, 2)).toBe(8192);
    expect(s.call('fallocate', fd, 1, 0, 65536)).toBe(0);
    expect(s.call('lseek', fd, 0, 2)).toBe(8192);
    expect(s.call('fallocate', fd, 0, 4096, 4096)).toBe(0);
    expect(s.call('lseek', fd, 0, 2)).toBe(8192);
    // PUNCH_HOLE | KEEP_SIZE (test/linux/fallocate.test.ts has the page cache's side).
    expect(s.call('fallocate', fd, 3, 0, 4096)).toBe(0);
    expect(s.call('lseek', fd, 0, 2)).toBe(8192);
    expect(s.call('fallocate', fd, 0x40, 0, 4096)).toBe(-EOPNOTSUPP);
    expect(s.call('fallocate', fd, 0, 0, 0)).toBe(-EINVAL);
    expect(s.call('fallocate', 99, 0, 0, 4096)).toBe(-EBADF);
  });
});

describe('prctl, capget, sysinfo, getrusage', () => {
  it('PR_SET_MDWE refuses W+X mappings and gaining exec, and cannot be undone', () => {
    const s = setup();
    expect(s.call('prctl', 66, 0, 0, 0, 0)).toBe(0);
    expect(s.call('prctl', 65, 2, 0, 0, 0)).toBe(-EINVAL);
    expect(s.call('prctl', 65, 1, 0, 0, 0)).toBe(0);
    expect(s.call('prctl', 66, 0, 0, 0, 0)).toBe(1);
    expect(s.call('prctl', 65, 0, 0, 0, 0)).toBe(-EPERM);
    expect(s.call('prctl', 65, 3, 0, 0, 0)).toBe(-EPERM);
    expect(s.call('mmap', 0, 4096, 7, 0x22, -1, 0)).toBe(-EACCES);
    const rx = s.call('mmap', 0, 4096, 5, 0x22, -1, 0);
    expect(rx).toBeGreaterThan(0);
    const rw = s.call('mmap', 0, 4096, 3, 0x22, -1, 0);
    expect(s.call('mprotect', rw, 4096, 5)).toBe(-EACCES);
    expect(s.call('mprotect', rw, 4096, 1)).toBe(0);
    expect(s.call('mprotect', rx, 4096, 5)).toBe(0);
    expect(s.call('mprotect', rx, 4096, 7)).toBe(-EACCES);
  });

  it('capget: nothing for a user, everything for root; a bad version is EINVAL and rewritten', () => {
    const s = setup();
    const hdr = s.scratch + 40000;
    const put = (v: number): void => void s.mm.copyToUser(hdr, new Uint8Array(new Uint32Array([v, 0]).buffer));
    put(0x20080522);
    expect(s.call('capget', hdr, s.scratch + 40100)).toBe(0);
    expect([...s.mm.copyFromUser(s.scratch + 40100, 24)!]).toEqual(new Array(24).fill(0));
    put(0x1234);
    expect(s.call('capget', hdr, s.scratch + 40100)).toBe(-EINVAL);
    expect(new DataView(s.mm.copyFromUser(hdr, 4)!.buffer).getUint32(0, true)).toBe(0x20080522);
    const root = setup({ uid: 0 });
    const rh = root.scratch + 40000;
    root.mm.copyToUser(rh, new Uint8Array(new Uint32Array([0x20080522, 0]).buffer));
    expect(root.call('capget', rh, root.scratch + 40100)).toBe(0);
    expect([...new Uint32Array(root.mm.copyFromUser(root.scratch + 40100, 24)!.buffer)]).toEqual([0xffffffff, 0xffffffff, 0, 0x1ff, 0x1ff, 0]);
  });

  it('sysinfo reports the pool and one task; getrusage the resident set', () => {
    const s = setup();
    expect(s.call('sysinfo', s.scratch + 50000)).toBe(0);
    const v = new DataView(s.mm.copyFromUser(s.scratch + 50000, 112)!.buffer);
    expect(v.getBigUint64(32, true)).toBe(BigInt(s.k.buddy.poolPages * 4096));
    expect(v.getUint16(80, true)).toBe(1);
    expect(v.getUint32(104, true)).toBe(1);
    expect(s.call('getrusage', 2, s.scratch + 50200)).toBe(-EINVAL);
    expect(s.call('getrusage', 0, s.scratch + 50200)).toBe(0);
    const status = s.readAll('/proc/self/status');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
    expect(new DataView(s.mm.copyFromUser(s.scratch + 50200, 144)!.buffer).getBigUint64(32, true)).toBe(BigInt(rss));
  });
});
