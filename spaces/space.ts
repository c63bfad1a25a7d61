/**
 * The search-space interface every space implements, so that sample, build, score, rank, evaluate and the
 * search protocols run unchanged on any of them. A space names its architectures by canonical strings and,
 * in benchmark order, by indices 0 .. size-1; the pipeline only ever calls these methods. Adding a space means
 * one file in spaces/ implementing {@link SearchSpace} and one line in spaces/registry.ts.
 *
 * @example
 * ```ts
 * import { getSpace } from "./registry.ts";
 * const nats = getSpace("nats-sss");
 * console.log(nats.size, nats.archAt(12), nats.indexOf("8:8:8:16:40")); // 32768 8:8:8:16:40 12
 * ```
 * @module
 */

import type { RegressionHeads } from "./regression_heads.ts";
import type { NetworkPlan, ReluCount, Shape3 } from "./plan.ts";
import { deriveSeed, Rng } from "./rng.ts";

/** Options of {@link SearchSpace.lower}. */
export interface LowerOptions {
  /** Input channels and size (default 3x32x32). */
  input?: Shape3;
  /** Classifier outputs (default 10). */
  classes?: number;
  /** ReLU counting for NASWOT (default `paper`). */
  reluCount?: ReluCount;
  /** GenNAS regression heads on the stage outputs. */
  regressionHeads?: RegressionHeads;
}

/** Options of {@link SearchSpace.sample}. */
export interface SampleOptions {
  /** Draw with replacement (independent uniform draws) or without (distinct indices). */
  replace: boolean;
}

/** A search space: encoding, benchmark order, sampling, mutation and lowering to a network plan. */
export interface SearchSpace {
  /** The `--space` name, e.g. `nb201`. */
  readonly name: string;
  /** One line for `--help`. */
  readonly title: string;
  /** The arch string form, for messages, e.g. `c0:c1:c2:c3:c4`. */
  readonly form: string;
  /**
   * Number of architectures; indices run 0 .. size-1 in the benchmark's order. `null` for a space without an
   * index order (NB101, DARTS): its records carry index -1, or their row in the benchmark file they came from,
   * and `archAt`, `sample` and `mutate` throw.
   */
  readonly size: number | null;
  /** Parses and validates an arch string; returns its canonical form. Throws {@link ArchParseError}. */
  canonical(arch: string): string;
  /** Parses one `--from` line: an arch string or a decimal benchmark index; returns the canonical string. */
  parseLine(line: string): string;
  /** Benchmark index of an arch string (parsed first); -1 when the space has no index order. */
  indexOf(arch: string): number;
  /** Canonical arch string of a benchmark index. */
  archAt(index: number): string;
  /**
   * `n` uniformly drawn indices, deterministic in (n, seed, replace); the first k of n draws equal the draws
   * for n = k. Without replacement the indices are distinct and `n` may not exceed `size`.
   */
  sample(n: number, seed: number, options: SampleOptions): number[];
  /** REA's mutation: the index of a random neighbour (one element changed to a different value). */
  mutate(index: number, rng: Rng): number;
  /** Lowers an arch string into a network plan. */
  lower(arch: string, options?: LowerOptions): NetworkPlan;
  /** `n` seeded random arch strings (spaces without an index order; deterministic in (n, seed)). */
  sampleArchs?(n: number, seed: number): string[];
  /**
   * The arch string of one row of a benchmark file in the space's published layout (e.g. the NB101 columns
   * `adjacency_rowmajor_7x7` and `ops`), or null when the row's columns are not that layout.
   */
  fromTable?(row: Readonly<Record<string, string>>): string | null;
}

/** Throws unless the space has an index order; returns its size. */
export function indexedSize(space: SearchSpace, what: string): number {
  if (space.size === null) {
    throw new RangeError(`${what}: the ${space.name} space has no benchmark index order`);
  }
  return space.size;
}

/** Error thrown when an arch string (or a `--from` line) does not parse. */
export class ArchParseError extends Error {
  /** The text that was being parsed, as given. */
  readonly input: string;
  /** The offending token (may be empty, e.g. for an empty input). */
  readonly token: string;
  /** 1-based character position of the token in `input` (input.length + 1 for "at end of input"). */
  readonly position: number;

  /** Creates the error; `message` should name the token, its position and the expected form. */
  constructor(message: string, input: string, token: string, position: number) {
    super(message);
    this.name = "ArchParseError";
    this.input = input;
    this.token = token;
    this.position = position;
  }
}

/**
 * `n` uniformly drawn indices of 0 .. size-1 from the project RNG stream `deriveSeed(seed, stream, mode)`
 * (mode `replace` or `no-replace`). Without replacement: a lazily advanced Fisher-Yates shuffle.
 */
export function sampleIndicesOf(
  size: number,
  n: number,
  seed: number,
  stream: string,
  options: SampleOptions,
): number[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`sampleIndices: n must be a non-negative integer, got ${n}`);
  }
  const { replace } = options;
  const rng = new Rng(deriveSeed(seed, stream, replace ? "replace" : "no-replace"));
  const out: number[] = [];
  if (replace) {
    for (let t = 0; t < n; t++) out.push(rng.int(size));
    return out;
  }
  if (n > size) {
    throw new RangeError(`sampleIndices: cannot draw ${n} distinct archs without replacement from ${size}`);
  }
  // Partial Fisher-Yates over a virtual identity permutation; `moved` holds only the swapped positions.
  const moved = new Map<number, number>();
  for (let t = 0; t < n; t++) {
    const j = t + rng.int(size - t);
    const vj = moved.get(j) ?? j;
    const vt = moved.get(t) ?? t;
    moved.set(j, vt);
    moved.delete(t);
    out.push(vj);
  }
  return out;
}

/** Quotes a user's input for an error message (shortened when long). */
export function quoteInput(s: string): string {
  return JSON.stringify(s.length > 200 ? s.slice(0, 200) + "..." : s);
}
