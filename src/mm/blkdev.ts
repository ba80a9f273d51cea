/**
 * The block device under ext4, as far as readahead sees it: its queue limits and the readahead
 * window (`bdi->ra_pages`) the kernel derives from them when the disk is registered
 * (block/blk-settings.c blk_apply_bdi_limits). The window is per device, so every ext4 file's
 * mmap read-around and async windows are sized by it (mm/filemap.c do_sync_mmap_readahead,
 * mm/readahead.c page_cache_async_ra).
 *
 * The default device is the measured one: a virtio-blk disk under QEMU, which the kernel sees as
 * rotational with no optimal I/O size; its max_sectors_kb is BLK_DEF_MAX_SECTORS_CAP (4096 KiB
 * in 7.2). The rule changed between the measured kernels:
 * - v6.12: twice io_opt, never less than VM_READAHEAD_PAGES (128 KiB): 128 KiB for this disk;
 * - v7.2: a rotational device that reports no io_opt reads ahead twice its max_sectors instead,
 *   so the same disk gets 8 MiB (2,048 pages), which is what 7.2.13 reported in read_ahead_kb.
 * `ra_kb` set to a number overrides the result, as writing queue/read_ahead_kb does.
 */
import type { MmPolicy } from './knobs.js';

/** VM_READAHEAD_PAGES: the default and minimum window, 128 KiB. */
export const VM_READAHEAD_KB = 128;

/** read_ahead_kb the kernel computes for the device the policy describes. */
export function blkReadAheadKb(p: Pick<MmPolicy, 'blk_rotational' | 'blk_io_opt_kb' | 'blk_max_sectors_kb' | 'blk_ra_rule'>): number {
  let ioOptKb = p.blk_io_opt_kb;
  switch (p.blk_ra_rule) {
    case 'v6.12':
      break;
    case 'v7.2':
      if (ioOptKb === 0 && p.blk_rotational) ioOptKb = p.blk_max_sectors_kb;
      break;
    default: {
      const never: never = p.blk_ra_rule;
      throw new Error(`unknown blk_ra_rule ${String(never)}`);
    }
  }
  return Math.max(2 * ioOptKb, VM_READAHEAD_KB);
}

/** ra_pages of an ext4 file: the `ra_kb` override, or the device's computed window. */
export function raPagesOf(p: MmPolicy): number {
  const kb = p.ra_kb ?? blkReadAheadKb(p);
  return Math.floor(kb / 4);
}
