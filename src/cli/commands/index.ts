import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

/**
 * Every command of the CLI, by name, each loaded on demand: a command pulls in its own part of
 * the program (`run` the machine, `compare` the report code...), and start-up pays only for the
 * one asked for. Each module adds itself here with one line; the order is the help's.
 */
export const commandLoaders: Readonly<Record<string, () => Promise<AnyCommand>>> = {
  run: async () => (await import('./run.js')).runCommand,
  compare: async () => (await import('./compare.js')).compareCommand,
  profiles: async () => (await import('./profiles.js')).profilesCommand,
  ptep: async () => (await import('./ptep.js')).ptepCommand,
  walk: async () => (await import('./walk.js')).walkCommand,
  validate: async () => (await import('./validate.js')).validateCommand,
  collect: async () => (await import('./collect.js')).collectCommand,
  job: async () => (await import('./collect.js')).jobCommand,
};

/**
 * The commands to register for these arguments: only the named one when the first argument
 * names a command; all of them otherwise (top-level help, a misspelt command that yargs should
 * suggest a correction for).
 */
export async function loadCommands(argv: readonly string[]): Promise<AnyCommand[]> {
  const first = argv[0];
  if (first !== undefined && Object.hasOwn(commandLoaders, first)) return [await commandLoaders[first]!()];
  return Promise.all(Object.values(commandLoaders).map((load) => load()));
}
