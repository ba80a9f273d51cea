/** Builds small ELF64 images byte by byte, for loader tests and malformed-file cases. */

export interface PhdrSpec {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfSpec {
  type?: number;
  machine?: number;
  eiClass?: number;
  eiData?: number;
  entry?: number;
  phoff?: number;
  phentsize?: number;
  /** Overrides the number of program headers written in the header. */
  phnum?: number;
  phdrs: PhdrSpec[];
  /** Total file size (at least the headers); content after them is a byte pattern. */
  size: number;
}

export const PT_LOAD = 1;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_TLS = 7;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;

/** A file whose byte at offset i (past the headers) is (i * 7 + 3) & 0xff, so copies can be checked. */
export function contentByte(i: number): number {
  return (i * 7 + 3) & 0xff;
}

export function buildElf(spec: ElfSpec): Uint8Array {
  const b = new Uint8Array(spec.size);
  for (let i = 0; i < b.length; i++) b[i] = contentByte(i);
  const dv = new DataView(b.buffer);
  const phoff = spec.phoff ?? 64;
  b.fill(0, 0, Math.min(b.length, 64));
  b.set([0x7f, 0x45, 0x4c, 0x46, spec.eiClass ?? 2, spec.eiData ?? 1, 1, 0]);
  dv.setUint16(16, spec.type ?? 2, true);
  dv.setUint16(18, spec.machine ?? 183, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(spec.entry ?? 0x400000), true);
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, spec.phentsize ?? 56, true);
  dv.setUint16(56, spec.phnum ?? spec.phdrs.length, true);
  spec.phdrs.forEach((ph, i) => {
    const at = phoff + i * 56;
    if (at + 56 > b.length) return;
    b.fill(0, at, at + 56);
    dv.setUint32(at, ph.type, true);
    dv.setUint32(at + 4, ph.flags, true);
    dv.setBigUint64(at + 8, BigInt(ph.offset), true);
    dv.setBigUint64(at + 16, BigInt(ph.vaddr), true);
    dv.setBigUint64(at + 24, BigInt(ph.vaddr), true);
    dv.setBigUint64(at + 32, BigInt(ph.filesz), true);
    dv.setBigUint64(at + 40, BigInt(ph.memsz), true);
    dv.setBigUint64(at + 48, BigInt(ph.align), true);
  });
  return b;
}

/**
 * A small static executable shaped like the firmware's: text at 0x400000 (R X, headers
 * included), data + bss at 0x411f00 (RW, file bytes up to 0x412100, bss to 0x414800), a
 * GNU_STACK header.
 */
export function smallExec(): ElfSpec {
  return {
    entry: 0x400100,
    size: 0x2200,
    phdrs: [
      { type: PT_LOAD, flags: 5, offset: 0, vaddr: 0x400000, filesz: 0x1800, memsz: 0x1800, align: 0x10000 },
      { type: PT_LOAD, flags: 6, offset: 0x1f00, vaddr: 0x411f00, filesz: 0x200, memsz: 0x2900, align: 0x10000 },
      { type: PT_GNU_STACK, flags: 6, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 16 },
    ],
  };
}
