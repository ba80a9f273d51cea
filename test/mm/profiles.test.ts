/**
 * Knobs and profiles: the values each profile sets (kernel-notes §0.3), `--set` parsing and its
 * errors, and how a policy reaches the page-table layer, the mmu and the file systems.
 */
import { describe, expect, it } from 'vitest';
import { blkReadAheadKb } from '../../src/mm/blkdev.js';
import {
  DEFAULT_PROFILE,
  faultAroundPages,
  formatPolicy,
  KNOBS,
  MmKernel,
  mmuOptionsFrom,
  parseSet,
  pgtablePolicyFrom,
  PROFILES,
  resolvePolicy,
} from '../../src/mm/index.js';
import { UsageError } from '../../src/util/errors.js';

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('profiles', () => {
  it('every profile sets every knob, with a reason', () => {
    for (const p of PROFILES) {
      for (const k of KNOBS) {
        expect(p.values[k.name].reason.length, `${p.name}.${k.name}`).toBeGreaterThan(10);
      }
    }
    expect(PROFILES.map((p) => p.name)).toEqual(['linux-6.9', 'linux-6.12', 'linux-7.2']);
    expect(DEFAULT_PROFILE).toBe('linux-6.12');
  });

  it('the values that differ between the kernels, as kernel-notes §0.3 recommends', () => {
    const differ = (knob: string) => PROFILES.map((p) => formatPolicy(resolvePolicy(p.name).policy)[knob]);
    expect(differ('file_large_folios')).toEqual(['on', 'off', 'on']);
    expect(differ('finish_fault')).toEqual(['page', 'anon_shmem_folio', 'folio']);
    expect(differ('readahead')).toEqual(['v69', 'v612', 'v72']);
    expect(differ('mprotect_batch')).toEqual(['off', 'off', 'on']);
    expect(differ('fault_around_whole_folio')).toEqual(['off', 'off', 'on']);
    expect(differ('finish_fault_range_fallback')).toEqual(['off', 'on', 'on']);
    expect(differ('finish_fault_isize_fallback')).toEqual(['off', 'on', 'on']);
    expect(differ('set_access_flags_local_flush')).toEqual(['off', 'off', 'on']);
    expect(differ('access_flags_rawcmp')).toEqual(['off', 'on', 'on']);
    expect(differ('contpte_get_early_exit')).toEqual(['off', 'off', 'on']);
    expect(differ('anon_thp_align')).toEqual(['any_size', 'pmd_multiple', 'pmd_multiple_no_hint']);
    // The measured disk's readahead window: 128 KiB by the 6.x rule, 8 MiB by 7.2's.
    expect(differ('blk_ra_rule')).toEqual(['v6.12', 'v6.12', 'v7.2']);
    expect(PROFILES.map((p) => blkReadAheadKb(resolvePolicy(p.name).policy))).toEqual([128, 128, 8192]);
    const same = formatPolicy(resolvePolicy('linux-6.12').policy);
    expect(same).toMatchObject({
      contpte: 'on',
      contpte_fold: 'on',
      tlbi_range: 'on',
      tlbi_ttl: 'on',
      kpti: 'off',
      bbml2_noabort: 'off',
      hw_af: 'on',
      hw_dirty: 'on',
      anon_mthp: 'none',
      shmem_mthp: 'none',
      shmem_mthp_scope: 'anon',
      tmp_fs: 'ext4',
      file_max_order: '9',
      fault_around_kb: '64',
      ra_kb: 'auto',
      blk_rotational: 'on',
      blk_io_opt_kb: '0',
      lpa2: 'on',
      thp_pmd: 'never',
      tlb_entries: '1280',
      tlb_contig: 'on',
      mem_mb: '2048',
    });
  });
});

describe('--set knob=value', () => {
  it('overrides a profile value, later settings winning, and records which knobs were set', () => {
    const r = resolvePolicy('linux-6.9', ['anon_mthp=64K,16K', 'contpte=off', 'contpte=on', 'fault_around_kb=100']);
    expect(r.policy.anon_mthp).toEqual([2, 4]);
    expect(formatPolicy(r.policy)['anon_mthp']).toBe('16K,64K');
    expect(r.policy.contpte).toBe(true);
    expect([...r.overridden].sort()).toEqual(['anon_mthp', 'contpte', 'fault_around_kb']);
    // fault_around_bytes is rounded down to a power of two pages, as the debugfs knob does.
    expect(faultAroundPages(r.policy)).toBe(16);
    expect(faultAroundPages(resolvePolicy('linux-6.9', ['fault_around_kb=0']).policy)).toBe(1);
  });

  it('rejects bad input with a UsageError naming the knob and what it accepts', () => {
    expect(usageError(() => parseSet('contpte')).message).toMatch(/--set contpte: expected knob=value/);
    const unknown = usageError(() => parseSet('contptee=on')).message;
    expect(unknown).toMatch(/unknown knob 'contptee'; known knobs: contpte, contpte_fold,/);
    expect(unknown).toContain('mem_mb');
    expect(usageError(() => parseSet('contpte=yes')).message).toBe('--set contpte=yes: expected on|off');
    expect(usageError(() => parseSet('finish_fault=all')).message).toBe('--set finish_fault=all: expected page|anon_shmem_folio|shmem_folio|folio_capped|folio');
    expect(usageError(() => parseSet('tmp_fs=xfs')).message).toBe('--set tmp_fs=xfs: expected tmpfs|ext4');
    expect(usageError(() => parseSet('ra_kb=big')).message).toBe('--set ra_kb=big: expected auto or 0..16384 KiB (multiple of 4)');
    expect(parseSet('ra_kb=auto').value).toBe(null);
    expect(usageError(() => parseSet('tlb_entries=1000x')).message).toMatch(/tlb_entries=1000x: expected 5\.\.1048576 \(multiple of 5\)/);
    expect(usageError(() => parseSet('tlb_entries=1001')).message).toMatch(/multiple of 5/);
    expect(usageError(() => parseSet('mem_mb=8')).message).toMatch(/16\.\.4096 MiB/);
    expect(usageError(() => parseSet('ra_kb=6')).message).toMatch(/multiple of 4/);
    expect(usageError(() => parseSet('anon_mthp=48K')).message).toMatch(/'48K' is not an mTHP size/);
    expect(usageError(() => parseSet('anon_mthp=2M')).message).toMatch(/set it with thp_pmd=always/);
    expect(usageError(() => parseSet('shmem_mthp=64')).message).toMatch(/'64' is not a size like 64K/);
    expect(usageError(() => parseSet('thp_pmd=on')).message).toMatch(/expected never\|madvise\|always/);
    expect(usageError(() => resolvePolicy('linux-6.8')).message).toBe('--profile linux-6.8: unknown profile; known profiles: linux-6.9, linux-6.12, linux-7.2');
  });
});

describe('where a policy goes', () => {
  it('to the page-table layer and the mmu', () => {
    const p = resolvePolicy('linux-7.2', ['kpti=on', 'tlbi_range=off', 'hw_dirty=off', 'tlb_entries=640']).policy;
    expect(pgtablePolicyFrom(p)).toEqual({
      contpte: true,
      contpteFold: true,
      tlbiRange: false,
      tlbiTtl: true,
      kpti: true,
      bbml2Noabort: false,
      flushRangeRules: 'v6.9',
      lpa2: true,
      accessFlagsRawCompare: true,
      accessFlagsLocalFlush: true,
      flushTlbPageTtl: true,
      spuriousFaultFlush: true,
    });
    expect(mmuOptionsFrom(p)).toEqual({ tlbEntries: 640, tlbWays: 5, tlbContig: true, ha: true, hd: false, bbml2: false, ds: true, cpus: 4 });
  });

  it('to the kernel: ASIDs even, the user half loaded under KPTI, file-system traits', () => {
    const k = new MmKernel({ profile: 'linux-6.12', sets: ['kpti=on', 'mem_mb=32'] });
    const a = k.newProcess();
    const b = k.newProcess();
    expect([a.asid, b.asid]).toEqual([2, 4]);
    expect([a.userAsid, b.userAsid]).toEqual([3, 5]);
    k.switchTo(b);
    expect(k.mmu.regs.asid).toBe(5);
    expect(k.mmu.regs.ttbr0).toBe(b.pgd);
    expect(k.fsTraits('ext4')).toEqual({ largeFolios: false, writeMiss: 'order0' });
    expect(k.fsTraits('tmpfs')).toEqual({ largeFolios: true, maxOrder: 9, writeMiss: 'order0' });
    expect(k.tmpFsType).toBe('ext4');
    const k72 = new MmKernel({ profile: 'linux-7.2', sets: ['mem_mb=32', 'file_max_order=4'] });
    expect(k72.fsTraits('ext4')).toEqual({ largeFolios: true, maxOrder: 4, writeMiss: 'write_size' });
    expect(k72.newInode({ fsType: 'ext4' }).mapping.maxOrder).toBe(4);
  });
});
