/**
 * The kernel knobs: every policy value a profile sets and `--set knob=value` overrides, as one
 * typed table (name, value syntax, allowed values, what it means, which component reads it).
 * Names and value syntax of the docs/design.md knobs are kept exactly; the others are the ones
 * docs/kernel-notes.md §0.3 and §9 propose, plus the few the lead's page-table switches need.
 *
 * A resolved set of values is an `MmPolicy` (snake_case keys, the knob names). Parsing a value
 * never guesses: a bad value is a UsageError naming the knob and what it accepts.
 */
import type { FlushRangeRules } from '../pgtable/policy.js';
import { FLUSH_RANGE_RULES } from '../pgtable/policy.js';
import { UsageError } from '../util/errors.js';
import type { AnonThpAlign } from './vma.js';

/** How finish_fault decides how many PTEs a file fault maps (kernel-notes §3.7). */
export type FinishFaultRule = 'page' | 'anon_shmem_folio' | 'shmem_folio' | 'folio_capped' | 'folio';
export const FINISH_FAULT_RULES: readonly FinishFaultRule[] = ['page', 'anon_shmem_folio', 'shmem_folio', 'folio_capped', 'folio'];

/** Which kernel's readahead algorithm (mm/readahead.c and mm/filemap.c) runs (kernel-notes §1). */
export type ReadaheadVariant = 'v69' | 'v612' | 'v72';
export const READAHEAD_VARIANTS: readonly ReadaheadVariant[] = ['v69', 'v612', 'v72'];

/** The version of blk_apply_bdi_limits (block/blk-settings.c) that sets a disk's ra_pages. */
export type BlkRaRule = 'v6.12' | 'v7.2';
export const BLK_RA_RULES: readonly BlkRaRule[] = ['v6.12', 'v7.2'];

/** The file system /tmp is mounted with. */
export type TmpFs = 'tmpfs' | 'ext4';

/**
 * PMD-size THP for anonymous memory: the mode order 9 ends up with, from
 * transparent_hugepage/enabled and hugepages-2048kB/enabled (inherit takes the top-level one).
 */
export type ThpPmdMode = 'never' | 'madvise' | 'always';
export const THP_PMD_MODES: readonly ThpPmdMode[] = ['never', 'madvise', 'always'];

/** The huge= option /tmp's tmpfs is mounted with (mm/shmem.c SHMEM_HUGE_*). */
export type TmpfsHuge = 'never' | 'always' | 'within_size' | 'advise';
export const TMPFS_HUGES: readonly TmpfsHuge[] = ['never', 'always', 'within_size', 'advise'];

/** Folio orders a huge= tmpfs file may get: the PMD order only (6.12) or any order 1..9 (6.14+). */
export type TmpfsHugeOrders = 'pmd' | 'any';
export const TMPFS_HUGE_ORDERS: readonly TmpfsHugeOrders[] = ['pmd', 'any'];

/** What do_huge_pmd_wp_page does with the huge zero PMD. */
export type HugeZeroWp = 'split' | 'alloc';
export const HUGE_ZERO_WPS: readonly HugeZeroWp[] = ['split', 'alloc'];

/** Which kernel's MADV_COLLAPSE of anonymous memory (mm/khugepaged.c): 6.12's or 7.2's (khugepaged.ts). */
export type MadvCollapse = 'v6.12' | 'v7.2';
export const MADV_COLLAPSES: readonly MadvCollapse[] = ['v6.12', 'v7.2'];

/** Which shmem mappings the per-size shmem mTHP sysfs knobs apply to (kernel-notes §0.2). */
export type ShmemMthpScope = 'anon' | 'all';

export const ANON_THP_ALIGNS: readonly AnonThpAlign[] = ['none', 'any_size', 'pmd_multiple', 'pmd_multiple_no_hint'];

/** Every knob's resolved value. */
export interface MmPolicy {
  contpte: boolean;
  contpte_fold: boolean;
  tlbi_range: boolean;
  tlbi_ttl: boolean;
  kpti: boolean;
  bbml2_noabort: boolean;
  hw_af: boolean;
  hw_dirty: boolean;
  /** Folio orders enabled for anonymous mTHP, ascending. */
  anon_mthp: readonly number[];
  /** Folio orders enabled for shmem mTHP, ascending. */
  shmem_mthp: readonly number[];
  shmem_mthp_scope: ShmemMthpScope;
  tmp_fs: TmpFs;
  file_large_folios: boolean;
  file_max_order: number;
  finish_fault: FinishFaultRule;
  finish_fault_range_fallback: boolean;
  finish_fault_isize_fallback: boolean;
  fault_around_kb: number;
  fault_around_whole_folio: boolean;
  read_fault_mkdirty: boolean;
  /** null: `auto`, the block device's ra_pages as the kernel computes it (blkdev.ts). */
  ra_kb: number | null;
  blk_rotational: boolean;
  blk_io_opt_kb: number;
  blk_max_sectors_kb: number;
  blk_ra_rule: BlkRaRule;
  readahead: ReadaheadVariant;
  mprotect_batch: boolean;
  wp_reuse_large_anon: boolean;
  mremap_batch: boolean;
  erratum_2645198: boolean;
  set_access_flags_local_flush: boolean;
  access_flags_rawcmp: boolean;
  contpte_get_early_exit: boolean;
  flush_tlb_page_ttl: boolean;
  spurious_fault_flush: boolean;
  lpa2: boolean;
  flush_range_rules: FlushRangeRules;
  /** The PMD-size THP mode for anonymous memory (order 9's effective sysfs setting). */
  thp_pmd: ThpPmdMode;
  tmpfs_huge: TmpfsHuge;
  tmpfs_huge_orders: TmpfsHugeOrders;
  /** transparent_hugepage/use_zero_page: read faults map the huge zero folio. */
  thp_zero_page: boolean;
  /** A write to the huge zero PMD: split it (<= 6.14) or map a new THP in its place (6.15+). */
  huge_zero_wp: HugeZeroWp;
  /** MADV_COLLAPSE as 6.12 (a writable PTE needed, one ptep_clear per PTE) or 7.2 (folio batches). */
  madv_collapse: MadvCollapse;
  anon_thp_align: AnonThpAlign;
  tlb_entries: number;
  tlb_contig: boolean;
  mem_mb: number;
  /** Modeled CPUs (each with its own TLB and walk cache). */
  cpus: number;
  /** ID_AA64MMFR0_EL1.ASIDBits: the ASID width the allocator (mm/asid.ts) hands out of. */
  asid_bits: AsidBitsValue;
  /** vm.overcommit_memory: 0 (heuristic) or 1 (always); 2 (strict accounting) is not modelled. */
  overcommit_memory: OvercommitMode;
}

/** The `asid_bits` knob's values. */
export type AsidBitsValue = '8' | '16';

/** vm.overcommit_memory (Documentation/mm/overcommit-accounting.rst). */
export type OvercommitMode = '0' | '1';

export type KnobName = keyof MmPolicy;

/** The part of the model that reads a knob. */
export type KnobReader = 'pgtable' | 'mmu' | 'mm' | 'mm/readahead' | 'mm/shmem' | 'mm/mprotect' | 'mm/placement' | 'linux/fs' | 'machine' | 'none';

/** The value syntax of a knob. */
export type KnobType =
  | { readonly kind: 'bool' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'int'; readonly min: number; readonly max: number; readonly unit?: string; readonly multipleOf?: number; readonly auto?: string }
  /** A comma list of folio sizes (16K ... 1M, powers of two) or `none`; stored as orders. */
  | { readonly kind: 'sizes'; readonly minOrder: number; readonly maxOrder: number };

export interface KnobDef {
  readonly name: KnobName;
  readonly type: KnobType;
  readonly description: string;
  readonly reader: KnobReader;
  /** Values the type allows but the model does not implement: the error names why. */
  readonly unsupported?: Readonly<Record<string, string>>;
}

const BOOL: KnobType = { kind: 'bool' };
/** mTHP sizes with 4 KiB pages: 16K (order 2) to 1M (order 8); 2M is PMD-mapped THP (thp_pmd). */
const MTHP_SIZES: KnobType = { kind: 'sizes', minOrder: 2, maxOrder: 8 };

/** The knob table, in the order `contpte-lab profiles` prints it. */
export const KNOBS: readonly KnobDef[] = [
  { name: 'contpte', type: BOOL, reader: 'pgtable', description: 'CONFIG_ARM64_CONTPTE: the page-table API manages the contiguous bit behind the core mm' },
  { name: 'contpte_fold', type: BOOL, reader: 'pgtable', description: 'automatic fold in set_ptes(nr=1) when a block of 16 PTEs of one folio becomes complete (v6.9 patch 18/18)' },
  { name: 'tlbi_range', type: BOOL, reader: 'pgtable', description: 'FEAT_TLBIRANGE: range TLBIs (RVALE1IS, RVAE1IS)' },
  { name: 'tlbi_ttl', type: BOOL, reader: 'pgtable', description: 'FEAT_TTL: level hints in by-VA TLBI operands (changes operands, not counts)' },
  { name: 'kpti', type: BOOL, reader: 'pgtable', description: 'kernel unmapped at EL0: every user TLBI issued again for the user ASID (asid|1); the ASID allocator hands out (even, odd) pairs' },
  { name: 'bbml2_noabort', type: BOOL, reader: 'pgtable', description: 'BBML2_NOABORT CPU: contpte_convert skips its TLBI (v6.16+, allow-listed MIDRs); the checker accepts contiguous-bit-only changes' },
  { name: 'hw_af', type: BOOL, reader: 'mmu', description: 'TCR_EL1.HA (FEAT_HAFDBS): hardware sets the access flag; prefaulted PTEs are installed old (arch_wants_old_prefaulted_pte)' },
  { name: 'hw_dirty', type: BOOL, reader: 'mmu', description: 'TCR_EL1.HD: hardware marks writable-clean (DBM) entries dirty instead of a permission fault' },
  { name: 'anon_mthp', type: MTHP_SIZES, reader: 'mm', description: "anonymous mTHP sizes set to 'always' (hugepages-<size>/enabled), e.g. 64K or 16K,64K; none = order-0 only" },
  { name: 'shmem_mthp', type: MTHP_SIZES, reader: 'mm/shmem', description: "shmem mTHP sizes set to 'always' (hugepages-<size>/shmem_enabled); applies to anonymous shared memory (see shmem_mthp_scope)" },
  { name: 'shmem_mthp_scope', type: { kind: 'enum', values: ['anon', 'all'] }, reader: 'mm/shmem', description: 'which shmem mappings the per-size shmem knobs reach: anon (6.11+: vma_is_anon_shmem, i.e. shared anonymous memory and tmpfs files mapped while unlinked) or all (every tmpfs mapping; no kernel does this)' },
  { name: 'tmp_fs', type: { kind: 'enum', values: ['tmpfs', 'ext4'] }, reader: 'linux/fs', description: 'the file system /tmp is mounted with (folio policy differs: tmpfs has shmem orders, ext4 has readahead orders)' },
  { name: 'file_large_folios', type: BOOL, reader: 'linux/fs', description: "large folios in a block file system's (ext4) page cache (mapping_large_folio_support)" },
  { name: 'file_max_order', type: { kind: 'int', min: 0, max: 9 }, reader: 'linux/fs', description: 'largest ext4 page-cache folio order when file_large_folios is on (EXT4_MAX_PAGECACHE_ORDER = 9 with 4K blocks)' },
  { name: 'finish_fault', type: { kind: 'enum', values: FINISH_FAULT_RULES }, reader: 'mm', description: 'PTEs a file fault maps in finish_fault: page (<=6.10), anon_shmem_folio (6.11+), shmem_folio (Baolin 2025), folio_capped (Ryan Roberts\' proposal: folio within the aligned fault-around window), folio (Kiryl Shutsemau, in 7.x)' },
  { name: 'finish_fault_range_fallback', type: BOOL, reader: 'mm', description: 'finish_fault retries with one PTE when the folio range is not all none (Geffon fix); off: VM_FAULT_NOPAGE as in 6.11.0' },
  { name: 'finish_fault_isize_fallback', type: BOOL, reader: 'mm', description: 'finish_fault maps one PTE when a non-shmem folio extends beyond i_size (Kiryl Shutsemau 2025)' },
  { name: 'fault_around_kb', type: { kind: 'int', min: 0, max: 2048, unit: 'KiB' }, reader: 'mm', description: 'fault_around_bytes / 1024: read faults map this naturally aligned window (rounded down to a power of two pages, at least one page)' },
  { name: 'fault_around_whole_folio', type: BOOL, reader: 'mm', description: 'filemap_map_pages widens the range to the whole folio when it lies within i_size, the VMA and one PMD (7.x)' },
  { name: 'read_fault_mkdirty', type: BOOL, reader: 'mm', description: 'set_pte_range: a read fault installing a writable PTE of a dirty folio makes it dirty (7.x)' },
  { name: 'ra_kb', type: { kind: 'int', min: 0, max: 16384, unit: 'KiB', multipleOf: 4, auto: 'blk_*' }, reader: 'mm/readahead', description: 'read_ahead_kb of the ext4 block device (ra_pages = ra_kb / 4); auto: what the kernel computes from the device (blk_* knobs); a number overrides it, as writing read_ahead_kb does' },
  { name: 'blk_rotational', type: BOOL, reader: 'mm/readahead', description: 'the block device under ext4 is rotational (queue/rotational; BLK_FEAT_ROTATIONAL). The measured virtio-blk disk is' },
  { name: 'blk_io_opt_kb', type: { kind: 'int', min: 0, max: 65536, unit: 'KiB', multipleOf: 4 }, reader: 'mm/readahead', description: 'the device\'s optimal I/O size (queue/optimal_io_size / 1024); 0 = not reported (virtio-blk reports none)' },
  { name: 'blk_max_sectors_kb', type: { kind: 'int', min: 4, max: 65536, unit: 'KiB', multipleOf: 4 }, reader: 'mm/readahead', description: 'queue/max_sectors_kb: the largest request, min(the device limit, BLK_DEF_MAX_SECTORS_CAP)' },
  { name: 'blk_ra_rule', type: { kind: 'enum', values: BLK_RA_RULES }, reader: 'mm/readahead', description: 'how blk_apply_bdi_limits turns the limits into ra_pages: v6.12 (max(2 x io_opt, 128 KiB)) or v7.2 (a rotational device without io_opt reads ahead 2 x max_sectors; never lowered below 128 KiB)' },
  { name: 'readahead', type: { kind: 'enum', values: READAHEAD_VARIANTS }, reader: 'mm/readahead', description: 'readahead algorithm: v69 (ondemand_readahead, +2 order ramp, no order 1), v612 (async from the marker folio order), v72 (ra->order state, no marker at EOF)' },
  { name: 'mprotect_batch', type: BOOL, reader: 'mm/mprotect', description: "mprotect batches a folio's run of PTEs (modify_prot_start_ptes/commit_ptes; Dev Jain, 6.17+)" },
  { name: 'wp_reuse_large_anon', type: BOOL, reader: 'mm', description: 'do_wp_page reuses a large anonymous folio that one mm alone maps (__wp_can_reuse_large_anon_folio, 7.x); off: large folios are copied page by page once not exclusive (6.9, 6.12)' },
  { name: 'mremap_batch', type: BOOL, reader: 'mm', description: "mremap's move_ptes moves a contiguous block's run of one large folio at once (get_and_clear_ptes + set_ptes; Dev Jain, 6.17+); off: one PTE at a time, unfolding and refolding each block" },
  { name: 'erratum_2645198', type: BOOL, reader: 'mm/mprotect', description: 'Cortex-A715 erratum 2645198: ptep_modify_prot_start flushes a user-executable PTE (ptep_clear_flush)' },
  { name: 'set_access_flags_local_flush', type: BOOL, reader: 'pgtable', description: 'ptep_set_access_flags flushes locally (VALE1/RVALE1, DSB NSH) as in 7.x' },
  { name: 'access_flags_rawcmp', type: BOOL, reader: 'pgtable', description: 'contpte_ptep_set_access_flags compares every raw sub-PTE (6.12.117 and 7.x)' },
  { name: 'contpte_get_early_exit', type: BOOL, reader: 'none', description: 'contpte_ptep_get stops once young and dirty are found (7.x); changes only PTE reads, which are not counted, so nothing reads it' },
  { name: 'flush_tlb_page_ttl', type: BOOL, reader: 'pgtable', description: 'flush_tlb_page goes through the range code with a level-3 hint (7.x)' },
  { name: 'spurious_fault_flush', type: BOOL, reader: 'pgtable', description: 'flush_tlb_fix_spurious_fault flushes the page locally (7.x; 6.x: no-op)' },
  { name: 'lpa2', type: BOOL, reader: 'pgtable', description: 'LPA2 (52-bit VA kernel, TCR_EL1.DS): range TLBIs need a 64K-aligned start' },
  { name: 'flush_range_rules', type: { kind: 'enum', values: FLUSH_RANGE_RULES }, reader: 'pgtable', description: '__flush_tlb_range rules: v6.1 (pre-LPA2 loop), v6.7 (LPA2 rework), v6.9 (operand fix and MAX_DVM_OPS)' },
  {
    name: 'thp_pmd',
    type: { kind: 'enum', values: THP_PMD_MODES },
    reader: 'mm',
    description:
      "PMD-size THP for private anonymous memory (hugepages-2048kB/enabled, inherit = transparent_hugepage/enabled): always, madvise (only VM_HUGEPAGE VMAs) or never; a fault in a 2 MiB-aligned range inside the VMA maps one order-9 folio with a PMD (do_huge_pmd_anonymous_page)",
  },
  { name: 'tmpfs_huge', type: { kind: 'enum', values: TMPFS_HUGES }, reader: 'mm/shmem', description: "tmpfs mount option huge= for /tmp: never, always, within_size (the large folio lies inside i_size) or advise (VM_HUGEPAGE); reaches mappings of linked tmpfs files (not vma_is_anon_shmem), whose order-9 folios are then mapped by a PMD (do_set_pmd)" },
  { name: 'tmpfs_huge_orders', type: { kind: 'enum', values: TMPFS_HUGE_ORDERS }, reader: 'mm/shmem', description: 'orders a huge= tmpfs file may allocate: pmd (6.12: order 9 only, else order 0) or any (7.2: every file order up to 9, highest that fits first)' },
  { name: 'thp_zero_page', type: BOOL, reader: 'mm', description: 'transparent_hugepage/use_zero_page: a read fault in a PMD-THP range maps the huge zero folio with a read-only PMD' },
  { name: 'huge_zero_wp', type: { kind: 'enum', values: HUGE_ZERO_WPS }, reader: 'mm', description: 'a write to the huge zero PMD: split (split into 512 zero-page PTEs, then copy one page; 6.12) or alloc (do_huge_zero_wp_pmd maps a new THP; 7.2)' },
  { name: 'madv_collapse', type: { kind: 'enum', values: MADV_COLLAPSES }, reader: 'mm', description: 'MADV_COLLAPSE of anonymous memory: v6.12 (a block needs one writable PTE; old PTEs cleared one by one, unfolding each contiguous block; a range holding no whole 2 MiB block gives EINVAL unless it ends at its start) or v7.2 (no writable check; a large folio cleared in one batch, whole contiguous blocks without unfolding; no whole block gives 0)' },
  { name: 'anon_thp_align', type: { kind: 'enum', values: ANON_THP_ALIGNS }, reader: 'mm/placement', description: 'which private anonymous mmaps are 2 MiB-aligned: none (<6.7), any_size (6.7-6.11), pmd_multiple (6.12), pmd_multiple_no_hint (6.13+)' },
  { name: 'tlb_entries', type: { kind: 'int', min: 5, max: 1 << 20, multipleOf: 5 }, reader: 'mmu', description: 'TLB entries (5-way set associative, like the 1280-entry L2 TLB of Cortex-A76/Neoverse-N1)' },
  { name: 'tlb_contig', type: BOOL, reader: 'mmu', description: 'the TLB caches a contiguous block as one entry' },
  { name: 'mem_mb', type: { kind: 'int', min: 16, max: 4096, unit: 'MiB' }, reader: 'machine', description: 'guest physical memory in MiB (page tables, page cache, anonymous memory); 4096 at most: the pool is one host buffer, and Node.js 20 allows 4 GiB' },
  {
    name: 'overcommit_memory',
    type: { kind: 'enum', values: ['0', '1', '2'] },
    reader: 'mm',
    description: 'vm.overcommit_memory: 0 refuses one private writable mapping larger than RAM (MAP_NORESERVE exempt), 1 accepts everything; shown in /proc/sys/vm/overcommit_memory',
    unsupported: { '2': 'strict commit accounting (mode 2) is not modelled' },
  },
  { name: 'cpus', type: { kind: 'int', min: 1, max: 256 }, reader: 'machine', description: 'online CPUs of the modeled machine, each with its own TLB and walk cache (built when a task first runs there); tasks are spread over them' },
  { name: 'asid_bits', type: { kind: 'enum', values: ['8', '16'] }, reader: 'mm', description: 'ASID width (ID_AA64MMFR0_EL1.ASIDBits): 8 makes the allocator roll over after a few hundred address spaces, each rollover owing every CPU a local TLB flush (TLBI VMALLE1)' },
];

const BY_NAME = new Map<string, KnobDef>(KNOBS.map((k) => [k.name, k]));

export function knobDef(name: string): KnobDef | undefined {
  return BY_NAME.get(name);
}

export function knobNames(): string[] {
  return KNOBS.map((k) => k.name);
}

/** What a knob accepts, for messages and the profiles table. */
export function describeType(t: KnobType): string {
  switch (t.kind) {
    case 'bool':
      return 'on|off';
    case 'enum':
      return t.values.join('|');
    case 'int':
      return `${t.auto !== undefined ? 'auto or ' : ''}${t.min}..${t.max}${t.unit ? ` ${t.unit}` : ''}${t.multipleOf ? ` (multiple of ${t.multipleOf})` : ''}`;
    case 'sizes':
      return `none or a comma list of ${sizeName(t.minOrder)}..${sizeName(t.maxOrder)} (powers of two, e.g. 64K or 16K,64K)`;
    default: {
      const never: never = t;
      throw new Error(`unknown knob type ${String(never)}`);
    }
  }
}

/** The size of a folio of `order` as a knob value: 16K, 64K, 1M. */
export function sizeName(order: number): string {
  const kib = 4 << order;
  return kib >= 1024 ? `${kib / 1024}M` : `${kib}K`;
}

function bad(def: KnobDef, text: string, why?: string): UsageError {
  return new UsageError(`--set ${def.name}=${text}: ${why ?? `expected ${describeType(def.type)}`}`);
}

/** Parses one knob value (the text after `knob=`), or throws a UsageError naming the knob. */
export function parseKnobValue(def: KnobDef, text: string): MmPolicy[KnobName] {
  const t = text.trim();
  const why = def.unsupported?.[t];
  if (why !== undefined) throw bad(def, text, why);
  const type = def.type;
  switch (type.kind) {
    case 'bool':
      if (t === 'on') return true;
      if (t === 'off') return false;
      throw bad(def, text);
    case 'enum':
      if (type.values.includes(t)) return t as MmPolicy[KnobName];
      throw bad(def, text);
    case 'int': {
      // `auto` (null): the value the kernel computes itself (type.auto says from what).
      if (type.auto !== undefined && t === 'auto') return null;
      if (!/^[0-9]+$/.test(t)) throw bad(def, text);
      const v = Number(t);
      if (v < type.min || v > type.max) throw bad(def, text);
      if (type.multipleOf !== undefined && v % type.multipleOf !== 0) throw bad(def, text);
      return v;
    }
    case 'sizes':
      return parseSizes(def, type, t, text);
    default: {
      const never: never = type;
      throw new Error(`unknown knob type ${String(never)}`);
    }
  }
}

function parseSizes(def: KnobDef, type: { minOrder: number; maxOrder: number }, t: string, text: string): number[] {
  if (t === 'none') return [];
  const orders = new Set<number>();
  for (const part of t.split(',')) {
    const m = /^([0-9]+)([KM])$/i.exec(part.trim());
    if (m === null) throw bad(def, text, `'${part}' is not a size like 64K or 2M; expected ${describeType(def.type)}`);
    const kib = Number(m[1]) * (m[2]!.toUpperCase() === 'M' ? 1024 : 1);
    const order = Math.log2(kib / 4);
    if (order === 9) throw bad(def, text, `2M is the PMD size: set it with thp_pmd=always (or madvise); mTHP sizes go up to 1M`);
    if (!Number.isInteger(order) || order < type.minOrder || order > type.maxOrder) {
      throw bad(def, text, `'${part}' is not an mTHP size; expected ${describeType(def.type)}`);
    }
    orders.add(order);
  }
  return [...orders].sort((a, b) => a - b);
}

/** The canonical text of a knob value (what profiles print and `--set` accepts). */
export function formatKnobValue(def: KnobDef, value: MmPolicy[KnobName]): string {
  switch (def.type.kind) {
    case 'bool':
      return value ? 'on' : 'off';
    case 'enum':
      return String(value);
    case 'int':
      return value === null ? 'auto' : String(value);
    case 'sizes': {
      const orders = value as readonly number[];
      return orders.length === 0 ? 'none' : orders.map(sizeName).join(',');
    }
    default: {
      const never: never = def.type;
      throw new Error(`unknown knob type ${String(never)}`);
    }
  }
}

/** Every knob of a policy as its canonical text, in table order (the JSON summary's `policy`). */
export function formatPolicy(policy: MmPolicy): Record<string, string> {
  const out: Record<string, string> = {};
  for (const def of KNOBS) out[def.name] = formatKnobValue(def, policy[def.name]);
  return out;
}
