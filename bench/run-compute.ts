/**
 * Compute speed of the whole machine against bare Unicorn, on the same instructions, in one run.
 *
 * firmware/bin/compute runs under `contpte-lab run` (EL0, MMU on, shadow tables, the kernel
 * model); its lab_mark("loop") and lab_ops() markers bracket the compute loop. At the first
 * marker the machine's registers are copied; bare Unicorn (MMU off, the program's text mapped
 * flat at the same addresses) then executes exactly the same instructions from there to the
 * lab_ops svc. Both are timed over that region, alternately, five times each, and the best of
 * each is compared (the VM's CPU speed drifts; a single timing is at its mercy).
 * Target: machine / bare >= 0.8.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/run-compute.js [iterations]
 */
import { Unicorn, uc } from '../src/engine/index.js';
import { readElfFile } from '../src/linux/elf.js';
import { runMachine } from '../src/machine/run.js';

const ELF = new URL('../../firmware/bin/compute', import.meta.url).pathname;
const iterations = Number(process.argv[2] ?? 300_000_000);

interface Region {
  seconds: number;
  regs: bigint[];
  sp: bigint;
  nzcv: bigint;
  startPc: number;
  endPc: number;
}

async function machineRegion(): Promise<Region> {
  let t0 = 0n;
  const r: Partial<Region> = {};
  await runMachine({
    elf: ELF,
    args: [String(iterations)],
    stdout: () => {},
    onMarker: (action, name, m) => {
      if (action === 'mark' && name === 'loop') {
        r.regs = Array.from({ length: 31 }, (_, i) => m.engine.getX(i));
        r.sp = BigInt(m.engine.getSp());
        r.nzcv = BigInt(m.engine.getNzcv());
        r.startPc = m.engine.getPc();
        t0 = process.hrtime.bigint();
      } else if (action === 'ops') {
        r.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        r.endPc = m.engine.getPc() - 4; // the lab_ops svc
      }
    },
  });
  return r as Region;
}

function bareRegion(region: Region): number {
  const image = readElfFile(ELF);
  const u = Unicorn.open(uc.UC_ARCH_ARM64, uc.UC_MODE_ARM, uc.UC_CPU_ARM64_MAX);
  try {
    const mapped = new Set<number>();
    for (const s of image.loads) {
      for (let p = Math.floor(s.vaddr / 4096) * 4096; p < s.vaddr + s.memsz; p += 4096) {
        if (!mapped.has(p)) u.memMap(p, 4096, uc.UC_PROT_ALL);
        mapped.add(p);
      }
      u.memWrite(s.vaddr, image.bytes.subarray(s.offset, s.offset + s.filesz));
    }
    const spPage = Math.floor(Number(region.sp) / 4096) * 4096;
    u.memMap(spPage - 64 * 1024, 128 * 1024, uc.UC_PROT_ALL);
    region.regs.forEach((v, i) => u.regWrite(uc.UC_ARM64_REG_X0 + i, v));
    u.regWrite(uc.UC_ARM64_REG_SP, region.sp);
    u.regWrite(uc.UC_ARM64_REG_NZCV, region.nzcv);
    const t0 = process.hrtime.bigint();
    u.emuStartChecked(region.startPc, BigInt(region.endPc));
    return Number(process.hrtime.bigint() - t0) / 1e9;
  } finally {
    u.close();
  }
}

let m: Region | undefined;
let bare = Infinity;
for (let round = 0; round < 5; round++) {
  const r = await machineRegion();
  if (m === undefined || r.seconds < m.seconds) m = r;
  bare = Math.min(bare, bareRegion(r));
}
if (m === undefined) throw new Error('no run');
const ratio = bare / m.seconds;
console.log(`compute loop, ${iterations} iterations, pc 0x${m.startPc.toString(16)}..0x${m.endPc.toString(16)}`);
console.log(`  contpte-lab run (MMU on, model), best of 5: ${m.seconds.toFixed(3)} s`);
console.log(`  bare Unicorn (MMU off), best of 5: ${bare.toFixed(3)} s`);
console.log(`  machine / bare speed = ${ratio.toFixed(2)} (target >= 0.80): ${ratio >= 0.8 ? 'met' : 'NOT met'}`);
