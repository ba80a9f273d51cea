/**
 * --sysroot's host directory seen under the guest's `/` (src/linux/sysroot.ts): files, directories
 * and symbolic links of the host become nodes of the tree once and stay the same nodes; links
 * resolve inside the guest's tree, never above the root; names list sorted; what the guest
 * removes stays removed, and the host's files are never touched.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listDir } from '../../src/linux/fs.js';
import { guestPathInSysroot } from '../../src/linux/sysroot.js';
import { ENOENT } from '../../src/util/errno.js';
import { makeRig } from './harness.js';

function hostRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cl-sysroot-unit-'));
  mkdirSync(join(dir, 'usr', 'bin'), { recursive: true });
  mkdirSync(join(dir, 'usr', 'lib'), { recursive: true });
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'usr', 'bin', 'tool'), 'tool bytes', { mode: 0o755 });
  writeFileSync(join(dir, 'usr', 'lib', 'libx.so'), 'library bytes', { mode: 0o644 });
  symlinkSync('usr/lib', join(dir, 'lib'));
  symlinkSync('/usr/lib/libx.so', join(dir, 'etc', 'absolute'));
  // Far above the root on the host; inside the guest, '..' of '/' is '/'.
  symlinkSync('../../../../../../usr/bin/tool', join(dir, 'etc', 'climb'));
  return dir;
}

describe('the arm64 root under the guest\'s /', () => {
  it('files, directories and links: the host\'s bytes and modes, owned by root, one node per file', () => {
    const dir = hostRoot();
    const { p } = makeRig({ sysroot: dir });
    const fs = p.fs;
    const lib = fs.lookup(fs.root, '/lib/libx.so', true);
    expect(lib.kind).toBe('ok');
    if (lib.kind !== 'ok' || lib.node.kind !== 'reg') throw new Error('not a file');
    expect(new TextDecoder().decode(lib.node.inode.content!)).toBe('library bytes');
    expect(lib.node.mode & 0o7777).toBe(0o644);
    expect([lib.node.uid, lib.node.gid]).toEqual([0, 0]);
    expect(lib.node.sb).toBe(fs.rootSb);
    // Through the link or the real path, absolute link or not: the same node.
    for (const path of ['/usr/lib/libx.so', '/etc/absolute', '/usr/../lib/libx.so']) {
      const again = fs.lookup(fs.cwd, path, true);
      expect(again.kind === 'ok' && again.node).toBe(lib.node);
    }
    const link = fs.lookup(fs.root, '/lib', false);
    expect(link.kind === 'ok' && link.node.kind === 'symlink' && link.node.target()).toBe('usr/lib');
    const climb = fs.lookup(fs.root, '/etc/climb', true);
    expect(climb.kind === 'ok' && climb.node.kind === 'reg' && new TextDecoder().decode(climb.node.inode.content!)).toBe('tool bytes');
    expect(fs.lookup(fs.root, '/usr/bin/missing', true)).toEqual({ kind: 'error', errno: ENOENT });
  });

  it('listing: the tree\'s own directories, then the host\'s names sorted', () => {
    const dir = hostRoot();
    const { p } = makeRig({ sysroot: dir });
    const names = listDir(p.fs.root).map(([n]) => n);
    expect(names.slice(-3)).toEqual(['etc', 'lib', 'usr']);
    expect(names).toContain('tmp');
    expect(names).toContain('proc');
  });

  it('getcwd names a directory of the root; unlink removes a name from the guest\'s view only', () => {
    const dir = hostRoot();
    const rig = makeRig({ sysroot: dir, ids: { uid: 0, gid: 0 } });
    expect(rig.call('chdir', rig.str('/usr/bin'))).toBe(0);
    const n = rig.call('getcwd', rig.scratch + 0x1000, 100);
    expect(new TextDecoder().decode(rig.read(rig.scratch + 0x1000, n - 1))).toBe('/usr/bin');
    expect(rig.call('unlinkat', -100, rig.str('tool'), 0)).toBe(0);
    expect(rig.call('unlinkat', -100, rig.str('tool'), 0)).toBe(-ENOENT);
    expect(listDir(rig.p.fs.cwd)).toEqual([]);
    expect(readFileSync(join(dir, 'usr', 'bin', 'tool'), 'utf8')).toBe('tool bytes');
    expect(existsSync(join(dir, 'usr', 'bin', 'tool'))).toBe(true);
  });

  it('where a host file of the root appears in the guest', () => {
    const dir = hostRoot();
    expect(guestPathInSysroot(dir, join(dir, 'usr', 'bin', 'tool'))).toBe('/usr/bin/tool');
    expect(guestPathInSysroot(dir, join(dir, 'lib', 'libx.so'))).toBe('/usr/lib/libx.so');
    expect(guestPathInSysroot(dir, '/bin/sh')).toBeNull();
    expect(guestPathInSysroot(dir, dir)).toBeNull();
  });
});
