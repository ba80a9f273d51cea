import type { CommandModule } from 'yargs';
import { ptepCommand } from './ptep.js';
import { walkCommand } from './walk.js';

/** Every command of the CLI; each module adds itself here with one line. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [walkCommand, ptepCommand];
