/**
 * What reading registers from a hook costs, per call: the numbers behind abort-regs.ts. A data
 * abort needs the PC and the faulting instruction's base (and index) register; a TLB-miss-heavy
 * guest takes one abort per miss.
 *
 * Compared: koffi's conversion of JavaScript arrays (Unicorn.batchReader, all 33 registers),
 * uc_reg_read_batch over arrays kept in host memory (Unicorn.readBatchRaw: 33 registers, and
 * the PC with one register), a single uc_reg_read, a CP_REG write (the way every QEMU TLBI goes),
 * and AbortRegisters in steady state (the same instruction aborting again: one call reads the PC
 * and its base register).
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/engine-regs.js
 */
import { AbortRegisters } from '../src/engine/abort-regs.js';
import { HostRegion, Unicorn, sysregs, uc } from '../src/engine/index.js';

const N = 300_000;

function perCall(label: string, fn: () => void): void {
  for (let i = 0; i < N / 10; i++) fn();
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / N);
  }
  console.log(`  ${label.padEnd(58)} ${best.toFixed(0).padStart(5)} ns`);
}

const cpu = Unicorn.open(uc.UC_ARCH_ARM64, uc.UC_MODE_ARM, uc.UC_CPU_ARM64_MAX);
const all = [uc.UC_ARM64_REG_PC, ...Array.from({ length: 31 }, (_, n) => uc.ucArm64RegX(n)), uc.UC_ARM64_REG_SP];

// readBatchRaw's arrays: ids at +0, value pointers at +1024, values at +2048 (16 bytes each).
const page = HostRegion.reserve(4096, 'rw');
const ids = new Int32Array(page.view());
const ptrs = new BigUint64Array(page.view());
all.forEach((id, k) => {
  ids[k] = id;
  ptrs[128 + k] = page.ptr + BigInt(2048 + 16 * k);
});
ids[1] = uc.ucArm64RegX(3); // so that the first two are PC and X3

console.log('register reads from JavaScript (best of 5 x 300k calls):');
const batch = cpu.batchReader(all);
perCall('batchReader, PC + X0..X30 + SP (koffi converts arrays)', () => batch());
perCall('readBatchRaw, PC + X0..X30 + SP', () => cpu.readBatchRaw(page.ptr, page.ptr + 1024n, 33));
perCall('readBatchRaw, PC + X3', () => cpu.readBatchRaw(page.ptr, page.ptr + 1024n, 2));
const out = new Uint32Array(2);
perCall('regReadHalves, PC alone', () => cpu.regReadHalves(uc.UC_ARM64_REG_PC, out));
let v = 0;
perCall('cpRegWriteHalves, TPIDR_EL0 (the path of every TLBI)', () => cpu.cpRegWriteHalves(sysregs.TPIDR_EL0, v++, 0));
const regs = new AbortRegisters(cpu);
perCall('AbortRegisters: snapshot + x(3), the same register again', () => {
  regs.snapshot();
  regs.x(3);
  regs.settle();
});
regs.close();
page.release();
cpu.close();
