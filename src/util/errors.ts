/**
 * Errors a user can act on. Every message names the input, what was expected, and what to do.
 * The CLI prints `message` on one line and exits with `exitCode`.
 */
export class LabError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 2,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input from the user: a missing file, a malformed number, an unknown option value. */
export class UsageError extends LabError {}

/** A native part we depend on (libunicorn, the cross compiler, qemu-user) is missing or broken. */
export class EnvironmentError extends LabError {}

/**
 * The guest used up the modeled physical memory (mem_mb). Linux's OOM killer would end it with
 * SIGKILL, so the machine reports exit status 137 with the summary: this is not bad input.
 */
export class GuestOutOfMemory extends LabError {
  constructor(message: string) {
    super(message, 137);
  }
}
