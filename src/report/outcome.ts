/**
 * Whether a child run's result can be compared: a summary proves only that the tool finished, not
 * that the guest did its work. A guest that exited non-zero (its usage message, an assertion), was
 * killed by a signal, or was stopped by a budget measured something else than the case asks for,
 * so its counts must never sit in a table as if they were comparable.
 */
import type { RunResult } from './runner.js';
import type { Summary } from './summary.js';

/** How many of a failed child's last stderr lines a report quotes. */
export const STDERR_TAIL_LINES = 3;

/** Why a summary does not describe a completed guest, or null when the guest exited 0. */
export function guestFailure(s: Summary): string | null {
  switch (s.end.reason) {
    case 'exit':
      return s.exit_code === 0 ? null : `the guest exited with status ${s.exit_code ?? 'none'}`;
    case 'signal':
      return `the guest was killed${s.end.detail !== undefined ? `: ${firstLine(s.end.detail)}` : ` (exit status ${s.exit_code ?? 'none'})`}`;
    case 'budget':
      return `stopped by a budget${s.end.detail !== undefined ? `: ${firstLine(s.end.detail)}` : ''}`;
    case 'crash':
      return `the emulation could not continue${s.end.detail !== undefined ? `: ${firstLine(s.end.detail)}` : ''}`;
    case 'interrupted':
      return `interrupted${s.end.detail !== undefined ? `: ${firstLine(s.end.detail)}` : ''}`;
  }
}

/** The last `n` non-empty lines of a child's stderr (the guest's own messages come last). */
export function stderrTail(stderr: string, n = STDERR_TAIL_LINES): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '' && !l.startsWith('{') && !l.startsWith('}'))
    .slice(-n);
}

/**
 * A runner's result with the guest's outcome applied: a summary of a failed guest becomes a
 * failed result that keeps the summary (for JSON readers) but is never compared.
 */
export function judgeResult(r: RunResult): RunResult {
  if (!r.ok) return r;
  const why = guestFailure(r.summary);
  if (why === null) return r;
  const code = r.summary.exit_code;
  return { ok: false, error: why, exitCode: code, seconds: r.seconds, stderr: r.stderr, summary: r.summary };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}
