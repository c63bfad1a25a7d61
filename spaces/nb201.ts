/**
 * NAS-Bench-201 / NATS-Bench topology search space (NB201): ops, arch strings, the official benchmark index
 * order, uniform sampling and single-edge mutation. Pure logic, no GPU.
 *
 * A cell has 4 nodes and 6 edges; an arch is the list of the 6 edge ops in the order of the arch string
 * `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, i.e. edges (0->1), (0->2), (1->2), (0->3), (1->3), (2->3).
 *
 * The benchmark index order follows NAS-Bench-201's published tables: Python's `random.seed(88)` followed by
 * `random.shuffle` of the 5^6 cells listed as a nested product (edge (0->1) most significant, op order as in
 * {@link NB201_OPS}). Python's Mersenne Twister and shuffle are reproduced bit for bit below.
 *
 * @example
 * ```ts
 * import { formatArch, indexToArch, parseArch, archToIndex } from "./nb201.ts";
 * const arch = parseArch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|");
 * console.log(archToIndex(arch)); // 9930
 * console.log(formatArch(indexToArch(0)));
 * ```
 * @module
 */

import type { Rng } from "./rng.ts";
import { ArchParseError, quoteInput, sampleIndicesOf, type SampleOptions } from "./space.ts";

/** The five NB201 edge operations, in the benchmark's op order. */
export const NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"] as const;

/** One NB201 edge operation. */
export type Nb201Op = typeof NB201_OPS[number];

/**
 * An NB201 cell: 6 ops in edge order (0->1), (0->2), (1->2), (0->3), (1->3), (2->3), the order in which they
 * appear in the arch string.
 */
export type Nb201Arch = readonly Nb201Op[];

/** Number of cells in the space (5^6). */
export const NB201_SIZE = 15625;

/** Number of edges in a cell. */
export const NB201_NUM_EDGES = 6;

/** The 6 edges `[from, to]` in arch-string order. */
export const NB201_EDGES: readonly (readonly [number, number])[] = Object.freeze([
  [0, 1],
  [0, 2],
  [1, 2],
  [0, 3],
  [1, 3],
  [2, 3],
].map((e) => Object.freeze(e as [number, number])));

/** The canonical shape of an arch string, shown in error messages. */
export const NB201_ARCH_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|";

/** One edge of a cell: data flows from node `from` through `op` into node `to` (`from < to`). */
export interface Nb201Edge {
  /** Source node (0..2). */
  from: number;
  /** Target node (1..3). */
  to: number;
  /** Operation on the edge. */
  op: Nb201Op;
}

export { ArchParseError } from "./space.ts";

const OPS_LIST = NB201_OPS.join(", ");
const OP_INDEX: ReadonlyMap<string, number> = new Map(NB201_OPS.map((op, i) => [op, i]));

/** True when `s` is one of {@link NB201_OPS}. */
export function isNb201Op(s: string): s is Nb201Op {
  return OP_INDEX.has(s);
}

/** True when `a` is an array of exactly 6 valid NB201 ops. */
export function isNb201Arch(a: unknown): a is Nb201Arch {
  return Array.isArray(a) && a.length === NB201_NUM_EDGES &&
    a.every((op) => typeof op === "string" && OP_INDEX.has(op));
}

function fail(input: string, what: string, token: string, pos: number, expected: string): never {
  throw new ArchParseError(
    `${what} ${JSON.stringify(token)} at position ${pos} of ${quoteInput(input)}; expected ${expected} ` +
      `(form ${NB201_ARCH_FORM})`,
    input,
    token,
    pos,
  );
}

/** Splits `s` on `sep`, returning each piece with its 0-based start offset in `s`. */
function splitWithOffsets(s: string, sep: string, base: number): { text: string; at: number }[] {
  const out: { text: string; at: number }[] = [];
  let start = 0;
  for (;;) {
    const k = s.indexOf(sep, start);
    if (k < 0) {
      out.push({ text: s.slice(start), at: base + start });
      return out;
    }
    out.push({ text: s.slice(start, k), at: base + start });
    start = k + sep.length;
  }
}

/**
 * Parses an arch string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` into the 6 edge ops. Surrounding whitespace
 * is ignored; anything else that deviates from the canonical form (unknown op, wrong input-node number,
 * wrong number of nodes or edges, missing pipes, empty input) throws {@link ArchParseError} naming the
 * offending token and its 1-based position in `s`.
 */
export function parseArch(s: string): Nb201Arch {
  const lead = s.length - s.trimStart().length;
  const t = s.trim();
  if (t === "") fail(s, "empty arch string", s, 1, `an arch string`);
  const nodes = splitWithOffsets(t, "+", lead);
  if (nodes.length > 3) {
    const extra = nodes[3]!;
    fail(s, "too many nodes: unexpected 4th node", extra.text, extra.at + 1, `3 nodes separated by "+"`);
  }
  if (nodes.length < 3) {
    fail(
      s,
      `too few nodes (found ${nodes.length}): missing node ${nodes.length + 1} after`,
      nodes[nodes.length - 1]!.text,
      lead + t.length + 1,
      `3 nodes separated by "+"`,
    );
  }
  const arch: Nb201Op[] = [];
  for (let n = 0; n < 3; n++) {
    const { text: g, at } = nodes[n]!;
    const node = n + 1;
    if (!g.startsWith("|")) {
      fail(s, `missing "|" at the start of node ${node}: got`, g, at + 1, `"|" opening node ${node}`);
    }
    if (g.length < 2 || !g.endsWith("|")) {
      fail(s, `missing "|" at the end of node ${node}: got`, g, at + 1, `"|" closing node ${node}`);
    }
    const edges = splitWithOffsets(g.slice(1, -1), "|", at + 1);
    if (edges.length !== node) {
      const tok = edges.length > node ? edges[node]! : { text: g, at };
      fail(
        s,
        `wrong number of edges into node ${node} (found ${edges.length}):`,
        tok.text,
        tok.at + 1,
        `${node} edge${node > 1 ? "s" : ""} "op~j" (j = 0..${node - 1}) in node ${node}`,
      );
    }
    for (let j = 0; j < node; j++) {
      const { text: e, at: eAt } = edges[j]!;
      const tilde = e.indexOf("~");
      if (tilde < 0) {
        fail(s, "bad edge", e, eAt + 1, `"op~${j}" with op one of ${OPS_LIST}`);
      }
      const op = e.slice(0, tilde);
      if (!isNb201Op(op)) fail(s, "bad op", op, eAt + 1, `one of ${OPS_LIST}`);
      const src = e.slice(tilde);
      if (src !== `~${j}`) {
        fail(s, `bad input node for edge ${j + 1} of node ${node}:`, src, eAt + tilde + 1, `"~${j}"`);
      }
      arch.push(op);
    }
  }
  return Object.freeze(arch);
}

function checkArch(a: Nb201Arch, fn: string): void {
  if (!isNb201Arch(a)) {
    throw new TypeError(
      `${fn}: expected an array of 6 ops from {${OPS_LIST}}, got ${JSON.stringify(a)}`,
    );
  }
}

/** Canonical arch string of `a`, e.g. `|none~0|+|skip_connect~0|none~1|+|...~0|...~1|...~2|`. */
export function formatArch(a: Nb201Arch): string {
  checkArch(a, "formatArch");
  return `|${a[0]}~0|+|${a[1]}~0|${a[2]}~1|+|${a[3]}~0|${a[4]}~1|${a[5]}~2|`;
}

/** The 6 edges of `a` as `{from, to, op}` records, in arch-string order. */
export function archEdges(a: Nb201Arch): Nb201Edge[] {
  checkArch(a, "archEdges");
  return NB201_EDGES.map(([from, to], e) => ({ from, to, op: a[e]! }));
}

// ---------------------------------------------------------------------------------------------------------
// Python's random module (MT19937, CPython's _randommodule.c + random.py), enough for seed(int) + shuffle.

/** CPython's Mersenne Twister: init_by_array seeding and 32-bit outputs. */
class PyMt19937 {
  #mt = new Uint32Array(624);
  #i = 625;

  /** Equivalent to Python's `random.seed(seed)` for a non-negative integer below 2^32 (key = [seed]). */
  constructor(seed: number) {
    // random.seed(int): key = 32-bit words of abs(seed), least significant first ([0] for 0).
    const a = Math.abs(seed);
    const key: number[] = [];
    let rest = a;
    do {
      key.push(rest % 0x100000000);
      rest = Math.floor(rest / 0x100000000);
    } while (rest > 0);
    this.#initByArray(key);
  }

  #initGenrand(s: number): void {
    const mt = this.#mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < 624; i++) {
      const p = mt[i - 1]!;
      mt[i] = (Math.imul(1812433253, (p ^ (p >>> 30)) >>> 0) + i) >>> 0;
    }
    this.#i = 624;
  }

  #initByArray(key: number[]): void {
    this.#initGenrand(19650218);
    const mt = this.#mt;
    let i = 1;
    let j = 0;
    for (let k = Math.max(624, key.length); k > 0; k--) {
      const p = mt[i - 1]!;
      mt[i] = ((mt[i]! ^ Math.imul((p ^ (p >>> 30)) >>> 0, 1664525)) + key[j]! + j) >>> 0;
      i++;
      j++;
      if (i >= 624) {
        mt[0] = mt[623]!;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = 623; k > 0; k--) {
      const p = mt[i - 1]!;
      mt[i] = ((mt[i]! ^ Math.imul((p ^ (p >>> 30)) >>> 0, 1566083941)) - i) >>> 0;
      i++;
      if (i >= 624) {
        mt[0] = mt[623]!;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
  }

  #twist(): void {
    const mt = this.#mt;
    for (let k = 0; k < 624; k++) {
      const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % 624]! & 0x7fffffff);
      mt[k] = (mt[(k + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)) >>> 0;
    }
    this.#i = 0;
  }

  /** genrand_uint32: next tempered 32-bit output. */
  nextU32(): number {
    if (this.#i >= 624) this.#twist();
    let y = this.#mt[this.#i++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Python's `getrandbits(k)` for 1 <= k <= 32. */
  getrandbits(k: number): number {
    return this.nextU32() >>> (32 - k);
  }

  /** Python's `_randbelow_with_getrandbits(n)` for 1 <= n <= 2^32 - 1. */
  randbelow(n: number): number {
    const k = 32 - Math.clz32(n); // n.bit_length()
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }

  /** Python 3's `random.shuffle(x)` in place. */
  shuffle<T>(x: T[]): void {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      const t = x[i]!;
      x[i] = x[j]!;
      x[j] = t;
    }
  }
}

// Product number k = base-5 number with digits (e01, e02, e12, e03, e13, e23), e01 most significant.
function archToProduct(a: Nb201Arch): number {
  let k = 0;
  for (const op of a) k = k * 5 + OP_INDEX.get(op)!;
  return k;
}

function productToArch(k: number): Nb201Arch {
  const arch = new Array<Nb201Op>(NB201_NUM_EDGES);
  for (let e = NB201_NUM_EDGES - 1; e >= 0; e--) {
    arch[e] = NB201_OPS[k % 5]!;
    k = Math.floor(k / 5);
  }
  return Object.freeze(arch);
}

interface IndexTables {
  /** benchmark index -> arch (frozen). */
  archs: readonly Nb201Arch[];
  /** product number -> benchmark index. */
  indexOfProduct: Uint16Array;
}

let tables: IndexTables | null = null;

function getTables(): IndexTables {
  if (tables !== null) return tables;
  const order = Array.from({ length: NB201_SIZE }, (_, k) => k);
  new PyMt19937(88).shuffle(order);
  const indexOfProduct = new Uint16Array(NB201_SIZE);
  const archs: Nb201Arch[] = order.map((k, idx) => {
    indexOfProduct[k] = idx;
    return productToArch(k);
  });
  tables = { archs: Object.freeze(archs), indexOfProduct };
  return tables;
}

function checkIndex(i: number, fn: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= NB201_SIZE) {
    throw new RangeError(
      `${fn}: benchmark index ${i} is out of range; expected an integer 0..${NB201_SIZE - 1}`,
    );
  }
}

/** The arch at NB201 benchmark index `i` (0..15624); the returned array is frozen and shared. */
export function indexToArch(i: number): Nb201Arch {
  checkIndex(i, "indexToArch");
  return getTables().archs[i]!;
}

/** The NB201 benchmark index (0..15624) of `a`. */
export function archToIndex(a: Nb201Arch): number {
  checkArch(a, "archToIndex");
  return getTables().indexOfProduct[archToProduct(a)]!;
}

/** All 15,625 archs in benchmark index order (a new array of shared, frozen archs). */
export function enumerateArchs(): Nb201Arch[] {
  return getTables().archs.slice();
}

export type { SampleOptions } from "./space.ts";

/**
 * `n` uniformly drawn benchmark indices from the project RNG stream `deriveSeed(seed, "nb201.sample", mode)`.
 * Deterministic in (n, seed, replace); the first k of n draws equal the draws for n = k. Without replacement
 * the indices are distinct (a lazily advanced Fisher-Yates shuffle) and `n` may not exceed 15,625.
 */
export function sampleIndices(n: number, seed: number, options: SampleOptions): number[] {
  return sampleIndicesOf(NB201_SIZE, n, seed, "nb201.sample", options);
}

/**
 * A copy of `a` with one uniformly chosen edge set to a uniformly chosen different op (REA's mutation).
 * Draws exactly two integers from `rng`.
 */
export function mutateArch(a: Nb201Arch, rng: Rng): Nb201Arch {
  checkArch(a, "mutateArch");
  const e = rng.int(NB201_NUM_EDGES);
  const cur = OP_INDEX.get(a[e]!)!;
  const next = NB201_OPS[(cur + 1 + rng.int(NB201_OPS.length - 1)) % NB201_OPS.length]!;
  const child = a.slice();
  child[e] = next;
  return Object.freeze(child);
}

/**
 * Parses one `--from FILE` line: either an arch string or a decimal benchmark index (0..15624), with
 * surrounding whitespace ignored. Throws {@link ArchParseError} for anything else.
 */
export function parseArchOrIndex(line: string): Nb201Arch {
  const t = line.trim();
  const lead = line.length - line.trimStart().length;
  if (t.startsWith("|")) return parseArch(line);
  const expected = `an arch string ${NB201_ARCH_FORM} or a decimal benchmark index 0..${NB201_SIZE - 1}`;
  if (/^[0-9]+$/.test(t)) {
    const i = Number(t);
    if (i >= NB201_SIZE) {
      throw new ArchParseError(
        `benchmark index ${JSON.stringify(t)} at position ${lead + 1} of ${
          quoteInput(line)
        } is out of range; ` +
          `expected ${expected}`,
        line,
        t,
        lead + 1,
      );
    }
    return indexToArch(i);
  }
  const what = t === "" ? "empty line" : /^[-+.0-9]/.test(t) ? "bad benchmark index" : "unrecognised line";
  throw new ArchParseError(
    `${what} ${JSON.stringify(t)} at position ${lead + 1} of ${quoteInput(line)}; expected ${expected}`,
    line,
    t,
    lead + 1,
  );
}
