/**
 * `contpte-lab validate <elf> [--kernel 6.12|7.2|PATH] [run options] -- args`: run a program on
 * the model and on a real arm64 kernel under qemu-system-aarch64, and print both sides' counts
 * region by region, differences marked. `--cases FILE` runs several programs in one boot: one
 * case per line, `[--set knob=value ...] <elf> [args...]`, `#` comments. Exit 0 when every
 * difference is listed in validate/known-differences.json, 1 otherwise.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../util/errors.js';
import { parseUserNumber } from '../../util/num.js';
import { loadKnownDifferences, renderValidate, validate, type GuestSettings, type ValidateCase } from '../../validate/index.js';
import { parseEnv, parseUid } from './run.js';

interface ValidateArgs {
  elf?: string;
  args?: (string | number)[];
  kernel: string;
  profile?: string;
  set?: string[];
  cases?: string;
  json: boolean;
  timeout?: string;
  env?: string | string[];
  uid?: string;
  argv0?: string;
  seed?: string;
  'max-insns'?: string;
  '--'?: (string | number)[];
}

/** Cases from a --cases file (paths relative to the file). */
export function parseCasesFile(file: string, sets: readonly string[]): ValidateCase[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`--cases ${file}: cannot read it`);
  }
  const out: ValidateCase[] = [];
  for (const [n, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const words = line.split(/\s+/);
    const own: string[] = [];
    while (words[0] === '--set') {
      if (words[1] === undefined) throw new UsageError(`--cases ${file}:${n + 1}: --set needs knob=value`);
      own.push(words[1]);
      words.splice(0, 2);
    }
    if (words.length === 0) throw new UsageError(`--cases ${file}:${n + 1}: no program`);
    const elf = resolve(dirname(file), words[0]!);
    out.push({ name: [words.map((w, i) => (i === 0 ? w.split('/').pop()! : w)).join(' '), ...own.map((s) => `[${s}]`)].join(' '), elf, args: words.slice(1), sets: [...sets, ...own] });
  }
  return out;
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate [elf] [args..]',
  describe: 'run a program on the model and on a real arm64 kernel (qemu-system-aarch64) and compare their counts',
  builder: (y: Argv) =>
    y
      .positional('elf', { type: 'string', describe: 'a static AArch64 executable that brackets its region with lab_reset_stats/lab_dump_stats' })
      .positional('args', { type: 'string', array: true, describe: "the program's arguments (put them after --)" })
      .option('kernel', { type: 'string', default: '6.12', describe: 'real kernel: 6.12 or 7.2 (Debian cloud kernels, fetched with apt into the cache) or a folder with an unpacked kernel' })
      .option('profile', { type: 'string', describe: "the model's profile (default: the kernel's, linux-6.12 or linux-7.2)" })
      .option('set', { type: 'string', array: true, describe: 'override a knob on both sides where the kernel has an equivalent (repeatable)' })
      .option('cases', { type: 'string', describe: 'a file of cases, one per line: [--set k=v ...] <elf> [args...]; all run in one boot' })
      .option('json', { type: 'boolean', default: false, describe: 'print the comparison as JSON' })
      .option('timeout', { type: 'string', describe: 'seconds allowed for the real kernel run (default 1800)' })
      .option('env', { type: 'string', describe: "NAME=value for the programs' environment on both sides (repeatable; default empty on both)" })
      .option('uid', { type: 'string', describe: "the programs' user and group id on both sides (default 1000, the model's)" })
      .option('argv0', { type: 'string', describe: "the programs' argv[0] on both sides (default: the ELF's file name)" })
      .option('seed', { type: 'string', describe: "the model's guest random seed (the real kernel's getrandom cannot be seeded)" })
      .option('max-insns', { type: 'string', describe: "the model's instruction budget (the real side has --timeout)" })
      .parserConfiguration({ 'populate--': true, 'parse-numbers': false, 'parse-positional-numbers': false }) as unknown as Argv<ValidateArgs>,
  handler: async (a) => {
    const sets = a.set ?? [];
    let cases: ValidateCase[];
    if (a.cases !== undefined) {
      if (a.elf !== undefined) throw new UsageError('validate: give either <elf> or --cases, not both');
      cases = parseCasesFile(a.cases, sets);
    } else {
      if (a.elf === undefined) throw new UsageError('validate: name a program (validate <elf> -- args) or a --cases file');
      const args = [...(a.args ?? []), ...(a['--'] ?? [])].map(String);
      cases = [{ name: [a.elf.split('/').pop()!, ...args].join(' '), elf: resolve(a.elf), args, sets }];
    }
    let timeout: number | undefined;
    if (a.timeout !== undefined) {
      timeout = Number(a.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout: '${a.timeout}' is not a positive number of seconds`);
    }
    const env = parseEnv(a.env);
    const guest: GuestSettings = {
      ...(env !== undefined ? { env } : {}),
      ...(a.uid !== undefined ? { uid: parseUid(a.uid) } : {}),
      ...(a.argv0 !== undefined ? { argv0: a.argv0 } : {}),
      ...(a.seed !== undefined ? { seed: parseUserNumber(a.seed, '--seed') } : {}),
      ...(a['max-insns'] !== undefined ? { maxInsns: parseUserNumber(a['max-insns'], '--max-insns') } : {}),
    };
    const known = loadKnownDifferences();
    const r = await validate({
      kernel: a.kernel,
      guest,
      ...(a.profile !== undefined ? { profile: a.profile } : {}),
      cases,
      known,
      ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}),
      log: (l) => void process.stderr.write(`  ${l}\n`),
    });
    if (a.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else process.stdout.write(renderValidate(r, known));
    process.exitCode = r.unexplained.length === 0 ? 0 : 1;
  },
};
