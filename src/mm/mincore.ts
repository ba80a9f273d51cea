/**
 * mincore (mm/mincore.c, 6.9 to 7.2): one byte per page, 1 if the page is resident. A present
 * PTE (the zero page included) counts; a none PTE of a file or shmem VMA asks the page cache
 * (mincore_page: an uptodate folio at that index); of anonymous memory, 0. A hole is ENOMEM.
 */
import { EINVAL, ENOMEM } from '../util/errno.js';
import { PAGE_SIZE } from '../mmu/physmem.js';
import { pteNone } from '../pgtable/pte.js';
import { hugePmdAt } from './huge-memory.js';
import type { Process } from './process.js';

/** The residency vector of [start, start + len), or -errno. */
export function doMincore(mm: Process, start: number, len: number): Uint8Array | number {
  if (start % PAGE_SIZE !== 0) return -EINVAL;
  if (len < 0 || start + len > mm.vmas.taskSize) return -ENOMEM;
  const pages = Math.ceil(len / PAGE_SIZE);
  const vec = new Uint8Array(pages);
  const k = mm.kernel;
  for (let i = 0; i < pages; i++) {
    const addr = start + i * PAGE_SIZE;
    const vma = mm.vmas.vmaLookup(addr);
    if (vma === null) return -ENOMEM;
    const ptep = k.pgtable.tables.pteOffsetMap(mm, addr);
    const pte = ptep === undefined ? null : k.pgtable.ptep.ptepGet(ptep);
    // A huge PMD maps every page of its 2 MiB (mincore_pmd_range / mincore_huge... as present).
    if ((pte !== null && !pteNone(pte)) || (ptep === undefined && hugePmdAt(k, mm, addr) !== null)) {
      vec[i] = 1;
    } else if (vma.file !== null) {
      const folio = vma.file.mapping.lookup(vma.pgoffOf(addr));
      vec[i] = folio !== null && folio.uptodate ? 1 : 0;
    }
  }
  return vec;
}
