/** The scheduler's CPU moves (machine/scheduler.ts). */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/machine/scheduler.js';
import type { Task } from '../../src/linux/task.js';

function task(tid: number): Task {
  return { tid, cpu: 0, state: 'blocked', affinity: 0b1111n } as unknown as Task;
}

describe('Scheduler.migrate', () => {
  it('the running task that takes its own CPU away stays running and is queued on its new CPU', () => {
    const s = new Scheduler(4, 1000n);
    const a = task(1);
    s.add(a, 1000n);
    expect(a.cpu).toBe(0);
    a.state = 'running';
    a.affinity = 0b0100n;
    s.migrate(a, 5000n);
    expect(a.cpu).toBe(2);
    expect(a.state).toBe('running');
    expect(s.cpus[0]!.queue).toEqual([]);
    expect(s.cpus[2]!.queue).toEqual([a]);
    // The idle CPU it joins catches up to the moment it moved.
    expect(s.cpus[2]!.clockNs).toBe(5000n);
    expect(s.cpus.map((c) => c.load)).toEqual([0, 0, 1, 0]);
  });

  it('a runnable task moves queues; a sleeping one only changes CPU', () => {
    const s = new Scheduler(2, 0n);
    const a = task(1);
    const b = task(2);
    s.add(a, 0n);
    s.add(b, 0n);
    expect([a.cpu, b.cpu]).toEqual([0, 1]);
    a.affinity = 0b10n;
    s.migrate(a, 10n);
    expect(s.cpus[1]!.queue).toEqual([b, a]);
    expect(a.state).toBe('runnable');
    s.sleep(b, undefined);
    b.affinity = 0b01n;
    s.migrate(b, 10n);
    expect(b.cpu).toBe(0);
    expect(s.cpus[0]!.queue).toEqual([]);
    expect(b.state).toBe('blocked');
  });
});
