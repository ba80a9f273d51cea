/**
 * What the command line does differently on a terminal: progress lines on stderr (redrawn in
 * place, never when stderr is a pipe or a file), colour (never with NO_COLOR set, see
 * no-color.org, nor on a dumb terminal), and tables cut to the terminal's width. Every decision
 * takes the stream and the environment as arguments, so the tests give it a pretend terminal.
 */

/** The part of a stream these decisions read (process.stderr or a test's stand-in). */
export interface TermStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Progress lines: only on a terminal that can redraw a line. */
export function showsProgress(s: TermStream, env: Env = process.env): boolean {
  return s.isTTY === true && env['TERM'] !== 'dumb';
}

/** Colour: on a terminal, unless NO_COLOR is set to anything non-empty or the terminal is dumb. */
export function usesColour(s: TermStream, env: Env = process.env): boolean {
  return s.isTTY === true && (env['NO_COLOR'] ?? '') === '' && env['TERM'] !== 'dumb';
}

/** The width a table may use on `s`: its columns on a terminal; unlimited on a pipe or file. */
export function tableWidth(s: TermStream): number {
  return s.isTTY === true && (s.columns ?? 0) > 0 ? s.columns! : Infinity;
}

const SGR = { red: '31', yellow: '33', bold: '1', dim: '2' } as const;
export type Style = keyof typeof SGR;

export function paint(text: string, style: Style, on: boolean): string {
  return on ? `\x1b[${SGR[style]}m${text}\x1b[0m` : text;
}

/** "1:05" / "12 s": a duration for a person. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}:${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Time left for a pool of runs: the wall time per finished run so far, times the runs left, over
 * the runs in flight at once. null before the first run has finished (nothing to go by).
 */
export function etaMs(done: number, total: number, elapsedMs: number, jobs: number): number | null {
  if (done <= 0 || done >= total) return done >= total ? 0 : null;
  const perRun = (elapsedMs * Math.min(jobs, total)) / done;
  return (perRun * (total - done)) / Math.max(1, Math.min(jobs, total - done));
}

export interface RunProgressState {
  /** Page faults so far (every kind, the whole run). */
  faults: number;
  /** Virtual time the guest's CPUs have run, ns. */
  virtualNs: number;
  /** Wall time since the run started, ms. */
  elapsedMs: number;
}

/** `run`'s progress line: faults so far, virtual time, and the rate in faults per wall second. */
export function runProgressText(p: RunProgressState): string {
  const rate = p.elapsedMs > 0 ? Math.round((p.faults * 1000) / p.elapsedMs) : 0;
  const virt = p.virtualNs / 1e9;
  return `running: ${p.faults.toLocaleString('en-US')} faults, ${virt.toFixed(virt < 10 ? 3 : 1)} s virtual, ${rate.toLocaleString('en-US')} faults/s, ${formatDuration(p.elapsedMs)}`;
}

/**
 * A line on a terminal redrawn in place. Anything else written to the terminal (the guest's
 * output) must `clear()` it first, so the line never ends up inside other text.
 */
export class ProgressLine {
  private shown = false;

  constructor(private readonly out: TermStream) {}

  draw(text: string): void {
    const cols = this.out.columns !== undefined && this.out.columns > 0 ? this.out.columns : 80;
    this.out.write('\r\x1b[2K' + text.slice(0, Math.max(1, cols - 1)));
    this.shown = true;
  }

  clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[2K');
    this.shown = false;
  }
}

/**
 * `run`'s progress: shown after the first `delayMs` of a run (short runs never show it), redrawn
 * at most every `everyMs`.
 */
export class RunProgress {
  private readonly line: ProgressLine;
  private lastDraw = -Infinity;

  constructor(
    out: TermStream,
    private readonly clock: () => number = Date.now,
    private readonly start = clock(),
    private readonly delayMs = 1000,
    private readonly everyMs = 250,
  ) {
    this.line = new ProgressLine(out);
  }

  update(state: { faults: number; virtualNs: number }): void {
    const now = this.clock();
    const elapsedMs = now - this.start;
    if (elapsedMs < this.delayMs || now - this.lastDraw < this.everyMs) return;
    this.lastDraw = now;
    this.line.draw(runProgressText({ ...state, elapsedMs }));
  }

  clear(): void {
    this.line.clear();
  }
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9_./=,:+@%-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command as typed, for a report: `contpte-lab` and the arguments, quoted for a shell. */
export function commandLine(argv: readonly string[] = process.argv.slice(2)): string {
  return ['contpte-lab', ...argv].map(shellWord).join(' ');
}
