/**
 * `--sysroot DIR`: an arm64 root file system on the host (Debian packages unpacked with
 * `dpkg-deb -x`, or a cross toolchain's /usr/aarch64-linux-gnu) seen by the guest under its own
 * `/`, next to the tree's /tmp, /dev and /proc. A dynamic program's interpreter and the libraries
 * it opens (/lib/ld-linux-aarch64.so.1, /lib/aarch64-linux-gnu/libc.so.6), a shell's
 * /usr/bin/tr, /etc files: all of them are found by the ordinary path walk (fs.ts), opened,
 * read, stat'ed and mapped like any file of the root file system (ext4 here).
 *
 * A host entry becomes a node of the tree (an ordinary entry of its directory, so paths, getcwd,
 * /proc/<pid>/maps and fd links name it) the first time a lookup or a directory listing meets it,
 * and stays that node for the rest of the run, so every process maps a library from one inode
 * and its page cache, as Linux shares libc's pages. A regular file's bytes are read from the host
 * then (its page cache fills from them on faults and reads); a symbolic link keeps its target,
 * which the guest resolves in its own tree, so an absolute link (/lib -> /usr/lib) never leads
 * above DIR. Fifos, sockets and device files of DIR are left out. A directory lists the entries
 * already made first, in the order they were met, then the others sorted, so getdents64 order
 * depends on the run, never on the host file system.
 *
 * Everything belongs to root, with the host file's permission bits. The guest may create, remove
 * and write files in these directories as its permissions allow; that changes the tree and its
 * page cache only, never the host's files.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { DirNode, DynamicEntries, FileSystem, Node } from './fs.js';

/** Shows the host directory `hostDir` as the contents of the guest's root directory. */
export function mountSysroot(fs: FileSystem, hostDir: string): void {
  fs.root.dynamic = new HostDirectory(fs, fs.root, hostDir);
}

/** Whether a host entry becomes a node: a directory, a regular file or a symbolic link. */
function shown(path: string): boolean {
  try {
    const st = lstatSync(path);
    return st.isDirectory() || st.isFile() || st.isSymbolicLink();
  } catch {
    return false;
  }
}

class HostDirectory implements DynamicEntries {
  /** Host entries the guest removed. */
  private readonly gone = new Set<string>();

  constructor(
    private readonly fs: FileSystem,
    private readonly dir: DirNode,
    private readonly hostPath: string,
  ) {}

  lookup(name: string): Node | null {
    if (this.gone.has(name)) return null;
    const known = this.dir.entries.get(name);
    if (known !== undefined) return known;
    const path = join(this.hostPath, name);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      return null;
    }
    const node = this.make(path, st);
    if (node !== null) this.dir.entries.set(name, node);
    return node;
  }

  names(): readonly string[] {
    let names: string[];
    try {
      names = readdirSync(this.hostPath);
    } catch {
      return [];
    }
    // Only what `lookup` would show; it makes the nodes (listDir calls it for these names).
    return names.sort().filter((n) => !this.gone.has(n) && shown(join(this.hostPath, n)));
  }

  forget(name: string): void {
    this.gone.add(name);
  }

  private make(path: string, st: Stats): Node | null {
    const fs = this.fs;
    const perm = st.mode & 0o7777;
    try {
      if (st.isDirectory()) {
        const dir = fs.newPseudoDir(this.dir, fs.rootSb, perm, 0, 0);
        dir.dynamic = new HostDirectory(fs, dir, path);
        return dir;
      }
      if (st.isFile()) {
        const b = readFileSync(path);
        const node = fs.newRegular(fs.rootSb, perm, new Uint8Array(b.buffer, b.byteOffset, b.byteLength), 0, 0);
        node.nlink = 1;
        return node;
      }
      if (st.isSymbolicLink()) {
        const target = readlinkSync(path);
        return fs.newPseudoSymlink(fs.rootSb, () => target);
      }
    } catch {
      // Unreadable on the host (permissions): as if absent.
      return null;
    }
    return null;
  }
}

/**
 * Where a host file inside the arm64 root appears in the guest ('/usr/bin/tr' for DIR/usr/bin/tr,
 * symbolic links of the host resolved), or null for a file outside it.
 */
export function guestPathInSysroot(hostDir: string, file: string): string | null {
  let root: string;
  let real: string;
  try {
    root = realpathSync(hostDir);
    real = realpathSync(file);
  } catch {
    return null;
  }
  const rel = relative(root, real);
  if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) return null;
  return '/' + rel.split(sep).join('/');
}
