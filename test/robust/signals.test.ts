/**
 * Synchronous exceptions end the guest with the signal Linux sends (exit status 128 + signal,
 * as qemu-aarch64 reports it), the 64-bit address the guest used and the exact faulting PC and
 * instruction; write() with an impossible size is -EFAULT, not a dump of guest memory.
 */
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exceptionSignalMessage, signalForException } from '../../src/linux/exception-signals.js';
import { asmGuest, cGuest } from './guests.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');

function ours(elf: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, 'run', elf, '--json'], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function qemu(elf: string): number | null {
  const r = spawnSync('qemu-aarch64', [elf], { encoding: 'utf8' });
  if (r.error) throw new Error('qemu-aarch64 does not run: apt-get install qemu-user');
  // A shell's status: 128 + the signal that killed it.
  return r.status ?? (r.signal !== null ? 128 + constants.signals[r.signal] : null);
}

/** Installs SA_SIGINFO handlers, takes each exception once and prints what the handler saw. */
const HANDLERS = `
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

static sigjmp_buf env;
static const char *what;
static uintptr_t want_addr, want_pc;

static void on(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	printf("%s %s code=%d addr=%s pc=%s\\n", what, sig == SIGILL ? "SIGILL" : sig == SIGTRAP ? "SIGTRAP" : sig == SIGBUS ? "SIGBUS" : sig == SIGSEGV ? "SIGSEGV" : "other",
	       si->si_code, (uintptr_t)si->si_addr == want_addr ? "ok" : "wrong", uc->uc_mcontext.pc == want_pc ? "ok" : "wrong");
	siglongjmp(env, 1);
}

extern char at_udf[], at_brk[], at_ldr[], at_str[];

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on;
	sa.sa_flags = SA_SIGINFO;
	int sigs[] = { SIGILL, SIGTRAP, SIGBUS, SIGSEGV };
	for (int i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, NULL);
	what = "udf", want_addr = want_pc = (uintptr_t)at_udf;
	if (!sigsetjmp(env, 1)) __asm__ volatile(".globl at_udf\\nat_udf: udf #0");
	what = "brk", want_addr = want_pc = (uintptr_t)at_brk;
	if (!sigsetjmp(env, 1)) __asm__ volatile(".globl at_brk\\nat_brk: brk #7");
	what = "misaligned-pc", want_addr = want_pc = (uintptr_t)at_brk + 1;
	if (!sigsetjmp(env, 1)) __asm__ volatile("br %0" :: "r"(want_pc));
	what = "kernel-load", want_addr = 0xffff000000001008ul, want_pc = (uintptr_t)at_ldr;
	if (!sigsetjmp(env, 1)) __asm__ volatile("mov x0, %0\\n.globl at_ldr\\nat_ldr: ldr x1, [x0]" :: "r"(want_addr) : "x0", "x1");
	what = "beyond-task-size-store", want_addr = 0x100000000000ul, want_pc = (uintptr_t)at_str;
	if (!sigsetjmp(env, 1)) __asm__ volatile("mov x0, %0\\n.globl at_str\\nat_str: str xzr, [x0]" :: "r"(want_addr) : "x0");
	what = "kernel-branch", want_addr = want_pc = 0xffff000000000000ul;
	if (!sigsetjmp(env, 1)) __asm__ volatile("br %0" :: "r"(want_pc));
	puts("done");
	return 0;
}
`;

const cases: { name: string; body: string; code: number; message: RegExp }[] = [
  { name: 'udf', body: 'nop\nudf #0', code: 132, message: /^contpte-lab: guest killed by SIGILL \(ILL_ILLOPC: illegal opcode\) at address (0x[0-9a-f]+): undefined instruction by the instruction at pc \1 \(udf #0\) \[exit status 132\]$/ },
  { name: 'brk #0', body: 'brk #0', code: 133, message: /^contpte-lab: guest killed by SIGTRAP \(TRAP_BRKPT: process breakpoint\) at address (0x[0-9a-f]+): breakpoint instruction \(BRK\) by the instruction at pc \1 \(brk #0\) \[exit status 133\]$/ },
  // QEMU raises HVC at EL0 as an undefined instruction, as the architecture makes it.
  { name: 'hvc', body: 'hvc #0', code: 132, message: /SIGILL \(ILL_ILLOPC: illegal opcode\) .*\(hvc #0\) \[exit status 132\]$/ },
  { name: 'misaligned PC', body: 'adr x0, 1f\nadd x0, x0, #2\nbr x0\n1: nop', code: 135, message: /^contpte-lab: guest killed by SIGBUS \(BUS_ADRALN: invalid address alignment\) at address 0x[0-9a-f]*[26ae]: instruction fetch from a misaligned PC \[exit status 135\]$/ },
  // Bytes at PC+1 that decode as an instruction (QEMU runs them: the machine must not).
  { name: 'misaligned PC whose bytes decode as an instruction', body: 'adr x0, 1f\nadd x0, x0, #1\nbr x0\n1: nop\nnop\nmov x8, #93\nsvc #0', code: 135, message: /^contpte-lab: guest killed by SIGBUS \(BUS_ADRALN: invalid address alignment\) at address 0x[0-9a-f]*[159d]: instruction fetch from a misaligned PC \[exit status 135\]$/ },
  { name: 'branch to a kernel address', body: 'movz x0, #0xffff, lsl #48\nbr x0', code: 139, message: /^contpte-lab: guest killed by SIGSEGV \(SEGV_MAPERR: address not mapped to object\) at address 0xffff000000000000: instruction fetch by the instruction at pc 0xffff000000000000; a kernel address \[exit status 139\]$/ },
  { name: 'load from a kernel address (exact PC, 64-bit address)', body: 'movz x0, #0xffff, lsl #48\nmovk x0, #0x1000\nnop\nldr x1, [x0, #8]', code: 139, message: /^contpte-lab: guest killed by SIGSEGV \(SEGV_MAPERR: address not mapped to object\) at address 0xffff000000001008: read by the instruction at pc 0x[0-9a-f]+ \(ldr x1, \[x0, #8\]\); a kernel address \[exit status 139\]$/ },
  // The virtual TLB mode (Unicorn 2.1.x) is asked for this fill twice, the second time after the kill.
  { name: 'DC ZVA at address 0', body: 'mov x0, #0\ndc zva, x0', code: 139, message: /^contpte-lab: guest killed by SIGSEGV \(SEGV_MAPERR: address not mapped to object\) at address 0x0: write by the instruction at pc 0x[0-9a-f]+ \(dc zva, x0\); no mapping at 0x0 \[exit status 139\]$/ },
  // Unicorn 2.0.1 only skips a refused store and goes on to the end of the block; DC ZVA's helper
  // then tries its block byte by byte: the fault is the first refusal, with the registers of the
  // DC ZVA (x0 is overwritten after it), and the svc after it in the block never runs.
  { name: 'DC ZVA to a kernel address, a system call in the same block', body: 'movz x0, #0xffff, lsl #48\nmovk x0, #0x1040\nnop\ndc zva, x0\nmov x0, #3\nmov x8, #93\nsvc #0', code: 139, message: /^contpte-lab: guest killed by SIGSEGV \(SEGV_MAPERR: address not mapped to object\) at address 0xffff000000001040: write by the instruction at pc 0x[0-9a-f]+ \(dc zva, x0\); a kernel address \[exit status 139\]$/ },
  { name: 'DC ZVA beyond the model address space, its register changed in the same block', body: 'movz x0, #0x1000, lsl #32\nmovk x0, #0x1040\nnop\ndc zva, x0\nmov x0, #0\nb 1f\n1: mov x0, #3\nmov x8, #93\nsvc #0', code: 139, message: /at address 0x100000001040: write by the instruction at pc 0x[0-9a-f]+ \(dc zva, x0\); outside the 40-bit user address space of contpte-lab's model \(a limit of ours; arm64 Linux allows 2\^48\) \[exit status 139\]$/ },
  // Not a multiple of 2 KiB: a double beyond 2^53 would round it (Unicorn 2.1.x's translation-fault path).
  { name: 'a pair store just below a kernel page (exact 64-bit address)', body: 'movz x0, #0xffff, lsl #48\nmovk x0, #0x1000\nnop\nstp q0, q1, [x0, #-32]', code: 139, message: /^contpte-lab: guest killed by SIGSEGV \(SEGV_MAPERR: address not mapped to object\) at address 0xffff000000000fe0: write by the instruction at pc 0x[0-9a-f]+ \(stp q0, q1, \[x0, #-0x20\]\); a kernel address \[exit status 139\]$/ },
  { name: 'store beyond the model address space', body: 'movz x0, #0x1000, lsl #32\nmov x1, #1\nstr x1, [x0]', code: 139, message: /at address 0x100000000000: write by the instruction at pc 0x[0-9a-f]+ \(str x1, \[x0\]\); outside the 40-bit user address space of contpte-lab's model \(a limit of ours; arm64 Linux allows 2\^48\) \[exit status 139\]$/ },
];

describe('synchronous exceptions become the signal Linux sends', () => {
  for (const c of cases) {
    it(c.name, () => {
      const elf = asmGuest(c.body);
      const r = ours(elf);
      expect(qemu(elf)).toBe(c.code);
      expect(r.code).toBe(c.code);
      const s = JSON.parse(r.out) as { exit_code: number; end: { reason: string } };
      expect(s.exit_code).toBe(c.code);
      expect(s.end.reason).toBe('signal');
      const line = r.err.trim().split('\n').pop()!;
      expect(line).toMatch(c.message);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }

  it('the faulting instruction is named, not the first of its translation block', () => {
    const r = ours(asmGuest('movz x0, #0xffff, lsl #48\nmov x2, #3\nadd x2, x2, #1\nldr x1, [x0]'));
    expect(r.err).toContain('(ldr x1, [x0])');
    expect(r.err).not.toContain('(mov');
  });

  it('each signal reaches the handler the guest installed, with its si_code, si_addr and the faulting PC', () => {
    const elf = cGuest(HANDLERS);
    const r = spawnSync(process.execPath, [CLI, 'run', elf], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const ours = r.stdout.trim().split('\n');
    // Linux's codes: ILL_ILLOPC (1) for an undefined instruction (arm64 do_el0_undef), the FAR as
    // si_addr for a kernel address (do_bad_area). qemu-aarch64 sends ILL_ILLOPN and a null si_addr
    // there: those two lines are not compared with it.
    expect(ours).toEqual([
      'udf SIGILL code=1 addr=ok pc=ok',
      'brk SIGTRAP code=1 addr=ok pc=ok',
      'misaligned-pc SIGBUS code=1 addr=ok pc=ok',
      'kernel-load SIGSEGV code=1 addr=ok pc=ok',
      'beyond-task-size-store SIGSEGV code=1 addr=ok pc=ok',
      'kernel-branch SIGSEGV code=1 addr=ok pc=ok',
      'done',
    ]);
    const q = spawnSync('qemu-aarch64', [elf], { encoding: 'utf8' });
    if (q.error) throw new Error('qemu-aarch64 does not run: apt-get install qemu-user');
    const theirs = q.stdout.trim().split('\n');
    const compared = [1, 2, 4, 5, 6];
    expect(compared.map((i) => theirs[i])).toEqual(compared.map((i) => ours[i]));
  });

  it('write(1, p, SIZE_MAX) is -EFAULT (exit status 14 here), as under qemu-aarch64', () => {
    const elf = asmGuest(`adr x1, _start\nmov x0, #1\nmov x2, #-1\nmov x8, #64\nsvc #0\nneg x0, x0\nmov x8, #93\nsvc #0`);
    const r = ours(elf);
    expect(qemu(elf)).toBe(14);
    expect(r.code).toBe(14);
    // Nothing of guest memory reached stdout: only the JSON document.
    expect(() => JSON.parse(r.out) as unknown).not.toThrow();
  });
});

describe('the exception to signal mapping', () => {
  it('gives signal, si_code and si_addr per class', () => {
    const pc = 0x400100n;
    expect(signalForException({ kind: 'undefined-instruction', pc })).toMatchObject({ signal: 'SIGILL', signo: 4, code: 'ILL_ILLOPC', addr: pc });
    expect(signalForException({ kind: 'hypervisor-call', pc })).toMatchObject({ signal: 'SIGILL', code: 'ILL_ILLOPC', addr: pc });
    expect(signalForException({ kind: 'breakpoint', pc })).toMatchObject({ signal: 'SIGTRAP', signo: 5, code: 'TRAP_BRKPT', addr: pc });
    expect(signalForException({ kind: 'pc-alignment', pc: pc + 2n })).toMatchObject({ signal: 'SIGBUS', signo: 7, code: 'BUS_ADRALN', addr: pc + 2n });
    expect(signalForException({ kind: 'sp-alignment', pc, sp: 0x7ff8n })).toMatchObject({ signal: 'SIGBUS', code: 'BUS_ADRALN', addr: 0x7ff8n, pc });
    const seg = signalForException({ kind: 'unmappable-address', pc, addr: 0xffff_0000_0000_1000n, access: 'read' });
    expect(seg).toMatchObject({ signal: 'SIGSEGV', signo: 11, code: 'SEGV_MAPERR', addr: 0xffff_0000_0000_1000n });
    expect(exceptionSignalMessage(seg, 'ldr x1, [x0]')).toBe(
      'guest killed by SIGSEGV (SEGV_MAPERR: address not mapped to object) at address 0xffff000000001000: read by the instruction at pc 0x400100 (ldr x1, [x0]) [exit status 139]',
    );
  });
});

