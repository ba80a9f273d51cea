/**
 * Statistics, gem5-style: every component declares its own group of counters in one place and
 * increments plain fields on its hot paths (`this.stats.fills++`); one registry snapshots,
 * resets and reports them all. A new counter is one line in the owner's group.
 */

/** Counts by key: TLBIs by operation, faults by kind, folios by order. */
export type Tally = Record<string, number>;

/** A component's counters: numbers and tallies, names in snake_case as they appear in JSON. */
export type StatGroup = Record<string, number | Tally>;

export type StatsSnapshot = Record<string, Record<string, number | Tally>>;

export function bump(t: Tally, key: string, n = 1): void {
  t[key] = (t[key] ?? 0) + n;
}

export class StatsRegistry {
  private readonly groups = new Map<string, StatGroup>();

  /** Registers a component's group under `name` and returns it for the component to keep. */
  register<T extends StatGroup>(name: string, group: T): T {
    if (this.groups.has(name)) throw new Error(`stats group '${name}' registered twice`);
    this.groups.set(name, group);
    return group;
  }

  group(name: string): StatGroup | undefined {
    return this.groups.get(name);
  }

  /** A deep copy of every group, safe to keep while counting goes on. */
  snapshot(): StatsSnapshot {
    const out: StatsSnapshot = {};
    for (const [name, group] of this.groups) {
      const copy: Record<string, number | Tally> = {};
      for (const [k, v] of Object.entries(group)) copy[k] = typeof v === 'number' ? v : { ...v };
      out[name] = copy;
    }
    return out;
  }

  /** Zeroes every counter and empties every tally (the objects stay, components hold them). */
  reset(): void {
    for (const group of this.groups.values()) {
      for (const [k, v] of Object.entries(group)) {
        if (typeof v === 'number') group[k] = 0;
        else for (const key of Object.keys(v)) delete v[key];
      }
    }
  }
}
