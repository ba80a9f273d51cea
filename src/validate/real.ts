/**
 * The real side of `validate`: one boot of a Debian arm64 kernel under
 * `qemu-system-aarch64 -M virt -cpu max` (TCG) runs every case, each under the guest tracer
 * (validate/labtrace.c) with the TLBI plugin (validate/tlbi-count.c) loaded into QEMU.
 *
 * The guest is an initramfs built here: busybox, the tracer, the cases' binaries, virtio_blk.ko
 * and an init script that mounts proc, sysfs, devtmpfs and tracefs, places kprobes on the kernel
 * functions the model counts (those present in /proc/kallsyms, checked in one pass), and per
 * case applies the profile's knobs that have a sysfs or mount equivalent (THP and mTHP sizes,
 * tmp_fs, read_ahead_kb, fault_around_bytes), drops the caches and runs the program. /tmp is an
 * ext4 file system on a virtio-blk disk (a fresh mkfs.ext4 image) or a tmpfs, like the model's.
 * Writeback and proactive compaction are off, so nothing but the program touches its pages;
 * address-space randomization is off, as in the model; each program runs from a copy made after
 * the case's drop_caches (see initScript).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { blkReadAheadKb } from '../mm/blkdev.js';
import type { MmPolicy } from '../mm/knobs.js';
import { resolvePolicy } from '../mm/profiles.js';
import { EnvironmentError } from '../util/errors.js';
import { cpioNewcGz, type CpioEntry } from './cpio.js';
import { busyboxArm64, labtrace, tlbiPlugin, type RealKernel } from './setup.js';
import { tlbiName } from './tlbi.js';
import { DEFAULT_IDS } from '../linux/process.js';

/** One program run on both sides. */
export interface ValidateCase {
  readonly name: string;
  readonly elf: string;
  readonly args: readonly string[];
  /** Knob overrides of this case (on top of the profile). */
  readonly sets: readonly string[];
}

/**
 * How every case's program is started, on both sides: its environment (empty by default, as
 * `run` gives it), user and group id (default the model's, 1000, not the real init's root), and
 * argv[0] (default: the ELF's file name, so both stacks hold the same strings). The model alone
 * also takes a seed and an instruction budget.
 */
export interface GuestSettings {
  readonly env?: readonly string[];
  readonly uid?: number;
  readonly argv0?: string;
  readonly seed?: number;
  readonly maxInsns?: number;
}

/** argv[0] of a case: the one asked for, or the ELF's file name. */
export function caseArgv0(c: ValidateCase, guest: GuestSettings | undefined): string {
  return guest?.argv0 ?? c.elf.split('/').pop()!;
}

/** The counters of one lab_reset_stats() .. lab_dump_stats() region on the real kernel. */
export interface RealRegion {
  readonly label: string;
  /** Differences over the region: `kprobe:<fn>`, `vmstat:<name>`, `mthp64:<stat>`. */
  readonly counters: Readonly<Record<string, number>>;
  /** TLBIs by operation (TLBI VALE1IS ...), from the plugin. */
  readonly tlbi: Readonly<Record<string, number>>;
}

export interface RealCase {
  readonly name: string;
  readonly exit: string;
  readonly output: string;
  readonly regions: readonly RealRegion[];
}

export interface RealRun {
  readonly kernel: string;
  readonly release: string;
  /** The kprobes placed (the probed functions the kernel has). */
  readonly probes: readonly string[];
  /** What the kernel computed for the disk (queue/read_ahead_kb, rotational, max_sectors_kb). */
  readonly disk: string;
  readonly cases: readonly RealCase[];
  readonly seconds: number;
}

/** Kernel functions counted with kprobes (the ones missing from kallsyms are skipped). */
export const PROBES: readonly string[] = [
  'handle_mm_fault',
  'contpte_set_ptes',
  'contpte_convert',
  '__contpte_try_fold',
  '__contpte_try_unfold',
  'contpte_ptep_set_access_flags',
  'do_set_pmd',
  'filemap_fault',
  'filemap_map_pages',
  'shmem_fault',
  'page_cache_ra_order',
  'page_cache_async_ra',
  // Background work the model does not have: writeback write-protects mapped folios, reclaim
  // and LRU aging clear their young bits, compaction migrates them; all flush the TLB.
  'folio_mkclean',
  'folio_referenced',
  'migrate_pages',
];

/** mTHP sizes with a sysfs directory (hugepages-<size>kB), orders 2..9. */
const MTHP_ORDERS = [2, 3, 4, 5, 6, 7, 8, 9];

function sysfsLines(p: MmPolicy): string[] {
  const thp = '/sys/kernel/mm/transparent_hugepage';
  const lines = [`w ${thp}/enabled ${p.thp_pmd}`, `w ${thp}/shmem_enabled never`, `w ${thp}/use_zero_page ${p.thp_zero_page ? 1 : 0}`];
  for (const order of MTHP_ORDERS) {
    const dir = `${thp}/hugepages-${4 << order}kB`;
    // The PMD size inherits the top-level mode (thp_pmd), so madvise stays madvise.
    const anon = order === 9 ? 'inherit' : p.anon_mthp.includes(order) ? 'always' : 'never';
    const shmem = order !== 9 && p.shmem_mthp.includes(order);
    lines.push(`w ${dir}/enabled ${anon}`, `w ${dir}/shmem_enabled ${shmem ? 'always' : 'never'}`);
  }
  return lines;
}

/** The init script: boot set-up, then each case with its settings. */
function initScript(cases: readonly ValidateCase[], policies: readonly MmPolicy[], profile: string, guest: GuestSettings | undefined): string {
  const s: string[] = [
    '#!/bin/busybox sh',
    '/bin/busybox --install -s /bin',
    'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev',
    'mount -t tracefs tracefs /sys/kernel/tracing; mount -t debugfs debugfs /sys/kernel/debug',
    'w() { [ -e "$1" ] && echo "$2" > "$1" 2>/dev/null; }',
    'insmod /lab/virtio_blk.ko',
    'i=0; while [ ! -e /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
    'echo "@boot $(uname -r)"',
    'echo "@disk read_ahead_kb=$(cat /sys/block/vda/queue/read_ahead_kb) rotational=$(cat /sys/block/vda/queue/rotational) max_sectors_kb=$(cat /sys/block/vda/queue/max_sectors_kb)"',
    'echo 0 > /proc/sys/vm/dirty_writeback_centisecs',
    'w /proc/sys/vm/compaction_proactiveness 0',
    // No address-space randomization: the model has none, and where mmap puts a region decides
    // which page tables its munmap frees. With it, mmap_base moves by up to 1 GiB, and a 16 MiB
    // region can straddle a 1 GiB boundary; its munmap then also frees a PMD table, which widens
    // the gather's range (free_pmd_range, tlb_flush_pud_range), and __flush_tlb_range_op may need
    // more than one RVAE1IS for it: the likely cause of the rare extra RVAE1IS per munmap seen
    // before (known-differences.json).
    'echo 0 > /proc/sys/kernel/randomize_va_space',
    // One pass over kallsyms: only functions the kernel has (not inlined) get a probe.
    "awk 'NR==FNR { want[$1] = 1; next } ($3 in want) && !seen[$3]++ { print $3 }' /lab/probes /proc/kallsyms > /run/probes",
    'while read f; do echo "p:lab/$f $f" >> /sys/kernel/tracing/kprobe_events; done < /run/probes',
    'echo 1 > /sys/kernel/tracing/events/lab/enable',
    'echo "@probes $(cat /run/probes | tr "\\n" " ")"',
    'mkdir -p /mnt/ext4 /mnt/tmpfs',
  ];
  const rcDefault = readAheadDefaultLine();
  cases.forEach((c, i) => {
    const p = policies[i]!;
    s.push(`echo "@case ${i}"`);
    for (const l of sysfsLines(p)) s.push(l);
    s.push('umount /tmp 2>/dev/null');
    s.push(p.tmp_fs === 'ext4' ? 'mount -t ext4 /dev/vda /tmp' : `mount -t tmpfs -o huge=${p.tmpfs_huge} tmpfs /tmp`);
    s.push('chmod 1777 /tmp');
    // The disk's own limits cannot be changed, but their effect can: a case that sets the blk_*
    // knobs gets the window the model computes from them, as ra_kb would.
    const blkSet = c.sets.some((k) => k.trim().startsWith('blk_'));
    const raKb = p.ra_kb ?? (blkSet ? blkReadAheadKb(p) : null);
    s.push(raKb === null ? rcDefault : `w /sys/block/vda/queue/read_ahead_kb ${raKb}`);
    s.push(`w /sys/kernel/debug/fault_around_bytes ${p.fault_around_kb * 1024}`);
    s.push('sync; echo 3 > /proc/sys/vm/drop_caches');
    // The program runs from a copy made after the drop. drop_caches cannot evict the initramfs's
    // tmpfs folios (they are dirty), so it deactivates them instead, and a dirty folio gets
    // PG_reclaim, the bit PG_readahead shares (mm/truncate.c mapping_try_invalidate, mm/swap.c
    // lru_deactivate_file). Fault-around skips folios marked readahead (mm/filemap.c
    // next_uptodate_folio), so the program's text would fault in page by page: a text or rodata
    // page first read inside a region was one fault more than the model, which maps 16.
    s.push(`cp /lab/bin${i} /run/bin${i}`);
    s.push(`${caseCommand(i, c, guest)} > /run/o${i} 2>&1; rm -f /run/bin${i}`);
    s.push(`echo "@result ${i}"; cat /run/r${i}; echo "@output ${i}"; cat /run/o${i}; echo "@done ${i}"`);
  });
  s.push(`echo "@end ${profile}"`, 'poweroff -f');
  return s.join('\n') + '\n';
}

/**
 * The init script's command for case `i`: labtrace runs /run/bin<i> with the case's argv[0] and
 * arguments, as the user asked for, under `env -i` with the environment given (the model's guest
 * starts with an empty one unless told, not with init's).
 */
export function caseCommand(i: number, c: ValidateCase, guest: GuestSettings | undefined): string {
  const env = ['env', '-i', ...(guest?.env ?? [])].map(shQuote).join(' ');
  const argv = [`/run/bin${i}`, caseArgv0(c, guest), ...c.args].map(shQuote).join(' ');
  return `${env} /lab/labtrace -u ${guest?.uid ?? DEFAULT_IDS.uid} /run/r${i} ${argv}`;
}

/** Puts back the read_ahead_kb the kernel computed (saved at boot) after a case that overrode it. */
function readAheadDefaultLine(): string {
  return '[ -n "$RA0" ] || RA0=$(cat /sys/block/vda/queue/read_ahead_kb); w /sys/block/vda/queue/read_ahead_kb $RA0';
}

function shQuote(s: string): string {
  return /^[A-Za-z0-9_./=:,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Counters of one snapshot (`#<source>` sections). */
function parseSnapshot(lines: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  let source = '';
  for (const line of lines) {
    if (line.startsWith('#')) {
      source = line.slice(1);
      continue;
    }
    const f = line.trim().split(/\s+/);
    if (source.endsWith('kprobe_profile') && f.length >= 2) out.set(`kprobe:${f[0]}`, Number(f[1]));
    else if (source === '/proc/vmstat' && f.length === 2) out.set(`vmstat:${f[0]}`, Number(f[1]));
    else if (source.includes('hugepages-64kB/stats/') && f.length === 1 && f[0] !== '') out.set(`mthp64:${basename(source)}`, Number(f[0]));
  }
  return out;
}

function parseCaseResult(text: string): { regions: { label: string; counters: Record<string, number> }[]; exit: string } {
  const regions: { label: string; counters: Record<string, number> }[] = [];
  let exit = 'unknown';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith('@exit ')) exit = `exit ${l.slice(6)}`;
    else if (l.startsWith('@signal ')) exit = `signal ${l.slice(8)}`;
    if (!l.startsWith('@begin ')) continue;
    const label = l.slice(7);
    const mid = lines.indexOf('@mid', i);
    const end = lines.indexOf('@end', mid);
    if (mid < 0 || end < 0) break;
    const before = parseSnapshot(lines.slice(i + 1, mid));
    const after = parseSnapshot(lines.slice(mid + 1, end));
    const counters: Record<string, number> = {};
    for (const [k, v] of after) counters[k] = v - (before.get(k) ?? 0);
    regions.push({ label, counters });
    i = end;
  }
  return { regions, exit };
}

function tlbiRegions(text: string): Record<string, number>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('region '))
    .map((l) => {
      const r: Record<string, number> = {};
      for (const f of l.split(' ').slice(2)) {
        const [key, n] = f.split('=') as [string, string];
        const [op1, crm, op2] = key.split('.').map(Number) as [number, number, number];
        const name = tlbiName(op1, crm, op2);
        r[name] = (r[name] ?? 0) + Number(n);
      }
      return r;
    });
}

export interface RealOptions {
  readonly kernel: RealKernel;
  readonly profile: string;
  readonly cases: readonly ValidateCase[];
  /** How the programs are started (environment, user, argv[0]). */
  readonly guest?: GuestSettings;
  /** Wall-clock limit for the whole boot, seconds. */
  readonly timeoutSeconds?: number;
  /** Progress lines (the guest console as it comes). */
  readonly log?: (line: string) => void;
}

/** Boots the kernel once and runs every case; the counts of each case's regions. */
export async function runReal(o: RealOptions): Promise<RealRun> {
  const policies = o.cases.map((c) => resolvePolicy(o.profile, c.sets).policy);
  const work = mkdtempSync(join(tmpdir(), 'contpte-validate-'));
  const started = Date.now();
  try {
    const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'tmp', 'run', 'mnt', 'lab'].map((d) => ({ kind: 'dir' as const, path: d }));
    entries.push({ kind: 'file', path: 'bin/busybox', data: readFileSync(busyboxArm64()), mode: 0o755 });
    entries.push({ kind: 'file', path: 'lab/labtrace', data: readFileSync(labtrace()), mode: 0o755 });
    const mod = o.kernel.virtioBlk.endsWith('.xz') ? execFileSync('xz', ['-dc', o.kernel.virtioBlk], { maxBuffer: 1 << 28 }) : readFileSync(o.kernel.virtioBlk);
    entries.push({ kind: 'file', path: 'lab/virtio_blk.ko', data: mod });
    entries.push({ kind: 'file', path: 'lab/probes', data: Buffer.from(PROBES.join('\n') + '\n') });
    o.cases.forEach((c, i) => entries.push({ kind: 'file', path: `lab/bin${i}`, data: readFileSync(c.elf), mode: 0o755 }));
    entries.push({ kind: 'file', path: 'init', data: Buffer.from(initScript(o.cases, policies, o.profile, o.guest)), mode: 0o755 });
    writeFileSync(join(work, 'initrd.gz'), cpioNewcGz(entries));
    const disk = join(work, 'disk.img');
    execFileSync('truncate', ['-s', '1G', disk]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', disk]);
    const tlbiOut = join(work, 'tlbi.txt');
    const args = [
      '-M', 'virt', '-cpu', 'max', '-smp', '2', '-m', '2G', '-nographic', '-no-reboot', '-accel', 'tcg,thread=multi',
      '-kernel', o.kernel.image, '-initrd', join(work, 'initrd.gz'),
      '-append', 'console=ttyAMA0 rdinit=/init quiet loglevel=1 panic=-1',
      '-drive', `file=${disk},if=none,id=d0,format=raw`, '-device', 'virtio-blk-pci,drive=d0',
      '-plugin', `${tlbiPlugin()},out=${tlbiOut}`,
    ];
    const console = await runQemu(args, o.timeoutSeconds ?? 1800, o.log);
    const tlbi = existsSync(tlbiOut) ? tlbiRegions(readFileSync(tlbiOut, 'utf8')) : [];
    return parseConsole(o, console, tlbi, (Date.now() - started) / 1000);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function runQemu(args: string[], timeoutSeconds: number, log?: (line: string) => void): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('qemu-system-aarch64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let partial = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
    child.stdout.on('data', (b: Buffer) => {
      const t = b.toString('utf8');
      out += t;
      if (log) {
        partial += t;
        const lines = partial.split('\n');
        partial = lines.pop()!;
        for (const l of lines) if (l.startsWith('@')) log(l.replace(/\r$/, ''));
      }
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new EnvironmentError(`validate: cannot start qemu-system-aarch64: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (!out.includes('@end ')) {
        const why = signal === 'SIGKILL' ? `did not finish within ${timeoutSeconds} s` : `exited with ${code ?? signal}`;
        const tail = (err.trim() || out.trim()).split('\n').slice(-3).join(' | ');
        reject(new EnvironmentError(`validate: the real kernel run ${why}: ${tail}`));
        return;
      }
      resolveRun(out.replace(/\r/g, ''));
    });
  });
}

function parseConsole(o: RealOptions, text: string, tlbi: Record<string, number>[], seconds: number): RealRun {
  const lines = text.split('\n');
  const value = (prefix: string): string => lines.find((l) => l.startsWith(prefix))?.slice(prefix.length).trim() ?? '';
  let region = 0;
  const cases: RealCase[] = o.cases.map((c, i) => {
    const start = text.indexOf(`@result ${i}\n`);
    const mid = text.indexOf(`@output ${i}\n`, start);
    const end = text.indexOf(`@done ${i}\n`, mid);
    if (start < 0 || mid < 0 || end < 0) return { name: c.name, exit: 'did not run', output: '', regions: [] };
    const r = parseCaseResult(text.slice(start, mid));
    const regions = r.regions.map((g) => ({ ...g, tlbi: tlbi[region++] ?? {} }));
    return { name: c.name, exit: r.exit, output: text.slice(mid + `@output ${i}\n`.length, end), regions };
  });
  return { kernel: o.kernel.name, release: value('@boot '), probes: value('@probes ').split(/\s+/).filter((x) => x !== ''), disk: value('@disk '), cases, seconds };
}
