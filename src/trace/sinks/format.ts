/**
 * How a trace record's fields become JSON text, shared by the sinks: numbers stay numbers, raw
 * 64-bit values (U64) become 16-digit hex strings, strings are escaped to pure ASCII (so a file's
 * length in characters is its length in bytes, which the size cap relies on), and a PTE write
 * carries both descriptors decoded.
 *
 * The serializers are written per kind for speed; a field added to an event in events.ts must be
 * added here too (the sinks' test compares every field of every kind with what was emitted).
 */
import { decodeDescriptor, describeDescriptor } from '../../mmu/descriptor.js';
import type { Level } from '../../mmu/geometry.js';
import type { EventKind, TraceRecord } from '../events.js';
import type { U64 } from '../../util/u64.js';

/** Distinct strings (chains, ops, names) repeat millions of times; their escaped form is kept. */
const STRING_CACHE_LIMIT = 20_000;
const stringCache = new Map<string, string>();

const NON_ASCII = /[^\x00-\x7e]/;
const NON_ASCII_G = /[\u007f-\uffff]/g;

function escapeNonAscii(c: string): string {
  return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
}

/** Printable ASCII without '"' and '\\': the string is its own JSON body. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A JSON string literal with everything outside printable ASCII escaped. */
export function jsonString(s: string): string {
  if (PLAIN.test(s)) return '"' + s + '"';
  const hit = stringCache.get(s);
  if (hit !== undefined) return hit;
  let j = JSON.stringify(s);
  if (NON_ASCII.test(j)) j = j.replace(NON_ASCII_G, escapeNonAscii);
  if (stringCache.size < STRING_CACHE_LIMIT) stringCache.set(s, j);
  return j;
}

const HEX_PAD = '00000000';

/** A U64 as "0x" and 16 hex digits. */
export function u64HexFast(v: U64): string {
  const hi = v.hi.toString(16);
  const lo = v.lo.toString(16);
  return '0x' + HEX_PAD.slice(hi.length) + hi + HEX_PAD.slice(lo.length) + lo;
}

export interface FieldOptions {
  /** Add `old_decoded` / `new_decoded` to PTE writes (describeDescriptor of each value). */
  decodePtes: boolean;
}

/**
 * Level-3 descriptions by attribute bits (lo[11:0], hi[31:16]): a page's description is its
 * attributes' with the output address (lo[31:12], hi[15:0]) put in, so the slow decode runs once
 * per distinct set of attributes instead of once per PTE write.
 */
const pageDescCache = new Map<number, { head: string; tail: string } | string>();

function describePte(v: U64, level: number): string {
  const { lo, hi } = v;
  if (lo === 0 && hi === 0) return 'none';
  if (level !== 3) return describeDescriptor(decodeDescriptor(v, (level >= 0 && level <= 3 ? level : 3) as Level));
  const key = (hi >>> 16) * 4096 + (lo & 0xfff);
  let c = pageDescCache.get(key);
  if (c === undefined) {
    // Described with a zero output address, then split where the address goes.
    const text = describeDescriptor(decodeDescriptor({ lo: lo & 0xfff, hi: hi & 0xffff0000 }, 3));
    const at = text.indexOf('oa=0x0');
    c = at < 0 ? text : { head: text.slice(0, at + 'oa=0x'.length), tail: text.slice(at + 'oa=0x0'.length) };
    pageDescCache.set(key, c);
  }
  if (typeof c === 'string') return c;
  const oa = (hi & 0xffff) * 4294967296 + ((lo & 0xfffff000) >>> 0);
  return c.head + oa.toString(16) + c.tail;
}

const q = jsonString;

/** `,"pc":N` style optional fields. */
function optNum(key: string, v: number | undefined): string {
  return v === undefined ? '' : `,"${key}":${v}`;
}

/**
 * The record's fields as the inside of a JSON object (no braces), `seq` left out: the sinks place
 * it themselves. `kind` is included only when `withKind`. One serializer per kind (this is the
 * hot path of tracing); test/trace/sinks.test.ts checks that every field of every kind comes out.
 */
export function recordFields(r: TraceRecord, opts: FieldOptions, withKind: boolean): string {
  const k = withKind ? `"kind":"${r.kind}",` : '';
  switch (r.kind) {
    case 'fault':
      return `${k}"va":${r.va},"access":"${r.access}","fault":"${r.fault}","level":${r.level}${optNum('pc', r.pc)}${r.insn === undefined ? '' : ',"insn":' + q(r.insn)},"handled":${q(r.handled)}`;
    case 'walk':
      return `${k}"va":${r.va},"asid":${r.asid},"levels":${r.levels},"result":"${r.result}"${optNum('pa', r.pa)},"level":${r.level}`;
    case 'tlb_fill':
    case 'tlb_evict':
    case 'tlb_invalidate':
      return `${k}"cpu":${r.cpu},"va":${r.va},"span":${r.span},"pa":${r.pa},"asid":${r.asid},"contiguous":${r.contiguous},"occupancy":${r.occupancy}`;
    case 'pte_write': {
      const base = `${k}"va":${r.va},"ptep":${r.ptep},"level":${r.level},"old":"${u64HexFast(r.old)}","new":"${u64HexFast(r.new)}","chain":${q(r.chain)}`;
      return opts.decodePtes ? `${base},"old_decoded":${q(describePte(r.old, r.level))},"new_decoded":${q(describePte(r.new, r.level))}` : base;
    }
    case 'fold':
    case 'unfold':
    case 'contpte_convert':
    case 'fold_attempt':
      return `${k}"va":${r.va},"chain":${q(r.chain)}`;
    case 'tlbi':
      return `${k}"op":${q(r.op)},"operand":"${u64HexFast(r.operand)}","decoded":${q(r.decoded)},"chain":${q(r.chain)},"site":${q(r.site)},"removed":${r.removed}`;
    case 'dsb':
      return `${k}"domain":"${r.domain}","chain":${q(r.chain)}`;
    case 'syscall':
      return `${k}"nr":${r.nr},"name":${q(r.name)},"args":[${r.args.join(',')}],"ret":${r.ret},"pc":${r.pc}`;
    case 'marker':
      return `${k}"action":"${r.action}","name":${q(r.name)}${optNum('value', r.value)}`;
    case 'bbm_violation':
    case 'contig_violation':
      return `${k}"va":${r.va},"rule":${q(r.rule)},"detail":${q(r.detail)},"chain":${q(r.chain)}`;
    default: {
      const never: never = r;
      throw new Error(`no serializer for event ${JSON.stringify(never)}`);
    }
  }
}

/** The component a kind belongs to: one Perfetto track each. */
export type Track = 'engine/fault' | 'mmu/tlb' | 'walker' | 'pgtable' | 'tlbi' | 'syscalls' | 'markers' | 'checker';

export const TRACKS: readonly Track[] = ['engine/fault', 'mmu/tlb', 'walker', 'pgtable', 'tlbi', 'syscalls', 'markers', 'checker'];

export function trackOf(kind: EventKind): Track {
  switch (kind) {
    case 'fault':
      return 'engine/fault';
    case 'walk':
      return 'walker';
    case 'tlb_fill':
    case 'tlb_evict':
    case 'tlb_invalidate':
      return 'mmu/tlb';
    case 'pte_write':
    case 'fold':
    case 'unfold':
    case 'contpte_convert':
    case 'fold_attempt':
      return 'pgtable';
    // A DSB completes the TLBIs before it: it belongs on their track.
    case 'tlbi':
    case 'dsb':
      return 'tlbi';
    case 'syscall':
      return 'syscalls';
    case 'marker':
      return 'markers';
    case 'bbm_violation':
    case 'contig_violation':
      return 'checker';
    default: {
      const never: never = kind;
      throw new Error(`no track for event kind ${String(never)}`);
    }
  }
}

/** A short readable name for an event on a timeline. */
export function eventName(r: TraceRecord): string {
  switch (r.kind) {
    case 'fault':
      return `fault ${r.access} ${r.fault}`;
    case 'walk':
      return r.result === 'ok' ? 'walk' : `walk ${r.result}`;
    case 'tlb_fill':
    case 'tlb_evict':
    case 'tlb_invalidate':
      return r.contiguous ? `${r.kind} (contiguous)` : r.kind;
    case 'pte_write':
    case 'fold':
    case 'unfold':
    case 'contpte_convert':
    case 'fold_attempt':
      return r.kind;
    case 'tlbi':
      return `TLBI ${r.op}`;
    case 'dsb':
      return `DSB ${r.domain}`;
    case 'syscall':
      return r.name;
    case 'marker':
      return r.action === 'mark' ? r.name : `${r.action} ${r.name}`;
    case 'bbm_violation':
    case 'contig_violation':
      return `${r.kind} ${r.rule}`;
    default: {
      const never: never = r;
      throw new Error(`no name for event ${JSON.stringify(never)}`);
    }
  }
}
