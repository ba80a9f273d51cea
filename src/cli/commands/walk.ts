/**
 * `contpte-lab walk`: explain stage-1 translations of VAs against a raw physical-memory image,
 * step by step (every descriptor read and its decoded fields), with the model's walker.
 */
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import {
  decodeTcr,
  DEFAULT_PA_BITS,
  DEFAULT_TCR,
  describeDescriptor,
  formatElPerms,
  formatPerms,
  formatSize,
  ipsBits,
  PhysMem,
  POW2,
  startLevel,
  unsupportedTcr,
  walk,
  type Access,
  type TranslationRegs,
  type WalkResult,
  type WalkStep,
} from '../../mmu/index.js';
import { UsageError } from '../../util/errors.js';
import { hex, parseUserInt, parseUserNumber } from '../../util/num.js';
import { u64FromBigInt, u64Hex } from '../../util/u64.js';

interface WalkArgs {
  image: string;
  'pa-base': string;
  ttbr: string;
  tcr?: string;
  asid?: string;
  va: string[];
  el: string;
  access: string;
  json: boolean;
}

const ACCESS: Record<string, Access> = { r: 'read', w: 'write', x: 'exec' };

/** Loads the image as physical memory at `paBase`. */
function loadImage(path: string, paBase: number): PhysMem {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new UsageError(`--image: cannot read '${path}' (${code}); give a raw little-endian physical memory image`);
  }
  if (bytes.length < 8) throw new UsageError(`--image: '${path}' has ${bytes.length} bytes; an image holds at least one 8-byte descriptor`);
  if (paBase % 4096 !== 0) throw new UsageError(`--pa-base: ${hex(paBase)} is not 4 KiB aligned`);
  if (paBase + bytes.length > POW2[53]!) throw new UsageError(`--pa-base: ${hex(paBase)} plus the image size is beyond 2^53`);
  const buffer = new ArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  return new PhysMem(buffer, paBase);
}

/** TranslationRegs from the options; the start-level table must lie in the image. */
function registers(args: WalkArgs, mem: PhysMem): TranslationRegs {
  const tcr = args.tcr === undefined ? DEFAULT_TCR : u64FromBigInt(parseUserInt(args.tcr, '--tcr'));
  if (args.tcr !== undefined && parseUserInt(args.tcr, '--tcr') >= 1n << 64n) throw new UsageError(`--tcr: '${args.tcr}' does not fit in 64 bits`);
  const f = decodeTcr(tcr);
  const why = unsupportedTcr(f);
  if (why !== null) throw new UsageError(`--tcr: ${u64Hex(tcr)}: ${why}`);

  const ttbrValue = parseUserInt(args.ttbr, '--ttbr');
  if (ttbrValue >= 1n << 64n) throw new UsageError(`--ttbr: '${args.ttbr}' does not fit in 64 bits`);
  const ttbr = u64FromBigInt(ttbrValue);
  // A full TTBR0_EL1 value is accepted: BADDR in [47:1] (CnP, bit 0, dropped), ASID in [63:48].
  const baddr = (ttbr.hi & 0xffff) * POW2[32]! + ((ttbr.lo & ~1) >>> 0);
  let asid = ttbr.hi >>> 16;
  if (args.asid !== undefined) {
    asid = parseUserNumber(args.asid, '--asid');
    if (asid > 0xffff) throw new UsageError(`--asid: ${asid} is not a 16-bit ASID (0..65535)`);
  }
  const inputBits = 64 - f.T0SZ;
  const first = startLevel(inputBits);
  const tableBytes = POW2[inputBits - (39 - 9 * first) + 3]!;
  const table = baddr - (baddr % tableBytes);
  if (!mem.contains(table, tableBytes)) {
    throw new UsageError(`--ttbr: the level-${first} table at ${hex(table)} (${tableBytes} bytes) is outside the image [${hex(mem.base)}, ${hex(mem.base + mem.size)})`);
  }
  return { ttbr0: baddr, asid, t0sz: f.T0SZ, ha: f.HA, hd: f.HD, paBits: Math.min(ipsBits(f.IPS), DEFAULT_PA_BITS) };
}

function parseVas(list: string[]): number[] {
  const out: number[] = [];
  for (const item of list) {
    for (const part of item.split(',')) {
      if (part.trim() === '') throw new UsageError(`--va: empty entry in '${item}' (expected VA[,VA...])`);
      out.push(parseUserNumber(part, '--va'));
    }
  }
  if (out.length === 0) throw new UsageError('--va: give at least one virtual address');
  return out;
}

function walkOne(mem: PhysMem, regs: TranslationRegs, va: number, access: Access, el: 0 | 1): { result: WalkResult; steps: WalkStep[] } {
  const steps: WalkStep[] = [];
  try {
    return { result: walk(mem, regs, va, access, el, { steps }), steps };
  } catch (e) {
    if (e instanceof RangeError && /outside physical memory/.test(e.message)) {
      throw new UsageError(`--image: ${e.message.replace('physical memory', 'the image')}`);
    }
    throw e;
  }
}

function textReport(va: number, access: Access, el: 0 | 1, regs: TranslationRegs, result: WalkResult, steps: WalkStep[]): string {
  const lines = [`VA ${hex(va, 16)}  EL${el} ${access}  (TTBR0 ${hex(regs.ttbr0)}, ASID ${regs.asid}, T0SZ ${regs.t0sz}${regs.ha ? ', HA' : ''}${regs.hd ? ', HD' : ''})`];
  for (const s of steps) {
    lines.push(`  L${s.level}  table ${hex(s.tablePa)} [${String(s.index).padStart(3)}]  desc@${hex(s.descPa)} = ${u64Hex(s.desc)}  ${describeDescriptor(s.decoded)}`);
  }
  if (result.ok) {
    const kind = result.level === 3 ? 'page' : 'block';
    const cont = result.contiguous ? `contiguous: yes (one TLB entry for ${formatSize(result.spanSize)} at ${hex(result.spanVa)} -> ${hex(result.spanPa)})` : 'contiguous: no';
    lines.push(`  => PA ${hex(result.pa)}  level ${result.level} ${formatSize(result.size)} ${kind}, ${result.global ? 'global' : 'nG'}, ${cont}, ${formatPerms(result.perms)}`);
  } else {
    lines.push(`  => fault: ${result.kind.replace('_', ' ')} at level ${result.level}`);
  }
  return lines.join('\n');
}

function jsonReport(va: number, result: WalkResult, steps: WalkStep[]): string {
  const stepObjs = steps.map((s) => ({ level: s.level, table: hex(s.tablePa), index: s.index, descPa: hex(s.descPa), desc: u64Hex(s.desc), decoded: describeDescriptor(s.decoded) }));
  const body = result.ok
    ? {
        va: hex(va),
        pa: hex(result.pa),
        level: result.level,
        size: result.size,
        contiguous: result.contiguous,
        perms: { el0: formatElPerms(result.perms, 0), el1: formatElPerms(result.perms, 1) },
        steps: stepObjs,
      }
    : { va: hex(va), fault: { kind: result.kind, level: result.level }, steps: stepObjs };
  return JSON.stringify(body);
}

export const walkCommand: CommandModule<object, WalkArgs> = {
  command: 'walk',
  describe: 'explain stage-1 translations of VAs against a physical memory image',
  builder: (y: Argv<object>) =>
    y
      .option('image', { type: 'string', demandOption: true, describe: 'raw little-endian physical memory image' })
      .option('pa-base', { type: 'string', demandOption: true, describe: 'physical address of the first byte of the image (4 KiB aligned)' })
      .option('ttbr', { type: 'string', demandOption: true, describe: 'TTBR0_EL1: the start-level table address (a full value also gives the ASID in [63:48])' })
      .option('tcr', { type: 'string', describe: `TCR_EL1 value (T0SZ, TG0=4K, IPS, HA, HD) [default ${u64Hex(DEFAULT_TCR)}: 48-bit VA, 4K]` })
      .option('asid', { type: 'string', describe: 'ASID (overrides TTBR0[63:48])' })
      .option('va', { type: 'string', array: true, demandOption: true, describe: 'virtual address(es): VA[,VA...]' })
      .option('el', { type: 'string', choices: ['0', '1'], default: '0', describe: 'exception level of the access' })
      .option('access', { type: 'string', choices: ['r', 'w', 'x'], default: 'r', describe: 'read, write or execute' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per VA' })
      .example('$0 walk --image mem.bin --pa-base 0x40000000 --ttbr 0x40000000 --va 0x400000,0x401000', 'explain two translations') as unknown as Argv<WalkArgs>,
  handler: (args) => {
    const paBase = parseUserNumber(args['pa-base'], '--pa-base');
    const mem = loadImage(args.image, paBase);
    const regs = registers(args, mem);
    const vas = parseVas(args.va);
    const access = ACCESS[args.access]!;
    const el = args.el === '1' ? 1 : 0;
    for (const va of vas) {
      const { result, steps } = walkOne(mem, regs, va, access, el);
      process.stdout.write((args.json ? jsonReport(va, result, steps) : textReport(va, access, el, regs, result, steps)) + '\n');
    }
  },
};
