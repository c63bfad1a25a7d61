/**
 * A small progress reporter for long stages: `label done/total (pct%), rate/s, ETA m:ss` on stderr,
 * rewritten in place at most every ~0.5 s, and one final line on {@linkcode Progress.finish}.
 *
 * @module
 */

/** Options for {@linkcode Progress}. */
export interface ProgressOptions {
  /** Text before the counts, e.g. `"score"`. */
  label?: string;
  /** Never print anything (the `--quiet` flag). */
  quiet?: boolean;
  /** Minimum time between two progress lines, in milliseconds (default 500). */
  intervalMs?: number;
  /** Whether to print at all when not quiet; default: whether stderr is a terminal. For tests. */
  active?: boolean;
  /** Where text goes; default: stderr. For tests. */
  write?: (text: string) => void;
  /** Clock in milliseconds; default `performance.now`. For tests. */
  now?: () => number;
}

function writeStderr(text: string): void {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
}

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** Formats seconds as `m:ss` or `h:mm:ss`; `?` when not finite. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function formatRate(rate: number): string {
  if (!Number.isFinite(rate)) return "?";
  return rate.toFixed(rate < 10 ? 2 : rate < 100 ? 1 : 0);
}

/**
 * Reports `done/total, rate/s, ETA` to stderr while a stage runs. It is silent when `quiet` is set or when
 * stderr is not a terminal (so logs and pipes stay clean); when active it rewrites one line (`\r`) at most
 * every `intervalMs` and prints a final newline-terminated line on {@linkcode Progress.finish}.
 *
 * @example
 * ```ts
 * import { Progress } from "./_progress.ts";
 * const progress = new Progress(3, { label: "score", quiet: true });
 * for (let i = 0; i < 3; i++) progress.tick();
 * progress.finish();
 * ```
 */
export class Progress {
  /** Number of items expected. */
  readonly total: number;
  /** Whether anything is printed. */
  readonly active: boolean;
  #done = 0;
  #finished = false;
  #lastWrite = -Infinity;
  readonly #start: number;
  readonly #label: string;
  readonly #intervalMs: number;
  readonly #write: (text: string) => void;
  readonly #now: () => number;

  /** Starts the clock for `total` items. */
  constructor(total: number, options: ProgressOptions = {}) {
    this.total = total;
    this.active = !options.quiet && (options.active ?? stderrIsTerminal());
    this.#label = options.label ? `${options.label} ` : "";
    this.#intervalMs = options.intervalMs ?? 500;
    this.#write = options.write ?? writeStderr;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Items done so far. */
  get done(): number {
    return this.#done;
  }

  /** Records `n` more items done (default 1) and prints if the interval has passed. */
  tick(n = 1): void {
    this.update(this.#done + n);
  }

  /** Sets the number of items done and prints if the interval has passed. */
  update(done: number): void {
    this.#done = done;
    if (!this.active || this.#finished) return;
    const now = this.#now();
    if (now - this.#lastWrite < this.#intervalMs) return;
    this.#lastWrite = now;
    this.#write(`\r\x1b[2K${this.line(now)}`);
  }

  /** Prints the final line (when active); later calls do nothing. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (!this.active) return;
    const now = this.#now();
    const seconds = (now - this.#start) / 1000;
    const rate = seconds > 0 ? this.#done / seconds : NaN;
    this.#write(
      `\r\x1b[2K${this.#label}${this.#done}/${this.total}, ${formatRate(rate)}/s, ` +
        `${formatDuration(seconds)} elapsed\n`,
    );
  }

  /** The progress text at time `now` (ms, same clock as `options.now`), without control characters. */
  line(now: number = this.#now()): string {
    const seconds = (now - this.#start) / 1000;
    const rate = seconds > 0 ? this.#done / seconds : NaN;
    const pct = this.total > 0 ? ` (${((100 * this.#done) / this.total).toFixed(1)}%)` : "";
    const eta = rate > 0 ? formatDuration(Math.max(0, this.total - this.#done) / rate) : "?";
    return `${this.#label}${this.#done}/${this.total}${pct}, ${formatRate(rate)}/s, ETA ${eta}`;
  }
}
