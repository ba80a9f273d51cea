/**
 * shmem (tmpfs files and anonymous shared memory) as the fault path sees it: `shmem_fault`
 * finds or allocates the folio, zero-filled, without readahead; the folio order comes from the
 * shmem mTHP policy (mm/shmem.c shmem_allowable_huge_orders and shmem_suitable_orders, 6.11+).
 *
 * Which shmem the per-size `hugepages-<size>/shmem_enabled` knobs reach (kernel-notes §0.2): in
 * 6.12.117 and 7.2.13 only mappings that are anonymous shared memory (vma_is_anon_shmem): shared
 * anonymous mappings, and mappings of a tmpfs file that had no name left when it was mapped (the
 * measurements' mkstemp + unlink files). Any other mapping of a tmpfs file follows the mount's
 * huge= option, `never` by default (so order 0), even for the same file's page cache.
 * `shmem_mthp_scope=all` applies the per-size knobs to every tmpfs mapping (no kernel does).
 * Those mappings follow tmpfs_huge (the mount's huge=) instead: PMD order only in 6.12, any
 * file order in 7.2 (tmpfs_huge_orders); an order-9 folio is then mapped with a PMD by the fault
 * (do_set_pmd, huge-memory.ts).
 */
import { PAGE_SIZE } from '../mmu/physmem.js';
import { bump } from '../trace/stats.js';
import { ORDER_KEYS, outOfMemoryError, type OutOfMemory } from './buddy.js';
import type { Folio } from './folio.js';
import { faultLocked, type FileFaultResult } from './filemap.js';
import { vmaIsAnonShmem } from './prot.js';
import { VM_HUGEPAGE, VM_NOHUGEPAGE } from './vma.js';
import type { VmFault } from './vmfault.js';

/**
 * The orders shmem may allocate for this fault, highest first: the enabled sizes that fit in the
 * VMA at an aligned address (thp_vma_suitable_order, which also needs the file offset and the
 * address to agree modulo the size), then the highest whose aligned index range holds nothing
 * yet, and every lower one.
 */
export function shmemSuitableOrders(vmf: VmFault): number[] {
  const k = vmf.k;
  const vma = vmf.vma;
  const inode = vma.file!;
  // shmem_allowable_huge_orders: the per-size knobs reach only a vma_is_anon_shmem mapping; any
  // other mapping of a tmpfs file gets the mount's huge= orders (never by default).
  let enabled: readonly number[] = k.policy.shmem_mthp;
  if (!vmaIsAnonShmem(vma) && k.policy.shmem_mthp_scope !== 'all') enabled = tmpfsHugeOrders(vmf);
  const maxOrder = inode.mapping.maxOrder;
  const fits: number[] = [];
  for (const order of enabled) {
    if (order > maxOrder) continue;
    const size = PAGE_SIZE * 2 ** order;
    const haddr = vmf.address - (vmf.address % size);
    if (haddr < vma.start || haddr + size > vma.end) continue;
    if ((vma.start / PAGE_SIZE - vma.pgoff) % 2 ** order !== 0) continue;
    fits.push(order);
  }
  fits.sort((a, b) => b - a);
  for (let i = 0; i < fits.length; i++) {
    const nr = 2 ** fits[i]!;
    const first = vmf.pgoff - (vmf.pgoff % nr);
    if (inode.mapping.foliosInRange(first, first + nr).length === 0) return fits.slice(i);
  }
  return [];
}

const PMD_ORDER = 9;
const FILE_ORDERS = [1, 2, 3, 4, 5, 6, 7, 8, 9];

/**
 * shmem_huge_global_enabled for a tmpfs file's mapping (mm/shmem.c, 6.12 and 7.2): the orders the
 * mount's huge= allows at this index. within_size wants the aligned block to end inside i_size
 * (else it falls through to advise); advise wants VM_HUGEPAGE. VM_NOHUGEPAGE refuses all.
 */
function tmpfsHugeOrders(vmf: VmFault): readonly number[] {
  const k = vmf.k;
  const vma = vmf.vma;
  if (vma.flags & VM_NOHUGEPAGE) return [];
  const all = k.policy.tmpfs_huge_orders === 'any' ? FILE_ORDERS : [PMD_ORDER];
  const sizePages = Math.ceil(vma.file!.size / PAGE_SIZE);
  switch (k.policy.tmpfs_huge) {
    case 'never':
      return [];
    case 'always':
      return all;
    case 'within_size': {
      // shmem_get_orders_within_size: from the highest order down, the first whose aligned end
      // lies inside i_size, and every order below it.
      const within = all.filter((o) => sizePages >= Math.ceil((vmf.pgoff + 1) / 2 ** o) * 2 ** o);
      const top = within.length > 0 ? Math.max(...within) : -1;
      if (top >= 0) return all.filter((o) => o <= top);
      return vma.flags & VM_HUGEPAGE ? all : [];
    }
    case 'advise':
      return vma.flags & VM_HUGEPAGE ? all : [];
    default: {
      const never: never = k.policy.tmpfs_huge;
      throw new Error(`unknown tmpfs_huge ${String(never)}`);
    }
  }
}

/**
 * shmem_fault → shmem_get_folio_gfp: the cached folio, or a new zeroed one of the largest
 * suitable order (falling back on allocation failure), added to the page cache. Beyond i_size is
 * SIGBUS, as for any file.
 */
export function shmemFault(vmf: VmFault): FileFaultResult {
  const k = vmf.k;
  const inode = vmf.vma.file!;
  const mapping = inode.mapping;
  const index = vmf.pgoff;
  const calls = k.telemetry.calls;
  calls.enter('shmem_fault');
  try {
    if (index >= Math.ceil(inode.size / PAGE_SIZE)) return { kind: 'sigbus', reason: `page ${index} is beyond the end of the shmem file (${inode.size} bytes)` };
    const cached = mapping.lookup(index);
    if (cached !== null) return faultLocked(k, cached, false);
    let oom: OutOfMemory | null = null;
    let folio: Folio | null = null;
    for (const order of [...shmemSuitableOrders(vmf), 0]) {
      const nr = 2 ** order;
      const r = mapping.addFolioAt(index - (index % nr), order);
      if (r.kind === 'ok') {
        folio = r.folio;
        bump(k.mmStats.shmem_folios_by_order, ORDER_KEYS[order]!);
        break;
      }
      if (r.kind === 'oom') oom = r;
    }
    if (folio === null) throw outOfMemoryError(oom ?? { kind: 'oom', order: 0, freePages: 0, poolPages: 0 }, `a shmem folio for page ${index}`);
    return faultLocked(k, folio, false);
  } finally {
    calls.leave();
  }
}
