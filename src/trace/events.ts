/**
 * Typed events from every component. Addresses are numbers; raw 64-bit values are U64 (sinks
 * format them). `seq` is assigned by the tracer: it is the virtual time base of a trace.
 * Components build an event only when the tracer wants its kind (`tracer.on.<kind>`), so an
 * untraced run pays one property read per would-be event.
 */
import type { U64 } from '../util/u64.js';

export type Access = 'read' | 'write' | 'exec';

export type FaultKind = 'translation' | 'access_flag' | 'permission' | 'address_size' | 'alignment';

export interface FaultEvent {
  kind: 'fault';
  va: number;
  access: Access;
  fault: FaultKind;
  level: number;
  /** Guest PC and its disassembly, when the fault came from the guest. */
  pc?: number;
  insn?: string;
  /** How the memory manager handled it: the fault path taken, or the signal delivered. */
  handled: string;
}

export interface WalkEvent {
  kind: 'walk';
  va: number;
  asid: number;
  /** Descriptors read. */
  levels: number;
  result: 'ok' | FaultKind;
  pa?: number;
  level: number;
}

export interface TlbEntryEvent {
  kind: 'tlb_fill' | 'tlb_evict' | 'tlb_invalidate';
  /** The CPU whose TLB it is (a broadcast TLBI removes entries from other CPUs' TLBs). */
  cpu: number;
  /** Start of the VA range the entry covers and its size in bytes. */
  va: number;
  span: number;
  pa: number;
  /** The ASID the entry is tagged with, or -1 for a global entry. */
  asid: number;
  contiguous: boolean;
  /** Entries resident in that CPU's TLB after this event: its occupancy counter track. */
  occupancy: number;
}

export interface PteWriteEvent {
  kind: 'pte_write';
  va: number;
  /** Physical address of the descriptor. */
  ptep: number;
  level: number;
  old: U64;
  new: U64;
  chain: string;
}

export interface ContpteEvent {
  kind: 'fold' | 'unfold' | 'contpte_convert' | 'fold_attempt';
  /** First VA of the 64 KiB block. */
  va: number;
  chain: string;
}

export interface TlbiEvent {
  kind: 'tlbi';
  op: string;
  operand: U64;
  /** A readable decoding of the operand (ASID, VA or range, TTL). */
  decoded: string;
  chain: string;
  site: string;
  /** TLB entries this operation removed. */
  removed: number;
}

export interface DsbEvent {
  kind: 'dsb';
  domain: 'ishst' | 'ish' | 'nshst' | 'nsh' | 'sy';
  chain: string;
}

export interface SyscallEvent {
  kind: 'syscall';
  nr: number;
  name: string;
  args: number[];
  ret: number;
  pc: number;
}

export interface MarkerEvent {
  kind: 'marker';
  action: 'mark' | 'reset' | 'dump' | 'ops';
  name: string;
  value?: number;
}

export interface CheckerEvent {
  kind: 'bbm_violation' | 'contig_violation';
  va: number;
  rule: string;
  detail: string;
  chain: string;
}

export type LabEvent =
  | FaultEvent
  | WalkEvent
  | TlbEntryEvent
  | PteWriteEvent
  | ContpteEvent
  | TlbiEvent
  | DsbEvent
  | SyscallEvent
  | MarkerEvent
  | CheckerEvent;

export type EventKind = LabEvent['kind'];

export const EVENT_KINDS: readonly EventKind[] = [
  'fault',
  'walk',
  'tlb_fill',
  'tlb_evict',
  'tlb_invalidate',
  'pte_write',
  'fold',
  'unfold',
  'contpte_convert',
  'fold_attempt',
  'tlbi',
  'dsb',
  'syscall',
  'marker',
  'bbm_violation',
  'contig_violation',
] as const;

/** An event as a sink receives it. */
export type TraceRecord = LabEvent & { seq: number };
