/**
 * Where the installed package is, and the firmware it ships (package.json "files":
 * firmware/bin), so a script in another project can run a bundled program by name.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';

/** The programs of firmware/bin (firmware/Makefile's PROGRAMS and MULTITASK), by name. */
export const FIRMWARE = [
  'hello', 'page_fault1', 'page_fault2', 'page_fault3', 'read_fault', 'mprotect_page', 'partial_munmap', 'compute', 'stride',
  'syscalls', 'cow_data', 'mm_calls', 'ipc', 'calls', 'collapse',
  'wis_harness', 'fork_cow', 'block_ops', 'signals', 'pipe_pingpong', 'threads', 'spawn', 'fork_churn', 'procmem', 'memlock', 'sysvshm',
  'tagged_ptr', 'musl_libc', 'code_write', 'punch_hole', 'collapse_cases',
] as const;
export type FirmwareName = (typeof FIRMWARE)[number];

let root: string | undefined;

/** The package's root directory: the nearest parent of this module with contpte-lab's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'contpte-lab') return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`contpte-lab: no package.json of contpte-lab above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The absolute path of a bundled firmware program, e.g. firmwarePath('page_fault3'). */
export function firmwarePath(name: FirmwareName): string {
  if (!(FIRMWARE as readonly string[]).includes(name)) {
    throw new UsageError(`firmwarePath: '${String(name)}' is not a bundled program (one of ${FIRMWARE.join(', ')})`);
  }
  return join(packageRoot(), 'firmware', 'bin', name);
}

/**
 * The host path of `elf`: as given when it exists there (absolute, or relative to the working
 * directory); otherwise a relative path is looked up in the package (`firmware/bin/page_fault3`
 * works from any directory). A path found nowhere is returned as given, for the loader's error.
 */
export function resolveElf(elf: string): string {
  if (isAbsolute(elf) || existsSync(elf)) return elf;
  const inPackage = resolve(packageRoot(), elf);
  return existsSync(inPackage) ? inPackage : elf;
}
