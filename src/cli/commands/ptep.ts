/**
 * `contpte-lab ptep <script>`: replay page-table API calls against the model and show, after each
 * call, the PTEs it touched (a contiguous block as one line) and what it cost. The script language
 * is in src/cli/ptep/parse.ts and the README.
 */
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../util/errors.js';
import { formatStep, parseScript, PtepScript, stepJson } from '../ptep/index.js';

interface PtepArgs {
  script: string;
  json: boolean;
  verbose: boolean;
}

export function runPtepScript(source: string, file: string, opts: { json: boolean; verbose: boolean }, out: (s: string) => void): void {
  const statements = parseScript(source, file);
  const script = new PtepScript(file);
  let first = true;
  script.run(statements, (r) => {
    if (opts.json) {
      out(JSON.stringify(stepJson(r)) + '\n');
      return;
    }
    if (first) {
      const folios = script.folioTable();
      if (folios.length) out(`folios: ${folios.map(([n, pfn]) => `${n}=pfn 0x${pfn.toString(16)}`).join(', ')}\n\n`);
      first = false;
    }
    out(formatStep(r, opts.verbose) + '\n');
  });
}

export const ptepCommand: CommandModule<object, PtepArgs> = {
  command: 'ptep <script>',
  describe: 'replay page-table API calls (set_ptes, mprotect, ...) and show PTEs, folds and TLBIs after each',
  builder: (y: Argv) =>
    y
      .positional('script', { type: 'string', demandOption: true, describe: "a ptep script ('-' for stdin)" })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per step' })
      .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'list every TLBI with its operand and call chain' }) as unknown as Argv<PtepArgs>,
  handler: (args) => {
    let source: string;
    // yargs hands a lone '-' over as an empty positional.
    const stdin = args.script === '-' || args.script === '';
    const name = stdin ? '-' : args.script;
    try {
      source = readFileSync(stdin ? 0 : args.script, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read script '${args.script}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    runPtepScript(source, name, args, (s) => process.stdout.write(s));
  },
};
