/**
 * The guest marker call (docs/design.md "Guest markers", firmware/include/lab.h): x8 = 0x4C4142,
 * x0 = operation, x1 = argument. Dispatched to the machine's `Markers`; returns 0. A marker name
 * is read through the model like any string a syscall reads (it lives in the guest's .rodata).
 * A name that cannot be read gives -EFAULT and an unknown operation -EINVAL; guests ignore the
 * result anyway (lab.h: output must never depend on it).
 */
import type { U64 } from '../../util/u64.js';
import { EFAULT, EINVAL } from '../../util/errno.js';
import type { LinuxProcess } from '../process.js';
import { getUserString } from '../uaccess.js';
import { CLAMP, argUlong } from './args.js';
import type { SyscallOutcome } from './outcome.js';

export const LAB_OP_MARK = 1;
export const LAB_OP_RESET = 2;
export const LAB_OP_DUMP = 3;
export const LAB_OP_OPS = 4;
/** Longest marker name read, NUL included. */
export const LAB_NAME_MAX = 256;

export function markerSyscall(p: LinuxProcess, a: readonly U64[]): number | SyscallOutcome {
  const markers = p.markers!;
  const op = argUlong(a[0]!);
  switch (op) {
    case LAB_OP_MARK:
    case LAB_OP_DUMP: {
      const s = getUserString(p.mm, argUlong(a[1]!), LAB_NAME_MAX, EINVAL);
      if (s.kind === 'error') return s.errno === EFAULT ? -EFAULT : -EINVAL;
      if (op === LAB_OP_MARK) markers.mark(s.value);
      else markers.dump(s.value);
      return 0;
    }
    case LAB_OP_RESET:
      markers.reset();
      return 0;
    case LAB_OP_OPS: {
      const n = argUlong(a[1]!);
      if (n >= CLAMP) return -EINVAL;
      markers.ops(n);
      return 0;
    }
    default:
      return -EINVAL;
  }
}
