/**
 * Kernel profiles: named sets of knob values that make the model behave as one Linux version
 * did, each value with the reason it has that value (evidence in docs/kernel-notes.md §0.3 and
 * §9), and the resolution of a profile plus `--set knob=value` overrides into an `MmPolicy`.
 *
 * The default profile is `linux-6.12`: Debian 13's kernel, the one the measurements in
 * real-kernel-observations.md were taken on, so a plain run answers "what does the kernel people
 * run today do". `linux-6.9` is the kernel of the contpte-fold thread and the one the page_fault3
 * regression preset uses; `linux-7.2` is the newest kernel measured.
 *
 * All three describe the measurement set-up: QEMU `-cpu max` (FEAT_TLBIRANGE, FEAT_TTL,
 * FEAT_HAFDBS, no KPTI, no BBML2_NOABORT), THP and mTHP off, /tmp on ext4.
 */
import type { PgtablePolicy } from '../pgtable/policy.js';
import type { MmuOptions } from '../mmu/mmu.js';
import { UsageError } from '../util/errors.js';
import { formatKnobValue, knobDef, knobNames, KNOBS, parseKnobValue, type KnobName, type MmPolicy } from './knobs.js';

export type ProfileName = 'linux-6.9' | 'linux-6.12' | 'linux-7.2';

export const DEFAULT_PROFILE: ProfileName = 'linux-6.12';

/** A knob's value in a profile, as `--set` text, and why. */
export interface ProfileValue {
  readonly value: string;
  readonly reason: string;
}

export interface Profile {
  readonly name: ProfileName;
  readonly summary: string;
  readonly values: Readonly<Record<KnobName, ProfileValue>>;
}

/** The same value and reason in all three profiles. */
type Common = Partial<Record<KnobName, ProfileValue>>;

const common: Common = {
  contpte: { value: 'on', reason: 'CONFIG_ARM64_CONTPTE=y (Debian arm64 configs); the code exists from v6.9' },
  contpte_fold: { value: 'on', reason: 'set_ptes(nr=1) calls contpte_try_fold since f0c2264958e1 (v6.9), still in 6.12 and 7.2' },
  tlbi_range: { value: 'on', reason: 'QEMU -cpu max has FEAT_TLBIRANGE; CONFIG_ARM64_TLB_RANGE=y' },
  tlbi_ttl: { value: 'on', reason: 'QEMU -cpu max lists FEAT_TTL (kernel-notes §9, unverified line); operands only' },
  kpti: { value: 'off', reason: 'the measurements had KPTI off: QEMU max reports CSV3, so unmap_kernel_at_el0 (arch/arm64/kernel/cpufeature.c) sees no Meltdown risk. A CSV3 core without E0PD (Cortex-A76, Neoverse-N1) still gets KPTI when KASLR is active (kaslr_requires_kpti)' },
  hw_af: { value: 'on', reason: 'QEMU max implements FEAT_HAFDBS; CONFIG_ARM64_HW_AFDBM=y' },
  hw_dirty: { value: 'on', reason: 'as hw_af (FEAT_HAFDBS dirty state)' },
  anon_mthp: { value: 'none', reason: 'sysfs default: never for every mTHP size; observations show one fault per 4 KiB' },
  shmem_mthp: { value: 'none', reason: 'sysfs default: shmem_enabled never for every size' },
  shmem_mthp_scope: { value: 'anon', reason: '6.11+ applies per-size shmem knobs to anonymous shared memory only (mm/shmem.c shmem_allowable_huge_orders)' },
  tmp_fs: { value: 'ext4', reason: 'the page_fault3 regression study ran with /tmp on ext4 (Kefeng Wang, 2024)' },
  file_max_order: { value: '9', reason: 'EXT4_MAX_PAGECACHE_ORDER = min(9, 11) with 4K blocks; MAX_PAGECACHE_ORDER = 9' },
  fault_around_kb: { value: '64', reason: 'fault_around_pages = 65536 >> PAGE_SHIFT (mm/memory.c)' },
  ra_kb: { value: 'auto', reason: 'the kernel computes read_ahead_kb from the device (blk_* knobs); the measurements left it as computed' },
  blk_rotational: { value: 'on', reason: 'the measured virtio-blk disk reports queue/rotational = 1' },
  blk_io_opt_kb: { value: '0', reason: 'virtio-blk under QEMU reports no optimal I/O size' },
  erratum_2645198: { value: 'off', reason: 'QEMU max is not a Cortex-A715' },
  lpa2: { value: 'on', reason: 'Debian arm64 CONFIG_ARM64_VA_BITS=52 with 4K pages, and QEMU max has FEAT_LPA2' },
  flush_range_rules: { value: 'v6.9', reason: "Gavin Shan's operand fix and MAX_DVM_OPS are in v6.9 and later" },
  thp_pmd: { value: 'never', reason: 'the measurements set transparent_hugepage/enabled to never (one fault per 4 KiB of anonymous memory); Debian boots with always' },
  tmpfs_huge: { value: 'never', reason: 'tmpfs mounts without huge= (SHMEM_HUGE_NEVER), as the measurements did' },
  thp_zero_page: { value: 'on', reason: 'use_zero_page defaults to 1 (TRANSPARENT_HUGEPAGE_USE_ZERO_PAGE_FLAG set in transparent_hugepage_flags)' },
  tlb_entries: { value: '1280', reason: 'a Cortex-A76/Neoverse-N1-sized L2 TLB (5-way)' },
  tlb_contig: { value: 'on', reason: 'A76-class cores cache contiguous ranges as one entry' },
  mem_mb: { value: '2048', reason: 'enough for page_fault3 (128 MiB) several times over' },
  cpus: { value: '4', reason: 'a small SMP machine: several tasks run in parallel, broadcast TLBIs reach other CPUs' },
  overcommit_memory: { value: '0', reason: 'the kernel default (OVERCOMMIT_GUESS)' },
  asid_bits: { value: '16', reason: 'ID_AA64MMFR0_EL1.ASIDBits = 0b0010 (16 bits) on Cortex-A76/Neoverse-N1 and on QEMU max' },
};

function profile(name: ProfileName, summary: string, own: Common): Profile {
  const values = { ...common, ...own } as Record<KnobName, ProfileValue>;
  for (const k of knobNames()) {
    if (values[k as KnobName] === undefined) throw new Error(`profile ${name} has no value for knob ${k}`);
  }
  return { name, summary, values };
}

export const PROFILES: readonly Profile[] = [
  profile('linux-6.9', 'the kernel of the contpte fold thread (June 2024), with ext4 large folios as in the regression report', {
    bbml2_noabort: { value: 'off', reason: 'v6.9 has no BBML2 elision in contpte_convert' },
    file_large_folios: { value: 'on', reason: 'needed for the regression: the report used ext4 with large-folio patches (mainline 6.9 ext4 has none; XFS had them)' },
    finish_fault: { value: 'page', reason: 'v6.9 finish_fault maps one page' },
    finish_fault_range_fallback: { value: 'off', reason: 'no multi-page finish_fault in v6.9, so no fallback' },
    finish_fault_isize_fallback: { value: 'off', reason: 'the i_size check came in 2025' },
    fault_around_whole_folio: { value: 'off', reason: 'filemap_map_folio_range stays inside the fault-around window before 7.x' },
    read_fault_mkdirty: { value: 'off', reason: 'set_pte_range dirties only on write faults before 7.x' },
    readahead: { value: 'v69', reason: 'ondemand_readahead with the +2 order ramp and no order-1 folios' },
    wp_reuse_large_anon: { value: 'off', reason: 'wp_can_reuse_anon_folio refuses large folios in v6.9' },
    mremap_batch: { value: 'off', reason: 'move_ptes moves one PTE at a time in v6.9' },
    mprotect_batch: { value: 'off', reason: 'per-PTE ptep_modify_prot_start/commit' },
    set_access_flags_local_flush: { value: 'off', reason: 'broadcast flushes in v6.9' },
    access_flags_rawcmp: { value: 'off', reason: 'v6.9 compares the gathered PTE' },
    contpte_get_early_exit: { value: 'off', reason: 'contpte_ptep_get reads all 16 entries' },
    flush_tlb_page_ttl: { value: 'off', reason: 'flush_tlb_page issues a VALE1IS without a level' },
    spurious_fault_flush: { value: 'off', reason: 'flush_tlb_fix_spurious_fault is a no-op on arm64 6.x' },
    huge_zero_wp: { value: 'split', reason: 'do_huge_pmd_wp_page splits the huge zero PMD (as 6.12)' },
    madv_collapse: { value: 'v6.12', reason: '6.9 not read: the 6.12 mm/khugepaged.c stands in as the nearest source read' },
    tmpfs_huge_orders: { value: 'pmd', reason: 'shmem_allowable_huge_orders gives a tmpfs file the PMD order only (as 6.12)' },
    anon_thp_align: { value: 'any_size', reason: 'v6.7-v6.11 align every anonymous mapping of 2 MiB or more' },
    blk_max_sectors_kb: { value: '1280', reason: 'BLK_DEF_MAX_SECTORS_CAP of 2,560 sectors (v6.6-era value, unverified for 6.9); the v6.12 rule does not read it' },
    blk_ra_rule: { value: 'v6.12', reason: 'blk_apply_bdi_limits: max(2 x io_opt, VM_READAHEAD_PAGES)' },
  }),
  profile('linux-6.12', 'Debian 13 (6.12.117): the kernel of the real-kernel measurements', {
    bbml2_noabort: { value: 'off', reason: '6.12 has no BBML2 elision' },
    file_large_folios: { value: 'off', reason: 'ext4 in 6.12 sets no folio orders: 4 KiB folios only' },
    finish_fault: { value: 'anon_shmem_folio', reason: '43e027e41423 (6.11): whole folio only for anonymous shmem' },
    finish_fault_range_fallback: { value: 'on', reason: "the Geffon fix is backported into 6.12.117" },
    finish_fault_isize_fallback: { value: 'on', reason: 'the i_size fix is backported into 6.12.117' },
    fault_around_whole_folio: { value: 'off', reason: 'no widening in 6.12 filemap_map_folio_range' },
    read_fault_mkdirty: { value: 'off', reason: 'set_pte_range dirties only on write faults in 6.12' },
    readahead: { value: 'v612', reason: 'page_cache_async_ra passes the marker folio order; read-around starts at order 2' },
    wp_reuse_large_anon: { value: 'off', reason: 'wp_can_reuse_anon_folio refuses large folios in 6.12' },
    mremap_batch: { value: 'off', reason: 'move_ptes moves one PTE at a time in 6.12' },
    mprotect_batch: { value: 'off', reason: 'per-PTE ptep_modify_prot_start/commit in 6.12' },
    set_access_flags_local_flush: { value: 'off', reason: 'broadcast flushes in 6.12' },
    access_flags_rawcmp: { value: 'on', reason: 'contpte_all_subptes_match_access_flags is backported into 6.12.117' },
    contpte_get_early_exit: { value: 'off', reason: 'contpte_ptep_get reads all 16 entries in 6.12' },
    flush_tlb_page_ttl: { value: 'off', reason: 'flush_tlb_page issues a VALE1IS without a level in 6.12' },
    spurious_fault_flush: { value: 'off', reason: 'flush_tlb_fix_spurious_fault is a no-op on arm64 6.12' },
    huge_zero_wp: { value: 'split', reason: 'mm/huge_memory.c do_huge_pmd_wp_page (6.12) goes to fallback, __split_huge_pmd, for the huge zero PMD' },
    madv_collapse: { value: 'v6.12', reason: 'mm/khugepaged.c (6.12): hpage_collapse_scan_pmd wants a writable PTE, __collapse_huge_page_copy_succeeded clears with ptep_clear one PTE at a time' },
    tmpfs_huge_orders: { value: 'pmd', reason: 'mm/shmem.c shmem_allowable_huge_orders (6.12): BIT(HPAGE_PMD_ORDER) for a tmpfs file when huge= allows it' },
    anon_thp_align: { value: 'pmd_multiple', reason: 'd4148aeab412: only lengths that are multiples of 2 MiB are aligned' },
    blk_max_sectors_kb: { value: '1280', reason: 'the measured disk reports max_sectors_kb 1280 on 6.12.117 (contpte-lab validate); the 6.12 rule does not read it' },
    blk_ra_rule: { value: 'v6.12', reason: 'blk_apply_bdi_limits (block/blk-settings.c, 6.12): max(2 x io_opt, VM_READAHEAD_PAGES) = 128 KiB for this disk, as measured' },
  }),
  profile('linux-7.2', 'Debian sid (7.2.13): the newest kernel measured', {
    bbml2_noabort: { value: 'off', reason: "the elision exists but QEMU max's MIDR is not on the allow-list" },
    file_large_folios: { value: 'on', reason: 'ext4 regular files get orders 0..9 (ext4_set_inode_mapping_order)' },
    finish_fault: { value: 'folio', reason: 'Kiryl Shutsemau: finish_fault maps the whole file folio (present in 7.2.13)' },
    finish_fault_range_fallback: { value: 'on', reason: 'the Geffon fix' },
    finish_fault_isize_fallback: { value: 'on', reason: 'the i_size fix' },
    fault_around_whole_folio: { value: 'on', reason: 'filemap_map_folio_range widens to the whole folio in 7.2' },
    read_fault_mkdirty: { value: 'on', reason: 'set_pte_range installs a writable PTE of a dirty folio dirty on read faults in 7.2' },
    readahead: { value: 'v72', reason: 'ra->order state; read-around at order 0; no marker when the window reaches EOF' },
    wp_reuse_large_anon: { value: 'on', reason: '__wp_can_reuse_large_anon_folio (mm_id mapcount slots) in 7.2' },
    mremap_batch: { value: 'on', reason: 'mremap_folio_pte_batch in move_ptes (7.2)' },
    mprotect_batch: { value: 'on', reason: "Dev Jain's batched mprotect is in 7.2" },
    set_access_flags_local_flush: { value: 'on', reason: 'TLBF_NOBROADCAST in the access-flag paths (7.2)' },
    access_flags_rawcmp: { value: 'on', reason: 'contpte_all_subptes_match_access_flags (7.2)' },
    contpte_get_early_exit: { value: 'on', reason: 'contpte_ptep_get stops early in 7.2' },
    flush_tlb_page_ttl: { value: 'on', reason: 'flush_tlb_page goes through the range code with level 3 in 7.2' },
    spurious_fault_flush: { value: 'on', reason: 'flush_tlb_fix_spurious_fault is a local page flush in 7.2' },
    huge_zero_wp: { value: 'alloc', reason: 'mm/huge_memory.c do_huge_zero_wp_pmd (7.2): a new THP replaces the huge zero PMD' },
    madv_collapse: { value: 'v7.2', reason: 'mm/khugepaged.c (7.2): collapse_scan_pmd has no writable check, __collapse_huge_page_copy_succeeded clears a large folio with folio_pte_batch + clear_ptes' },
    tmpfs_huge_orders: { value: 'any', reason: 'mm/shmem.c shmem_huge_global_enabled (7.2): THP_ORDERS_ALL_FILE_DEFAULT for huge=always' },
    anon_thp_align: { value: 'pmd_multiple_no_hint', reason: '249608ee4713 (6.13): not when the caller gave a hint' },
    blk_max_sectors_kb: { value: '4096', reason: 'the measured disk reported max_sectors_kb 4096: BLK_DEF_MAX_SECTORS_CAP is 4 MiB in 7.2' },
    blk_ra_rule: { value: 'v7.2', reason: 'blk_apply_bdi_limits (7.2): rotational without io_opt reads ahead 2 x max_sectors = 8 MiB for this disk, as measured' },
  }),
];

export function findProfile(name: string): Profile {
  const p = PROFILES.find((x) => x.name === name);
  if (p === undefined) {
    throw new UsageError(`--profile ${name}: unknown profile; known profiles: ${PROFILES.map((x) => x.name).join(', ')}`);
  }
  return p;
}

/** One `--set` override, parsed. */
export interface KnobSetting {
  readonly name: KnobName;
  readonly value: MmPolicy[KnobName];
  readonly text: string;
}

/** Parses `knob=value`; unknown knobs list the known ones, bad values name what is allowed. */
export function parseSet(text: string): KnobSetting {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set ${text}: expected knob=value (knobs: ${knobNames().join(', ')})`);
  const name = text.slice(0, eq).trim();
  const def = knobDef(name);
  if (def === undefined) throw new UsageError(`--set ${text}: unknown knob '${name}'; known knobs: ${knobNames().join(', ')}`);
  const raw = text.slice(eq + 1);
  return { name: def.name, value: parseKnobValue(def, raw), text: raw.trim() };
}

export interface ResolvedPolicy {
  readonly profile: ProfileName;
  readonly policy: MmPolicy;
  /** Knobs whose value came from `--set` rather than the profile. */
  readonly overridden: ReadonlySet<KnobName>;
}

/** A profile's values with `--set` overrides applied, later settings winning. */
export function resolvePolicy(profileName: string = DEFAULT_PROFILE, sets: readonly string[] = []): ResolvedPolicy {
  const p = findProfile(profileName);
  const policy = {} as Record<KnobName, MmPolicy[KnobName]>;
  for (const def of KNOBS) policy[def.name] = parseKnobValue(def, p.values[def.name].value);
  const overridden = new Set<KnobName>();
  for (const s of sets) {
    const setting = parseSet(s);
    policy[setting.name] = setting.value;
    overridden.add(setting.name);
  }
  return { profile: p.name, policy: policy as unknown as MmPolicy, overridden };
}

/** A profile's value of one knob, as text. */
export function profileValueText(p: Profile, name: KnobName): string {
  const def = knobDef(name)!;
  return formatKnobValue(def, parseKnobValue(def, p.values[name].value));
}

/** The page-table layer's switches for a policy. */
export function pgtablePolicyFrom(p: MmPolicy): PgtablePolicy {
  return {
    contpte: p.contpte,
    contpteFold: p.contpte_fold,
    tlbiRange: p.tlbi_range,
    tlbiTtl: p.tlbi_ttl,
    kpti: p.kpti,
    bbml2Noabort: p.bbml2_noabort,
    flushRangeRules: p.flush_range_rules,
    lpa2: p.lpa2,
    accessFlagsRawCompare: p.access_flags_rawcmp,
    accessFlagsLocalFlush: p.set_access_flags_local_flush,
    flushTlbPageTtl: p.flush_tlb_page_ttl,
    spuriousFaultFlush: p.spurious_fault_flush,
  };
}

/** TLB ways of the modelled L2 TLB. */
export const TLB_WAYS = 5;

/** The mmu's options for a policy (the machine may add engine-specific ones). */
export function mmuOptionsFrom(p: MmPolicy): MmuOptions {
  return { tlbEntries: p.tlb_entries, tlbWays: TLB_WAYS, tlbContig: p.tlb_contig, ha: p.hw_af, hd: p.hw_dirty, bbml2: p.bbml2_noabort, ds: p.lpa2, cpus: p.cpus };
}

/** fault_around_bytes in pages: rounded down to a power of two, at least 1 (mm/memory.c fault_around_bytes_set). */
export function faultAroundPages(p: MmPolicy): number {
  const pages = Math.floor((p.fault_around_kb * 1024) / 4096);
  if (pages <= 1) return 1;
  return 2 ** Math.floor(Math.log2(pages));
}
