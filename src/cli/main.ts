#!/usr/bin/env node
/**
 * The `contpte-lab` command line. Each command lives in `commands/<name>.ts` and exports a yargs
 * CommandModule; this file only registers them and turns errors into one line and an exit code.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { LabError } from '../util/errors.js';
import { commands } from './commands/index.js';

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const parser = yargs(argv)
    .scriptName('contpte-lab')
    .usage('$0 <command> [options]\n\nModel what the Linux arm64 page-table code does to the TLB.')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err, y) => {
      if (err) throw err;
      // One line, whatever yargs composed ("Invalid values:" spans several).
      process.stderr.write(`contpte-lab: ${String(msg).replace(/\s*\n\s*/g, ' ').trim()} (see 'contpte-lab --help')\n`);
      void y;
      process.exit(2);
    });
  for (const c of commands) parser.command(c);
  try {
    await parser.parseAsync();
    exitCode = process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof LabError) {
      process.stderr.write(`contpte-lab: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
  return exitCode;
}

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`contpte-lab: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 70;
  },
);
