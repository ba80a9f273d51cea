/**
 * The Linux process layer: ELF loading, the initial stack, system calls, file descriptors and the
 * in-memory file system. The machine builds a `LinuxProcess` over the memory manager's
 * `ProcessMemory`, calls `loadElfBinary`, and forwards each `svc` to `process.syscall()`.
 */
export { parseElf, readElfFile, segmentProt, type ElfImage, type ElfSegment, type ElfKind } from './elf.js';
export * as elf from './elf.js';
export { loadElfBinary, maximumAlignment, elfEtDynBase, type ExecOptions, type ExecResult, type LoadedSegment } from './exec.js';
export { openInterpreter, type Interpreter, type InterpreterLookup } from './interp.js';
export { mountSysroot, guestPathInSysroot } from './sysroot.js';
export { layoutStack, auxvName, type StackLayout, type StackInput, type AuxValues } from './stack.js';
export * as auxv from './stack.js';
export { DEFAULT_HWCAPS, UNICORN_MAX_ID_REGISTERS, ID_REGISTER_ENCODINGS, HWCAP, HWCAP2, elfHwcaps, hwcapNames, type Hwcaps, type IdRegisters } from './hwcap.js';
export {
  LinuxProcess, DEFAULT_IDS, DEFAULT_UTSNAME, releaseForProfile,
  type LinuxProcessOptions, type Markers, type ProcessIds, type Utsname, type RseqRegistration,
} from './process.js';
export { SyscallDispatcher, type SyscallStats } from './syscalls/dispatch.js';
export type { SyscallHandler, SyscallHandlers, SyscallOutcome } from './syscalls/outcome.js';
export { syscallName, syscallNumber, allSyscalls, LAB_MARKER_NR } from './syscalls/table.js';
export { argInt, argUint, argUlong, argLong, argPtr, argBig, argsFrom, returnRegister, syscallNumberFromX8 } from './syscalls/args.js';
export {
  FileSystem, DEFAULT_FS_POLICY, encodeDev,
  type FsPolicy, type FsTraits, type TmpFsType, type Node, type DirNode, type RegNode, type Creds, type SuperBlock,
} from './fs.js';
export { OpenFile, type StdioHooks, type StdStream } from './file.js';
export { FdTable, type FdEntry } from './fdtable.js';
export { kstatOf, encodeStat, encodeStatx, type Kstat } from './stat.js';
export { VirtualClock, type ClockOptions } from './clock.js';
export { GuestRandom, DEFAULT_RANDOM_SEED } from './random.js';
export {
  fatalFault, killedBySignal, forcedSignal, signalName, signalNumber, defaultAction, waitStatusOf, waitStatusExited,
  waitStatusStopped, WAIT_STATUS_CONTINUED,
  type FatalFault, type ProcessEnd, type SigAction, type FaultSiCode,
} from './signals.js';
export { ProcessSignals, SigHand } from './sigstate.js';
export {
  sendSignal, sendToProcess, forceSignal, forceSigFault, forceFault, killSomething, tgkill, tkill, setBlocked, notifyParentExit,
  notifyParentStop, expireTimers, singleProcessSignalHost, startGroupExit, startGroupExitCode, setUserSigmask, restoreSavedSigmaskUnless,
  initThreadSignals, initForkSignals, execSignals, exitSignals, type SignalHost,
} from './sigsend.js';
export {
  deliverSignals, getSignal, signalPending, interruptedReturn, fatalSignalNow, ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND,
  ERESTART_RESTARTBLOCK, type DeliverResult, type SignalDecision, type SyscallReturn,
} from './sigdeliver.js';
export { setupRtFrame, restoreRtFrame, FRAME } from './sigframe.js';
export { userAbortEsr } from './esr.js';
export { encodeSigInfo, type SigInfo } from './siginfo.js';
export { Rlimits, type Rlimit } from './rlimit.js';
export { errnoName, isErrorReturn } from '../util/errno.js';
export * as errno from '../util/errno.js';
export { HOST_STDIO, writeAllSync } from './stdio.js';
export type { FileOps, OpsRead, OpsWrite, IoFlags } from './fileops.js';
export { Pipe, PipeOps, createPipe, PIPE_BUF, PIPE_DEF_BUFFERS } from './pipe.js';
export { EventFd, createEventFd } from './eventfd.js';
export { UnixSocket, createSocketPair, type UnixType } from './socket.js';
export { singleProcessHost, applyKnob, type ProcHost } from './prochost.js';
export { mountProcfs } from './procfs.js';
export {
  taskComm, setTaskComm, processFlags, inheritExtras, execExtras, execLayout, type ProcessFlags, type ExecLayout,
} from './extras.js';
export { raiseSigpipe, type IoBlockState } from './syscalls/stream.js';
export type { PollBlockState } from './syscalls/ipc.js';
