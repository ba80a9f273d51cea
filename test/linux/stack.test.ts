import { describe, expect, it } from 'vitest';
import {
  AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_EXECFN, AT_FLAGS, AT_GID, AT_HWCAP, AT_HWCAP2, AT_NULL, AT_PAGESZ, AT_PHDR,
  AT_PHENT, AT_PHNUM, AT_PLATFORM, AT_RANDOM, AT_RSEQ_ALIGN, AT_RSEQ_FEATURE_SIZE, AT_SECURE, AT_UID, AT_BASE,
  layoutStack, type StackInput,
} from '../../src/linux/stack.js';
import { UsageError } from '../../src/util/errors.js';

const TOP = 2 ** 40;
const random = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);

function input(over: Partial<StackInput> = {}): StackInput {
  return {
    top: TOP,
    argv: ['prog', 'a b'],
    envp: ['X=1'],
    execfn: '/bin/prog',
    random,
    aux: { hwcap: 0x1234, hwcap2: 0x83, phdr: 0x400040, phnum: 6, entry: 0x400600, uid: 1000, gid: 1001, rseq: { featureSize: 28, align: 32 } },
    ...over,
  };
}

function words(bytes: Uint8Array): bigint[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 8 }, (_, i) => dv.getBigUint64(i * 8, true));
}

describe('the initial stack, byte for byte', () => {
  it('places strings, platform, random bytes and the tables where create_elf_tables does', () => {
    const l = layoutStack(input());
    // Strings from one pointer below the top: "/bin/prog\0" (10), "X=1\0" (4), "a b\0" (4), "prog\0" (5).
    expect(l.execfnAddr).toBe(TOP - 18);
    expect(l.envpAddrs).toEqual([TOP - 22]);
    expect(l.argvAddrs).toEqual([TOP - 31, TOP - 26]);
    expect([l.argStart, l.argEnd, l.envEnd]).toEqual([TOP - 31, TOP - 22, TOP - 18]);
    // arg_start rounded down to 16, then "aarch64\0" and 16 random bytes.
    expect(l.platformAddr).toBe(TOP - 40);
    expect(l.randomAddr).toBe(TOP - 56);
    // 21 auxv pairs (336 bytes) + 6 words of argc/argv/envp (48) below TOP - 56, rounded to 16.
    expect(l.sp).toBe(TOP - 448);

    expect(l.strings.map((s) => [s.addr, new TextDecoder().decode(s.bytes)])).toEqual([
      [TOP - 18, '/bin/prog\0'],
      [TOP - 22, 'X=1\0'],
      [TOP - 26, 'a b\0'],
      [TOP - 31, 'prog\0'],
    ]);
    const [platform, rnd, table] = l.tables;
    expect([platform!.addr, new TextDecoder().decode(platform!.bytes)]).toEqual([TOP - 40, 'aarch64\0']);
    expect([rnd!.addr, [...rnd!.bytes]]).toEqual([TOP - 56, [...random]]);
    expect(table!.addr).toBe(TOP - 448);
    const T = BigInt(TOP);
    expect(words(table!.bytes)).toEqual([
      2n, T - 31n, T - 26n, 0n, T - 22n, 0n,
      BigInt(AT_HWCAP), 0x1234n,
      BigInt(AT_PAGESZ), 4096n,
      BigInt(AT_CLKTCK), 100n,
      BigInt(AT_PHDR), 0x400040n,
      BigInt(AT_PHENT), 56n,
      BigInt(AT_PHNUM), 6n,
      BigInt(AT_BASE), 0n,
      BigInt(AT_FLAGS), 0n,
      BigInt(AT_ENTRY), 0x400600n,
      BigInt(AT_UID), 1000n,
      BigInt(AT_EUID), 1000n,
      BigInt(AT_GID), 1001n,
      BigInt(AT_EGID), 1001n,
      BigInt(AT_SECURE), 0n,
      BigInt(AT_RANDOM), T - 56n,
      BigInt(AT_HWCAP2), 0x83n,
      BigInt(AT_EXECFN), T - 18n,
      BigInt(AT_PLATFORM), T - 40n,
      BigInt(AT_RSEQ_FEATURE_SIZE), 28n,
      BigInt(AT_RSEQ_ALIGN), 32n,
      BigInt(AT_NULL), 0n,
    ]);
    // The table ends 8 bytes below the random bytes: only the table moved down for alignment.
    expect(table!.addr + table!.bytes.length).toBe(TOP - 64);
  });

  it('keeps sp 16-byte aligned for every argument count', () => {
    const seen = new Set<number>();
    for (let n = 0; n < 8; n++) {
      const l = layoutStack(input({ argv: Array.from({ length: n + 1 }, (_, i) => 'x'.repeat(i)), envp: [] }));
      expect(l.sp % 16).toBe(0);
      seen.add((l.randomAddr - (l.tables[2]!.addr + l.tables[2]!.bytes.length)) % 16);
    }
    // Both parities of the word count occur, so the gap is 0 for some and 8 for others.
    expect([...seen].sort()).toEqual([0, 8]);
  });

  it('refuses strings Linux would refuse', () => {
    expect(() => layoutStack(input({ argv: ['a\0b'] }))).toThrow(new UsageError('argument 0 contains a NUL byte'));
    expect(() => layoutStack(input({ envp: ['Y='.padEnd(140000, 'y')] }))).toThrow(
      new UsageError("environment string 0 is 140001 bytes long; Linux takes at most 131072 (MAX_ARG_STRLEN)"),
    );
    const many = Array.from({ length: 20 }, () => 'z'.repeat(110000));
    expect(() => layoutStack(input({ argv: many }))).toThrow(
      // 20 × 110001 + "X=1\0" + "/bin/prog\0"; 2 MiB less 21 pointers.
      new UsageError('arguments, environment and program name take 2200034 bytes; Linux allows 2096984 here (E2BIG)'),
    );
  });
});
