/**
 * Inodes: what the memory manager needs to know about a file. Its size, its kind of file system
 * (which decides the page cache's large-folio support and how mmap places it), optional initial
 * contents from the host (the ELF being run, a file the user passes in), and its page cache.
 * Directories, names and permissions belong to the file system model in src/linux.
 */
import { AddressSpace, MAX_PAGECACHE_ORDER, type PageCache } from './pagecache.js';

/** File type bits of `mode` (include/uapi/linux/stat.h). */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;

export type FsType = 'tmpfs' | 'ext4' | 'proc';

/**
 * How mmap picks an address for this file (its file_operations.get_unmapped_area):
 * - 'generic': the mm's default top-down search (tmpfs mounted without huge pages, procfs);
 * - 'thp': thp_get_unmapped_area, which PMD-aligns mappings of 2 MiB or more relative to the
 *   file offset (ext4 and xfs; applied to non-DAX files since v5.18).
 */
export type GetUnmappedAreaKind = 'generic' | 'thp';

export interface InodeInit {
  ino: number;
  fsType: FsType;
  /** File type and permission bits; a regular file 0644 when omitted. */
  mode?: number;
  /** Bytes from the host, read on page-cache misses. The size defaults to their length. */
  content?: Uint8Array | null;
  size?: number;
  /** mapping_large_folio_support(): whether the page cache may hold folios of order > 0. */
  largeFolios?: boolean;
  /** mapping_max_folio_order() when large folios are supported (at most MAX_PAGECACHE_ORDER). */
  maxOrder?: number;
  getUnmappedArea?: GetUnmappedAreaKind;
}

export class Inode {
  readonly ino: number;
  readonly fsType: FsType;
  mode: number;
  /** i_size in bytes. */
  size: number;
  /**
   * The backing store for bytes never written through the page cache. Truncation cuts it, so a
   * shrink followed by a grow reads zeros as it must.
   */
  content: Uint8Array | null;
  readonly getUnmappedArea: GetUnmappedAreaKind;
  readonly mapping: AddressSpace;

  constructor(cache: PageCache, init: InodeInit) {
    this.ino = init.ino;
    this.fsType = init.fsType;
    this.mode = init.mode ?? S_IFREG | 0o644;
    this.content = init.content ?? null;
    this.size = init.size ?? this.content?.length ?? 0;
    if (!(Number.isSafeInteger(this.size) && this.size >= 0)) throw new RangeError(`inode ${init.ino}: bad size ${this.size}`);
    this.getUnmappedArea = init.getUnmappedArea ?? (init.fsType === 'ext4' ? 'thp' : 'generic');
    const largeFolios = init.largeFolios ?? false;
    const maxOrder = largeFolios ? (init.maxOrder ?? MAX_PAGECACHE_ORDER) : 0;
    this.mapping = new AddressSpace(this, cache, maxOrder);
  }
}
