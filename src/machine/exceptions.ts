/**
 * The engine's exceptions (QEMU's EXCP_* numbers as Unicorn reports them) as the synchronous
 * exception classes Linux distinguishes (linux/exception-signals.ts).
 *
 * A misaligned PC: the CPU takes a PC alignment fault before it runs anything there, but the QEMU
 * of Unicorn 2.0.1 and 2.1.x does not check, and decodes the four bytes it finds at that address.
 * Every instruction of such a stream is misaligned, so the first one that comes back to the
 * machine (an undefined word, a BRK, an abort, an svc) has a misaligned PC: any exception there is
 * the PC alignment fault. (SP alignment checking is not implemented by QEMU either, so no
 * SP-alignment fault arrives.)
 */
import type { ExceptionInfo } from '../engine/index.js';
import { EXCP_BKPT, EXCP_HVC, EXCP_SMC, EXCP_UDEF } from '../engine/unicorn-const.js';
import type { SyncException } from '../linux/exception-signals.js';

/** The class of an exception from EL0, or null for one the model does not expect (IRQ ...). */
export function syncExceptionOf(info: ExceptionInfo): SyncException | null {
  const pc = BigInt(info.pc);
  if (isMisalignedPc(pc)) return { kind: 'pc-alignment', pc };
  switch (info.intno) {
    case EXCP_UDEF:
      return { kind: 'undefined-instruction', pc };
    case EXCP_BKPT:
      return { kind: 'breakpoint', pc };
    case EXCP_HVC:
    case EXCP_SMC:
      return { kind: 'hypervisor-call', pc };
    default:
      return null;
  }
}

/** Whether an instruction at `pc` could not have been fetched: A64 instructions are 4-byte aligned. */
export function isMisalignedPc(pc: bigint): boolean {
  return (pc & 3n) !== 0n;
}
