import { UsageError } from './errors.js';

/**
 * Parses an integer given by a user: decimal, 0x hex, 0b binary, `_` separators, and an optional
 * K/M/G/T suffix (powers of 1024). `what` names the input in the error message.
 */
export function parseUserInt(text: string, what: string): bigint {
  const t = text.trim().replace(/_/g, '');
  const m = /^(0x[0-9a-f]+|0b[01]+|[0-9]+)([kmgt]i?b?)?$/i.exec(t);
  if (!m) throw new UsageError(`${what}: '${text}' is not a number (expected decimal, 0x hex or 0b binary, optionally with K/M/G)`);
  let v = BigInt(m[1]!);
  const suffix = (m[2] ?? '').charAt(0).toLowerCase();
  const shift = { '': 0n, k: 10n, m: 20n, g: 30n, t: 40n }[suffix] ?? 0n;
  v <<= shift;
  return v;
}

/** Like parseUserInt, but the value must fit a non-negative safe integer. */
export function parseUserNumber(text: string, what: string): number {
  const v = parseUserInt(text, what);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new UsageError(`${what}: '${text}' is too large (at most 2^53-1)`);
  return Number(v);
}

/** A positive number of seconds (`--timeout`), fractions allowed. */
export function parsePositiveSeconds(text: string, what: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${what}: '${text}' is not a positive number of seconds`);
  return v;
}

export function hex(n: number, width = 0): string {
  return '0x' + n.toString(16).padStart(width, '0');
}
