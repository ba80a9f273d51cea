#!/usr/bin/env node
/**
 * The `contpte-lab` command line. Each command lives in `commands/<name>.ts` and exports a yargs
 * CommandModule; this file only registers them and turns errors into one line and an exit code.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { LabError, UsageError } from '../util/errors.js';
import { loadCommands } from './commands/index.js';

/**
 * `contpte-lab completion [bash|zsh]`: yargs writes the script for the shell it finds in $SHELL;
 * a shell named on the command line wins (a bash user can write a zsh script for a zsh machine).
 */
function completionShell(argv: readonly string[]): readonly string[] {
  if (argv[0] !== 'completion' || argv.length < 2) return argv;
  const shell = argv[1];
  if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`completion: '${shell}' is not a shell this can complete (expected bash or zsh)`);
  process.env['SHELL'] = `/bin/${shell}`;
  return argv.slice(0, 1);
}

export async function main(argvIn: string[]): Promise<number> {
  let exitCode = 0;
  let argv: string[];
  try {
    argv = [...completionShell(argvIn)];
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    process.stderr.write(`contpte-lab: ${e.message}\n`);
    return e.exitCode;
  }
  const parser = yargs(argv)
    .scriptName('contpte-lab')
    .usage('$0 <command> [options]\n\nModel what the Linux arm64 page-table code does to the TLB.')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .completion('completion', 'print a bash or zsh completion script (completion [bash|zsh] >> ~/.bashrc)')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err, y) => {
      if (err) throw err;
      // One line, whatever yargs composed ("Invalid values:" spans several).
      process.stderr.write(`contpte-lab: ${String(msg).replace(/\s*\n\s*/g, ' ').trim()} (see 'contpte-lab --help')\n`);
      void y;
      process.exit(2);
    });
  for (const c of await loadCommands(argv)) parser.command(c);
  skipHelpPrerender(parser);
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

/**
 * yargs renders the whole help text (string widths of every line) before it runs a command's
 * handler, to have it ready should the handler fail; our failures never print help (see `fail`
 * above), so that costs every run tens of milliseconds for nothing. Help asked for is rendered
 * when asked. If yargs' internals change shape, this does nothing.
 */
function skipHelpPrerender(parser: unknown): void {
  const internals = (parser as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } }).getInternalMethods?.();
  const usage = internals?.getUsageInstance?.();
  if (usage !== undefined && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

/** 128 + SIGPIPE: what a shell reports for a writer whose reader went away (`seq 1e6 | head -1`). */
export const EXIT_PIPE = 141;

/**
 * Output that cannot be written ends the tool cleanly instead of as an unhandled 'error' event:
 * a closed pipe (the reader, e.g. `head -1`, has all it wanted) is a quiet end; a full disk or
 * any other write error is one line on stderr and exit 1.
 */
function guardOutput(stream: NodeJS.WriteStream, name: 'stdout' | 'stderr'): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_PIPE);
    if (name === 'stdout') {
      const why = e.code === 'ENOSPC' ? 'no space left on device (ENOSPC)' : (e.code ?? e.message);
      try {
        process.stderr.write(`contpte-lab: cannot write to stdout: ${why}\n`);
      } catch {
        // stderr is gone too: the exit status says it
      }
    }
    process.exit(1);
  });
}

guardOutput(process.stdout, 'stdout');
guardOutput(process.stderr, 'stderr');

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`contpte-lab: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 70;
  },
);
