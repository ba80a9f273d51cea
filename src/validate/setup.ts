/**
 * What `validate` needs on the host, where it keeps it, and how it gets it: the Debian arm64
 * kernels and busybox (downloaded with `apt-get download`, unpacked with `dpkg-deb -x`, cached
 * under the user's cache directory), and the two helpers built at first use (the TLBI-counting
 * QEMU plugin with the host's gcc, the guest tracer with aarch64-linux-gnu-gcc), cached by a hash
 * of their source. Anything missing is one EnvironmentError naming every missing tool and the
 * Debian package that provides it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError, UsageError } from '../util/errors.js';

/** A kernel the real side can boot: its image, and its virtio_blk module (xz-compressed or not). */
export interface RealKernel {
  readonly name: string;
  readonly release: string;
  readonly image: string;
  readonly virtioBlk: string;
}

/** The kernels measured in the observations, by the name `--kernel` takes. */
export const KNOWN_KERNELS: Readonly<Record<string, { readonly release: string; readonly packages: readonly string[]; readonly profile: string }>> = {
  '6.12': { release: '6.12.117+deb13-cloud-arm64', packages: ['linux-image-6.12.117+deb13-cloud-arm64'], profile: 'linux-6.12' },
  '7.2': { release: '7.2.13+deb14-cloud-arm64', packages: ['linux-binary-7.2.13+deb14-cloud-arm64', 'linux-modules-7.2.13+deb14-cloud-arm64'], profile: 'linux-7.2' },
};

/** The tools the real side runs, with the Debian package each comes from. */
const TOOLS: readonly { readonly cmd: string; readonly pkg: string }[] = [
  { cmd: 'qemu-system-aarch64', pkg: 'qemu-system-arm (9.0 or later for the plugin API; bookworm-backports has 10.0)' },
  { cmd: 'gcc', pkg: 'gcc' },
  { cmd: 'aarch64-linux-gnu-gcc', pkg: 'gcc-aarch64-linux-gnu' },
  { cmd: 'mkfs.ext4', pkg: 'e2fsprogs' },
  { cmd: 'xz', pkg: 'xz-utils' },
  { cmd: 'dpkg-deb', pkg: 'dpkg' },
  { cmd: 'apt-get', pkg: 'apt' },
];

/** The user's cache directory for contpte-lab ($XDG_CACHE_HOME or ~/.cache). */
export function cacheDir(): string {
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'contpte-lab');
}

/** The repository's validate/ folder (the C sources of the helpers). */
export function helperSourceDir(): string {
  // dist/src/validate/setup.js or src/validate/setup.ts: the package root is three or two levels up.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'validate', 'tlbi-count.c'))) return join(dir, 'validate');
    dir = dirname(dir);
  }
  throw new EnvironmentError('validate: the helper sources (validate/tlbi-count.c, validate/labtrace.c) are not next to the package');
}

function onPath(cmd: string): string | null {
  for (const d of (process.env['PATH'] ?? '').split(':')) {
    if (d !== '' && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return null;
}

/** Every missing tool with its package, or a too-old QEMU; throws one EnvironmentError. */
export function checkTools(): void {
  const missing = TOOLS.filter((t) => onPath(t.cmd) === null).map((t) => `${t.cmd} (Debian package ${t.pkg})`);
  if (onPath('qemu-system-aarch64') !== null) {
    const v = spawnSync('qemu-system-aarch64', ['--version'], { encoding: 'utf8' });
    const m = /version (\d+)\./.exec(v.stdout ?? '');
    if (m === null || Number(m[1]) < 9) missing.push(`qemu-system-aarch64 9.0 or later (found: ${(v.stdout ?? '').split('\n')[0] || 'unknown'}; apt-get install -t bookworm-backports qemu-system-arm)`);
  }
  if (missing.length > 0) {
    throw new EnvironmentError(`validate needs: ${missing.join('; ')}. See the README's "Validating against real kernels" block.`);
  }
}

/** Downloads `pkg:arm64` into the cache (once) and unpacks it into `dest`; returns `dest`. */
function fetchPackage(pkg: string, dest: string): void {
  const debs = join(cacheDir(), 'debs');
  mkdirSync(debs, { recursive: true });
  const prefix = `${pkg}_`;
  let deb = readdirSync(debs).find((f) => f.startsWith(prefix) && f.endsWith('_arm64.deb'));
  if (deb === undefined) {
    const r = spawnSync('apt-get', ['download', `${pkg}:arm64`], { cwd: debs, encoding: 'utf8' });
    deb = readdirSync(debs).find((f) => f.startsWith(prefix) && f.endsWith('_arm64.deb'));
    if (r.status !== 0 || deb === undefined) {
      const why = (r.stderr ?? '').split('\n').find((l) => l.startsWith('E:')) ?? `apt-get exited with ${r.status}`;
      throw new EnvironmentError(
        `validate: cannot download ${pkg}:arm64 (${why.trim()}). It needs 'dpkg --add-architecture arm64', the Debian suite that has it (trixie for 6.12, sid for 7.2) in the apt sources, and 'apt-get update'; see the README.`,
      );
    }
  }
  execFileSync('dpkg-deb', ['-x', join(debs, deb), dest]);
}

function findFile(root: string, test: (path: string, name: string) => boolean, depth = 8): string | null {
  if (depth < 0 || !existsSync(root)) return null;
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isFile() && test(p, e.name)) return p;
    if (e.isDirectory()) {
      const r = findFile(p, test, depth - 1);
      if (r !== null) return r;
    }
  }
  return null;
}

/** A kernel tree unpacked from Debian packages (or any folder with a vmlinuz and virtio_blk.ko). */
function kernelIn(dir: string, name: string): RealKernel {
  const image = findFile(dir, (_p, n) => n.startsWith('vmlinuz') || n === 'Image');
  const virtioBlk = findFile(dir, (_p, n) => n === 'virtio_blk.ko' || n === 'virtio_blk.ko.xz');
  if (image === null) throw new UsageError(`--kernel ${name}: no vmlinuz or Image under ${dir}`);
  if (virtioBlk === null) throw new UsageError(`--kernel ${name}: no virtio_blk.ko(.xz) under ${dir} (the ext4 disk needs it; unpack the modules package there too)`);
  const rel = /modules\/([^/]+)\//.exec(virtioBlk)?.[1] ?? name;
  return { name, release: rel, image, virtioBlk };
}

/** `--kernel`: 6.12, 7.2 (fetched and cached) or a folder holding an unpacked kernel. */
export function resolveKernel(spec: string): RealKernel {
  const known = KNOWN_KERNELS[spec];
  if (known === undefined) {
    const dir = resolve(spec);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new UsageError(`--kernel ${spec}: expected ${Object.keys(KNOWN_KERNELS).join(', ')} or a folder with an unpacked arm64 kernel (vmlinuz and virtio_blk.ko)`);
    }
    return kernelIn(dir, spec);
  }
  const dir = join(cacheDir(), 'kernels', known.release);
  if (!existsSync(join(dir, '.complete'))) {
    const tmp = `${dir}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const pkg of known.packages) fetchPackage(pkg, tmp);
    execFileSync('touch', [join(tmp, '.complete')]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return kernelIn(dir, spec);
}

/** The arm64 busybox (busybox-static:arm64), fetched once. */
export function busyboxArm64(): string {
  const dir = join(cacheDir(), 'busybox-arm64');
  const bin = join(dir, 'usr', 'bin', 'busybox');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    fetchPackage('busybox-static', dir);
  }
  if (!existsSync(bin)) throw new EnvironmentError(`validate: busybox-static:arm64 unpacked without usr/bin/busybox (in ${dir})`);
  return bin;
}

/**
 * The Debian arm64 packages of the userland sysroot: the coreutils with every library they need
 * (libc6 with the dynamic loader /lib/ld-linux-aarch64.so.1, libacl1, libselinux1 ...: the
 * dependency closure apt-cache gives for the suite at hand), and the two static shells.
 */
export const SYSROOT_PACKAGES: readonly string[] = ['coreutils'];
export const SYSROOT_STATIC_PACKAGES: readonly string[] = ['bash-static', 'zsh-static'];

/** `pkgs` and what they depend on (pre-depends included), arm64 packages only, sorted. */
function dependencyClosure(pkgs: readonly string[]): string[] {
  const r = spawnSync('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', ...pkgs.map((p) => `${p}:arm64`)], { encoding: 'utf8' });
  const names = (r.stdout ?? '')
    .split('\n')
    .filter((l) => /^[a-z0-9][a-z0-9.+-]*:arm64$/.test(l))
    .map((l) => l.slice(0, -':arm64'.length));
  if (r.status !== 0 || !pkgs.every((p) => names.includes(p))) {
    throw new EnvironmentError(`cannot resolve the dependencies of ${pkgs.map((p) => `${p}:arm64`).join(', ')} with apt-cache: it needs 'dpkg --add-architecture arm64', a Debian suite for arm64 in the apt sources, and 'apt-get update' (see the README)`);
  }
  return [...new Set(names)].sort();
}

/**
 * A Debian arm64 root file system for `run --sysroot` (SYSROOT_PACKAGES with their dependencies
 * and SYSROOT_STATIC_PACKAGES, fetched with `apt-get download` and unpacked with `dpkg-deb -x`,
 * once, into the cache). As a merged-/usr system has them, /bin, /sbin and /lib are links into
 * /usr where the packages did not make them directories, so /lib/ld-linux-aarch64.so.1 (every
 * program's PT_INTERP) resolves.
 */
export function debianSysroot(): string {
  const dir = join(cacheDir(), 'sysroot-arm64');
  // The marker lives beside the root, which the guest sees whole.
  const marker = `${dir}.complete`;
  const request = [...SYSROOT_PACKAGES, ...SYSROOT_STATIC_PACKAGES].join(' ');
  if (existsSync(marker) && readFileSync(marker, 'utf8').split('\n')[0] === request) return dir;
  const packages = [...dependencyClosure(SYSROOT_PACKAGES), ...SYSROOT_STATIC_PACKAGES];
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // One apt-get for every package not downloaded yet (apt's start-up dominates); fetchPackage
  // then names any that is still missing.
  const debs = join(cacheDir(), 'debs');
  mkdirSync(debs, { recursive: true });
  const have = readdirSync(debs);
  const missing = packages.filter((pkg) => !have.some((f) => f.startsWith(`${pkg}_`) && f.endsWith('_arm64.deb')));
  if (missing.length > 0) spawnSync('apt-get', ['download', ...missing.map((pkg) => `${pkg}:arm64`)], { cwd: debs, encoding: 'utf8' });
  for (const pkg of packages) fetchPackage(pkg, tmp);
  for (const d of ['bin', 'sbin', 'lib']) {
    if (!existsSync(join(tmp, d)) && existsSync(join(tmp, 'usr', d))) symlinkSync(`usr/${d}`, join(tmp, d));
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(marker, `${request}\n${packages.join(' ')}\n`);
  return dir;
}

/** Builds `source` with `args` into the cache once per source hash; returns the output's path. */
function buildOnce(source: string, outName: string, compiler: string, flags: readonly string[]): string {
  const text = readFileSync(source);
  const hash = createHash('sha256').update(text).update(flags.join(' ')).digest('hex').slice(0, 16);
  const dir = join(cacheDir(), 'build', hash);
  const out = join(dir, outName);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(compiler, [...flags, '-o', `${out}.tmp`, source], { encoding: 'utf8' });
  if (r.status !== 0) throw new EnvironmentError(`validate: ${compiler} could not build ${source}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(0, 3).join(' | ')}`);
  renameSync(`${out}.tmp`, out);
  return out;
}

/** The TLBI-counting QEMU plugin (a shared object for the host's QEMU). */
export function tlbiPlugin(): string {
  return buildOnce(join(helperSourceDir(), 'tlbi-count.c'), 'tlbi-count.so', 'gcc', ['-shared', '-fPIC', '-O2', '-Wall']);
}

/** The guest tracer (a static arm64 program). */
export function labtrace(): string {
  return buildOnce(join(helperSourceDir(), 'labtrace.c'), 'labtrace', 'aarch64-linux-gnu-gcc', ['-static', '-O2', '-Wall']);
}
