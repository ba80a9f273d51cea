import type { CommandModule } from 'yargs';
import { compareCommand } from './compare.js';
import { profilesCommand } from './profiles.js';
import { ptepCommand } from './ptep.js';
import { runCommand } from './run.js';
import { validateCommand } from './validate.js';
import { walkCommand } from './walk.js';

/** Every command of the CLI; each module adds itself here with one line. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [runCommand, compareCommand, profilesCommand, ptepCommand, walkCommand, validateCommand];
