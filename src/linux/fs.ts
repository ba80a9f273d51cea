/**
 * The guest's file system: a small in-memory tree with the mounts a static program expects.
 *
 *   /              root (ext4-like, owned by root, read-only to the guest by permissions)
 *   /tmp           tmpfs or ext4, as the `tmp_fs` policy says; mode 1777
 *   /dev           null, zero, random, urandom (character devices)
 *   /proc          the process directories and machine files (procfs.ts mounts them; alone, this
 *                  module gives /proc/self/exe, a symbolic link to the executable)
 *   /sys           sysfs (sysfs.ts), mounted by procfs.ts
 *   <exe path>     the executable itself (an ext4 file whose bytes are the host file's)
 *
 * Pipes, sockets and eventfds have inodes here (pipefs, sockfs, anon_inodefs) that no path names;
 * what they do is their open file's operations (fileops.ts).
 *
 * Directories, names and permissions live here; a regular file's data is a `mm/inode.ts` Inode
 * and its page cache, so read()/write() (filemapRead/filemapWrite) and shared mappings see the
 * same bytes. Path walking follows fs/namei.c (v6.9) for what static programs rely on: absolute
 * and relative paths from the working directory or a directory fd, `.` and `..`, symbolic links
 * (at most 40), ENAMETOOLONG for components over 255 bytes, ENOTDIR, EACCES from the permission
 * bits, the sticky /tmp. This object is also the process's fs_struct: working directory and umask.
 *
 * Deviations: no hard links, renames or xattrs; atime is never
 * updated (as with noatime); an unlinked file's page cache stays allocated until the run ends
 * (freeing it needs to know whether the file is still mapped, which only the memory manager knows).
 */
import { Inode, S_IFCHR, S_IFDIR, S_IFMT, S_IFREG, type FsType } from '../mm/inode.js';
import type { FsTraits } from '../mm/kernel.js';
import { ext4PunchHole, ext4ZeroRange, shmemPunchHole, type HoleResult } from '../mm/falloc.js';
import { truncateSetsize, type PageCache, type UnmapMappingRange } from '../mm/pagecache.js';
import { EACCES, EEXIST, EFBIG, EINVAL, EISDIR, ELOOP, ENAMETOOLONG, ENOENT, ENOMEM, ENOTDIR, ENOTEMPTY, EOPNOTSUPP, EPERM } from '../util/errno.js';
import type { OpenFile } from './file.js';
import type { GuestRandom } from './random.js';

export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_ISVTX = 0o1000;

export const NAME_MAX = 255;
/** MAXSYMLINKS (include/linux/namei.h). */
export const MAX_SYMLINKS = 40;
/** tmpfs reports this many bytes per directory entry as a directory's size (BOGO_DIRENT_SIZE). */
const BOGO_DIRENT_SIZE = 20;

/** The file system type `/tmp` is mounted with (the `tmp_fs` knob). */
export type TmpFsType = 'tmpfs' | 'ext4';

/** How a file system's page cache behaves (largeFolios, maxOrder, writeMiss): set by the policy. */
export type { FsTraits };

export interface FsPolicy {
  readonly tmpFs: TmpFsType;
  readonly tmpfs: FsTraits;
  readonly ext4: FsTraits;
}

export const DEFAULT_FS_POLICY: FsPolicy = {
  tmpFs: 'tmpfs',
  tmpfs: { largeFolios: false, writeMiss: 'order0' },
  ext4: { largeFolios: false, writeMiss: 'order0' },
};

/** The process's credentials. */
export interface Creds {
  readonly uid: number;
  readonly gid: number;
}

export interface DevNumber {
  readonly major: number;
  readonly minor: number;
}

/** new_encode_dev: the st_dev / st_rdev encoding of struct stat. */
export function encodeDev(d: DevNumber): number {
  return (d.minor & 0xff) | (d.major << 8) | ((d.minor & ~0xff) << 12);
}

/** A mounted file system: what stat reports for it and what its regular files are like. */
export interface SuperBlock {
  readonly name: string;
  /** The Inode kind its regular files get (decides page-cache and mmap placement behaviour). */
  readonly fsType: FsType;
  readonly dev: DevNumber;
  readonly traits: FsTraits;
  /** Directory sizes as tmpfs reports them (entries × 20) rather than a block. */
  readonly bogoDirSize: boolean;
  /** statx's stx_mnt_id: mounts numbered in the order they are made at boot. */
  readonly mntId: number;
}

export interface Times {
  atime: bigint;
  mtime: bigint;
  ctime: bigint;
  readonly btime: bigint;
}

interface NodeCommon {
  readonly ino: number;
  /** File type and permission bits. */
  mode: number;
  readonly uid: number;
  readonly gid: number;
  nlink: number;
  readonly times: Times;
  readonly sb: SuperBlock;
}

export interface DirNode extends NodeCommon {
  readonly kind: 'dir';
  readonly entries: Map<string, Node>;
  parent: DirNode;
  /** Entries made on demand (procfs.ts), looked up after `entries`. */
  dynamic?: DynamicEntries;
}

export interface RegNode extends NodeCommon {
  readonly kind: 'reg';
  readonly inode: Inode;
}

export type CharDevice = 'null' | 'zero' | 'random' | 'urandom';

export interface CharNode extends NodeCommon {
  readonly kind: 'chr';
  readonly device: CharDevice;
  readonly rdev: DevNumber;
}

export interface SymlinkNode extends NodeCommon {
  readonly kind: 'symlink';
  /** The target, computed when read (/proc/self/exe follows the executable); null if none. */
  readonly target: () => string | null;
  /**
   * A "magic link" (/proc/<pid>/fd/N): following it leads to the open file's node itself, not to
   * the path readlink shows (which may name no path: 'pipe:[123]').
   */
  magic?: () => Node | null;
}

/** A pipe: the ones standing in for the tool's stdin, stdout and stderr, and pipe2's (pipe.ts). */
export interface FifoNode extends NodeCommon {
  readonly kind: 'fifo';
  /**
   * Opening the pipe again through /proc/<pid>/fd/N (fifo_open): a new file on the same pipe,
   * with the access mode and status flags given. Absent: the open fails with ENXIO.
   */
  reopen?: (flags: number) => OpenFile;
}

/**
 * The inode of an object no path names: a socket (sockfs) or an eventfd (anon_inodefs). What it
 * does is its open file's operations (fileops.ts), not the node's.
 */
export interface AnonNode extends NodeCommon {
  readonly kind: 'anon';
}

/**
 * A file of /proc or /sys: its content is made from the live state when it is opened (or read, for
 * /proc/<pid>/pagemap), as seq_file and sysfs show() do; writing one hands the bytes to `write`.
 */
export interface SynthNode extends NodeCommon {
  readonly kind: 'synth';
  readonly content: SynthContent;
}

/** A synthetic file's content source (procfs.ts). */
export interface SynthContent {
  /** A snapshot for one open file made for `opener` (pagemap hides PFNs from non-root), or -errno. */
  open(opener: Creds): SynthOpen | number;
  /** Writing (as sysfs store() / proc_handler do): the bytes taken, or -errno. Absent: -EIO. */
  write?(data: Uint8Array, writer: Creds): number;
}

/** What one open of a synthetic file reads (and writes, for files with a position: /proc/<pid>/mem). */
export interface SynthOpen {
  /** Bytes at `pos` (fewer at the end; empty past it), or -errno. */
  read(pos: number, len: number): Uint8Array | number;
  /** Bytes taken at `pos`, or -errno; when absent, writes go to the content's `write`. */
  write?(pos: number, data: Uint8Array): number;
}

/**
 * Directories whose entries come from the live state (/proc and its per-process directories): the
 * static `entries` first, then these.
 */
export interface DynamicEntries {
  lookup(name: string): Node | null;
  names(): readonly string[];
  /** unlink/rmdir of a name (sysroot.ts: `lookup` must not bring it back); absent: nothing to do. */
  forget?(name: string): void;
}

export type Node = DirNode | RegNode | CharNode | SymlinkNode | FifoNode | AnonNode | SynthNode;

export type Lookup = { kind: 'ok'; node: Node } | { kind: 'error'; errno: number };

export type ParentLookup =
  | {
      kind: 'ok';
      parent: DirNode;
      /** The last component ('.' and '..' included, as given). */
      name: string;
      /** What the name refers to now, symbolic links not followed; null if nothing. */
      node: Node | null;
      /** The path ended in '/'. */
      trailingSlash: boolean;
    }
  | { kind: 'error'; errno: number };

export interface FileSystemOptions {
  readonly pageCache: PageCache;
  readonly policy?: FsPolicy;
  readonly creds: Creds;
  /** Realtime in nanoseconds, for timestamps (the virtual clock, not advancing it). */
  readonly now: () => bigint;
  /** The memory manager's unmap_mapping_range, called when a file shrinks. */
  readonly unmapMappingRange?: UnmapMappingRange;
  /** /dev/random and /dev/urandom read from it; without one they read as /dev/zero. */
  readonly random?: GuestRandom;
  readonly umask?: number;
}

const DEV_SB: SuperBlock = { name: 'devtmpfs', fsType: 'tmpfs', dev: { major: 0, minor: 5 }, traits: DEFAULT_FS_POLICY.tmpfs, bogoDirSize: true, mntId: 22 };
const PROC_SB: SuperBlock = { name: 'proc', fsType: 'proc', dev: { major: 0, minor: 21 }, traits: DEFAULT_FS_POLICY.tmpfs, bogoDirSize: false, mntId: 23 };
const PIPE_SB: SuperBlock = { name: 'pipefs', fsType: 'tmpfs', dev: { major: 0, minor: 12 }, traits: DEFAULT_FS_POLICY.tmpfs, bogoDirSize: false, mntId: 2 };
const SOCK_SB: SuperBlock = { name: 'sockfs', fsType: 'tmpfs', dev: { major: 0, minor: 8 }, traits: DEFAULT_FS_POLICY.tmpfs, bogoDirSize: false, mntId: 3 };
const ANON_INODE_SB: SuperBlock = { name: 'anon_inodefs', fsType: 'tmpfs', dev: { major: 0, minor: 14 }, traits: DEFAULT_FS_POLICY.tmpfs, bogoDirSize: false, mntId: 4 };
export const SYSFS_SB: SuperBlock = { name: 'sysfs', fsType: 'proc', dev: { major: 0, minor: 20 }, traits: DEFAULT_FS_POLICY.tmpfs, bogoDirSize: false, mntId: 25 };
export { PROC_SB };
export const S_IFSOCK = 0o140000;

export class FileSystem {
  readonly root: DirNode;
  readonly tmp: DirNode;
  readonly dev: DirNode;
  readonly proc: DirNode;
  readonly policy: FsPolicy;
  readonly creds: Creds;
  /** The shmem mount behind memfd_create and shared /dev/zero mappings. */
  readonly shmSb: SuperBlock;
  readonly tmpSb: SuperBlock;
  /** The root file system, where the executable lives: ext4, with the ext4 traits. */
  readonly rootSb: SuperBlock;
  /** The executable, once exec installed it. */
  exe: RegNode | null = null;
  exePath: string | null = null;
  cwd: DirNode;
  private sharedAnonInode: AnonNode | null = null;
  /** Names of files no directory holds ('memfd:NAME'), for /proc/<pid>/maps. */
  readonly unlinkedNames = new WeakMap<object, string>();
  umask: number;

  /** Shared by every process's view of the tree (forkView). */
  private readonly inoCounter = { next: 1 };
  private readonly pageCache: PageCache;
  readonly now: () => bigint;
  readonly unmapMappingRange: UnmapMappingRange | undefined;
  readonly random: GuestRandom | undefined;

  constructor(opts: FileSystemOptions) {
    this.pageCache = opts.pageCache;
    this.policy = opts.policy ?? DEFAULT_FS_POLICY;
    this.creds = opts.creds;
    this.now = opts.now;
    this.unmapMappingRange = opts.unmapMappingRange;
    this.random = opts.random;
    this.umask = opts.umask ?? 0o022;
    const p = this.policy;
    this.tmpSb =
      p.tmpFs === 'tmpfs'
        ? { name: 'tmpfs', fsType: 'tmpfs', dev: { major: 0, minor: 33 }, traits: p.tmpfs, bogoDirSize: true, mntId: 24 }
        : { name: 'ext4', fsType: 'ext4', dev: { major: 8, minor: 2 }, traits: p.ext4, bogoDirSize: false, mntId: 24 };
    this.rootSb = { name: 'ext4', fsType: 'ext4', dev: { major: 8, minor: 1 }, traits: p.ext4, bogoDirSize: false, mntId: 21 };
    this.shmSb = { name: 'shm', fsType: 'tmpfs', dev: { major: 0, minor: 1 }, traits: p.tmpfs, bogoDirSize: true, mntId: 1 };

    const root = this.newDir(null, this.rootSb, 0o755, 0, 0);
    this.root = root;
    this.cwd = root;
    this.tmp = this.mkdirIn(root, 'tmp', this.tmpSb, S_ISVTX | 0o777, 0, 0);
    this.dev = this.mkdirIn(root, 'dev', DEV_SB, 0o755, 0, 0);
    this.addCharDevice('null', { major: 1, minor: 3 }, 'null');
    this.addCharDevice('zero', { major: 1, minor: 5 }, 'zero');
    this.addCharDevice('random', { major: 1, minor: 8 }, 'random');
    this.addCharDevice('urandom', { major: 1, minor: 9 }, 'urandom');
    this.proc = this.mkdirIn(root, 'proc', PROC_SB, 0o555, 0, 0);
    const self = this.mkdirIn(this.proc, 'self', PROC_SB, 0o555, this.creds.uid, this.creds.gid);
    this.link(self, 'exe', this.newSymlink(PROC_SB, () => this.exePath, 0o777, this.creds.uid, this.creds.gid));
  }

  /**
   * The same tree as another process sees it (fork): its own working directory, umask and
   * executable, everything else shared.
   */
  forkView(): FileSystem {
    const view = Object.create(this) as FileSystem;
    view.cwd = this.cwd;
    view.umask = this.umask;
    view.exe = this.exe;
    view.exePath = this.exePath;
    return view;
  }

  // ---- node construction ----

  private times(): Times {
    const t = this.now();
    return { atime: t, mtime: t, ctime: t, btime: t };
  }

  private allocIno(): number {
    return this.inoCounter.next++;
  }

  private newDir(parent: DirNode | null, sb: SuperBlock, perm: number, uid: number, gid: number): DirNode {
    // The root is its own parent; everything else gets its parent at once.
    const dir: DirNode = { kind: 'dir', ino: this.allocIno(), mode: S_IFDIR | perm, uid, gid, nlink: 2, times: this.times(), sb, entries: new Map(), parent: parent! };
    if (parent === null) dir.parent = dir;
    return dir;
  }

  private mkdirIn(parent: DirNode, name: string, sb: SuperBlock, perm: number, uid: number, gid: number): DirNode {
    const dir = this.newDir(parent, sb, perm, uid, gid);
    this.link(parent, name, dir);
    parent.nlink++;
    return dir;
  }

  private newSymlink(sb: SuperBlock, target: () => string | null, perm: number, uid: number, gid: number): SymlinkNode {
    return { kind: 'symlink', ino: this.allocIno(), mode: S_IFLNK | perm, uid, gid, nlink: 1, times: this.times(), sb, target };
  }

  private addCharDevice(name: string, rdev: DevNumber, device: CharDevice): void {
    const node: CharNode = { kind: 'chr', ino: this.allocIno(), mode: S_IFCHR | 0o666, uid: 0, gid: 0, nlink: 1, times: this.times(), sb: DEV_SB, device, rdev };
    this.link(this.dev, name, node);
  }

  private link(dir: DirNode, name: string, node: Node): void {
    dir.entries.set(name, node);
  }

  /**
   * A read-only file under /proc with fixed content (a sysctl as the machine configured it),
   * creating the directories on the way, e.g. addProcFile('sys/vm/overcommit_memory', '0\n').
   */
  addProcFile(path: string, text: string): void {
    const parts = path.split('/');
    let dir = this.proc;
    for (const name of parts.slice(0, -1)) {
      const next = dir.entries.get(name);
      dir = next !== undefined && next.kind === 'dir' ? next : this.mkdirIn(dir, name, PROC_SB, 0o555, 0, 0);
    }
    this.link(dir, parts[parts.length - 1]!, this.newRegular(PROC_SB, 0o444, new TextEncoder().encode(text), 0, 0));
  }

  /** A regular file on `sb` (not yet in any directory). */
  newRegular(sb: SuperBlock, perm: number, content: Uint8Array | null = null, uid = this.creds.uid, gid = this.creds.gid): RegNode {
    const ino = this.allocIno();
    const mode = S_IFREG | (perm & 0o7777);
    const inode = new Inode(this.pageCache, {
      ino,
      fsType: sb.fsType,
      mode,
      content,
      largeFolios: sb.traits.largeFolios,
      ...(sb.traits.maxOrder !== undefined ? { maxOrder: sb.traits.maxOrder } : {}),
    });
    return { kind: 'reg', ino, mode, uid, gid, nlink: 0, times: this.times(), sb, inode };
  }

  /** A pipe's inode: the standard streams' and pipe2's (what `fstat` on them reports). */
  newFifo(): FifoNode {
    return { kind: 'fifo', ino: this.allocIno(), mode: S_IFIFO | 0o600, uid: this.creds.uid, gid: this.creds.gid, nlink: 1, times: this.times(), sb: PIPE_SB };
  }

  /** A socket's inode (sock_alloc: S_IFSOCK | 0777 on sockfs). */
  newSocketNode(): AnonNode {
    return { kind: 'anon', ino: this.allocIno(), mode: S_IFSOCK | 0o777, uid: this.creds.uid, gid: this.creds.gid, nlink: 1, times: this.times(), sb: SOCK_SB };
  }

  /**
   * The one anon_inodefs inode eventfds and other anonymous files share (anon_inode_getfile): mode
   * 0600 with no file type bits, owned by root, as fstat shows it.
   */
  anonInode(): AnonNode {
    if (this.sharedAnonInode === null) {
      this.sharedAnonInode = { kind: 'anon', ino: this.allocIno(), mode: 0o600, uid: 0, gid: 0, nlink: 1, times: this.times(), sb: ANON_INODE_SB };
    }
    return this.sharedAnonInode;
  }

  /** A directory of a pseudo file system (proc, sysfs), not yet linked anywhere unless `name`. */
  newPseudoDir(parent: DirNode, sb: SuperBlock, perm: number, uid = 0, gid = 0, name?: string): DirNode {
    if (name !== undefined) return this.mkdirIn(parent, name, sb, perm, uid, gid);
    return this.newDir(parent, sb, perm, uid, gid);
  }

  /** A file of /proc or /sys (procfs.ts), linked into `parent` when `name` is given. */
  newSynth(sb: SuperBlock, perm: number, content: SynthContent, parent?: DirNode, name?: string, uid = 0, gid = 0): SynthNode {
    const node: SynthNode = { kind: 'synth', ino: this.allocIno(), mode: S_IFREG | perm, uid, gid, nlink: 1, times: this.times(), sb, content };
    if (parent !== undefined && name !== undefined) this.link(parent, name, node);
    return node;
  }

  /** A symbolic link of a pseudo file system, linked into `parent` when `name` is given. */
  newPseudoSymlink(sb: SuperBlock, target: () => string | null, parent?: DirNode, name?: string, uid = 0, gid = 0): SymlinkNode {
    const node = this.newSymlink(sb, target, 0o777, uid, gid);
    if (parent !== undefined && name !== undefined) this.link(parent, name, node);
    return node;
  }

  /** Removes a static entry of a pseudo directory (procfs.ts replaces the boot-time /proc/self). */
  unlinkPseudo(dir: DirNode, name: string): void {
    const n = dir.entries.get(name);
    if (n === undefined) return;
    dir.entries.delete(name);
    if (n.kind === 'dir') dir.nlink--;
  }

  /**
   * Puts the executable at `path` (absolute), creating the directories on the way, and points
   * /proc/self/exe at it. Its bytes are the host file's, read through the page cache on faults.
   */
  installExecutable(path: string, bytes: Uint8Array): RegNode {
    const parts = splitAbsolute(path);
    // Callers give a normalized path: '.' or '..' here would make directories of those names.
    if (parts.some((x) => x === '.' || x === '..')) throw new Error(`fs: cannot install the executable at ${path}: the path is not normalized`);
    let dir = this.root;
    for (const part of parts.slice(0, -1)) {
      // A directory of an arm64 root (sysroot.ts) may be reached through a symbolic link (/bin
      // -> usr/bin on a merged-/usr system).
      let next = child(dir, part);
      if (next !== null && next.kind === 'symlink') {
        const r = this.lookup(dir, part, true);
        next = r.kind === 'ok' ? r.node : null;
      }
      if (next === null) dir = this.mkdirIn(dir, part, dir.sb, 0o755, 0, 0);
      else if (next.kind === 'dir') dir = next;
      else throw new Error(`fs: cannot install the executable at ${path}: ${part} is not a directory`);
    }
    const name = parts[parts.length - 1]!;
    const existing = child(dir, name);
    if (existing !== null && existing.kind === 'reg') {
      // exec of a file already in the tree (a program run twice, one the guest wrote, one of the
      // arm64 root given with --sysroot), unless the root's file of that name is another program:
      // the one run then takes its place in the tree.
      const hidden = existing.inode.content !== null && !sameBytes(existing.inode.content, bytes);
      if (!hidden) return this.setExecutable(existing, '/' + parts.join('/'));
    } else if (existing !== null) {
      throw new Error(`fs: ${path} already exists and is not a regular file`);
    }
    if (dir.sb === DEV_SB || dir.sb === PROC_SB) throw new Error(`fs: cannot install the executable in ${dir.sb.name} (${path})`);
    const node = this.newRegular(dir.sb, 0o755, bytes, 0, 0);
    node.nlink = 1;
    this.link(dir, name, node);
    return this.setExecutable(node, '/' + parts.join('/'));
  }

  /** Makes a file of the tree the executable (execve of a path the tree has): /proc/self/exe. */
  setExecutable(node: RegNode, path: string): RegNode {
    this.exe = node;
    this.exePath = path;
    return node;
  }

  // ---- permissions ----

  /** generic_permission for `want` (4 read, 2 write, 1 search/execute). */
  permits(node: Node, want: number): boolean {
    const { uid, gid } = this.creds;
    if (uid === 0) {
      // CAP_DAC_OVERRIDE: everything but executing a file that no one may execute.
      return (want & 1) === 0 || node.kind === 'dir' || (node.mode & 0o111) !== 0;
    }
    const bits = node.uid === uid ? node.mode >> 6 : node.gid === gid ? node.mode >> 3 : node.mode;
    return (bits & want) === want;
  }

  /** May the caller remove `victim` from `dir` (write + search, and the sticky-bit rule)? */
  private mayDelete(dir: DirNode, victim: Node): number {
    if (!this.permits(dir, 3)) return -EACCES;
    if ((dir.mode & S_ISVTX) !== 0 && this.creds.uid !== 0 && victim.uid !== this.creds.uid && dir.uid !== this.creds.uid) return -EPERM;
    return 0;
  }

  // ---- path walking ----

  /** Looks `path` up from `base` (the cwd or a directory fd), following a final symlink if asked. */
  lookup(base: DirNode, path: string, followLast: boolean): Lookup {
    const p = this.lookupParent(base, path, 0);
    if (p.kind === 'error') return p;
    return this.finishLookup(p, followLast, 0);
  }

  /** Walks to the directory that holds the last component (path_parentat). */
  lookupParent(base: DirNode, path: string, depth = 0): ParentLookup {
    if (path === '') return { kind: 'error', errno: ENOENT };
    const comps = path.split('/').filter((c) => c !== '');
    const trailingSlash = path.endsWith('/');
    let dir = path.startsWith('/') ? this.root : base;
    if (comps.length === 0) return { kind: 'ok', parent: dir, name: '.', node: dir, trailingSlash: false };
    for (let i = 0; i < comps.length - 1; i++) {
      const r = this.step(dir, comps[i]!, depth);
      if (r.kind === 'error') return r;
      if (r.node.kind !== 'dir') return { kind: 'error', errno: ENOTDIR };
      dir = r.node;
    }
    const name = comps[comps.length - 1]!;
    if (utf8Length(name) > NAME_MAX) return { kind: 'error', errno: ENAMETOOLONG };
    if (!this.permits(dir, 1)) return { kind: 'error', errno: EACCES };
    return { kind: 'ok', parent: dir, name, node: child(dir, name), trailingSlash };
  }

  private finishLookup(p: Extract<ParentLookup, { kind: 'ok' }>, followLast: boolean, depth: number): Lookup {
    let node = p.node;
    if (node === null) return { kind: 'error', errno: ENOENT };
    if (node.kind === 'symlink' && (followLast || p.trailingSlash)) {
      const r = this.followLink(p.parent, node, depth);
      if (r.kind === 'error') return r;
      node = r.node;
    }
    if (p.trailingSlash && node.kind !== 'dir') return { kind: 'error', errno: ENOTDIR };
    return { kind: 'ok', node };
  }

  /** One component from a directory, with symlinks in the middle of a path followed. */
  private step(dir: DirNode, name: string, depth: number): Lookup {
    if (utf8Length(name) > NAME_MAX) return { kind: 'error', errno: ENAMETOOLONG };
    if (!this.permits(dir, 1)) return { kind: 'error', errno: EACCES };
    const node = child(dir, name);
    if (node === null) return { kind: 'error', errno: ENOENT };
    if (node.kind === 'symlink') return this.followLink(dir, node, depth);
    return { kind: 'ok', node };
  }

  private followLink(dir: DirNode, link: SymlinkNode, depth: number): Lookup {
    if (depth + 1 > MAX_SYMLINKS) return { kind: 'error', errno: ELOOP };
    if (link.magic !== undefined) {
      const node = link.magic();
      return node === null ? { kind: 'error', errno: ENOENT } : { kind: 'ok', node };
    }
    const target = link.target();
    if (target === null || target === '') return { kind: 'error', errno: ENOENT };
    const p = this.lookupParent(dir, target, depth + 1);
    if (p.kind === 'error') return p;
    return this.finishLookup(p, true, depth + 1);
  }

  // ---- namespace operations ----

  /** Creates a regular file `name` in `dir` (the O_CREAT path of open). */
  create(dir: DirNode, name: string, perm: number): { kind: 'ok'; node: RegNode } | { kind: 'error'; errno: number } {
    if (name === '.' || name === '..') return { kind: 'error', errno: EEXIST };
    if (!this.permits(dir, 3)) return { kind: 'error', errno: EACCES };
    const node = this.newRegular(dir.sb, perm & ~this.umask);
    node.nlink = 1;
    this.link(dir, name, node);
    this.touchDir(dir);
    return { kind: 'ok', node };
  }

  mkdir(dir: DirNode, name: string, perm: number): number {
    if (name === '.' || name === '..' || child(dir, name) !== null) return -EEXIST;
    if (!this.permits(dir, 3)) return -EACCES;
    this.mkdirIn(dir, name, dir.sb, perm & ~this.umask & 0o1777, this.creds.uid, this.creds.gid);
    this.touchDir(dir);
    return 0;
  }

  /** symlink(2) (vfs_symlink): a link to `target`, which is stored as given and not looked up. */
  symlink(dir: DirNode, name: string, target: string): number {
    if (name === '.' || name === '..' || child(dir, name) !== null) return -EEXIST;
    if (!this.permits(dir, 3)) return -EACCES;
    this.link(dir, name, this.newSymlink(dir.sb, () => target, 0o777, this.creds.uid, this.creds.gid));
    this.touchDir(dir);
    return 0;
  }

  /**
   * utimensat(2) (vfs_utimes, with utimes_common's permission rule): sets the access and
   * modification times, 'now' for the clock, null to leave one as it is; the change time becomes
   * now. Setting both to now needs write permission or ownership; any other time ownership.
   */
  utimes(node: Node, atime: bigint | 'now' | null, mtime: bigint | 'now' | null): number {
    if (atime === null && mtime === null) return 0;
    const owner = this.creds.uid === 0 || this.creds.uid === node.uid;
    const bothNow = (atime === 'now' || atime === null) && (mtime === 'now' || mtime === null);
    if (!owner && !(bothNow && this.permits(node, 2))) return bothNow ? -EACCES : -EPERM;
    const t = this.now();
    if (atime !== null) node.times.atime = atime === 'now' ? t : atime;
    if (mtime !== null) node.times.mtime = mtime === 'now' ? t : mtime;
    node.times.ctime = t;
    return 0;
  }

  /** unlink(2): removes a name; the file lives on while it is open or mapped. */
  unlink(dir: DirNode, name: string, trailingSlash: boolean): number {
    const victim = name === '.' || name === '..' ? dir : child(dir, name);
    if (victim === null) return -ENOENT;
    if (victim.kind === 'dir') return -EISDIR;
    if (trailingSlash) return -ENOTDIR;
    const denied = this.mayDelete(dir, victim);
    if (denied !== 0) return denied;
    dir.entries.delete(name);
    dir.dynamic?.forget?.(name);
    victim.nlink--;
    victim.times.ctime = this.now();
    this.touchDir(dir);
    return 0;
  }

  /** rmdir(2), the AT_REMOVEDIR flavour of unlinkat. */
  rmdir(dir: DirNode, name: string): number {
    if (name === '.') return -EINVAL;
    if (name === '..') return -ENOTEMPTY;
    const victim = child(dir, name);
    if (victim === null) return -ENOENT;
    if (victim.kind !== 'dir') return -ENOTDIR;
    if (listDir(victim).length > 0) return -ENOTEMPTY;
    const denied = this.mayDelete(dir, victim);
    if (denied !== 0) return denied;
    dir.entries.delete(name);
    dir.dynamic?.forget?.(name);
    victim.nlink = 0;
    dir.nlink--;
    this.touchDir(dir);
    return 0;
  }

  private touchDir(dir: DirNode): void {
    const t = this.now();
    dir.times.mtime = t;
    dir.times.ctime = t;
  }

  /**
   * Sets a regular file's size (do_truncate: truncate_setsize with the memory manager's unmap
   * hook, then the timestamps).
   */
  truncate(node: RegNode, size: number): number {
    const r = truncateSetsize(node.inode, size, this.unmapMappingRange);
    if (r.kind === 'efbig') return -EFBIG;
    this.touchData(node);
    return 0;
  }

  /**
   * fallocate's FALLOC_FL_PUNCH_HOLE (with KEEP_SIZE) or FALLOC_FL_ZERO_RANGE on a regular file,
   * as its file system does it (src/mm/falloc.ts); ZERO_RANGE grows the size unless `keepSize`.
   * Returns 0 or -errno.
   */
  clearRange(node: RegNode, mode: 'punch_hole' | 'zero_range', offset: number, len: number, keepSize: boolean): number {
    const inode = node.inode;
    let r: HoleResult;
    if (inode.fsType === 'tmpfs') {
      if (mode === 'zero_range') return -EOPNOTSUPP;
      r = shmemPunchHole(inode, offset, len, this.unmapMappingRange);
    } else if (inode.fsType === 'ext4') {
      r = mode === 'punch_hole' ? ext4PunchHole(inode, offset, len, this.unmapMappingRange) : ext4ZeroRange(inode, offset, len, this.unmapMappingRange);
    } else {
      return -EOPNOTSUPP;
    }
    if (r.kind === 'oom') return -ENOMEM;
    if (mode === 'zero_range' && !keepSize && offset + len > inode.size) inode.size = offset + len;
    this.touchData(node);
    return 0;
  }

  /** file_update_time after a write or truncate. */
  touchData(node: Node): void {
    const t = this.now();
    node.times.mtime = t;
    node.times.ctime = t;
  }

  /** The absolute path of a directory (getcwd). */
  pathOf(dir: DirNode): string {
    const names: string[] = [];
    let d = dir;
    while (d !== this.root) {
      const parent = d.parent;
      let found: string | null = null;
      for (const [name, n] of parent.entries) {
        if (n === d) {
          found = name;
          break;
        }
      }
      // A removed directory: Linux appends " (deleted)"; the guest cannot remove its cwd here.
      if (found === null) return '/' + [...names].reverse().join('/') + ' (deleted)';
      names.push(found);
      d = parent;
    }
    return '/' + names.reverse().join('/');
  }

  /** st_size as the file system reports it. */
  sizeOf(node: Node): number {
    switch (node.kind) {
      case 'reg':
        return node.inode.size;
      case 'dir':
        return node.sb.bogoDirSize ? (node.entries.size + 2) * BOGO_DIRENT_SIZE : node.sb === PROC_SB ? 0 : 4096;
      case 'symlink':
        return utf8Length(node.target() ?? '');
      case 'chr':
      case 'fifo':
      case 'anon':
      case 'synth':
        return 0;
      default: {
        const never: never = node;
        throw new Error(`unknown node ${String(never)}`);
      }
    }
  }

  /** st_blocks (512-byte units): the pages a file's data occupies (page cache, or the host bytes). */
  blocksOf(node: Node): number {
    if (node.kind === 'dir') return node.sb.bogoDirSize ? 0 : 8;
    if (node.kind !== 'reg') return 0;
    const inode = node.inode;
    const backed = inode.content === null ? 0 : Math.ceil(Math.min(inode.content.length, inode.size) / 4096);
    let cachedBeyond = 0;
    inode.mapping.forEachFolio(backed, Number.MAX_SAFE_INTEGER, (f) => {
      cachedBeyond += f.nrPages - Math.max(0, backed - f.index);
    });
    return (backed + cachedBeyond) * 8;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || (a.length === b.length && Buffer.compare(a, b) === 0);
}

function child(dir: DirNode, name: string): Node | null {
  if (name === '.') return dir;
  if (name === '..') return dir.parent;
  return dir.entries.get(name) ?? dir.dynamic?.lookup(name) ?? null;
}

/** A directory's entries in the order getdents64 lists them (after '.' and '..'). */
export function listDir(dir: DirNode): [string, Node][] {
  const out = [...dir.entries];
  if (dir.dynamic !== undefined) {
    for (const name of dir.dynamic.names()) {
      if (dir.entries.has(name)) continue;
      const n = dir.dynamic.lookup(name);
      if (n !== null) out.push([name, n]);
    }
  }
  return out;
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The components of an absolute, normalized path; throws on anything else (a caller's bug). */
export function splitAbsolute(path: string): string[] {
  if (!path.startsWith('/')) throw new Error(`fs: '${path}' is not an absolute path`);
  const parts = path.split('/').filter((c) => c !== '');
  if (parts.length === 0 || parts.some((c) => c === '.' || c === '..')) throw new Error(`fs: '${path}' is not a normalized path to a file`);
  return parts;
}

export function fileTypeOf(node: Node): number {
  return node.mode & S_IFMT;
}
