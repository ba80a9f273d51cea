/**
 * The process layer over the real memory manager (src/mm MmKernel + Process): exec's mappings as
 * VMAs, the initial stack read back through the model's translations, and file data shared
 * between write()/read() and MAP_SHARED mappings through the page cache, with truncation
 * unmapping through the mm's unmap_mapping_range.
 */
import { describe, expect, it } from 'vitest';
import { realMmRig } from './real-mm-rig.js';
import { readElfFile } from '../../src/linux/elf.js';
import { EFAULT } from '../../src/util/errno.js';
import { loadElfBinary } from '../../src/linux/exec.js';
import { VM_EXEC, VM_READ, VM_SHARED, VM_WRITE } from '../../src/mm/index.js';
import { firmwareBinary } from '../firmware/cases.js';

const TOP = 2 ** 40;

function setup(sets: readonly string[] = []) {
  const out: string[] = [];
  const { k, mm, p, call } = realMmRig({
    profile: 'linux-6.9',
    sets,
    exec: null,
    scratchBytes: 0,
    writeStdout: (b) => out.push(new TextDecoder().decode(b)),
  });
  return { k, mm, p, call, out };
}

describe('exec over the real memory manager', () => {
  it('hello: the VMAs Linux would have, and a stack the model translates', () => {
    const { mm, p } = setup();
    const r = loadElfBinary(p, readElfFile(firmwareBinary('hello')), { argv: ['hello', 'x'] });
    const rwx = (f: number): string => `${f & VM_READ ? 'r' : '-'}${f & VM_WRITE ? 'w' : '-'}${f & VM_EXEC ? 'x' : '-'}${f & VM_SHARED ? 's' : 'p'}`;
    expect(mm.vmas.all().map((v) => [v.start, v.end, rwx(v.flags), v.file === null ? 'anon' : `file@${v.pgoff}`])).toEqual([
      [0x400000, 0x47f000, 'r-xp', 'file@0'],
      [0x48c000, 0x493000, 'rw-p', 'file@140'],
      [0x493000, 0x498000, 'rw-p', 'anon'],
      // A growing stack: the strings' page and setup_arg_pages' 128 KiB.
      [TOP - 0x21000, TOP, 'rw-p', 'anon'],
    ]);
    expect(r.entry).toBe(0x400600);
    const words = new DataView(mm.copyFromUser(r.sp, 24)!.buffer);
    expect(words.getBigUint64(0, true)).toBe(2n);
    const argv1 = Number(words.getBigUint64(16, true));
    expect(mm.strncpyFromUser(argv1, 16)).toBe('x');
    // padzero cleared the tail of the data segment's last file page (p_filesz ends at 0x4920d8).
    expect([...mm.copyFromUser(0x4920d8, 0xf28)!].every((b) => b === 0)).toBe(true);
    // The text is the file's bytes.
    const file = readElfFile(firmwareBinary('hello')).bytes;
    expect([...mm.copyFromUser(0x400600, 16)!]).toEqual([...file.subarray(0x600, 0x610)]);
  });
});

describe('the stack grows down on faults, as far as RLIMIT_STACK', () => {
  it('a write 1 MiB below the stack grows its VMA to that page; one beyond 8 MiB faults', () => {
    const { mm, p } = setup();
    loadElfBinary(p, readElfFile(firmwareBinary('hello')), { argv: ['hello'] });
    const stack = (): [number, number] => {
      const v = mm.vmas.all().at(-1)!;
      return [v.start, v.end];
    };
    expect(stack()).toEqual([TOP - 0x21000, TOP]);
    expect(mm.copyToUser(TOP - 0x100000 + 8, new Uint8Array([1]))).toBe(1);
    expect(stack()).toEqual([TOP - 0x100000, TOP]);
    // expand_downwards refuses to pass RLIMIT_STACK (8 MiB): the access is a fault.
    expect(mm.copyToUser(TOP - 8 * 1024 * 1024 - 4096, new Uint8Array([1]))).toBe(0);
    expect(stack()).toEqual([TOP - 0x100000, TOP]);
    expect(mm.copyToUser(TOP - 8 * 1024 * 1024, new Uint8Array([1]))).toBe(1);
    expect(stack()).toEqual([TOP - 8 * 1024 * 1024, TOP]);
  });
});

describe('files and shared mappings over the real memory manager', () => {
  it('write() data is seen through MAP_SHARED and stores there are seen by read()', () => {
    const { mm, call } = setup();
    const buf = call('mmap', 0, 65536, 3, 0x22, -1, 0);
    expect(buf).toBeGreaterThan(0);
    mm.copyToUser(buf, new TextEncoder().encode('/tmp/f\0'));
    const fd = call('openat', -100, buf, 0o102, 0o600);
    mm.copyToUser(buf + 256, new TextEncoder().encode('0123456789abcdef'));
    expect(call('write', fd, buf + 256, 16)).toBe(16);
    expect(call('ftruncate', fd, 8192)).toBe(0);
    const map = call('mmap', 0, 8192, 3, 0x01, fd, 0);
    expect(new TextDecoder().decode(mm.copyFromUser(map, 16)!)).toBe('0123456789abcdef');
    expect(mm.copyToUser(map + 4096, new TextEncoder().encode('mapped'))).toBe(6);
    expect(call('pread64', fd, buf + 512, 6, 4096)).toBe(6);
    expect(new TextDecoder().decode(mm.copyFromUser(buf + 512, 6)!)).toBe('mapped');
    // Shrinking the file unmaps the second page: the mapping now faults there (SIGBUS in Linux).
    expect(call('ftruncate', fd, 4096)).toBe(0);
    expect(mm.copyFromUser(map + 4096, 1)).toBeNull();
    expect(new TextDecoder().decode(mm.copyFromUser(map, 4)!)).toBe('0123');
    // A read() into the unreadable page is EFAULT.
    expect(call('read', fd, map + 4096, 4)).toBe(-EFAULT);
  });

  it('a write() whose buffer runs into unmapped memory writes what comes before the hole', () => {
    const { mm, call } = setup();
    const buf = call('mmap', 0, 65536, 3, 0x22, -1, 0);
    mm.copyToUser(buf, new TextEncoder().encode('/tmp/g\0'));
    const fd = call('openat', -100, buf, 0o102, 0o600);
    expect(call('write', fd, buf + 65536 - 4096, 8192)).toBe(4096);
    expect(call('write', fd, buf + 65536, 10)).toBe(-EFAULT);
    expect(call('lseek', fd, 0, 2)).toBe(4096);
  });
});
