/**
 * Events over time for one run, for the report's line chart: from a JSON-lines trace (events per
 * kind in equal slices of the event sequence, streamed so a trace of any size fits in a few
 * hundred numbers), or from the guest's dumps (the counts at each dump).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { LineChart } from './svg.js';
import type { Summary } from './summary.js';

export interface Timeline {
  /** Where the points come from, for the chart's axis. */
  xUnit: string;
  xLabels: string[];
  series: { name: string; values: number[] }[];
}

/** Our JSONL sink writes `{"seq":N,"kind":"K",` first; anything else is parsed as JSON. */
const PREFIX = /^\{"seq":(\d+),"kind":"([a-z_]+)"/;

/**
 * Counts of each event kind in about `buckets` equal slices of the sequence. Slices start one
 * event wide and double (merging neighbours) whenever the sequence outgrows them.
 */
export async function timelineFromJsonl(path: string, buckets = 48, maxSeries = 8): Promise<Timeline> {
  const cap = 2 * buckets;
  let width = 1;
  const counts = new Map<string, number[]>();
  let lastSeq = -1;
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) {
    let seq: number;
    let kind: string;
    const m = PREFIX.exec(line);
    if (m !== null) {
      seq = Number(m[1]);
      kind = m[2]!;
    } else {
      if (line.trim() === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        continue;
      }
      const o = v as { seq?: unknown; kind?: unknown };
      if (typeof o.seq !== 'number' || typeof o.kind !== 'string') continue;
      seq = o.seq;
      kind = o.kind;
    }
    while (seq >= width * cap) {
      for (const arr of counts.values()) {
        for (let i = 0; i < cap / 2; i++) arr[i] = (arr[2 * i] ?? 0) + (arr[2 * i + 1] ?? 0);
        arr.fill(0, cap / 2);
      }
      width *= 2;
    }
    let arr = counts.get(kind);
    if (arr === undefined) {
      arr = new Array<number>(cap).fill(0);
      counts.set(kind, arr);
    }
    arr[Math.floor(seq / width)]!++;
    lastSeq = Math.max(lastSeq, seq);
  }
  const used = Math.max(1, Math.floor(lastSeq / width) + 1);
  const ranked = [...counts.entries()]
    .map(([name, arr]) => ({ name, values: arr.slice(0, used), total: arr.reduce((a, b) => a + b, 0) }))
    .sort((a, b) => b.total - a.total || a.name.localeCompare(b.name))
    .slice(0, maxSeries);
  return {
    xUnit: `event sequence (each point: ${width.toLocaleString('en-US')} events)`,
    xLabels: Array.from({ length: used }, (_, i) => (i * width).toLocaleString('en-US')),
    series: ranked.map(({ name, values }) => ({ name, values })),
  };
}

/** The counts at each dump of a run (each dump covers the last reset to that dump). */
export function timelineFromDumps(s: Summary): Timeline | null {
  if (s.dumps.length === 0) return null;
  const pick: [string, (i: number) => number][] = [
    ['faults', (i) => s.dumps[i]!.counts.faults.total],
    ['PTE writes', (i) => s.dumps[i]!.counts.pte_writes],
    ['contpte_convert', (i) => s.dumps[i]!.counts.contpte_convert],
    ['TLBIs', (i) => s.dumps[i]!.counts.tlbi.total],
    ['DSBs', (i) => s.dumps[i]!.counts.dsb],
  ];
  return {
    xUnit: 'dump (guest marker)',
    xLabels: s.dumps.map((d) => d.label),
    series: pick.map(([name, f]) => ({ name, values: s.dumps.map((_, i) => f(i)) })),
  };
}

export function timelineChart(t: Timeline, title: string): LineChart {
  return { title, xUnit: t.xUnit, xLabels: t.xLabels, yUnit: 'events', series: t.series };
}
