/**
 * The engine's exceptions (QEMU's EXCP_* numbers as Unicorn reports them) as the synchronous
 * exception classes Linux distinguishes (linux/exception-signals.ts). QEMU raises a misaligned
 * PC as EXCP_UDEF with the PC-alignment syndrome, so the PC itself tells them apart. (SP
 * alignment checking is off at EL0 in the engine's SCTLR, so no SP-alignment fault arrives.)
 */
import type { ExceptionInfo } from '../engine/index.js';
import { EXCP_BKPT, EXCP_HVC, EXCP_SMC, EXCP_UDEF } from '../engine/unicorn-const.js';
import type { SyncException } from '../linux/exception-signals.js';

/** The class of an exception from EL0, or null for one the model does not expect (IRQ ...). */
export function syncExceptionOf(info: ExceptionInfo): SyncException | null {
  const pc = BigInt(info.pc);
  switch (info.intno) {
    case EXCP_UDEF:
      return info.pc % 4 !== 0 ? { kind: 'pc-alignment', pc } : { kind: 'undefined-instruction', pc };
    case EXCP_BKPT:
      return { kind: 'breakpoint', pc };
    case EXCP_HVC:
    case EXCP_SMC:
      return { kind: 'hypervisor-call', pc };
    default:
      return null;
  }
}
