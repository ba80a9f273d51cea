/** What the virtual clock is charged for a syscall's work and for TLBIs (machine/clock-cost.ts). */
import { describe, expect, it } from 'vitest';
import { ClockMeter, COPY_CYCLES_PER_BYTE, SYSCALL_WORK_CYCLES, type ClockCostSources } from '../../src/machine/clock-cost.js';
import { syscallNumber } from '../../src/linux/syscalls/table.js';

function sources(): ClockCostSources {
  return {
    faults: { total: 0 },
    syscalls: { calls: 0, by_name: {}, errors: 0, unimplemented: {} },
    tlbi: { total: 0 },
    tlbiLocal: { localTlbis: 0 },
    tlb: { walk_levels_read: 0 },
    pagecache: { folios_added: {}, folios_removed: 0, read_bytes: 0, read_uncached_bytes: 0, write_bytes: 0, write_miss_folios: {}, truncate_partial: 0 },
    cpus: 4,
  } as unknown as ClockCostSources;
}

/** ns at the nominal 2.6 GHz, rounded as the meter rounds. */
const ns = (cycles: number): number => Math.round(cycles / 2.6);

describe('ClockMeter: syscall work', () => {
  it('charges entry and return for every call, and the table work only for the calls it names', () => {
    const s = sources();
    const m = new ClockMeter(s);
    s.syscalls.calls += 3;
    m.syscall(syscallNumber('brk'));
    m.syscall(syscallNumber('munmap'));
    m.syscall(syscallNumber('getpid'));
    expect(SYSCALL_WORK_CYCLES['brk']).toBe(1000);
    expect(m.takeNs()).toBe(ns(3 * 250 + 1000 + 1000));
    // The work was charged once.
    s.syscalls.calls += 1;
    m.syscall(syscallNumber('getppid'));
    expect(m.takeNs()).toBe(ns(250));
    expect(m.takeNs()).toBe(0);
  });

  it('charges bytes copied through the page cache at 8 per cycle, with the read or write', () => {
    const s = sources();
    const m = new ClockMeter(s);
    expect(COPY_CYCLES_PER_BYTE).toBe(1 / 8);
    s.syscalls.calls += 2;
    m.syscall(syscallNumber('read'));
    m.syscall(syscallNumber('write'));
    s.pagecache.read_bytes += 4096;
    s.pagecache.read_uncached_bytes += 4096;
    s.pagecache.write_bytes += 4096;
    expect(m.takeNs()).toBe(ns(2 * 250 + 2 * 600 + (3 * 4096) / 8));
  });

  it('forgets work and copies on sync (a marker reset), and ignores numbers outside the table', () => {
    const s = sources();
    const m = new ClockMeter(s);
    m.syscall(syscallNumber('mmap'));
    s.pagecache.write_bytes += 800;
    m.sync();
    m.syscall(0x4c4142);
    m.syscall(-1);
    s.syscalls.calls += 1;
    expect(m.takeNs()).toBe(ns(250));
  });
});

describe('ClockMeter: TLBIs', () => {
  it('prices a broadcast TLBI with the other CPUs of the domain, a local one as local; each with its DSB', () => {
    const s = sources() as unknown as { tlbi: { total: number }; tlbiLocal: { localTlbis: number } };
    const m = new ClockMeter(s as unknown as ClockCostSources);
    // cpus=4: 500 + 3 x 20 for a broadcast, 20 for a local one, 30 for each DSB (cost.ts).
    s.tlbi.total += 2;
    expect(m.takeNs()).toBe(ns(2 * (500 + 3 * 20 + 30)));
    s.tlbi.total += 3;
    s.tlbiLocal.localTlbis += 3;
    expect(m.takeNs()).toBe(ns(3 * (20 + 30)));
  });
});
