/**
 * Walk geometry of VMSAv8-64 stage 1 with the 4 KiB granule (reference A.1, A.3): which VA bits
 * each level indexes, how much one entry maps, and how many entries make a contiguous set.
 * Everything is a pure function of the level; 16K/64K granules would add a parameter here.
 */

export type Level = 0 | 1 | 2 | 3;
/** Levels at which a leaf (block or page) may appear with the 4 KiB granule and no LPA2. */
export type LeafLevel = 1 | 2 | 3;

export const GRANULE_SHIFT = 12;
export const GRANULE_SIZE = 1 << GRANULE_SHIFT;
/** Index bits per level: 512 entries of 8 bytes in a 4 KiB table. */
export const LEVEL_BITS = 9;
export const ENTRIES_PER_TABLE = 1 << LEVEL_BITS;
export const DESC_SIZE = 8;

/** With the 4 KiB granule a contiguous set is 16 entries at every level (ARM ARM D8.6.1). */
export const CONT_ENTRIES = 16;

/** T0SZ bounds without FEAT_LVA (lower) and FEAT_TTST (upper): 48-bit down to 25-bit VAs. */
export const T0SZ_MIN = 16;
export const T0SZ_MAX = 39;

/** 2^n for n = 0..64, so hot paths never call Math.pow. */
export const POW2: readonly number[] = Array.from({ length: 65 }, (_, n) => 2 ** n);

/** log2 of the bytes one entry at `level` maps: 39, 30, 21, 12. */
export function levelShift(level: Level): number {
  return GRANULE_SHIFT + LEVEL_BITS * (3 - level);
}

/** Bytes one entry at `level` maps: 512 GiB, 1 GiB, 2 MiB, 4 KiB. */
export function levelSize(level: Level): number {
  return POW2[levelShift(level)]!;
}

/** Bytes a contiguous set at `level` maps: 8 TiB (never used), 16 GiB, 32 MiB, 64 KiB. */
export function contSpanSize(level: Level): number {
  return CONT_ENTRIES * levelSize(level);
}

/**
 * First level of a walk for a VA of `inputBits` bits: each level resolves 9 bits above the 12-bit
 * page offset, and the start level takes whatever is left (ARM ARM D8.2.7, "initial lookup level").
 */
export function startLevel(inputBits: number): Level {
  return (4 - Math.floor((inputBits - 4) / LEVEL_BITS)) as Level;
}

/** Entries in the start-level table (fewer than 512 when the VA size is not a multiple of 9 + 12). */
export function startTableEntries(inputBits: number): number {
  return POW2[inputBits - levelShift(startLevel(inputBits))]!;
}

/** `x` rounded down to a multiple of `size` (a power of two); exact for x below 2^53. */
export function alignDown(x: number, size: number): number {
  return x - (x % size);
}

/** Index of `va` in a table at `level` (the start level may have fewer than 512 entries). */
export function tableIndex(va: number, level: Level, entries = ENTRIES_PER_TABLE): number {
  return Math.floor(va / levelSize(level)) % entries;
}

/** Human size: 4K, 64K, 2M, 32M, 1G, 16G, 512G. */
export function formatSize(bytes: number): string {
  const units: [number, string][] = [
    [POW2[40]!, 'T'],
    [POW2[30]!, 'G'],
    [POW2[20]!, 'M'],
    [POW2[10]!, 'K'],
  ];
  for (const [u, s] of units) if (bytes >= u && bytes % u === 0) return `${bytes / u}${s}`;
  return `${bytes}`;
}
