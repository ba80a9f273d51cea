/**
 * From the CPUs simulated to the machine modeled: a run may simulate N busy CPUs in detail (each
 * running a task of a symmetric workload, e.g. will-it-scale -t 16) while the machine it stands
 * for has M busy CPUs (`cost.busy_cpus`, e.g. 128) out of C (the run's `cpus`, or `cost.cpus` if
 * larger). What the other M − N CPUs would do is not simulated; under the symmetry assumption each
 * of them does what an average simulated busy CPU did. This module says what that implies for
 * TLB maintenance, and labels every figure as the EXTRAPOLATION it is; the counts (`cpus[]`
 * included) stay the simulated ones.
 *
 * With B broadcast TLBIs and T TLBIs in all issued by the N simulated busy CPUs:
 *   each simulated broadcast stands for M/N broadcasts of the modeled machine: B·M/N in all;
 *   a busy CPU issues T/N TLBIs and receives the broadcasts of the M − 1 other busy CPUs,
 *     B·(M − 1)/N (its own are not received, its clones' are);
 *   an idle CPU receives every broadcast, B·M/N;
 *   the machine receives B·M/N·(C − 1) (every broadcast reaches the C − 1 other CPUs).
 * With M = N these are the simulated averages, exactly. The cost model's `tlbi_received` item,
 * broadcasts × (busy_cpus − 1), is the same assumption per op (cost.ts).
 *
 * The simulated busy CPUs are those that issued at least one TLBI in the measured counts (the
 * local flushes an ASID rollover owes every CPU aside). A
 * harness whose parent issues TLBIs inside the measured region (it forks, it exits) counts as
 * one more busy CPU; measure between the workers' own markers to keep it out.
 */
import type { Counts } from './summary.js';
import { isBroadcastTlbi, type CostParams } from './cost.js';

export interface CpuExtrapolation {
  /** Always true: nothing below was simulated. */
  extrapolated: true;
  /** C, M, N, and which CPUs the N are. */
  modeled_cpus: number;
  modeled_busy_cpus: number;
  simulated_busy_cpus: number;
  simulated: number[];
  /** M/N: the modeled busy CPUs each simulated one stands for. */
  factor: number;
  /** The modeled machine's TLBIs and broadcasts, and what its CPUs received. */
  tlbi_issued: number;
  broadcasts: number;
  tlbi_received: number;
  per_busy_cpu: { tlbi_issued: number; tlbi_received: number };
  per_idle_cpu: { tlbi_received: number };
}

/**
 * The modeled machine's TLB maintenance from the simulated counts, or null when there is nothing
 * to extrapolate: no CPU issued a TLBI, or the modeled busy CPUs are not more than the simulated ones.
 */
export function extrapolateCpus(c: Counts, p: Pick<CostParams, 'cpus' | 'busy_cpus'>): CpuExtrapolation | null {
  // An ASID rollover's local flush is owed by every CPU, busy or not: it does not make one busy.
  const owed = c.asid.local_flushes_by_cpu;
  const simulated = c.cpus.filter((x) => x.tlbi_issued - (owed[String(x.cpu)] ?? 0) > 0).map((x) => x.cpu);
  const n = simulated.length;
  const m = p.busy_cpus;
  if (n === 0 || m <= n) return null;
  const cpus = Math.max(c.cpus.length, p.cpus, m);
  let b = 0;
  for (const [op, v] of Object.entries(c.tlbi.by_op)) if (isBroadcastTlbi(op)) b += v;
  const t = c.tlbi.total;
  const factor = m / n;
  const broadcasts = b * factor;
  return {
    extrapolated: true,
    modeled_cpus: cpus,
    modeled_busy_cpus: m,
    simulated_busy_cpus: n,
    simulated,
    factor,
    tlbi_issued: t * factor,
    broadcasts,
    tlbi_received: broadcasts * (cpus - 1),
    per_busy_cpu: { tlbi_issued: t / n, tlbi_received: (b * (m - 1)) / n },
    per_idle_cpu: { tlbi_received: cpus > m ? broadcasts : 0 },
  };
}
