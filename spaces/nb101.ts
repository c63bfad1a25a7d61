/**
 * NAS-Bench-101 cell space (NB101, Ying et al. 2019; ALGORITHMS.md section 6): cell specs, arch strings,
 * NB101's pruning and validity rules, its isomorphism-invariant MD5 hash (the dataset key), seeded sampling
 * and mutation as in the NB101 example notebook, and the parameter count of the NB101 network. Pure logic,
 * no GPU.
 *
 * A cell is a DAG on n <= 7 vertices given by an n x n strictly upper-triangular 0/1 adjacency matrix
 * (row = source vertex) and n vertex ops: vertex 0 is `input`, vertex n-1 is `output`, the others are
 * `conv3x3-bn-relu`, `conv1x1-bn-relu` or `maxpool3x3`. As in NB101's `ModelSpec`, vertices that are not on
 * an input -> output path are pruned; a spec is in the space when input and output are connected and the
 * pruned cell has at most 7 vertices and 9 edges.
 *
 * Arch strings are `<n*n adjacency bits, row-major>:<n ops joined by ;>` (no commas or quotes, so CSV-safe),
 * e.g. `0010000010000000:input;conv1x1-bn-relu;maxpool3x3;output`. Any n x n spec may be parsed, including
 * the unpruned 7 x 7 form NASLib samples; the canonical string of a cell is its pruned spec. Two isomorphic
 * cells (the same network with vertices numbered differently) have different strings but the same
 * {@link specHash}, which is NB101's dataset key: hash identity is NB101's notion of "the same cell".
 *
 * @example
 * ```ts
 * import { canonicalCell, nb101Params, parseCell, specHash } from "./nb101.ts";
 * const cell = parseCell(
 *   "0100110001000000010010000010000001000000010000000:" +
 *     "input;conv3x3-bn-relu;maxpool3x3;conv3x3-bn-relu;conv3x3-bn-relu;conv1x1-bn-relu;output",
 * );
 * console.log(specHash(cell)); // 00005c142e6f48ac74fdcf73e3439874
 * console.log(nb101Params(cell)); // 8555530
 * console.log(canonicalCell("0001000000000000:input;maxpool3x3;maxpool3x3;output")); // 0100:input;output
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { ArchParseError } from "./nb201.ts";
import { deriveSeed, Rng } from "./rng.ts";

export { ArchParseError } from "./nb201.ts";

/**
 * The interior ops in NB101's `available_ops` order. An op's index here is its label in {@link specHash}
 * (input = -1, output = -2).
 */
export const NB101_OPS = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"] as const;

/** One interior NB101 op. */
export type Nb101Op = typeof NB101_OPS[number];

/** The op of any vertex: `input` (vertex 0), `output` (vertex n-1) or an interior op. */
export type Nb101VertexOp = "input" | "output" | Nb101Op;

/** Most vertices of a cell in the space (input and output included). */
export const NB101_MAX_VERTICES = 7;

/** Most edges of a (pruned) cell in the space. */
export const NB101_MAX_EDGES = 9;

/** The canonical shape of an arch string, shown in error messages. */
export const NB101_ARCH_FORM = "<n*n adjacency bits, row-major, row = source vertex>:<n ops joined by ;>";

/**
 * A cell spec: `ops.length` = n vertices and an n x n adjacency (`matrix[src][dst]` = 1 for an edge
 * src -> dst; zero on and below the diagonal). May contain dangling vertices until pruned.
 */
export interface Nb101Spec {
  /** n x n 0/1 adjacency, row = source vertex, strictly upper triangular. */
  readonly matrix: readonly (readonly number[])[];
  /** n vertex ops: `input`, then n-2 interior ops, then `output`. */
  readonly ops: readonly Nb101VertexOp[];
}

/** Why a spec is outside the NB101 space (see {@link checkSpec}). */
export type Nb101Invalid = "disconnected" | "too-many-vertices" | "too-many-edges";

/** Result of {@link checkSpec}: the pruned spec, or the reason the spec is not in the space. */
export type Nb101Check =
  | { ok: true; pruned: Nb101Spec }
  | {
    ok: false;
    reason: Nb101Invalid;
    /** What is wrong, e.g. `11 edges after pruning (at most 9)`. */
    detail: string;
    /** `invalid NB101 cell <arch>: <detail>`. */
    message: string;
  };

/** Error thrown for a well-formed spec that is outside the NB101 space (disconnected, too large). */
export class Nb101SpecError extends Error {
  /** Which rule the spec breaks. */
  readonly reason: Nb101Invalid;

  /** Creates the error. */
  constructor(reason: Nb101Invalid, message: string) {
    super(message);
    this.name = "Nb101SpecError";
    this.reason = reason;
  }
}

const OP_LABEL: ReadonlyMap<string, number> = new Map(NB101_OPS.map((op, i) => [op, i]));
const OPS_LIST = NB101_OPS.join(", ");

/** True when `s` is one of the interior ops {@link NB101_OPS}. */
export function isNb101Op(s: string): s is Nb101Op {
  return OP_LABEL.has(s);
}

/** Number of vertices of `spec` (its n). */
export function numVertices(spec: Nb101Spec): number {
  return spec.ops.length;
}

/** Number of edges (ones in the adjacency) of `spec`. */
export function numEdges(spec: Nb101Spec): number {
  let e = 0;
  for (const row of spec.matrix) for (const x of row) e += x;
  return e;
}

function freezeSpec(matrix: number[][], ops: Nb101VertexOp[]): Nb101Spec {
  return Object.freeze({
    matrix: Object.freeze(matrix.map((r) => Object.freeze(r))),
    ops: Object.freeze(ops),
  });
}

/**
 * Builds a spec from an adjacency matrix and ops, checking the form (square, 2 <= n <= 7, 0/1 entries,
 * strictly upper triangular, `input` first, `output` last, interior ops from {@link NB101_OPS}); the
 * result is a frozen copy, not pruned. Throws a TypeError or RangeError describing the first problem.
 */
export function makeSpec(matrix: readonly (readonly number[])[], ops: readonly string[]): Nb101Spec {
  const n = ops.length;
  if (n < 2 || n > NB101_MAX_VERTICES) {
    throw new RangeError(`makeSpec: a cell has 2..${NB101_MAX_VERTICES} vertices, got ${n} ops`);
  }
  if (matrix.length !== n || matrix.some((r) => r.length !== n)) {
    throw new RangeError(`makeSpec: the adjacency must be ${n} x ${n} to match ${n} ops`);
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const x = matrix[i]![j]!;
      if (x !== 0 && x !== 1) throw new RangeError(`makeSpec: entry (${i},${j}) is ${x}; expected 0 or 1`);
      if (x === 1 && j <= i) {
        throw new RangeError(
          `makeSpec: edge ${i}->${j} is on or below the diagonal; the adjacency must be strictly upper triangular`,
        );
      }
    }
  }
  if (ops[0] !== "input") throw new TypeError(`makeSpec: the first op must be "input", got ${ops[0]}`);
  if (ops[n - 1] !== "output") {
    throw new TypeError(`makeSpec: the last op must be "output", got ${ops[n - 1]}`);
  }
  for (let v = 1; v < n - 1; v++) {
    if (!isNb101Op(ops[v]!)) {
      throw new TypeError(`makeSpec: op ${v} is ${JSON.stringify(ops[v])}; expected one of ${OPS_LIST}`);
    }
  }
  return freezeSpec(matrix.map((r) => r.slice()), ops.slice() as Nb101VertexOp[]);
}

// ---------------------------------------------------------------------------------------------------------
// Arch strings

function fail(input: string, what: string, token: string, pos: number, expected: string): never {
  const q = JSON.stringify(input.length > 200 ? input.slice(0, 200) + "..." : input);
  throw new ArchParseError(
    `${what} ${
      JSON.stringify(token)
    } at position ${pos} of ${q}; expected ${expected} (form ${NB101_ARCH_FORM})`,
    input,
    token,
    pos,
  );
}

/**
 * Parses an arch string `<bits>:<ops>` into a spec as written (not pruned; dangling vertices are kept).
 * Surrounding whitespace is ignored. Anything malformed (no or a second `:`, an adjacency whose length is not
 * n*n for n = 2..7, a character other than 0/1, a 1 on or below the diagonal, the wrong number of ops, an
 * unknown op, a first op other than `input` or a last op other than `output`) throws {@link ArchParseError}
 * naming the offending token and its 1-based position in `s`.
 */
export function parseSpec(s: string): Nb101Spec {
  const lead = s.length - s.trimStart().length;
  const t = s.trim();
  if (t === "") fail(s, "empty arch string", s, 1, "an NB101 arch string");
  const colon = t.indexOf(":");
  if (colon < 0) fail(s, `missing ":" between adjacency and ops in`, t, lead + 1, `"bits:ops"`);
  const colon2 = t.indexOf(":", colon + 1);
  if (colon2 >= 0) {
    fail(s, `unexpected second ":"`, ":", lead + colon2 + 1, `one ":" between adjacency and ops`);
  }
  const bits = t.slice(0, colon);
  const n = Math.round(Math.sqrt(bits.length));
  if (n * n !== bits.length || n < 2 || n > NB101_MAX_VERTICES) {
    fail(
      s,
      `adjacency of length ${bits.length} is not n*n for n = 2..${NB101_MAX_VERTICES}:`,
      bits,
      lead + 1,
      `4, 9, 16, 25, 36 or 49 bits`,
    );
  }
  const matrix: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row: number[] = [];
    for (let j = 0; j < n; j++) {
      const k = i * n + j;
      const c = bits[k]!;
      if (c !== "0" && c !== "1") fail(s, "bad adjacency bit", c, lead + k + 1, `"0" or "1"`);
      if (c === "1" && j <= i) {
        fail(
          s,
          `edge ${i}->${j} on or below the diagonal: bit`,
          c,
          lead + k + 1,
          `"0" (the adjacency must be strictly upper triangular, row = source vertex)`,
        );
      }
      row.push(c === "1" ? 1 : 0);
    }
    matrix.push(row);
  }
  const opsText = t.slice(colon + 1);
  const opsAt = lead + colon + 1;
  const pieces: { text: string; at: number }[] = [];
  let start = 0;
  for (;;) {
    const k = opsText.indexOf(";", start);
    pieces.push({ text: opsText.slice(start, k < 0 ? undefined : k), at: opsAt + start });
    if (k < 0) break;
    start = k + 1;
  }
  if (pieces.length !== n) {
    const tok = pieces.length > n ? pieces[n]! : { text: opsText, at: opsAt };
    fail(
      s,
      `${pieces.length} ops for a ${n}-vertex adjacency:`,
      tok.text,
      tok.at + 1,
      `${n} ops joined by ";"`,
    );
  }
  const ops: Nb101VertexOp[] = [];
  pieces.forEach(({ text, at }, v) => {
    if (v === 0) {
      if (text !== "input") fail(s, "first op", text, at + 1, `"input"`);
      ops.push("input");
    } else if (v === n - 1) {
      if (text !== "output") fail(s, "last op", text, at + 1, `"output"`);
      ops.push("output");
    } else {
      if (!isNb101Op(text)) fail(s, `bad op for vertex ${v}:`, text, at + 1, `one of ${OPS_LIST}`);
      ops.push(text);
    }
  });
  return freezeSpec(matrix, ops);
}

/** The arch string of `spec` as it is (not pruned): `<n*n bits row-major>:<ops joined by ;>`. */
export function formatSpec(spec: Nb101Spec): string {
  return `${spec.matrix.map((r) => r.join("")).join("")}:${spec.ops.join(";")}`;
}

// ---------------------------------------------------------------------------------------------------------
// Pruning and validity (NB101's ModelSpec._prune and NASBench._check_spec)

/**
 * Checks `spec` against the NB101 space: vertices not reachable from the input or not reaching the output
 * are removed (the others keep their order, as in NB101's `ModelSpec`); the spec is invalid when input and
 * output are disconnected, or when the pruned cell has more than 7 vertices or more than 9 edges.
 */
export function checkSpec(spec: Nb101Spec): Nb101Check {
  const n = spec.ops.length;
  const m = spec.matrix;
  const fromIn = new Array<boolean>(n).fill(false);
  const toOut = new Array<boolean>(n).fill(false);
  fromIn[0] = true;
  for (let v = 1; v < n; v++) {
    for (let u = 0; u < v && !fromIn[v]; u++) if (fromIn[u] && m[u]![v]) fromIn[v] = true;
  }
  toOut[n - 1] = true;
  for (let v = n - 2; v >= 0; v--) {
    for (let w = v + 1; w < n && !toOut[v]; w++) if (toOut[w] && m[v]![w]) toOut[v] = true;
  }
  const invalid = (reason: Nb101Invalid, detail: string): Nb101Check => ({
    ok: false,
    reason,
    detail,
    message: `invalid NB101 cell ${formatSpec(spec)}: ${detail}`,
  });
  if (!fromIn[n - 1]) return invalid("disconnected", "no path from input to output (disconnected)");
  const keep: number[] = [];
  for (let v = 0; v < n; v++) if (fromIn[v] && toOut[v]) keep.push(v);
  const pruned = freezeSpec(
    keep.map((i) => keep.map((j) => m[i]![j]!)),
    keep.map((v) => spec.ops[v]!),
  );
  const e = numEdges(pruned);
  if (keep.length > NB101_MAX_VERTICES) {
    return invalid(
      "too-many-vertices",
      `${keep.length} vertices after pruning (at most ${NB101_MAX_VERTICES})`,
    );
  }
  if (e > NB101_MAX_EDGES) {
    return invalid("too-many-edges", `${e} edges after pruning (at most ${NB101_MAX_EDGES})`);
  }
  return { ok: true, pruned };
}

/** True when `spec` is in the NB101 space (see {@link checkSpec}). */
export function isValidSpec(spec: Nb101Spec): boolean {
  return checkSpec(spec).ok;
}

/** The pruned spec of `spec`; throws {@link Nb101SpecError} when it is outside the NB101 space. */
export function pruneSpec(spec: Nb101Spec): Nb101Spec {
  const c = checkSpec(spec);
  if (!c.ok) throw new Nb101SpecError(c.reason, c.message);
  return c.pruned;
}

/**
 * Parses an arch string and returns the pruned cell. Throws {@link ArchParseError} for malformed strings
 * and for specs outside the space (token = the adjacency bits, with the reason: disconnected, or too many
 * vertices or edges after pruning).
 */
export function parseCell(s: string): Nb101Spec {
  const spec = parseSpec(s);
  const c = checkSpec(spec);
  if (!c.ok) {
    const lead = s.length - s.trimStart().length;
    const bits = s.trim().split(":")[0]!;
    fail(
      s,
      `cell outside the NB101 space, ${c.detail}, for adjacency`,
      bits,
      lead + 1,
      `a cell whose input reaches its output, with <= ${NB101_MAX_VERTICES} vertices and <= ` +
        `${NB101_MAX_EDGES} edges after pruning`,
    );
  }
  return c.pruned;
}

/** Parses the two CSV columns of an unpruned spec (adjacency bits, ops joined by `;`) like {@link parseCell}. */
export function parseCellParts(adjacency: string, ops: string): Nb101Spec {
  return parseCell(`${adjacency}:${ops}`);
}

/** The canonical arch string of a cell: the pruned spec, formatted. Throws like {@link pruneSpec}. */
export function formatCell(spec: Nb101Spec): string {
  return formatSpec(pruneSpec(spec));
}

/** Canonical form of an arch string (parsed, validated, pruned, formatted). Throws {@link ArchParseError}. */
export function canonicalCell(s: string): string {
  return formatSpec(parseCell(s));
}

// ---------------------------------------------------------------------------------------------------------
// NB101's graph hash (graph_util.hash_module)

function md5Hex(s: string): string {
  return createHash("md5").update(s, "utf8").digest("hex");
}

/**
 * NB101's isomorphism-invariant graph hash (`graph_util.hash_module`) of a square 0/1 matrix with integer
 * vertex labels: each vertex starts as MD5 of Python's `str((out_degree, in_degree, label))`; then, V times
 * (V = number of vertices), each vertex becomes MD5 of (its in-neighbours' hashes sorted and concatenated)
 * + `|` + (out-neighbours' likewise) + `|` + its own hash; the result is MD5 of Python's `str(sorted(hashes))`.
 * Works for any directed graph (no DAG needed). Returns 32 lowercase hex digits.
 */
export function hashModule(matrix: readonly (readonly number[])[], labels: readonly number[]): string {
  const n = labels.length;
  if (matrix.length !== n || matrix.some((r) => r.length !== n)) {
    throw new RangeError(`hashModule: the matrix must be ${n} x ${n} to match ${n} labels`);
  }
  let hashes = labels.map((label, v) => {
    let outDeg = 0;
    let inDeg = 0;
    for (let w = 0; w < n; w++) {
      outDeg += matrix[v]![w]!;
      inDeg += matrix[w]![v]!;
    }
    return md5Hex(`(${outDeg}, ${inDeg}, ${label})`);
  });
  for (let round = 0; round < n; round++) {
    hashes = hashes.map((h, v) => {
      const ins: string[] = [];
      const outs: string[] = [];
      for (let w = 0; w < n; w++) {
        if (matrix[w]![v]) ins.push(hashes[w]!);
        if (matrix[v]![w]) outs.push(hashes[w]!);
      }
      return md5Hex(`${ins.sort().join("")}|${outs.sort().join("")}|${h}`);
    });
  }
  return md5Hex(`[${hashes.sort().map((h) => `'${h}'`).join(", ")}]`);
}

/** NB101's integer vertex labels of `spec`: input -1, output -2, interior op = index in {@link NB101_OPS}. */
export function specLabels(spec: Nb101Spec): number[] {
  const n = spec.ops.length;
  return spec.ops.map((op, v) => v === 0 ? -1 : v === n - 1 ? -2 : OP_LABEL.get(op)!);
}

/**
 * NB101's dataset key of a cell (`ModelSpec.hash_spec`): {@link hashModule} of the pruned spec with
 * {@link specLabels}. Isomorphic cells, and specs that prune to the same cell, share the hash. Throws
 * {@link Nb101SpecError} for a spec outside the space.
 */
export function specHash(spec: Nb101Spec): string {
  const p = pruneSpec(spec);
  return hashModule(p.matrix, specLabels(p));
}

// ---------------------------------------------------------------------------------------------------------
// Sampling and mutation (the NB101 example notebook's random_spec and mutate_spec)

/** One raw 7-vertex spec as random_spec draws it: 21 fair bits (row-major), then 5 uniform interior ops. */
function drawRawSpec(rng: Rng): Nb101Spec {
  const n = NB101_MAX_VERTICES;
  const matrix: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) matrix[i]![j] = rng.int(2);
  const ops: Nb101VertexOp[] = ["input"];
  for (let v = 1; v < n - 1; v++) ops.push(NB101_OPS[rng.int(NB101_OPS.length)]!);
  ops.push("output");
  return freezeSpec(matrix, ops);
}

/**
 * `n` random cells as NB101's `random_spec` draws them: a 7 x 7 upper-triangular matrix of fair coin flips
 * and 5 uniform interior ops, redrawn until the spec is in the space. The returned specs are the raw 7-vertex
 * draws (unpruned, as `random_spec` keeps them for mutation); {@link formatCell} gives their canonical
 * strings and {@link specHash} their dataset keys. Note this is uniform over raw specs, not over the 423,624
 * distinct cells. Stream `deriveSeed(seed, "nb101.sample")`; deterministic in (n, seed), and the first k of
 * n draws equal the draws for n = k.
 */
export function sampleSpecs(n: number, seed: number): Nb101Spec[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`sampleSpecs: n must be a non-negative integer, got ${n}`);
  }
  const rng = new Rng(deriveSeed(seed, "nb101.sample"));
  const out: Nb101Spec[] = [];
  while (out.length < n) {
    const s = drawRawSpec(rng);
    if (isValidSpec(s)) out.push(s);
  }
  return out;
}

/** Options of {@link mutateSpec}. */
export interface MutateOptions {
  /** The notebook's `mutation_rate`: per-edge flip probability rate/7, per-op change rate/5 (default 1). */
  rate?: number;
  /** Retry until the child's hash differs from the parent's (default true; the notebook does not). */
  distinct?: boolean;
  /** Give up after this many tries (default 10,000). */
  maxTries?: number;
}

/**
 * A mutated child of `parent`, following `mutate_spec` of the NB101 example notebook (regularized
 * evolution), on the raw 7-vertex spec:
 * 1. A parent with fewer than 7 vertices is first padded to 7 by inserting unconnected vertices just before
 *    the output, each with an op drawn uniformly (one `rng.int(3)` each); they are pruned again unless an
 *    edge flip connects them.
 * 2. Each try copies the parent, then for each of the 21 slots src < dst in row-major order flips the edge
 *    when `rng.next() < rate / 7` (the notebook's `mutation_rate / NUM_VERTICES`: 3 flips expected), then
 *    for each interior vertex 1..5 replaces its op, when `rng.next() < rate / 5` (`mutation_rate /
 *    OP_SPOTS`), by one of the two other ops chosen uniformly (`rng.int(2)`).
 * 3. The try is kept when the child is in the space and, with `distinct` (default), its hash differs from
 *    the parent's; otherwise a new try starts from the parent. (The notebook returns any valid child,
 *    possibly the parent itself.)
 *
 * Returns the raw 7-vertex child (unpruned). Throws {@link Nb101SpecError} when the parent is outside the
 * space and an Error after `maxTries` failed tries.
 */
export function mutateSpec(parent: Nb101Spec, rng: Rng, options: MutateOptions = {}): Nb101Spec {
  const { rate = 1, distinct = true, maxTries = 10000 } = options;
  if (!(rate > 0)) throw new RangeError(`mutateSpec: rate must be > 0, got ${rate}`);
  const parentHash = specHash(parent);
  const N = NB101_MAX_VERTICES;
  const pn = parent.ops.length;
  // Pad to N vertices: parent vertices 0..pn-2 keep their index, the output moves to N-1.
  const idx = (v: number) => v === pn - 1 ? N - 1 : v;
  const base: number[][] = Array.from({ length: N }, () => new Array<number>(N).fill(0));
  for (let i = 0; i < pn; i++) for (let j = 0; j < pn; j++) base[idx(i)]![idx(j)] = parent.matrix[i]![j]!;
  const baseOps: Nb101VertexOp[] = new Array<Nb101VertexOp>(N);
  for (let v = 0; v < pn; v++) baseOps[idx(v)] = parent.ops[v]!;
  for (let v = pn - 1; v < N - 1; v++) baseOps[v] = NB101_OPS[rng.int(NB101_OPS.length)]!;
  const edgeP = rate / N;
  const opP = rate / (N - 2);
  for (let t = 0; t < maxTries; t++) {
    const m = base.map((r) => r.slice());
    const ops = baseOps.slice();
    for (let i = 0; i < N - 1; i++) {
      for (let j = i + 1; j < N; j++) if (rng.next() < edgeP) m[i]![j] = 1 - m[i]![j]!;
    }
    for (let v = 1; v < N - 1; v++) {
      if (rng.next() < opP) {
        const others = NB101_OPS.filter((o) => o !== ops[v]);
        ops[v] = others[rng.int(others.length)]!;
      }
    }
    const child = freezeSpec(m, ops);
    const c = checkSpec(child);
    if (!c.ok) continue;
    if (distinct && hashModule(c.pruned.matrix, specLabels(c.pruned)) === parentHash) continue;
    return child;
  }
  throw new Error(`mutateSpec: no valid${distinct ? ", different" : ""} child after ${maxTries} tries`);
}

// ---------------------------------------------------------------------------------------------------------
// Network size (NB101's model_builder)

/**
 * Channels of every vertex of a pruned cell, as NB101's `compute_vertex_channels`: input = `cin`, output =
 * `cout`; the vertices feeding the output split `cout` evenly, the first (cout mod k) of them (in vertex
 * order) getting one extra channel; every other interior vertex takes the max over its interior successors,
 * going backwards. Length n.
 */
export function vertexChannels(cin: number, cout: number, pruned: Nb101Spec): number[] {
  const n = pruned.ops.length;
  const m = pruned.matrix;
  const ch = new Array<number>(n).fill(0);
  ch[0] = cin;
  ch[n - 1] = cout;
  if (n === 2) return ch;
  let fanIn = 0;
  for (let v = 1; v < n - 1; v++) fanIn += m[v]![n - 1]!;
  if (fanIn === 0) throw new Nb101SpecError("disconnected", "vertexChannels: expects a pruned cell");
  const each = Math.floor(cout / fanIn);
  let extra = cout % fanIn;
  for (let v = 1; v < n - 1; v++) {
    if (m[v]![n - 1]) {
      ch[v] = each + (extra > 0 ? 1 : 0);
      if (extra > 0) extra--;
    }
  }
  for (let v = n - 3; v > 0; v--) {
    if (m[v]![n - 1]) continue;
    for (let w = v + 1; w < n - 1; w++) if (m[v]![w]) ch[v] = Math.max(ch[v]!, ch[w]!);
  }
  return ch;
}

/** Options of {@link nb101Params}. */
export interface Nb101NetworkOptions {
  /** Stem output channels (NB101: 128; the NASWOT repository used 16). */
  stem?: number;
  /** Number of stacks (NB101: 3); channels double and a 2x2 max-pool runs before each stack but the first. */
  stacks?: number;
  /** Cells per stack (NB101: 3). */
  cellsPerStack?: number;
  /** Classifier outputs (NB101: 10). */
  classes?: number;
  /** Input image channels (NB101: 3). */
  inputChannels?: number;
}

/** Parameters of one Conv(k x k, no bias) -> BN -> ReLU: weights + BN gamma and beta (TF trainables). */
function convBnRelu(k: number, cin: number, cout: number): number {
  return k * k * cin * cout + 2 * cout;
}

/** Trainable parameters of one cell with `cin` input and `cout` output channels (see {@link nb101Params}). */
export function cellParams(pruned: Nb101Spec, cin: number, cout: number): number {
  const n = pruned.ops.length;
  const m = pruned.matrix;
  const ch = vertexChannels(cin, cout, pruned);
  let p = 0;
  for (let v = 1; v < n - 1; v++) {
    if (m[0]![v]) p += convBnRelu(1, cin, ch[v]!); // projection of the cell input
    const op = pruned.ops[v]!;
    if (op === "conv3x3-bn-relu") p += convBnRelu(3, ch[v]!, ch[v]!);
    else if (op === "conv1x1-bn-relu") p += convBnRelu(1, ch[v]!, ch[v]!);
  }
  if (m[0]![n - 1]) p += convBnRelu(1, cin, cout);
  return p;
}

/**
 * Number of trainable parameters of the NB101 network built from a cell (the dataset's
 * `trainable_parameters`): stem Conv3x3(3 -> stem) -> BN -> ReLU; `stacks` stacks of `cellsPerStack` cells,
 * each stack after the first preceded by a 2x2 max-pool (stride 2) and doubling the channels (the first cell
 * of a stack maps the old width to the new); global average pool; dense layer with bias to `classes`.
 * Inside a cell (channels from {@link vertexChannels}): a Conv1x1 -> BN -> ReLU projection of the cell input
 * to every vertex the input feeds (to `cout` channels for an input -> output edge); conv ops are
 * Conv(k x k, ch[v] -> ch[v], no bias) -> BN -> ReLU; max-pool and truncation have no parameters; the output
 * is the concatenation of the vertices feeding it (plus the projected input). Batch norm counts its 2
 * trainable vectors (gamma, beta) per channel, as TF's `trainable_variables` do; the moving mean and variance
 * are not counted. Throws {@link Nb101SpecError} for a spec outside the space.
 *
 * The count depends on the vertex numbering, not only on the cell: when the output's fan-in k does not divide
 * the channels, the first (channels mod k) feeders in vertex order get the extra channel, so two isomorphic
 * specs (same {@link specHash}) can differ by a few thousand parameters. NB101's `trainable_parameters` is the
 * count of the numbering stored in the dataset; NASLib's `params` is the count of the numbering it was given.
 */
export function nb101Params(spec: Nb101Spec, options: Nb101NetworkOptions = {}): number {
  const { stem = 128, stacks = 3, cellsPerStack = 3, classes = 10, inputChannels = 3 } = options;
  const pruned = pruneSpec(spec);
  let p = convBnRelu(3, inputChannels, stem);
  let c = stem;
  for (let s = 0; s < stacks; s++) {
    const cout = s === 0 ? c : 2 * c;
    for (let k = 0; k < cellsPerStack; k++) {
      p += cellParams(pruned, k === 0 ? c : cout, cout);
    }
    c = cout;
  }
  return p + c * classes + classes;
}
