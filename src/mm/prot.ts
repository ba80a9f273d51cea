/**
 * What a VMA's pages look like in the page table: vm_page_prot from vm_flags (arm64
 * protection_map, arch/arm64/mm/mmap.c v6.9, without EPAN's execute-only), write-notify
 * (mm/mmap.c vma_wants_writenotify), and the file-system operations a VMA's file has
 * (->page_mkwrite, ->map_pages), which decide the fault paths.
 */
import {
  PAGE_NONE,
  PAGE_READONLY,
  PAGE_READONLY_EXEC,
  PAGE_SHARED,
  PAGE_SHARED_EXEC,
  type Pgprot,
} from '../pgtable/pte.js';
import type { Inode } from './inode.js';
import { VM_EXEC, VM_MAYSHARE, VM_READ, VM_SHARED, VM_SHMEM_ANON_OPS, VM_WRITE, type Vma } from './vma.js';

/**
 * protection_map indexed by VM_READ|VM_WRITE|VM_EXEC|VM_SHARED. Private writable mappings are
 * read-only in the page table (copy-on-write takes the first write); shared writable ones are
 * writable-clean (DBM with AP[2] set), so a write marks them dirty.
 */
const PROTECTION_MAP: readonly Pgprot[] = [
  PAGE_NONE, // none
  PAGE_READONLY, // R
  PAGE_READONLY, // W
  PAGE_READONLY, // RW
  PAGE_READONLY_EXEC, // X (execute-only needs EPAN; reverted in v5.19)
  PAGE_READONLY_EXEC, // RX
  PAGE_READONLY_EXEC, // WX
  PAGE_READONLY_EXEC, // RWX
  PAGE_NONE, // shared
  PAGE_READONLY, // shared R
  PAGE_SHARED, // shared W
  PAGE_SHARED, // shared RW
  PAGE_READONLY_EXEC, // shared X
  PAGE_READONLY_EXEC, // shared RX
  PAGE_SHARED_EXEC, // shared WX
  PAGE_SHARED_EXEC, // shared RWX
];

/** vm_get_page_prot: the protection for vm_flags. */
export function vmGetPageProt(flags: number): Pgprot {
  return PROTECTION_MAP[flags & (VM_READ | VM_WRITE | VM_EXEC | VM_SHARED)]!;
}

/** The file has ->page_mkwrite (ext4: ext4_page_mkwrite; tmpfs and procfs have none). */
export function hasPageMkwrite(file: Inode | null): boolean {
  return file !== null && file.fsType === 'ext4';
}

/** vma_is_shmem: tmpfs files and anonymous shared memory. */
export function vmaIsShmem(vma: Vma): boolean {
  return vma.file !== null && vma.file.fsType === 'tmpfs';
}

/**
 * vma_is_anon_shmem (mm/shmem.c): vm_ops == &shmem_anon_vm_ops. shmem_zero_setup gives it to
 * shared anonymous memory; shmem_mmap (6.12; shmem_mmap_prepare in 7.2) to a tmpfs file whose
 * i_nlink is 0 at mmap time, i.e. an unlinked or memfd file. It is decided per mapping: a mapping
 * made while the file still had a name stays a plain tmpfs mapping after the unlink.
 */
export function vmaIsAnonShmem(vma: Vma): boolean {
  return vma.file !== null && (vma.flags & VM_SHMEM_ANON_OPS) !== 0;
}

/**
 * vma_wants_writenotify: shared writable mappings whose file system wants to hear of the first
 * write to a clean page (page_mkwrite, or dirty accounting of a bdi that writes back). shmem
 * does neither, so its shared mappings stay writable.
 */
export function vmaWantsWritenotify(vma: Vma, flags = vma.flags): boolean {
  if ((flags & (VM_WRITE | VM_SHARED)) !== (VM_WRITE | VM_SHARED)) return false;
  const file = vma.file;
  if (file === null) return false;
  return file.fsType !== 'tmpfs';
}

/** vma->vm_page_prot (vma_set_page_prot): write-notified mappings use the private (read-only) protection. */
export function vmaPageProt(vma: Vma): Pgprot {
  const flags = vma.flags;
  return vmaWantsWritenotify(vma, flags) ? vmGetPageProt(flags & ~VM_SHARED) : vmGetPageProt(flags);
}

/** A shared mapping in the sense of do_wp_page and do_fault (VM_SHARED or VM_MAYSHARE). */
export function vmaIsShared(vma: Vma): boolean {
  return (vma.flags & (VM_SHARED | VM_MAYSHARE)) !== 0;
}

/**
 * vma_wants_manual_pte_write_upgrade: mprotect must make PTEs writable itself where
 * vm_page_prot does not: private writable mappings (copy-on-write) and write-notified shared
 * ones. A shared mapping without write-notify gets write from vm_page_prot already.
 */
export function vmaWantsManualPteWriteUpgrade(vma: Vma): boolean {
  if (vma.flags & VM_SHARED) return vmaWantsWritenotify(vma);
  return (vma.flags & VM_WRITE) !== 0;
}
