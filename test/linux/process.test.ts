import { describe, expect, it } from 'vitest';
import { EBUSY, EINVAL, EMFILE, ENOMEM, EPERM, ESRCH } from '../../src/util/errno.js';
import { releaseForProfile } from '../../src/linux/process.js';
import { GuestRandom } from '../../src/linux/random.js';
import { fatalFault, SIGSEGV } from '../../src/linux/signals.js';
import { ProcessSignals } from '../../src/linux/sigstate.js';
import { Rlimits } from '../../src/linux/rlimit.js';
import { makeRig, OUT, type Rig } from './harness.js';

const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function u64s(rig: Rig, va: number, n: number): bigint[] {
  const dv = new DataView(rig.read(va, n * 8).buffer);
  return Array.from({ length: n }, (_, i) => dv.getBigUint64(i * 8, true));
}

function field(rig: Rig, va: number, len: number): string {
  const b = rig.read(va, len);
  return dec(b.subarray(0, b.indexOf(0)));
}

describe('identity', () => {
  it('fixed ids, a single thread, uname from the profile', () => {
    const rig = makeRig({ utsname: { release: releaseForProfile('linux-6.12') } });
    expect([rig.call('getpid'), rig.call('gettid'), rig.call('getppid')]).toEqual([1000, 1000, 999]);
    expect(rig.call('set_tid_address', rig.scratch + OUT)).toBe(1000);
    expect([rig.call('getuid'), rig.call('geteuid'), rig.call('getgid'), rig.call('getegid')]).toEqual([1000, 1000, 1000, 1000]);
    expect(rig.call('getresuid', rig.scratch + OUT, rig.scratch + OUT + 4, rig.scratch + OUT + 8)).toBe(0);
    expect([...new Uint32Array(rig.read(rig.scratch + OUT, 12).buffer)]).toEqual([1000, 1000, 1000]);
    expect(rig.call('setuid', 1000)).toBe(0);
    expect(rig.call('setuid', 0)).toBe(-EPERM);
    expect(rig.call('uname', rig.scratch + OUT)).toBe(0);
    expect([0, 1, 2, 3, 4, 5].map((i) => field(rig, rig.scratch + OUT + i * 65, 65))).toEqual([
      'Linux', 'contpte-lab', '6.12.0-contpte-lab', '#1 SMP PREEMPT contpte-lab', 'aarch64', '(none)',
    ]);
    expect(releaseForProfile('linux-6.9')).toBe('6.9.0-contpte-lab');
    expect(releaseForProfile('linux-7.2.1')).toBe('7.2.1-contpte-lab');
  });

  it('set_robust_list takes only the real head size; sched_getaffinity reports one CPU', () => {
    const rig = makeRig();
    expect(rig.call('set_robust_list', rig.scratch + OUT, 24)).toBe(0);
    expect(rig.call('set_robust_list', rig.scratch + OUT, 16)).toBe(-EINVAL);
    rig.bytes(new Uint8Array(128).fill(0xff), OUT);
    expect(rig.call('sched_getaffinity', 0, 128, rig.scratch + OUT)).toBe(8);
    expect(u64s(rig, rig.scratch + OUT, 2)).toEqual([1n, 0xffffffffffffffffn]);
    expect(rig.call('sched_getaffinity', 0, 4, rig.scratch + OUT)).toBe(-EINVAL);
    expect(rig.call('sched_getaffinity', 0, 12, rig.scratch + OUT)).toBe(-EINVAL);
    expect(rig.call('sched_getaffinity', 7, 8, rig.scratch + OUT)).toBe(-ESRCH);
  });
});

describe('rseq', () => {
  it('registers, fills the CPU fields, refuses a second or mismatched registration, unregisters', () => {
    const rig = makeRig();
    const area = rig.scratch + OUT; // 32-byte aligned
    rig.bytes(new Uint8Array(32).fill(0xff), OUT);
    const SIG = 0xd428bc00;
    expect(rig.call('rseq', area, 32, 0, SIG)).toBe(0);
    const b = rig.read(area, 32);
    expect([...b.subarray(0, 8)]).toEqual(new Array(8).fill(0)); // cpu_id_start, cpu_id
    expect([...b.subarray(8, 20)]).toEqual(new Array(12).fill(0xff)); // rseq_cs, flags untouched
    expect([...b.subarray(20, 28)]).toEqual(new Array(8).fill(0)); // node_id, mm_cid
    expect(rig.call('rseq', area, 32, 0, SIG)).toBe(-EBUSY);
    expect(rig.call('rseq', area, 32, 0, 1)).toBe(-EPERM);
    expect(rig.call('rseq', area + 32, 32, 0, SIG)).toBe(-EINVAL);
    expect(rig.call('rseq', area, 32, 1, 1)).toBe(-EPERM);
    expect(rig.call('rseq', area, 32, 1, SIG)).toBe(0);
    expect(new DataView(rig.read(area, 8).buffer).getInt32(4, true)).toBe(-1);
    expect(rig.call('rseq', area + 8, 32, 0, SIG)).toBe(-EINVAL);
    expect(rig.call('rseq', area, 16, 0, SIG)).toBe(-EINVAL);
    expect(rig.call('rseq', area, 32, 2, SIG)).toBe(-EINVAL);
  });
});

describe('resource limits', () => {
  it('prlimit64 reads RLIMIT_STACK and lowering RLIMIT_NOFILE limits descriptors', () => {
    const rig = makeRig();
    expect(rig.call('prlimit64', 0, 3, 0, rig.scratch + OUT)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT, 2)).toEqual([8n * 1024n * 1024n, 0xffffffffffffffffn]);
    const lim = new DataView(new ArrayBuffer(16));
    lim.setBigUint64(0, 4n, true);
    lim.setBigUint64(8, 4n, true);
    expect(rig.call('prlimit64', 0, 7, rig.bytes(new Uint8Array(lim.buffer), 1024), rig.scratch + OUT)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT, 2)).toEqual([1024n, 4096n]);
    expect(rig.call('dup', 1)).toBe(3);
    expect(rig.call('dup', 1)).toBe(-EMFILE);
    expect(rig.call('fcntl', 1, 0, 4)).toBe(-EINVAL);
    lim.setBigUint64(8, 8n, true);
    expect(rig.call('prlimit64', 0, 7, rig.bytes(new Uint8Array(lim.buffer), 1024), 0)).toBe(-EPERM);
    lim.setBigUint64(0, 9n, true);
    expect(rig.call('prlimit64', 0, 7, rig.bytes(new Uint8Array(lim.buffer), 1024), 0)).toBe(-EINVAL);
    expect(rig.call('prlimit64', 0, 16, 0, rig.scratch + OUT)).toBe(-EINVAL);
    expect(rig.call('prlimit64', 5, 3, 0, rig.scratch + OUT)).toBe(-ESRCH);
    expect(rig.call('getrlimit', 4, rig.scratch + OUT)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT, 2)).toEqual([0n, 0xffffffffffffffffn]);
  });
});

describe('virtual time and entropy', () => {
  it('clocks read fixed times, advance by one tick per read, and by the time slept', () => {
    const rig = makeRig();
    const ts = (): bigint[] => u64s(rig, rig.scratch + OUT, 2);
    expect(rig.call('clock_gettime', 1, rig.scratch + OUT)).toBe(0);
    expect(ts()).toEqual([100n, 0n]);
    expect(rig.call('clock_gettime', 1, rig.scratch + OUT)).toBe(0);
    expect(ts()).toEqual([100n, 1000n]);
    expect(rig.call('clock_gettime', 0, rig.scratch + OUT)).toBe(0);
    expect(ts()).toEqual([1715472100n, 2000n]);
    expect(rig.call('clock_gettime', 100, rig.scratch + OUT)).toBe(-EINVAL);
    expect(rig.call('clock_gettime', 2, rig.scratch + OUT)).toBe(0);
    expect(ts()).toEqual([0n, 3000n]);
    expect(rig.call('gettimeofday', rig.scratch + OUT, 0)).toBe(0);
    expect(ts()).toEqual([1715472100n, 4n]);
    const req = new DataView(new ArrayBuffer(16));
    req.setBigInt64(8, 1_000_000n, true);
    expect(rig.call('nanosleep', rig.bytes(new Uint8Array(req.buffer), 1024), 0)).toBe(0);
    expect(rig.call('clock_gettime', 1, rig.scratch + OUT)).toBe(0);
    expect(ts()).toEqual([100n, 1_005_000n]);
    req.setBigInt64(8, 2_000_000_000n, true);
    expect(rig.call('nanosleep', rig.bytes(new Uint8Array(req.buffer), 1024), 0)).toBe(-EINVAL);
    // Absolute sleep on CLOCK_MONOTONIC to t = 102 s.
    req.setBigInt64(0, 102n, true);
    req.setBigInt64(8, 0n, true);
    expect(rig.call('clock_nanosleep', 1, 1, rig.bytes(new Uint8Array(req.buffer), 1024), 0)).toBe(0);
    expect(rig.call('clock_gettime', 1, rig.scratch + OUT)).toBe(0);
    expect(ts()).toEqual([102n, 0n]);
    expect(rig.call('clock_nanosleep', 3, 0, rig.bytes(new Uint8Array(req.buffer), 1024), 0)).toBe(-EINVAL);
    expect(rig.call('clock_getres', 6, rig.scratch + OUT)).toBe(0);
    expect(ts()).toEqual([0n, 4_000_000n]);
  });

  it('getrandom gives the seeded stream and checks its flags', () => {
    const rig = makeRig({ randomSeed: 42 });
    expect(rig.call('getrandom', rig.scratch + OUT, 16, 0)).toBe(16);
    const expected = new GuestRandom(42);
    expect([...rig.read(rig.scratch + OUT, 16)]).toEqual([...expected.bytes(16)]);
    expect(rig.call('getrandom', rig.scratch + OUT, 8, 1)).toBe(8);
    expect([...rig.read(rig.scratch + OUT, 8)]).toEqual([...expected.bytes(8)]);
    expect(rig.call('getrandom', rig.scratch + OUT, 8, 8)).toBe(-EINVAL);
    expect(rig.call('getrandom', rig.scratch + OUT, 8, 6)).toBe(-EINVAL);
    // Different seeds, different bytes; the same seed, the same bytes.
    expect(new GuestRandom(1).bytes(8)).not.toEqual(new GuestRandom(2).bytes(8));
    expect(new GuestRandom('s').bytes(40)).toEqual(new GuestRandom('s').bytes(40));
  });
});

describe('signals', () => {
  it('rt_sigaction keeps actions and returns the old one', () => {
    const rig = makeRig();
    const act = new DataView(new ArrayBuffer(32));
    act.setBigUint64(0, 0x401234n, true); // handler
    act.setBigUint64(8, 0x04000000n | 0x100n, true); // SA_RESTORER and an unknown bit
    act.setBigUint64(24, (1n << 8n) | (1n << 18n) | 1n, true); // SIGKILL, SIGSTOP and SIGHUP blocked
    const a = rig.bytes(new Uint8Array(act.buffer), 1024);
    rig.bytes(new Uint8Array(32).fill(0xee), OUT);
    expect(rig.call('rt_sigaction', 10, a, rig.scratch + OUT, 8)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT, 4)).toEqual([0n, 0n, 0n, 0n]);
    expect(rig.call('rt_sigaction', 10, 0, rig.scratch + OUT, 8)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT, 4)).toEqual([0x401234n, 0x04000000n, 0n, 1n]);
    expect(rig.call('rt_sigaction', 9, a, 0, 8)).toBe(-EINVAL);
    expect(rig.call('rt_sigaction', 9, 0, rig.scratch + OUT, 8)).toBe(0);
    expect(rig.call('rt_sigaction', 10, a, 0, 4)).toBe(-EINVAL);
    expect(rig.call('rt_sigaction', 65, 0, rig.scratch + OUT, 8)).toBe(-EINVAL);
  });

  it('rt_sigprocmask blocks, reads and restores, never blocking SIGKILL or SIGSTOP', () => {
    const rig = makeRig();
    const set = (v: bigint, off: number): number => {
      const d = new DataView(new ArrayBuffer(8));
      d.setBigUint64(0, v, true);
      return rig.bytes(new Uint8Array(d.buffer), off);
    };
    const usr2 = 1n << 11n;
    expect(rig.call('rt_sigprocmask', 0, set(usr2, 1024), rig.scratch + OUT, 8)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT, 1)).toEqual([0n]);
    expect(rig.call('rt_sigprocmask', 0, 0, rig.scratch + OUT, 8)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT, 1)).toEqual([usr2]);
    expect(rig.call('rt_sigprocmask', 2, set(0xffffffffffffffffn, 1024), 0, 8)).toBe(0);
    expect(rig.call('rt_sigprocmask', 0, 0, rig.scratch + OUT, 8)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT, 1)).toEqual([0xffffffffffffffffn & ~((1n << 8n) | (1n << 18n))]);
    expect(rig.call('rt_sigprocmask', 7, set(0n, 1024), 0, 8)).toBe(-EINVAL);
    expect(rig.call('rt_sigprocmask', 2, set(0n, 1024), 0, 16)).toBe(-EINVAL);
  });

  it("glibc's abort(): SIGABRT sent while blocked kills the process when the mask is restored", () => {
    const rig = makeRig();
    const all = new DataView(new ArrayBuffer(8));
    all.setBigUint64(0, 0xffffffffffffffffn, true);
    expect(rig.call('rt_sigprocmask', 0, rig.bytes(new Uint8Array(all.buffer), 1024), rig.scratch + OUT, 8)).toBe(0);
    expect(rig.call('tgkill', 1000, 1000, 6)).toBe(0);
    expect(rig.call('rt_sigpending', rig.scratch + OUT + 64, 8)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT + 64, 1)).toEqual([1n << 5n]);
    expect(rig.sys('rt_sigprocmask', 2, rig.scratch + OUT, 0, 8)).toEqual({
      kind: 'killed',
      end: { signal: 6, exitStatus: 134, message: 'guest killed by SIGABRT (sent by process 1000 with tkill/tgkill) [exit status 134]' },
    });
  });

  it('kill to itself: default actions, ignored signals, a handler left for the return to user space', () => {
    const rig = makeRig();
    expect(rig.call('kill', 1000, 17)).toBe(0); // SIGCHLD is ignored by default
    expect(rig.call('kill', 1000, 0)).toBe(0);
    expect(rig.call('kill', 4, 15)).toBe(-ESRCH);
    expect(rig.call('kill', -1, 15)).toBe(-ESRCH);
    expect(rig.call('tgkill', 1000, 1001, 15)).toBe(-ESRCH);
    expect(rig.call('kill', 1000, 65)).toBe(-EINVAL);
    const act = new DataView(new ArrayBuffer(32));
    act.setBigUint64(0, 1n, true); // SIG_IGN
    expect(rig.call('rt_sigaction', 15, rig.bytes(new Uint8Array(act.buffer), 1024), 0, 8)).toBe(0);
    expect(rig.call('kill', 1000, 15)).toBe(0);
    act.setBigUint64(0, 0x400800n, true);
    expect(rig.call('rt_sigaction', 10, rig.bytes(new Uint8Array(act.buffer), 1024), 0, 8)).toBe(0);
    expect(rig.p.current.sigpending).toBe(false);
    expect(rig.call('kill', 1000, 10)).toBe(0);
    expect(rig.p.signals.shared.set).toBe(1n << 9n);
    expect(rig.p.current.sigpending).toBe(true);
    expect(rig.sys('tkill', 1000, 2)).toEqual({
      kind: 'killed',
      end: { signal: 2, exitStatus: 130, message: 'guest killed by SIGINT (sent by process 1000 with tkill/tgkill) [exit status 130]' },
    });
  });

  it('sigaltstack keeps the stack and rejects a small one', () => {
    const rig = makeRig();
    const ss = new DataView(new ArrayBuffer(24));
    ss.setBigUint64(0, 0x7000n, true);
    ss.setBigUint64(16, 1024n, true);
    expect(rig.call('sigaltstack', rig.bytes(new Uint8Array(ss.buffer), 1024), rig.scratch + OUT)).toBe(-ENOMEM);
    expect(rig.call('sigaltstack', 0, rig.scratch + OUT)).toBe(0);
    expect(new DataView(rig.read(rig.scratch + OUT, 24).buffer).getInt32(8, true)).toBe(2); // SS_DISABLE
    ss.setBigUint64(16, 65536n, true);
    expect(rig.call('sigaltstack', rig.bytes(new Uint8Array(ss.buffer), 1024), 0)).toBe(0);
    expect(rig.call('sigaltstack', 0, rig.scratch + OUT)).toBe(0);
    expect(u64s(rig, rig.scratch + OUT, 3)).toEqual([0x7000n, 0n, 65536n]);
  });

  it('a fatal fault: the message and the exit status a shell shows', () => {
    expect(fatalFault({ signal: 'SIGSEGV', code: 'SEGV_MAPERR', addr: 0x10, access: 'write', pc: 0x400718, insn: 'str w1, [x0, #0x10]', reason: 'no VMA covers the address' })).toEqual({
      signal: 11,
      exitStatus: 139,
      message:
        'guest killed by SIGSEGV (SEGV_MAPERR: address not mapped to object) at address 0x10: write by the instruction at pc 0x400718 (str w1, [x0, #0x10]); no VMA covers the address [exit status 139]',
    });
    const state = new ProcessSignals(new Rlimits());
    state.sighand.setAction(SIGSEGV, { handler: 0x400100n, flags: 0n, restorer: 0n, mask: 0n });
    expect(fatalFault({ signal: 'SIGBUS', code: 'BUS_ADRERR', addr: 0x7f0000001000, access: 'read', pc: 0x400800 }, state).message).toBe(
      'guest killed by SIGBUS (BUS_ADRERR: nonexistent physical address) at address 0x7f0000001000: read by the instruction at pc 0x400800 [exit status 135]',
    );
    expect(fatalFault({ signal: 'SIGSEGV', code: 'SEGV_ACCERR', addr: 0x400000, access: 'exec', pc: 0x400000 }, state).message).toBe(
      "guest killed by SIGSEGV (SEGV_ACCERR: invalid permissions for mapped object) at address 0x400000: instruction fetch by the instruction at pc 0x400000; the guest's SIGSEGV handler was not run: contpte-lab does not deliver signals [exit status 139]",
    );
  });
});
