/**
 * /proc as programs read it (fs/proc, v6.12): per process maps, smaps, pagemap, status, stat,
 * statm, mountinfo, mounts, cpuset, cgroup, comm, cmdline, exe, fd/ and task/<tid>/; and the
 * machine's cpuinfo, meminfo, stat, filesystems, uptime, loadavg, version, mounts, self and
 * thread-self. /proc/sys is in sysctl.ts, /sys in sysfs.ts.
 *
 * Every file's text is made from the live state when it is opened (pagemap: when it is read),
 * in the kernel's format, field by field: the same labels, widths, padding and trailing spaces.
 * What the model does not have reads as Linux shows its absence (no swap, no hugetlb, no KSM,
 * soft-dirty never set: arm64 has no soft-dirty bit). Peaks (VmPeak, VmHWM) are the current
 * values: the model keeps no high-water marks.
 */
import type { MmInspect, PteInfo } from '../mm/introspect.js';
import type { Inode } from '../mm/inode.js';
import {
  VM_ACCOUNT, VM_DONTEXPAND, VM_EXEC, VM_GROWSDOWN, VM_HUGEPAGE, VM_IO, VM_LOCKED, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE,
  VM_MAYWRITE, VM_MIXEDMAP, VM_NOHUGEPAGE, VM_NORESERVE, VM_PFNMAP, VM_READ, VM_SHARED, VM_WRITE, type Vma,
} from '../mm/vma.js';
import { DEFAULT_TASK_SIZE } from '../mm/vma.js';
import { thpPmdAllowed } from '../mm/huge-memory.js';
import { EINVAL, EIO, ESRCH } from '../util/errno.js';
import { DEFAULT_BOOT_NS, NSEC_PER_SEC } from './clock.js';
import { capabilities, CAP_FULL_SET, execLayout, processFlags, setTaskComm, taskComm } from './extras.js';
import { existingShmNamespace, shmId } from './sysvshm.js';
import {
  PROC_SB, type Creds, type DirNode, type DynamicEntries, type FileSystem, type Node, type SynthContent, type SynthOpen,
} from './fs.js';
import { hwcapNames } from './hwcap.js';
import type { LinuxProcess } from './process.js';
import type { ProcHost } from './prochost.js';
import { RLIMIT_RSS, RLIMIT_SIGPENDING } from './rlimit.js';
import { NSIG, SIG_DFL, SIG_IGN, SIGCHLD } from './signals.js';
import { mountSysctl } from './sysctl.js';
import { mountSysfs } from './sysfs.js';
import type { Task } from './task.js';
import { getUserPartial, putUserPartial } from './uaccess.js';

const PAGE_SIZE = 4096;
/** USER_HZ: clock ticks of /proc/<pid>/stat and /proc/stat. */
export const USER_HZ = 100n;
/** CAP_LAST_CAP in 6.12 (CAP_CHECKPOINT_RESTORE): 41 capabilities. */
export { CAP_FULL_SET } from './extras.js';

const enc = new TextEncoder();

/** A snapshot: what one open of a text file reads. */
export function snapshot(bytes: Uint8Array): SynthOpen {
  return { read: (pos, len) => bytes.subarray(Math.min(pos, bytes.length), Math.min(pos + len, bytes.length)) };
}

/** A read-only text file made by `gen` when opened (-errno from gen: the open fails). */
export function textFile(gen: () => string | number): SynthContent {
  return {
    open: () => {
      const t = gen();
      return typeof t === 'number' ? t : snapshot(enc.encode(t));
    },
  };
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const hex16b = (n: bigint): string => n.toString(16).padStart(16, '0');
/** seq_put_decimal_ull_width: right-aligned in `w` columns. */
const dec = (n: number, w: number): string => String(n).padStart(w, ' ');

/** %*pb: a bitmap of `nbits` as comma-separated 32-bit hex groups, the first one unpadded. */
export function bitmapHex(mask: bigint, nbits: number): string {
  const groups: string[] = [];
  const nGroups = Math.max(1, Math.ceil(nbits / 32));
  for (let g = nGroups - 1; g >= 0; g--) {
    const bits = g === nGroups - 1 && nbits % 32 !== 0 ? nbits % 32 : 32;
    const v = (mask >> BigInt(g * 32)) & ((1n << BigInt(bits)) - 1n);
    groups.push(v.toString(16).padStart(Math.ceil(bits / 4), '0'));
  }
  return groups.join(',');
}

/** %*pbl: a bitmap as a range list ("0-3,8"). */
export function bitmapList(mask: bigint, nbits: number): string {
  const parts: string[] = [];
  let i = 0;
  while (i < nbits) {
    if (((mask >> BigInt(i)) & 1n) === 0n) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < nbits && ((mask >> BigInt(j + 1)) & 1n) !== 0n) j++;
    parts.push(i === j ? `${i}` : `${i}-${j}`);
    i = j + 1;
  }
  return parts.join(',');
}

// ---------------------------------------------------------------------------------------------
// Address-space summaries

/** Where each file mapping's inode lives in the tree, for its path, device and inode number. */
interface FileName {
  readonly path: string;
  readonly dev: { major: number; minor: number };
  readonly ino: number;
}

function fileNames(fs: FileSystem): Map<Inode, FileName> {
  const out = new Map<Inode, FileName>();
  const walk = (dir: DirNode, prefix: string): void => {
    for (const [name, node] of dir.entries) {
      if (node.kind === 'reg') out.set(node.inode, { path: `${prefix}/${name}`, dev: node.sb.dev, ino: node.ino });
      else if (node.kind === 'dir' && node.sb !== PROC_SB && node.sb.name !== 'sysfs') walk(node, `${prefix}/${name}`);
    }
  };
  walk(fs.root, '');
  return out;
}

function describeFile(fs: FileSystem, names: Map<Inode, FileName>, inode: Inode): FileName {
  const known = names.get(inode);
  if (known !== undefined) return known;
  const label = fs.unlinkedNames.get(inode);
  // Shared anonymous memory is a shmem file named after /dev/zero (shmem_zero_setup).
  const path = label !== undefined ? `/${label} (deleted)` : '/dev/zero (deleted)';
  return { path, dev: fs.shmSb.dev, ino: inode.ino };
}

/** Name of an anonymous VMA in maps: [heap], [stack], [anon:NAME], or none. */
function anonName(v: Vma, mm: MmInspect, startStack: number | null): string | null {
  if (v.name !== null) return v.name.startsWith('[') ? v.name : `[anon:${v.name}]`;
  const brk = mm.brk();
  // vma_is_initial_heap and vma_is_initial_stack.
  if (v.start < brk.end && v.end > brk.start) return '[heap]';
  if (startStack !== null && v.start <= startStack && v.end >= startStack) return '[stack]';
  return null;
}

/** One maps line (show_map_vma): the prefix padded to column 73 before a name. */
function mapsLine(v: Vma, name: string | null, file: FileName | null): string {
  const perms =
    ((v.flags & VM_READ) !== 0 ? 'r' : '-') +
    ((v.flags & VM_WRITE) !== 0 ? 'w' : '-') +
    ((v.flags & VM_EXEC) !== 0 ? 'x' : '-') +
    ((v.flags & VM_MAYSHARE) !== 0 ? 's' : 'p');
  const pgoff = file !== null ? v.pgoff * PAGE_SIZE : 0;
  const dev = file !== null ? file.dev : { major: 0, minor: 0 };
  const ino = file !== null ? file.ino : 0;
  const prefix = `${hex8(v.start)}-${hex8(v.end)} ${perms} ${hex8(pgoff)} ${dev.major.toString(16).padStart(2, '0')}:${dev.minor.toString(16).padStart(2, '0')} ${ino} `;
  const label = file !== null ? file.path : name;
  if (label === null) return prefix + '\n';
  return prefix.padEnd(72, ' ') + ' ' + label + '\n';
}

/** The PTEs of [start, end) that are not none, page by page (a missing table ends its walk early). */
function forEachPte(mm: MmInspect, start: number, end: number, fn: (va: number, pte: PteInfo) => void): void {
  for (let va = start; va < end; va += PAGE_SIZE) {
    const pte = mm.pte(va);
    if (pte === null) continue;
    fn(va, pte);
  }
}

interface MemSize {
  rss: number;
  pss: number;
  pssDirty: number;
  sharedClean: number;
  sharedDirty: number;
  privateClean: number;
  privateDirty: number;
  referenced: number;
  anonymous: number;
  rssAnon: number;
  rssFile: number;
  rssShmem: number;
  pssAnon: number;
  pssFile: number;
  pssShmem: number;
  pssLocked: number;
  /** Anonymous memory mapped by huge PMDs (smaps_pmd_entry's anonymous_thp). */
  anonHuge: number;
}

function emptySize(): MemSize {
  return {
    rss: 0, pss: 0, pssDirty: 0, sharedClean: 0, sharedDirty: 0, privateClean: 0, privateDirty: 0, referenced: 0, anonymous: 0,
    rssAnon: 0, rssFile: 0, rssShmem: 0, pssAnon: 0, pssFile: 0, pssShmem: 0, pssLocked: 0, anonHuge: 0,
  };
}

/** smaps_pte_entry + smaps_account for a VMA: pages without a struct page (zero page) do not count. */
function accountVma(mm: MmInspect, v: Vma, into: MemSize, isShmem: boolean): void {
  forEachPte(mm, v.start, v.end, (_va, pte) => {
    if (!pte.present || pte.special) return;
    const page = mm.page(pte.pfn);
    if (page === null) return;
    const size = PAGE_SIZE;
    if (page.anon) {
      into.anonymous += size;
      into.rssAnon += size;
      if (pte.pmd === true) into.anonHuge += size;
    } else if (isShmem) into.rssShmem += size;
    else into.rssFile += size;
    if (pte.young) into.referenced += size;
    const mapcount = Math.max(1, page.mapcount);
    // smaps_page_accumulate: dirty in the PTE or in the folio (page cache written by write()).
    const dirty = pte.dirty || page.dirty;
    if (mapcount >= 2) {
      if (dirty) into.sharedDirty += size;
      else into.sharedClean += size;
    } else if (dirty) into.privateDirty += size;
    else into.privateClean += size;
    const pss = size / mapcount;
    into.pss += pss;
    if (dirty) into.pssDirty += pss;
    if (page.anon) into.pssAnon += pss;
    else if (isShmem) into.pssShmem += pss;
    else into.pssFile += pss;
    if ((v.flags & VM_LOCKED) !== 0) into.pssLocked += pss;
    into.rss += size;
  });
}

/** Whether a file mapping is shmem (tmpfs, memfd, shared anonymous): the inode's file system. */
function isShmemVma(v: Vma): boolean {
  return v.file !== null && v.file.fsType === 'tmpfs';
}

const VM_FLAG_MNEMONICS: readonly (readonly [number, string])[] = [
  [VM_READ, 'rd'], [VM_WRITE, 'wr'], [VM_EXEC, 'ex'], [VM_SHARED, 'sh'], [VM_MAYREAD, 'mr'], [VM_MAYWRITE, 'mw'],
  [VM_MAYEXEC, 'me'], [VM_MAYSHARE, 'ms'], [VM_GROWSDOWN, 'gd'], [VM_PFNMAP, 'pf'], [VM_LOCKED, 'lo'], [VM_IO, 'io'],
  [0x8000, 'sr'], [0x10000, 'rr'], [0x20000, 'dc'], [VM_DONTEXPAND, 'de'], [VM_ACCOUNT, 'ac'], [VM_NORESERVE, 'nr'],
  [0x400000, 'ht'], [0x2000000, 'wf'], [0x4000000, 'dd'], [VM_MIXEDMAP, 'mm'], [VM_HUGEPAGE, 'hg'],
  [VM_NOHUGEPAGE, 'nh'], [0x80000000, 'mg'],
];

function vmFlagsLine(flags: number): string {
  let s = 'VmFlags: ';
  for (const [bit, m] of VM_FLAG_MNEMONICS) if ((flags & bit) !== 0 || (bit === 0x80000000 && flags < 0)) s += m + ' ';
  return s + '\n';
}

/**
 * THPeligible (thp_vma_allowable_orders with TVA_SMAPS | TVA_ENFORCE_SYSFS, v6.12): an order the
 * knobs enable for this kind of VMA, of which an aligned block fits below the VMA's end; never
 * under VM_NOHUGEPAGE or PR_SET_THP_DISABLE. Anonymous VMAs take anon_mthp (and PMD with
 * thp_pmd), shmem VMAs shmem_mthp; other files none (no READ_ONLY_THP_FOR_FS).
 */
function thpEligible(host: ProcHost, p: LinuxProcess, v: Vma): boolean {
  const k = host.kernel;
  if (k === null || processFlags(p).thpDisable || (v.flags & VM_NOHUGEPAGE) !== 0) return false;
  let orders: readonly number[];
  if (v.file === null) orders = thpPmdAllowed(k.policy.thp_pmd, v.flags) ? [...k.policy.anon_mthp, 9] : k.policy.anon_mthp;
  else if (v.file.fsType === 'tmpfs') orders = k.policy.shmem_mthp;
  else return false;
  return orders.some((order) => {
    const size = PAGE_SIZE << order;
    const base = v.end - size;
    const aligned = base - (((base % size) + size) % size);
    return aligned >= v.start && aligned + size <= v.end;
  });
}

function kb(bytes: number): number {
  return Math.floor(bytes / 1024);
}

/** __show_smap's lines from Rss to Locked; the rollup adds the Pss split by kind. */
function smapLines(m: MemSize, rollup: boolean): string {
  const split = rollup
    ? `Pss_Anon:       ${dec(kb(m.pssAnon), 8)} kB\n` + `Pss_File:       ${dec(kb(m.pssFile), 8)} kB\n` + `Pss_Shmem:      ${dec(kb(m.pssShmem), 8)} kB\n`
    : '';
  return (
    `Rss:            ${dec(kb(m.rss), 8)} kB\n` +
    `Pss:            ${dec(kb(m.pss), 8)} kB\n` +
    `Pss_Dirty:      ${dec(kb(m.pssDirty), 8)} kB\n` +
    split +
    `Shared_Clean:   ${dec(kb(m.sharedClean), 8)} kB\n` +
    `Shared_Dirty:   ${dec(kb(m.sharedDirty), 8)} kB\n` +
    `Private_Clean:  ${dec(kb(m.privateClean), 8)} kB\n` +
    `Private_Dirty:  ${dec(kb(m.privateDirty), 8)} kB\n` +
    `Referenced:     ${dec(kb(m.referenced), 8)} kB\n` +
    `Anonymous:      ${dec(kb(m.anonymous), 8)} kB\n` +
    `KSM:            ${dec(0, 8)} kB\n` +
    `LazyFree:       ${dec(0, 8)} kB\n` +
    `AnonHugePages:  ${dec(kb(m.anonHuge), 8)} kB\n` +
    `ShmemPmdMapped: ${dec(0, 8)} kB\n` +
    `FilePmdMapped:  ${dec(0, 8)} kB\n` +
    `Shared_Hugetlb: ${dec(0, 8)} kB\n` +
    `Private_Hugetlb: ${dec(0, 7)} kB\n` +
    `Swap:           ${dec(0, 8)} kB\n` +
    `SwapPss:        ${dec(0, 8)} kB\n` +
    `Locked:         ${dec(kb(m.pssLocked), 8)} kB\n`
  );
}

/** The mm of a process, or null when it has none to show (a test double, a zombie). */
function inspectOf(p: LinuxProcess): MmInspect | null {
  return p.mm.inspect?.() ?? null;
}

/** The /proc/<pid>/maps line of each VMA of `mm` (show_map_vma), in address order. */
function vmaLines(p: LinuxProcess, mm: MmInspect): { vma: ReturnType<MmInspect['vmas']>[number]; line: string }[] {
  const names = fileNames(p.fs);
  const stack = execLayout(p)?.startStack ?? null;
  return mm.vmas().map((v) => {
    const file = v.file !== null ? describeFile(p.fs, names, v.file) : null;
    return { vma: v, line: mapsLine(v, file === null ? anonName(v, mm, stack) : null, file) };
  });
}

function mapsText(p: LinuxProcess): string {
  const mm = inspectOf(p);
  if (mm === null) return '';
  return vmaLines(p, mm).map((x) => x.line).join('');
}

/** show_smaps_rollup: every VMA's sums under one header spanning them, named [rollup]. */
function smapsRollupText(p: LinuxProcess): string {
  const mm = inspectOf(p);
  if (mm === null) return '';
  const vmas = mm.vmas();
  const m = emptySize();
  for (const v of vmas) accountVma(mm, v, m, isShmemVma(v));
  const start = vmas.length > 0 ? vmas[0]!.start : 0;
  const end = vmas.length > 0 ? vmas[vmas.length - 1]!.end : 0;
  const prefix = `${hex8(start)}-${hex8(end)} ---p 00000000 00:00 0 `;
  return prefix.padEnd(72, ' ') + ' [rollup]\n' + smapLines(m, true);
}

function smapsText(host: ProcHost, p: LinuxProcess): string {
  const mm = inspectOf(p);
  if (mm === null) return '';
  let out = '';
  for (const { vma: v, line } of vmaLines(p, mm)) {
    out += line;
    const m = emptySize();
    accountVma(mm, v, m, isShmemVma(v));
    out += `Size:           ${dec(kb(v.end - v.start), 8)} kB\n`;
    out += `KernelPageSize: ${dec(4, 8)} kB\n`;
    out += `MMUPageSize:    ${dec(4, 8)} kB\n`;
    out += smapLines(m, false);
    out += `THPeligible:    ${dec(thpEligible(host, p, v) ? 1 : 0, 8)}\n`;
    out += vmFlagsLine(v.flags);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// pagemap

export const PM_SOFT_DIRTY = 1n << 55n;
export const PM_MMAP_EXCLUSIVE = 1n << 56n;
export const PM_UFFD_WP = 1n << 57n;
export const PM_FILE = 1n << 61n;
export const PM_SWAP = 1n << 62n;
export const PM_PRESENT = 1n << 63n;
const PM_PFRAME_MASK = (1n << 55n) - 1n;

/**
 * pagemap_read: 8 bytes per virtual page from the page `pos / 8` on. PFNs only for a reader
 * with CAP_SYS_ADMIN (root here), as since Linux 4.2. Offsets and counts must be multiples of 8.
 */
function pagemapOpen(p: LinuxProcess, opener: Creds): SynthOpen {
  const showPfn = opener.uid === 0;
  return {
    read(pos: number, len: number): Uint8Array | number {
      if (pos % 8 !== 0 || len % 8 !== 0) return -EINVAL;
      const mm = inspectOf(p);
      const firstPage = pos / 8;
      const endPage = Math.min(DEFAULT_TASK_SIZE / PAGE_SIZE, firstPage + len / 8);
      if (mm === null || firstPage >= endPage) return new Uint8Array(0);
      const out = new Uint8Array((endPage - firstPage) * 8);
      const view = new DataView(out.buffer);
      const vmas = mm.vmas();
      for (const v of vmas) {
        const s = Math.max(v.start / PAGE_SIZE, firstPage);
        const e = Math.min(v.end / PAGE_SIZE, endPage);
        for (let page = s; page < e; page++) {
          const pte = mm.pte(page * PAGE_SIZE);
          if (pte === null) continue;
          view.setBigUint64((page - firstPage) * 8, pagemapEntry(mm, pte, showPfn), true);
        }
      }
      return out;
    },
  };
}

/** pte_to_pagemap_entry for a present (or PROT_NONE) PTE. */
export function pagemapEntry(mm: MmInspect, pte: PteInfo, showPfn: boolean): bigint {
  if (!pte.present) return 0n;
  let e = PM_PRESENT;
  if (showPfn) e |= BigInt(pte.pfn) & PM_PFRAME_MASK;
  if (!pte.special) {
    const page = mm.page(pte.pfn);
    if (page !== null) {
      if (!page.anon) e |= PM_FILE;
      if (page.mapcount === 1) e |= PM_MMAP_EXCLUSIVE;
    }
  }
  return e;
}

/**
 * /proc/<pid>/mem (mem_rw, fs/proc/base.c v6.12): the address space at the file position, through
 * access_remote_vm with FOLL_FORCE, so a write reaches a read-only private mapping by breaking
 * copy-on-write. A transfer stops at the first page that cannot be had; none at all is EIO.
 */
function memOpen(p: LinuxProcess): SynthOpen {
  // The mm of the process at open time: after an exec (or an exit, see accessRemote) transfers are empty.
  const mm = p.mm;
  const gone = (): boolean => p.mm !== mm;
  return {
    read(pos: number, len: number): Uint8Array | number {
      if (gone()) return new Uint8Array(0);
      const got = mm.accessRemote !== undefined ? mm.accessRemote(pos, len, null) : getUserPartial(mm, pos, len);
      if (typeof got === 'number') return got;
      return got.length === 0 && len > 0 ? -EIO : got;
    },
    write(pos: number, data: Uint8Array): number {
      if (gone()) return 0;
      const r = mm.accessRemote !== undefined ? mm.accessRemote(pos, data.length, data) : putUserPartial(mm, pos, data);
      const n = typeof r === 'number' ? r : r.length;
      return n === 0 && data.length > 0 ? -EIO : n;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// status, stat, statm

interface VmSummary {
  totalVm: number;
  lockedVm: number;
  dataVm: number;
  stackVm: number;
  execVm: number;
  pteKb: number;
  sizes: MemSize;
  text: number;
}

function vmSummary(p: LinuxProcess): VmSummary | null {
  const mm = inspectOf(p);
  if (mm === null) return null;
  const s: VmSummary = { totalVm: 0, lockedVm: 0, dataVm: 0, stackVm: 0, execVm: 0, pteKb: 0, sizes: emptySize(), text: 0 };
  const layout = execLayout(p);
  for (const v of mm.vmas()) {
    const bytes = v.end - v.start;
    s.totalVm += bytes;
    if ((v.flags & VM_LOCKED) !== 0) s.lockedVm += bytes;
    const isStack = (v.flags & VM_GROWSDOWN) !== 0 || (layout !== null && v.file === null && v.start <= layout.startStack && v.end >= layout.startStack);
    if (isStack) s.stackVm += bytes;
    else if ((v.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE) s.dataVm += bytes;
    else if ((v.flags & (VM_EXEC | VM_WRITE)) === VM_EXEC) s.execVm += bytes;
    accountVma(mm, v, s.sizes, isShmemVma(v));
  }
  s.pteKb = mm.pteTablePages() * 4;
  if (layout !== null) {
    const text = Math.ceil(layout.endCode / PAGE_SIZE) * PAGE_SIZE - Math.floor(layout.startCode / PAGE_SIZE) * PAGE_SIZE;
    s.text = Math.min(text, s.execVm);
  }
  return s;
}

/** The resident set in bytes (VmRSS): anonymous, file and shmem pages mapped. */
export function rssBytes(p: LinuxProcess): number {
  const vm = vmSummary(p);
  return vm === null ? 0 : vm.sizes.rssAnon + vm.sizes.rssFile + vm.sizes.rssShmem;
}

function stateLetter(t: Task, reader: LinuxProcess): [string, string] {
  if (t.process === reader && t === reader.current) return ['R', 'running'];
  switch (t.state) {
    case 'running':
    case 'runnable':
      return ['R', 'running'];
    case 'blocked':
      return ['S', 'sleeping'];
    case 'stopped':
      return ['T', 'stopped'];
    case 'zombie':
      return ['Z', 'zombie'];
    case 'dead':
      return ['X', 'dead'];
  }
}

function signalSets(p: LinuxProcess): { ign: bigint; cgt: bigint } {
  let ign = 0n;
  let cgt = 0n;
  for (let sig = 1; sig <= NSIG; sig++) {
    const h = p.signals.action(sig).handler;
    if (h === SIG_IGN) ign |= 1n << BigInt(sig - 1);
    else if (h !== SIG_DFL) cgt |= 1n << BigInt(sig - 1);
  }
  return { ign, cgt };
}

function cpusAllowed(host: ProcHost, t: Task): bigint {
  return t.affinity & ((1n << BigInt(host.cpus)) - 1n);
}

/** proc_pid_status for a thread (the leader for /proc/<pid>/status). */
function statusText(host: ProcHost, p: LinuxProcess, t: Task): string {
  const reader = host.current();
  const [letter, word] = stateLetter(t, reader);
  const ids = p.ids;
  const vm = vmSummary(p);
  const sz = vm?.sizes ?? emptySize();
  const rss = sz.rssAnon + sz.rssFile + sz.rssShmem;
  const sets = signalSets(p);
  const caps = capabilities(p);
  const flags = processFlags(p);
  const line = (label: string, bytes: number): string => `${label}:\t${dec(kb(bytes), 8)} kB\n`;
  let s = '';
  s += `Name:\t${taskComm(t)}\n`;
  s += `Umask:\t${p.fs.umask.toString(8).padStart(4, '0')}\n`;
  s += `State:\t${letter} (${word})\n`;
  s += `Tgid:\t${p.pid}\nNgid:\t0\nPid:\t${t.tid}\nPPid:\t${ids.ppid}\nTracerPid:\t0\n`;
  s += `Uid:\t${ids.uid}\t${ids.uid}\t${ids.uid}\t${ids.uid}\n`;
  s += `Gid:\t${ids.gid}\t${ids.gid}\t${ids.gid}\t${ids.gid}\n`;
  s += `FDSize:\t${p.fds.size}\n`;
  s += `Groups:\t${ids.gid} \n`;
  s += `NStgid:\t${p.pid}\nNSpid:\t${t.tid}\nNSpgid:\t${p.pid}\nNSsid:\t${p.pid}\n`;
  s += `Kthread:\t0\n`;
  if (vm !== null) {
    s += line('VmPeak', vm.totalVm) + line('VmSize', vm.totalVm) + line('VmLck', vm.lockedVm) + line('VmPin', 0);
    s += line('VmHWM', rss) + line('VmRSS', rss) + line('RssAnon', sz.rssAnon) + line('RssFile', sz.rssFile) + line('RssShmem', sz.rssShmem);
    s += line('VmData', vm.dataVm) + line('VmStk', vm.stackVm) + line('VmExe', vm.text) + line('VmLib', vm.execVm - vm.text);
    s += line('VmPTE', vm.pteKb * 1024) + line('VmSwap', 0);
    s += `HugetlbPages:\t${dec(0, 8)} kB\n`;
  }
  s += `CoreDumping:\t0\n`;
  s += `THP_enabled:\t${flags.thpDisable ? 0 : 1}\n`;
  s += `Threads:\t${p.threads.filter((x) => x.state !== 'dead').length}\n`;
  s += `SigQ:\t0/${p.limits.curNumber(RLIMIT_SIGPENDING)}\n`;
  s += `SigPnd:\t${hex16b(t.pending.set)}\nShdPnd:\t${hex16b(p.signals.shared.set)}\n`;
  s += `SigBlk:\t${hex16b(t.blocked)}\nSigIgn:\t${hex16b(sets.ign)}\nSigCgt:\t${hex16b(sets.cgt)}\n`;
  s += `CapInh:\t${hex16b(caps.inh)}\nCapPrm:\t${hex16b(caps.prm)}\nCapEff:\t${hex16b(caps.eff)}\nCapBnd:\t${hex16b(CAP_FULL_SET)}\nCapAmb:\t${hex16b(0n)}\n`;
  s += `NoNewPrivs:\t${flags.noNewPrivs ? 1 : 0}\nSeccomp:\t0\nSeccomp_filters:\t0\n`;
  s += `Speculation_Store_Bypass:\tthread vulnerable\nSpeculationIndirectBranch:\tunknown\n`;
  const mask = cpusAllowed(host, t);
  s += `Cpus_allowed:\t${bitmapHex(mask, host.cpus)}\nCpus_allowed_list:\t${bitmapList(mask, host.cpus)}\n`;
  s += `Mems_allowed:\t${bitmapHex(1n, 64)}\nMems_allowed_list:\t0\n`;
  s += `voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n`;
  return s;
}

function ticks(ns: bigint): bigint {
  return (ns * USER_HZ) / NSEC_PER_SEC;
}

/** do_task_stat: the 52 fields of /proc/<pid>/stat (whole process) or task/<tid>/stat. */
function statText(host: ProcHost, p: LinuxProcess, t: Task): string {
  const [letter] = stateLetter(t, host.current());
  const vm = vmSummary(p);
  const layout = execLayout(p);
  const sets = signalSets(p);
  const rssPages = vm === null ? 0 : (vm.sizes.rssAnon + vm.sizes.rssFile + vm.sizes.rssShmem) / PAGE_SIZE;
  const cpuNs = p.clock.peekMonotonicNs() - DEFAULT_BOOT_NS;
  const mm = inspectOf(p);
  const brk = mm?.brk() ?? { start: 0, end: 0 };
  const rsslim = p.limits.get(RLIMIT_RSS).cur;
  // Minor faults: the machine's fault count (one process per machine today).
  const faults = (p.telemetry.stats.group('fault') as { total?: number } | undefined)?.total ?? 0;
  const f: (string | number | bigint)[] = [
    t.tid, `(${taskComm(t)})`, letter, p.ids.ppid, p.pid, p.pid, 0, -1, 4194304,
    faults, 0, 0, 0, ticks(cpuNs > 0n ? cpuNs : 0n), 0, 0, 0, 20, 0, p.threads.filter((x) => x.state !== 'dead').length, 0,
    ticks(DEFAULT_BOOT_NS), vm?.totalVm ?? 0, rssPages, rsslim,
    layout?.startCode ?? 0, layout?.endCode ?? 0, layout?.startStack ?? 0, 0, 0,
    // The old signal fields: decimal, the first 31 signals only.
    (t.pending.set | p.signals.shared.set) & 0x7fffffffn, t.blocked & 0x7fffffffn, sets.ign & 0x7fffffffn, sets.cgt & 0x7fffffffn, 0, 0, 0, t.isThreadGroupLeader ? SIGCHLD : -1, t.cpu, 0, 0, 0, 0, 0,
    layout?.startData ?? 0, layout?.endData ?? 0, brk.start, layout?.argStart ?? 0, layout?.argEnd ?? 0, layout?.envStart ?? 0, layout?.envEnd ?? 0, 0,
  ];
  return f.join(' ') + '\n';
}

/** /proc/<pid>/statm: size resident shared text lib(0) data dt(0), in pages. */
function statmText(p: LinuxProcess): string {
  const vm = vmSummary(p);
  if (vm === null) return '0 0 0 0 0 0 0\n';
  const pages = (b: number): number => Math.floor(b / PAGE_SIZE);
  const resident = vm.sizes.rssAnon + vm.sizes.rssFile + vm.sizes.rssShmem;
  const shared = vm.sizes.rssFile + vm.sizes.rssShmem;
  return `${pages(vm.totalVm)} ${pages(resident)} ${pages(shared)} ${pages(vm.text)} 0 ${pages(vm.dataVm + vm.stackVm)} 0\n`;
}

// ---------------------------------------------------------------------------------------------
// Mounts

export interface MountRow {
  readonly id: number;
  readonly parent: number;
  readonly dev: { major: number; minor: number };
  readonly point: string;
  readonly opts: string;
  readonly fstype: string;
  readonly source: string;
  readonly superOpts: string;
}

/** The mounts of /proc/self/mountinfo and /proc/mounts (statfs.ts reads their flags too). */
export function mountRows(fs: FileSystem): MountRow[] {
  const tmp = fs.tmpSb;
  return [
    { id: fs.rootSb.mntId, parent: 1, dev: fs.rootSb.dev, point: '/', opts: 'rw,relatime', fstype: 'ext4', source: '/dev/sda1', superOpts: 'rw' },
    { id: 22, parent: fs.rootSb.mntId, dev: { major: 0, minor: 5 }, point: '/dev', opts: 'rw,nosuid,relatime', fstype: 'devtmpfs', source: 'udev', superOpts: 'rw,mode=755' },
    { id: 23, parent: fs.rootSb.mntId, dev: { major: 0, minor: 21 }, point: '/proc', opts: 'rw,nosuid,nodev,noexec,relatime', fstype: 'proc', source: 'proc', superOpts: 'rw' },
    tmp.name === 'tmpfs'
      ? { id: tmp.mntId, parent: fs.rootSb.mntId, dev: tmp.dev, point: '/tmp', opts: 'rw,nosuid,nodev', fstype: 'tmpfs', source: 'tmpfs', superOpts: 'rw' }
      : { id: tmp.mntId, parent: fs.rootSb.mntId, dev: tmp.dev, point: '/tmp', opts: 'rw,relatime', fstype: 'ext4', source: '/dev/sda2', superOpts: 'rw' },
    { id: 25, parent: fs.rootSb.mntId, dev: { major: 0, minor: 20 }, point: '/sys', opts: 'rw,nosuid,nodev,noexec,relatime', fstype: 'sysfs', source: 'sysfs', superOpts: 'rw' },
  ];
}

/** show_mountinfo: no optional fields (no shared subtrees). */
function mountinfoText(fs: FileSystem): string {
  return mountRows(fs)
    .map((m) => `${m.id} ${m.parent} ${m.dev.major}:${m.dev.minor} / ${m.point} ${m.opts} - ${m.fstype} ${m.source} ${m.superOpts}\n`)
    .join('');
}

/** show_vfsmnt: /proc/mounts. */
function mountsText(fs: FileSystem): string {
  return mountRows(fs)
    .map((m) => `${m.source} ${m.point} ${m.fstype} ${m.superOpts === 'rw' ? m.opts : `${m.opts},${m.superOpts.replace(/^rw,/, '')}`} 0 0\n`)
    .join('');
}

// ---------------------------------------------------------------------------------------------
// Machine-wide files

/** show_cpuinfo on arm64 (arch/arm64/kernel/cpuinfo.c): a block per CPU. */
function cpuinfoText(host: ProcHost, p: LinuxProcess): string {
  const features = hwcapNames(p.hwcaps).map((n) => n.toLowerCase()).join(' ');
  let s = '';
  for (let cpu = 0; cpu < host.cpus; cpu++) {
    s += `processor\t: ${cpu}\n`;
    s += `BogoMIPS\t: 50.00\n`;
    s += `Features\t: ${features}\n`;
    s += `CPU implementer\t: 0x41\n`;
    s += `CPU architecture: 8\n`;
    s += `CPU variant\t: 0x1\n`;
    s += `CPU part\t: 0xd0c\n`;
    s += `CPU revision\t: 1\n\n`;
  }
  return s;
}

interface MemCounts {
  totalKb: number;
  freeKb: number;
  cachedKb: number;
  anonKb: number;
  mappedKb: number;
  pageTablesKb: number;
  /** NR_ANON_THPS: anonymous folios mapped by a PMD somewhere. */
  anonHugeKb: number;
}

function memCounts(host: ProcHost): MemCounts {
  const k = host.kernel;
  if (k === null) return { totalKb: 0, freeKb: 0, cachedKb: 0, anonKb: 0, mappedKb: 0, pageTablesKb: 0, anonHugeKb: 0 };
  const mm = k.memmap;
  const total = k.buddy.poolPages;
  let cached = 0;
  let anon = 0;
  let mapped = 0;
  let tables = 0;
  let anonHuge = 0;
  for (let off = 0; off < total; ) {
    const pfn = mm.spanBase + off;
    const folio = mm.folioOfPfn(pfn);
    if (folio === undefined) {
      if (mm.kindOf(pfn) === 'pgtable') tables++;
      off++;
      continue;
    }
    if (folio.owner.kind === 'file') {
      cached += folio.nrPages;
      if (folio.mapcount > 0) mapped += folio.nrPages;
    } else if (folio.owner.kind === 'anon' && folio.mapcount > 0) {
      anon += folio.nrPages;
      if (folio.entireMapcount > 0) anonHuge += folio.nrPages;
    }
    off = folio.firstPfn - mm.spanBase + folio.nrPages;
  }
  return { totalKb: total * 4, freeKb: k.buddy.freePages * 4, cachedKb: cached * 4, anonKb: anon * 4, mappedKb: mapped * 4, pageTablesKb: tables * 4, anonHugeKb: anonHuge * 4 };
}

/** meminfo_proc_show (6.12 order), values from the memory manager. */
function meminfoText(host: ProcHost): string {
  const m = memCounts(host);
  const line = (label: string, v: number): string => `${(label + ':').padEnd(15, ' ')} ${dec(v, 8)} kB\n`;
  const available = m.freeKb + m.cachedKb;
  let s = '';
  s += line('MemTotal', m.totalKb) + line('MemFree', m.freeKb) + line('MemAvailable', available) + line('Buffers', 0) + line('Cached', m.cachedKb);
  s += line('SwapCached', 0) + line('Active', m.anonKb) + line('Inactive', m.cachedKb) + line('Active(anon)', m.anonKb) + line('Inactive(anon)', 0);
  s += line('Active(file)', 0) + line('Inactive(file)', m.cachedKb) + line('Unevictable', 0) + line('Mlocked', 0);
  s += line('SwapTotal', 0) + line('SwapFree', 0) + line('Zswap', 0) + line('Zswapped', 0) + line('Dirty', 0) + line('Writeback', 0);
  s += line('AnonPages', m.anonKb) + line('Mapped', m.mappedKb) + line('Shmem', 0) + line('KReclaimable', 0) + line('Slab', 0);
  s += line('SReclaimable', 0) + line('SUnreclaim', 0) + line('KernelStack', 0) + line('PageTables', m.pageTablesKb) + line('SecPageTables', 0);
  s += line('NFS_Unstable', 0) + line('Bounce', 0) + line('WritebackTmp', 0) + line('CommitLimit', Math.floor(m.totalKb / 2));
  s += line('Committed_AS', m.anonKb) + line('VmallocTotal', 133141626880) + line('VmallocUsed', 0) + line('VmallocChunk', 0) + line('Percpu', 0);
  s += `HardwareCorrupted: ${dec(0, 5)} kB\n` + line('AnonHugePages', m.anonHugeKb) + line('ShmemHugePages', 0) + line('ShmemPmdMapped', 0);
  s += line('FileHugePages', 0) + line('FilePmdMapped', 0) + line('CmaTotal', 0) + line('CmaFree', 0);
  s += `HugePages_Total:   ${dec(0, 5)}\nHugePages_Free:    ${dec(0, 5)}\nHugePages_Rsvd:    ${dec(0, 5)}\nHugePages_Surp:    ${dec(0, 5)}\n`;
  s += line('Hugepagesize', 2048) + line('Hugetlb', 0);
  return s;
}

/** /proc/stat: CPU times in USER_HZ ticks of virtual time, then the counters. */
function procStatText(host: ProcHost, p: LinuxProcess): string {
  const up = ticks(p.clock.peekMonotonicNs());
  const user = ticks(p.clock.peekMonotonicNs() - DEFAULT_BOOT_NS);
  const idle = up * BigInt(host.cpus) - user;
  const cpuLine = (label: string, u: bigint, i: bigint): string => `${label} ${u} 0 0 ${i} 0 0 0 0 0 0\n`;
  let s = cpuLine('cpu ', user, idle > 0n ? idle : 0n);
  for (let c = 0; c < host.cpus; c++) s += cpuLine(`cpu${c}`, c === 0 ? user : 0n, c === 0 ? (up > user ? up - user : 0n) : up);
  const bootSec = p.clock.peekRealtimeNs() / NSEC_PER_SEC - p.clock.peekMonotonicNs() / NSEC_PER_SEC;
  const procs = host.processes();
  const running = procs.reduce((n, q) => n + q.threads.filter((t) => t.state === 'running' || t.state === 'runnable').length, 0);
  const blocked = 0;
  s += `intr 0\nctxt 0\nbtime ${bootSec}\nprocesses ${procs.length}\nprocs_running ${Math.max(1, running)}\nprocs_blocked ${blocked}\n`;
  s += `softirq 0 0 0 0 0 0 0 0 0 0 0\n`;
  return s;
}

/**
 * /proc/vmstat: the counters the model keeps (page counts from the memmap, fault counts from the
 * fault statistics), in vmstat_text order for the ones shown; the others are not printed.
 */
function vmstatText(host: ProcHost, p: LinuxProcess): string {
  const m = memCounts(host);
  const faults = p.telemetry.stats.group('fault') as { total?: number; major?: number } | undefined;
  const rows: [string, number][] = [
    ['nr_free_pages', m.freeKb / 4],
    ['nr_inactive_file', m.cachedKb / 4],
    ['nr_active_anon', m.anonKb / 4],
    ['nr_anon_pages', m.anonKb / 4],
    ['nr_mapped', m.mappedKb / 4],
    ['nr_file_pages', m.cachedKb / 4],
    ['nr_page_table_pages', m.pageTablesKb / 4],
    ['pgfault', faults?.total ?? 0],
    ['pgmajfault', faults?.major ?? 0],
  ];
  // The THP events the memory manager counts, in vmstat_text's order (none without one).
  const mm = host.kernel?.mmStats;
  rows.push(
    ['thp_fault_alloc', mm?.thp_fault_alloc ?? 0],
    ['thp_fault_fallback', mm?.thp_fault_fallback ?? 0],
    ['thp_collapse_alloc', mm?.thp_collapse_alloc ?? 0],
    ['thp_collapse_alloc_failed', mm?.thp_collapse_alloc_failed ?? 0],
    ['thp_file_mapped', mm?.thp_file_mapped ?? 0],
    ['thp_split_pmd', mm?.thp_split_pmd ?? 0],
  );
  return rows.map(([k, v]) => `${k} ${v}\n`).join('');
}

const FILESYSTEMS =
  'nodev\tsysfs\nnodev\ttmpfs\nnodev\tbdev\nnodev\tproc\nnodev\tcgroup2\nnodev\tdevtmpfs\nnodev\tsockfs\nnodev\tpipefs\nnodev\tanon_inodefs\n\text4\nnodev\tdevpts\nnodev\tmqueue\n';

function uptimeText(host: ProcHost, p: LinuxProcess): string {
  const ns = p.clock.peekMonotonicNs();
  const cs = (ns / 10_000_000n);
  const idle = cs * BigInt(host.cpus);
  const fmt = (c: bigint): string => `${c / 100n}.${(c % 100n).toString().padStart(2, '0')}`;
  return `${fmt(cs)} ${fmt(idle)}\n`;
}

// ---------------------------------------------------------------------------------------------
// The tree

/** Path of a node in a process's tree (for /proc/<pid>/fd links and cwd), or null. */
function pathOfNode(fs: FileSystem, target: Node): string | null {
  if (target.kind === 'dir') return fs.pathOf(target);
  const walk = (dir: DirNode, prefix: string): string | null => {
    for (const [name, node] of dir.entries) {
      if (node === target) return `${prefix}/${name}`;
      if (node.kind === 'dir' && node.sb !== PROC_SB && node.sb.name !== 'sysfs') {
        const r = walk(node, `${prefix}/${name}`);
        if (r !== null) return r;
      }
    }
    return null;
  };
  return walk(fs.root, '');
}

/**
 * Mounts /proc's per-process directories and machine files into `fs` (whose /proc directory the
 * file system made at boot), /proc/sys and /sys.
 */
export function mountProcfs(fs: FileSystem, host: ProcHost): void {
  const proc = fs.proc;
  fs.unlinkPseudo(proc, 'self');
  const pidDirs = new WeakMap<LinuxProcess, DirNode>();
  const alive = (p: LinuxProcess): boolean => host.processes().includes(p);
  const findPid = (pid: number): LinuxProcess | null => host.processes().find((q) => q.pid === pid) ?? null;

  const perProcess = (p: LinuxProcess, gen: () => string | number): SynthContent => textFile(() => (alive(p) ? gen() : -ESRCH));

  const taskDir = (p: LinuxProcess, t: Task, parent: DirNode): DirNode => {
    const d = fs.newPseudoDir(parent, PROC_SB, 0o555, p.ids.uid, p.ids.gid);
    fs.newSynth(PROC_SB, 0o444, perProcess(p, () => statText(host, p, t)), d, 'stat', p.ids.uid, p.ids.gid);
    fs.newSynth(PROC_SB, 0o444, perProcess(p, () => statusText(host, p, t)), d, 'status', p.ids.uid, p.ids.gid);
    fs.newSynth(PROC_SB, 0o644, commFile(p, t), d, 'comm', p.ids.uid, p.ids.gid);
    return d;
  };

  const commFile = (p: LinuxProcess, t: Task): SynthContent => ({
    open: () => (alive(p) ? snapshot(enc.encode(taskComm(t) + '\n')) : -ESRCH),
    write: (data) => {
      // comm_write: at most TASK_COMM_LEN - 1 bytes, taken as they are; only within the thread group.
      if (host.current() !== p) return -EINVAL;
      setTaskComm(t, new TextDecoder().decode(data.subarray(0, 15)));
      return data.length;
    },
  });

  const buildPidDir = (p: LinuxProcess): DirNode => {
    const uid = p.ids.uid;
    const gid = p.ids.gid;
    const d = fs.newPseudoDir(proc, PROC_SB, 0o555, uid, gid);
    const file = (name: string, perm: number, content: SynthContent): void => {
      fs.newSynth(PROC_SB, perm, content, d, name, uid, gid);
    };
    const leader = (): Task => p.threads[0]!;
    file('maps', 0o444, perProcess(p, () => mapsText(p)));
    file('smaps', 0o444, perProcess(p, () => smapsText(host, p)));
    file('smaps_rollup', 0o444, perProcess(p, () => smapsRollupText(p)));
    file('pagemap', 0o400, { open: (opener) => (alive(p) ? pagemapOpen(p, opener) : -ESRCH) });
    file('status', 0o444, perProcess(p, () => statusText(host, p, leader())));
    file('stat', 0o444, perProcess(p, () => statText(host, p, leader())));
    file('statm', 0o444, perProcess(p, () => statmText(p)));
    file('mountinfo', 0o444, perProcess(p, () => mountinfoText(p.fs)));
    file('mounts', 0o444, perProcess(p, () => mountsText(p.fs)));
    file('cpuset', 0o444, perProcess(p, () => '/\n'));
    file('cgroup', 0o444, perProcess(p, () => '0::/\n'));
    file('oom_score_adj', 0o644, perProcess(p, () => '0\n'));
    file('comm', 0o644, commFile(p, leader()));
    file('mem', 0o600, { open: () => (alive(p) ? memOpen(p) : -ESRCH) });
    file('clear_refs', 0o200, {
      open: () => snapshot(new Uint8Array(0)),
      // clear_refs_write: 1-3 clear the accessed bits, 4 soft-dirty, 5 the RSS high-water mark.
      // Accepted; the model clears nothing (arm64 has no soft-dirty, no high-water mark is kept,
      // and clearing young bits would need the page-table layer's ptep_test_and_clear_young).
      write: (data) => {
        const v = Number(new TextDecoder().decode(data).replace(/[\s\0]+$/, ''));
        return Number.isInteger(v) && v >= 1 && v <= 5 ? data.length : -EINVAL;
      },
    });
    file('cmdline', 0o444, {
      open: () => {
        if (!alive(p)) return -ESRCH;
        const l = execLayout(p);
        const bytes = l === null ? null : p.mm.copyFromUser(l.argStart, l.argEnd - l.argStart);
        return snapshot(bytes ?? new Uint8Array(0));
      },
    });
    file('environ', 0o400, {
      open: () => {
        if (!alive(p)) return -ESRCH;
        const l = execLayout(p);
        const bytes = l === null ? null : p.mm.copyFromUser(l.envStart, l.envEnd - l.envStart);
        return snapshot(bytes ?? new Uint8Array(0));
      },
    });
    fs.newPseudoSymlink(PROC_SB, () => (alive(p) ? p.fs.exePath : null), d, 'exe', uid, gid);
    fs.newPseudoSymlink(PROC_SB, () => (alive(p) ? p.fs.pathOf(p.fs.cwd) : null), d, 'cwd', uid, gid);
    const fdDir = fs.newPseudoDir(d, PROC_SB, 0o500, uid, gid, 'fd');
    const fdLinks = new Map<number, Node>();
    fdDir.dynamic = {
      names: () => p.fds.open().map(String),
      lookup: (name) => {
        if (!/^(0|[1-9][0-9]*)$/.test(name)) return null;
        const fd = Number(name);
        if (p.fds.get(fd) === null) return null;
        let link = fdLinks.get(fd);
        if (link === undefined) {
          link = fs.newPseudoSymlink(PROC_SB, () => {
            const f = p.fds.get(fd)?.file ?? null;
            if (f === null) return null;
            if (f.ops !== null) return f.ops.linkName;
            if (f.node.kind === 'fifo') return `pipe:[${f.node.ino}]`;
            return pathOfNode(p.fs, f.node) ?? f.node.kind;
          }, undefined, undefined, uid, gid);
          link.magic = () => p.fds.get(fd)?.file.node ?? null;
          fdLinks.set(fd, link);
        }
        return link;
      },
    };
    const tasks = fs.newPseudoDir(d, PROC_SB, 0o555, uid, gid, 'task');
    const taskDirs = new WeakMap<Task, DirNode>();
    tasks.dynamic = {
      names: () => p.threads.filter((t) => t.state !== 'dead').map((t) => String(t.tid)),
      lookup: (name) => {
        const t = p.threads.find((x) => String(x.tid) === name && x.state !== 'dead');
        if (t === undefined) return null;
        let td = taskDirs.get(t);
        if (td === undefined) {
          td = taskDir(p, t, tasks);
          taskDirs.set(t, td);
        }
        return td;
      },
    };
    return d;
  };

  const pidDir = (p: LinuxProcess): DirNode => {
    let d = pidDirs.get(p);
    if (d === undefined) {
      d = buildPidDir(p);
      pidDirs.set(p, d);
    }
    return d;
  };

  const dynamic: DynamicEntries = {
    names: () => host.processes().map((q) => String(q.pid)),
    lookup: (name) => {
      if (!/^[1-9][0-9]*$/.test(name)) return null;
      const q = findPid(Number(name));
      return q === null ? null : pidDir(q);
    },
  };
  proc.dynamic = dynamic;
  fs.newPseudoSymlink(PROC_SB, () => String(host.current().pid), proc, 'self');
  fs.newPseudoSymlink(PROC_SB, () => `${host.current().pid}/task/${host.current().tid}`, proc, 'thread-self');
  fs.newPseudoSymlink(PROC_SB, () => 'self/mounts', proc, 'mounts');
  // udev's links into /proc/self/fd, which shells use (/dev/stdin, /dev/fd/63 for <(...)).
  for (const [name, target] of [['fd', '/proc/self/fd'], ['stdin', '/proc/self/fd/0'], ['stdout', '/proc/self/fd/1'], ['stderr', '/proc/self/fd/2']] as const) {
    if (!fs.dev.entries.has(name)) fs.newPseudoSymlink(fs.dev.sb, () => target, fs.dev, name);
  }
  const machine = (name: string, gen: () => string): void => {
    fs.newSynth(PROC_SB, 0o444, textFile(gen), proc, name);
  };
  machine('cpuinfo', () => cpuinfoText(host, host.current()));
  machine('meminfo', () => meminfoText(host));
  machine('stat', () => procStatText(host, host.current()));
  machine('filesystems', () => FILESYSTEMS);
  machine('vmstat', () => vmstatText(host, host.current()));
  machine('uptime', () => uptimeText(host, host.current()));
  machine('loadavg', () => {
    const procs = host.processes();
    const threads = procs.reduce((n, q) => n + q.threads.length, 0);
    return `0.00 0.00 0.00 1/${threads} ${Math.max(...procs.map((q) => q.pid))}\n`;
  });
  machine('version', () => `Linux version ${host.current().utsname.release} (contpte-lab) ${host.current().utsname.version}\n`);
  const sysvipc = fs.newPseudoDir(proc, PROC_SB, 0o555, 0, 0, 'sysvipc');
  fs.newSynth(PROC_SB, 0o444, textFile(() => sysvipcShmText(host)), sysvipc, 'shm');
  mountSysctl(fs, host);
  mountSysfs(fs, host);
}

const pad = (v: number | string, w: number): string => String(v).padStart(w);

/** /proc/sysvipc/shm (sysvipc_shm_proc_show, 64-bit field widths), one row per segment by index. */
function sysvipcShmText(host: ProcHost): string {
  let s = '       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n';
  const n = existingShmNamespace(host);
  if (n === null) return s;
  for (const g of n.segments()) {
    s += `${pad(g.key, 10)} ${pad(shmId(g), 10)}  ${pad(g.mode.toString(8), 4)} ${pad(g.segsz, 21)} ${pad(g.cpid, 5)} ${pad(g.lpid, 5)}  `;
    s += `${pad(n.nattch(g), 5)} ${pad(g.uid, 5)} ${pad(g.gid, 5)} ${pad(g.cuid, 5)} ${pad(g.cgid, 5)} ${pad(g.atime, 10)} ${pad(g.dtime, 10)} ${pad(g.ctime, 10)} `;
    s += `${pad(g.file.mapping.nrpages * 4096, 21)} ${pad(0, 21)}\n`;
  }
  return s;
}

export { statusText, statText, smapsText, mapsText, meminfoText, cpuinfoText };
