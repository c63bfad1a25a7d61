/**
 * Tests of the NAS-Bench-101 cell space (spaces/nb101.ts): arch strings, pruning and validity, NB101's graph
 * hash, sampling, mutation and the network's parameter count (against published NB101 numbers and all 500
 * rows of ../shared/data/nasbench101/nb101_naslib_zc500.csv). Pure logic; no GPU needed.
 * @module
 */

import assert from "node:assert/strict";
import {
  ArchParseError,
  canonicalCell,
  checkSpec,
  formatCell,
  formatSpec,
  hashModule,
  isValidSpec,
  makeSpec,
  mutateSpec,
  NB101_OPS,
  nb101Params,
  type Nb101Spec,
  Nb101SpecError,
  numEdges,
  numVertices,
  parseCell,
  parseCellParts,
  parseSpec,
  pruneSpec,
  sampleSpecs,
  specHash,
  specLabels,
  vertexChannels,
} from "../spaces/nb101.ts";
import { Rng } from "../spaces/rng.ts";
import { sharedData } from "./_helpers.ts";

const C3 = "conv3x3-bn-relu";
const C1 = "conv1x1-bn-relu";
const MP = "maxpool3x3";

/**
 * A cell of the NB101 dataset with its published key and `trainable_parameters` (the row with hash
 * 00005c14..., as printed by several public NB101 readers, e.g. NNI's NAS-Bench-101 docs and dataset dumps).
 */
const KNOWN_MATRIX = [
  [0, 1, 0, 0, 1, 1, 0],
  [0, 0, 1, 0, 0, 0, 0],
  [0, 0, 0, 1, 0, 0, 1],
  [0, 0, 0, 0, 0, 1, 0],
  [0, 0, 0, 0, 0, 1, 0],
  [0, 0, 0, 0, 0, 0, 1],
  [0, 0, 0, 0, 0, 0, 0],
];
const KNOWN_OPS = ["input", C3, MP, C3, C3, C1, "output"];
const KNOWN_HASH = "00005c142e6f48ac74fdcf73e3439874";
const KNOWN_PARAMS = 8555530;
const KNOWN_STR = "0100110001000000010010000010000001000000010000000:" +
  "input;conv3x3-bn-relu;maxpool3x3;conv3x3-bn-relu;conv3x3-bn-relu;conv1x1-bn-relu;output";

/** Asserts that `fn` throws an ArchParseError whose message names `token`, `position` and `fragment`. */
function assertParseError(fn: () => unknown, token: string, position: number, fragment: string): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ArchParseError, `expected ArchParseError, got ${String(caught)}`);
  const err = caught;
  assert.equal(err.token, token, err.message);
  assert.equal(err.position, position, err.message);
  assert.ok(err.message.includes(JSON.stringify(token)), `message lacks token ${token}: ${err.message}`);
  assert.ok(err.message.includes(`position ${position}`), `message lacks position: ${err.message}`);
  assert.ok(err.message.includes(fragment), `message lacks "${fragment}": ${err.message}`);
  assert.ok(err.message.includes("form <n*n adjacency bits"), `message lacks the form: ${err.message}`);
}

/** The spec with its interior vertices renumbered by `perm` (perm[old - 1] = new - 1), not re-validated. */
function relabel(spec: Nb101Spec, perm: number[]): { matrix: number[][]; ops: string[] } {
  const n = spec.ops.length;
  const to = (v: number) => v === 0 || v === n - 1 ? v : perm[v - 1]! + 1;
  const matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const ops = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    ops[to(i)] = spec.ops[i]!;
    for (let j = 0; j < n; j++) matrix[to(i)]![to(j)] = spec.matrix[i]![j]!;
  }
  return { matrix, ops };
}

function permutations(k: number): number[][] {
  if (k === 0) return [[]];
  const out: number[][] = [];
  for (const p of permutations(k - 1)) {
    for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), k - 1, ...p.slice(i)]);
  }
  return out;
}

/** A random topological order of the interior vertices (a relabelling that keeps the matrix upper triangular). */
function randomTopoPerm(spec: Nb101Spec, rng: Rng): number[] {
  const n = spec.ops.length;
  const indeg = new Array<number>(n).fill(0);
  for (let i = 1; i < n - 1; i++) for (let j = 1; j < n - 1; j++) indeg[j]! += spec.matrix[i]![j]!;
  const ready: number[] = [];
  for (let v = 1; v < n - 1; v++) if (indeg[v] === 0) ready.push(v);
  const perm = new Array<number>(n - 2);
  let next = 0;
  while (ready.length > 0) {
    const v = ready.splice(rng.int(ready.length), 1)[0]!;
    perm[v - 1] = next++;
    for (let w = 1; w < n - 1; w++) {
      if (spec.matrix[v]![w] && --indeg[w]! === 0) ready.push(w);
    }
  }
  return perm;
}

/** Brute-force isomorphism class key of a pruned cell: min over interior relabellings of its text form. */
function isoKey(spec: Nb101Spec): string {
  let best = "";
  for (const p of permutations(spec.ops.length - 2)) {
    const { matrix, ops } = relabel(spec, p);
    const k = matrix.map((r) => r.join("")).join("") + ":" + ops.join(";");
    if (best === "" || k < best) best = k;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// arch strings

Deno.test("parseCell, specHash and nb101Params reproduce the published NB101 cell 00005c14...", () => {
  const spec = makeSpec(KNOWN_MATRIX, KNOWN_OPS);
  assert.equal(formatSpec(spec), KNOWN_STR);
  const cell = parseCell(KNOWN_STR);
  assert.deepEqual(cell, spec);
  assert.equal(specHash(cell), KNOWN_HASH);
  assert.equal(nb101Params(cell), KNOWN_PARAMS);
  assert.equal(canonicalCell(`  ${KNOWN_STR}\n`), KNOWN_STR);
});

Deno.test("formatSpec and parseSpec round-trip when given sampled raw specs and their pruned cells", () => {
  for (const s of sampleSpecs(300, 5)) {
    const text = formatSpec(s);
    assert.equal(formatSpec(parseSpec(text)), text);
    const canon = formatCell(s);
    assert.equal(canonicalCell(text), canon);
    assert.equal(canonicalCell(canon), canon, "canonical strings are fixed points");
    assert.ok(!/[,"']/.test(canon), `CSV-unsafe: ${canon}`);
  }
});

Deno.test("parseSpec rejects malformed arch strings naming the token, its position and the form", () => {
  const ok = "0110000100010000:input;conv3x3-bn-relu;maxpool3x3;output";
  assert.equal(formatSpec(parseSpec(ok)), ok);
  assertParseError(() => parseSpec(""), "", 1, "empty arch string");
  assertParseError(() => parseSpec("0110"), "0110", 1, `missing ":"`);
  assertParseError(() => parseSpec("0100:input:output"), ":", 11, `second ":"`);
  assertParseError(() => parseSpec("01100:input;output"), "01100", 1, "not n*n");
  assertParseError(() => parseSpec("0:input"), "0", 1, "not n*n");
  assertParseError(() => parseSpec("0".repeat(64) + ":x"), "0".repeat(64), 1, "not n*n");
  assertParseError(() => parseSpec("0110000100x10000:input;c;m;output"), "x", 11, "bad adjacency bit");
  assertParseError(() => parseSpec(" 0120:input;output"), "2", 4, "bad adjacency bit");
  // bit 9 is (2, 0): an edge pointing backwards
  assertParseError(
    () => parseSpec("0110000110010000:input;conv3x3-bn-relu;maxpool3x3;output"),
    "1",
    9,
    "below the diagonal",
  );
  assertParseError(() => parseSpec("1100:input;output"), "1", 1, "edge 0->0 on or below the diagonal");
  assertParseError(() => parseSpec("0100:input;maxpool3x3;output"), "output", 23, "3 ops for a 2-vertex");
  assertParseError(() => parseSpec(`${ok.split(":")[0]}:input;output`), "input;output", 18, "2 ops");
  assertParseError(
    () => parseSpec("0110000100010000:input;conv5x5-bn-relu;maxpool3x3;output"),
    "conv5x5-bn-relu",
    24,
    "bad op for vertex 1",
  );
  assertParseError(
    () => parseSpec("0110000100010000:input;output;maxpool3x3;output"),
    "output",
    24,
    "one of conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3",
  );
  assertParseError(() => parseSpec("0100:conv3x3-bn-relu;output"), "conv3x3-bn-relu", 6, `first op`);
  assertParseError(() => parseSpec("0100:input;maxpool3x3"), "maxpool3x3", 12, `last op`);
  assertParseError(() => parseSpec("0100:input;Output"), "Output", 12, `"output"`);
  assertParseError(() => parseSpec("0100:input;output;"), "", 19, "3 ops");
});

Deno.test("parseCell rejects cells outside the space: disconnected or too many edges after pruning", () => {
  // input -> 1 and 2 -> output, no path from input to output
  assertParseError(
    () => parseCell("0100000000010000:input;conv3x3-bn-relu;conv3x3-bn-relu;output"),
    "0100000000010000",
    1,
    "no path from input to output",
  );
  assertParseError(() => parseCell(" 0000:input;output"), "0000", 2, "disconnected");
  // The full 7-vertex DAG: 21 edges, nothing to prune.
  const full = Array.from({ length: 7 }, (_, i) => Array.from({ length: 7 }, (_, j) => (j > i ? 1 : 0)));
  const fullStr = formatSpec(makeSpec(full, ["input", C3, C3, C3, C3, C3, "output"]));
  assertParseError(() => parseCell(fullStr), fullStr.split(":")[0]!, 1, "21 edges after pruning (at most 9)");
  // 10 edges on 6 kept vertices plus one dangling vertex (vertex 5, no out-edge) carrying 2 more edges.
  const m = [
    [0, 1, 1, 1, 1, 1, 0],
    [0, 0, 1, 0, 0, 0, 1],
    [0, 0, 0, 1, 0, 0, 1],
    [0, 0, 0, 0, 1, 1, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
  ];
  const spec = makeSpec(m, ["input", C3, C3, C3, C3, MP, "output"]);
  assert.equal(numEdges(spec), 13);
  const c = checkSpec(spec);
  assert.ok(!c.ok && c.reason === "too-many-edges", JSON.stringify(c));
  assert.ok(!c.ok && c.message.includes("11 edges after pruning"), !c.ok ? c.message : "");
  assert.throws(() => pruneSpec(spec), (e) => e instanceof Nb101SpecError && e.reason === "too-many-edges");
  assert.throws(() => specHash(spec), Nb101SpecError);
  assert.throws(() => nb101Params(spec), Nb101SpecError);
  assert.equal(isValidSpec(spec), false);
});

Deno.test("makeSpec rejects bad shapes, non-0/1 entries, lower-triangular edges and misplaced ops", () => {
  assert.throws(() => makeSpec([[0]], ["input"]), /2\.\.7 vertices/);
  assert.throws(() => makeSpec([[0, 1], [0, 0]], ["input", MP, "output"]), /3 x 3/);
  assert.throws(() => makeSpec([[0, 2], [0, 0]], ["input", "output"]), /expected 0 or 1/);
  assert.throws(() => makeSpec([[0, 1], [1, 0]], ["input", "output"]), /strictly upper triangular/);
  assert.throws(() => makeSpec([[0, 1], [0, 0]], ["output", "input"]), /first op must be "input"/);
  assert.throws(
    () => makeSpec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "avg", "output"]),
    /expected one of/,
  );
});

// ---------------------------------------------------------------------------------------------------------
// pruning

Deno.test("pruneSpec drops vertices not on an input->output path and keeps the others in order", () => {
  // 0 -> 1 -> 4(out); 2 is not reachable from input (2 -> 4); 3 is reachable but does not reach output.
  const spec = parseSpec("0101000001000010000000000:input;conv3x3-bn-relu;maxpool3x3;conv1x1-bn-relu;output");
  const p = pruneSpec(spec);
  assert.equal(formatSpec(p), "010001000:input;conv3x3-bn-relu;output");
  assert.equal(numVertices(p), 3);
  assert.equal(numEdges(p), 2);
  // A dangling vertex between kept ones: kept vertices are renumbered consecutively.
  const q = pruneSpec(parseSpec("0110000100000000:input;maxpool3x3;conv1x1-bn-relu;output"));
  assert.equal(formatSpec(q), "010001000:input;maxpool3x3;output");
  // Everything but the input->output edge dangles: the trivial cell.
  assert.equal(canonicalCell("0001000000000000:input;maxpool3x3;maxpool3x3;output"), "0100:input;output");
  assert.equal(
    specHash(parseSpec("0001000000000000:input;maxpool3x3;maxpool3x3;output")),
    specHash(parseCell("0100:input;output")),
  );
  // A valid cell is its own pruned form.
  assert.deepEqual(pruneSpec(parseCell(KNOWN_STR)), parseCell(KNOWN_STR));
});

Deno.test("vertexChannels splits the output over its feeders, remainder first, interior = max of successors", () => {
  // 1, 2, 3 feed the output: 128 = 43 + 43 + 42.
  const three = parseCell(
    "0111000001000010000100000:input;conv3x3-bn-relu;conv3x3-bn-relu;maxpool3x3;output",
  );
  assert.deepEqual(vertexChannels(64, 128, three), [64, 43, 43, 42, 128]);
  // the published cell: 2 and 5 feed the output (64 each); 1 -> 2, 3 -> 5, 4 -> 5 take 64.
  assert.deepEqual(vertexChannels(128, 128, parseCell(KNOWN_STR)), [128, 64, 64, 64, 64, 64, 128]);
  // 0 -> 1 -> {2, 3}; 2 and 3 feed the output (129 = 65 + 64); 1 does not and takes max(65, 64).
  const chain = parseCell(
    "0100000110000010000100000:input;conv3x3-bn-relu;conv3x3-bn-relu;conv1x1-bn-relu;output",
  );
  assert.deepEqual(vertexChannels(3, 129, chain), [3, 65, 65, 64, 129]);
  assert.deepEqual(vertexChannels(16, 32, parseCell("0100:input;output")), [16, 32]);
});

// ---------------------------------------------------------------------------------------------------------
// hash

Deno.test("hashModule separates and merges the graphs of NB101's own graph_util tests", () => {
  const m4 = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]];
  assert.equal(hashModule(m4, [-1, 1, 2, -2]), hashModule(m4, [-1, 2, 1, -2]));
  const a = [[0, 1, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]];
  const b = [[0, 1, 0, 1, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]];
  const c = [[0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]];
  const h1 = hashModule(a, [-1, 1, 2, 3, -2]);
  assert.equal(hashModule(b, [-1, 2, 3, 1, -2]), h1);
  assert.equal(hashModule(c, [-1, 2, 1, 3, -2]), h1);
  assert.notEqual(hashModule(a, [-1, 2, 3, 1, -2]), h1);
  assert.notEqual(hashModule(a, [-1, 2, 1, 3, -2]), h1);
  const r1 = [
    [0, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 1, 0],
    [0, 0, 0, 0, 1, 1, 0, 0],
    [0, 0, 0, 0, 1, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0, 0],
  ];
  const r2 = [
    [0, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 0, 1, 0, 0],
    [0, 0, 0, 0, 1, 0, 1, 0],
    [0, 0, 0, 0, 1, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0, 0],
  ];
  const l8 = [-1, 1, 1, 1, 1, 1, 1, -2];
  assert.notEqual(hashModule(r1, l8), hashModule(r2, l8));
  const path = [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]];
  assert.notEqual(hashModule(path, [-1, 1, 0, 0, -2]), hashModule(path, [-1, 0, 0, 1, -2]));
  const skip = [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]];
  assert.notEqual(hashModule(skip, [-1, 1, 0, -2]), hashModule(skip, [-1, 0, 1, -2]));
  const t7 = [
    [0, 1, 1, 1, 1, 0, 0],
    [0, 0, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0],
  ];
  assert.notEqual(hashModule(t7, [-1, 1, 0, 0, 0, 0, -2]), hashModule(t7, [-1, 0, 0, 0, 1, 0, -2]));
  assert.throws(() => hashModule(m4, [-1, -2]), /must be 2 x 2 to match 2 labels/);
});

Deno.test("specHash is the same for the README's Inception-like cell and the dataset's stored form of it", () => {
  // NB101 README query and the adjacency the dataset returns for it (NB101 colab output), 2,694,282 params.
  const query = makeSpec([
    [0, 1, 1, 1, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0],
  ], ["input", C1, C3, C3, C3, MP, "output"]);
  const stored = makeSpec([
    [0, 1, 1, 1, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0],
  ], ["input", C3, C1, MP, C3, C3, "output"]);
  assert.equal(specHash(query), specHash(stored));
  assert.notEqual(formatCell(query), formatCell(stored));
  assert.equal(nb101Params(query), 2694282);
  assert.equal(nb101Params(stored), 2694282);
  // a different op on one vertex is a different cell
  const other = makeSpec(stored.matrix, ["input", C3, C3, MP, C3, C3, "output"]);
  assert.notEqual(specHash(other), specHash(stored));
});

Deno.test("specHash is invariant under every interior relabelling and under dangling vertices (known cell)", () => {
  const spec = parseCell(KNOWN_STR);
  const labels = specLabels(spec);
  assert.deepEqual(labels, [-1, 0, 2, 0, 0, 1, -2]);
  let topo = 0;
  for (const p of permutations(5)) {
    const { matrix, ops } = relabel(spec, p);
    const pl = ops.map((op, v) =>
      v === 0 ? -1 : v === 6 ? -2 : NB101_OPS.indexOf(op as typeof NB101_OPS[number])
    );
    assert.equal(hashModule(matrix, pl), KNOWN_HASH, `permutation ${p}`);
    if (matrix.every((r, i) => r.every((x, j) => x === 0 || j > i))) {
      topo++;
      assert.equal(specHash(makeSpec(matrix, ops)), KNOWN_HASH);
    }
  }
  assert.ok(topo > 1, "some relabellings keep the matrix upper triangular");
});

// ---------------------------------------------------------------------------------------------------------
// sampling and mutation

Deno.test("sampleSpecs is deterministic in the seed, prefix-stable, valid, and mostly distinct", () => {
  const a = sampleSpecs(200, 11);
  const b = sampleSpecs(200, 11);
  assert.deepEqual(a.map(formatSpec), b.map(formatSpec));
  assert.deepEqual(sampleSpecs(50, 11).map(formatSpec), a.slice(0, 50).map(formatSpec));
  const c = sampleSpecs(200, 12);
  assert.notDeepEqual(a.map(formatSpec), c.map(formatSpec));
  assert.deepEqual(sampleSpecs(0, 1), []);
  assert.throws(() => sampleSpecs(-1, 1), RangeError);
  const hashes = new Set<string>();
  for (const s of a) {
    assert.equal(numVertices(s), 7, "raw 7-vertex draws");
    assert.ok(isValidSpec(s));
    const p = pruneSpec(s);
    assert.ok(numEdges(p) <= 9 && numVertices(p) <= 7);
    hashes.add(specHash(s));
  }
  // random_spec favours small cells (many draws prune to the same few), so repeats are common: 129 of 200.
  assert.ok(hashes.size >= 100, `only ${hashes.size} distinct cells in 200 draws`);
  // every interior op occurs
  const ops = new Set(a.flatMap((s) => pruneSpec(s).ops));
  for (const op of NB101_OPS) assert.ok(ops.has(op), op);
});

Deno.test("mutateSpec gives valid children with a different hash, deterministic in the rng", () => {
  const parents = sampleSpecs(40, 3);
  const kids1 = parents.map((p, i) => mutateSpec(p, new Rng(100 + i)));
  const kids2 = parents.map((p, i) => mutateSpec(p, new Rng(100 + i)));
  assert.deepEqual(kids1.map(formatSpec), kids2.map(formatSpec));
  parents.forEach((p, i) => {
    const k = kids1[i]!;
    assert.equal(numVertices(k), 7);
    assert.ok(isValidSpec(k), formatSpec(k));
    assert.notEqual(specHash(k), specHash(p));
  });
  // Pruned parents (fewer than 7 vertices) are padded first, so children can grow.
  const trivial = parseCell("0100:input;output");
  const rng = new Rng(7);
  const grown = new Set<number>();
  for (let t = 0; t < 50; t++) {
    const k = mutateSpec(trivial, rng);
    assert.ok(isValidSpec(k));
    assert.notEqual(specHash(k), specHash(trivial));
    grown.add(numVertices(pruneSpec(k)));
  }
  assert.ok(grown.size > 1, "children of the trivial cell have several sizes");
  // Without `distinct` the child may repeat the parent's cell (the notebook's behaviour).
  const r = new Rng(1);
  let same = 0;
  for (let t = 0; t < 200; t++) {
    if (specHash(mutateSpec(trivial, r, { distinct: false })) === specHash(trivial)) same++;
  }
  assert.ok(same > 0, "some non-distinct children equal the parent");
  const bad = parseSpec("0000:input;output");
  assert.throws(() => mutateSpec(bad, new Rng(0)), Nb101SpecError);
  assert.throws(() => mutateSpec(trivial, new Rng(0), { rate: 0 }), RangeError);
});

// ---------------------------------------------------------------------------------------------------------
// parameter count

Deno.test("nb101Params counts the trivial cell, the stem option and the largest cell", () => {
  const trivial = parseCell("0100:input;output");
  // stem 27*128 + 2*128; stack 1: 3 x (128*128 + 256); stack 2: 128*256 + 512 + 2 x (256*256 + 512);
  // stack 3: 256*512 + 1024 + 2 x (512*512 + 1024); dense 512*10 + 10.
  assert.equal(nb101Params(trivial), 882570);
  // the same with a 16-channel stem: 464 + 3 x 288 + (576 + 2 x 1088) + (2176 + 2 x 4224) + 650
  assert.equal(nb101Params(trivial, { stem: 16 }), 15354);
  assert.equal(nb101Params(parseCell(KNOWN_STR), { classes: 100 }), KNOWN_PARAMS + 90 * 512 + 90);
  // The largest cell of our count over all 2^21 7-vertex adjacencies (exhaustive search run once, offline):
  // input -> 1..4, 1 -> 2 -> 3 -> 4 -> 5 -> output, all conv3x3 - 49,979,274, the number quoted as NB101's
  // largest network.
  const largest = parseCell(
    "0111100001000000010000000100000001000000010000000:" +
      "input;conv3x3-bn-relu;conv3x3-bn-relu;conv3x3-bn-relu;conv3x3-bn-relu;conv3x3-bn-relu;output",
  );
  assert.equal(nb101Params(largest), 49979274);
});

Deno.test("nb101Params depends on vertex order when the output's fan-in does not divide the channels", () => {
  // Two numberings of one cell (same hash), both rows of the NASLib table: 128 = 43 + 43 + 42 channels go to
  // the output's feeders in vertex order, so which conv gets 42 changes the count (csv: 1.861666, 1.86577 M).
  const a = parseCell(
    "0110000011000010000100000:input;conv1x1-bn-relu;conv3x3-bn-relu;conv1x1-bn-relu;output",
  );
  const b = parseCell(
    "0110000001000110000100000:input;conv3x3-bn-relu;conv1x1-bn-relu;conv1x1-bn-relu;output",
  );
  assert.equal(specHash(a), specHash(b));
  assert.equal(nb101Params(a), 1861666);
  assert.equal(nb101Params(b), 1865770);
});

// ---------------------------------------------------------------------------------------------------------
// the NASLib table (500 NB101 cells): ../shared/data/nasbench101/nb101_naslib_zc500.csv

const CSV = sharedData("nasbench101/nb101_naslib_zc500.csv");

interface Row {
  line: number;
  adjacency: string;
  ops: string;
  cell: Nb101Spec;
  fields: Record<string, string>;
}

function readRows(path: string): Row[] {
  const lines = Deno.readTextFileSync(path).split(/\r?\n/).filter((l) => l !== "");
  const header = lines[0]!.split(",");
  assert.equal(header[0], "adjacency_rowmajor_7x7");
  assert.equal(header[1], "ops");
  return lines.slice(1).map((l, i) => {
    const f = l.split(",");
    const fields: Record<string, string> = {};
    header.forEach((h, k) => fields[h] = f[k]!);
    return { line: i + 2, adjacency: f[0]!, ops: f[1]!, cell: parseCellParts(f[0]!, f[1]!), fields };
  });
}

Deno.test({
  name: "nb101Params matches the params column (M, 6 decimals) when checked on all 500 NASLib rows",
  ignore: CSV === null,
  fn: () => {
    const rows = readRows(CSV!);
    assert.equal(rows.length, 500);
    const bad: string[] = [];
    for (const r of rows) {
      const p = nb101Params(r.cell);
      const want = Number(r.fields["params"]);
      if (!(Math.abs(p / 1e6 - want) <= 5e-7)) bad.push(`line ${r.line}: got ${p}, csv ${want} M`);
    }
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} mismatches`);
  },
});

Deno.test({
  name: "parseCellParts prunes as the CSV's pruned columns say and round-trips the raw 7x7 form",
  ignore: CSV === null,
  fn: () => {
    for (const r of readRows(CSV!)) {
      const raw = parseSpec(`${r.adjacency}:${r.ops}`);
      assert.equal(formatSpec(raw), `${r.adjacency}:${r.ops}`);
      assert.equal(numEdges(raw), Number(r.fields["num_edges"]), `line ${r.line}`);
      assert.equal(numVertices(r.cell), Number(r.fields["pruned_num_vertices"]), `line ${r.line}`);
      assert.equal(numEdges(r.cell), Number(r.fields["pruned_num_edges"]), `line ${r.line}`);
      assert.equal(canonicalCell(formatCell(raw)), formatSpec(r.cell));
    }
  },
});

Deno.test({
  name: "specHash groups the 500 NASLib cells exactly as brute-force isomorphism does (55 trivial rows)",
  ignore: CSV === null,
  fn: () => {
    const rows = readRows(CSV!);
    const byHash = new Map<string, Row[]>();
    const keyOfHash = new Map<string, string>();
    const hashOfKey = new Map<string, string>();
    for (const r of rows) {
      const h = specHash(r.cell);
      const k = isoKey(r.cell);
      byHash.set(h, [...(byHash.get(h) ?? []), r]);
      assert.equal(keyOfHash.get(h) ?? k, k, `hash ${h} joins non-isomorphic cells (line ${r.line})`);
      assert.equal(hashOfKey.get(k) ?? h, h, `isomorphic cells get different hashes (line ${r.line})`);
      keyOfHash.set(h, k);
      hashOfKey.set(k, h);
    }
    // Rows of one cell share their pruned size (params may differ: see the vertex-order test).
    for (const group of byHash.values()) {
      for (const col of ["pruned_num_vertices", "pruned_num_edges"]) {
        assert.equal(new Set(group.map((r) => r.fields[col])).size, 1, `${col} differs within a hash group`);
      }
    }
    const trivial = byHash.get(specHash(parseCell("0100:input;output")))!;
    assert.equal(trivial.length, 55);
    const accs = new Set(trivial.map((r) => Number(r.fields["val_accuracy"]).toFixed(2)));
    assert.ok(accs.size <= 3, `the trivial cell has 3 seeds, got ${[...accs]}`);
  },
});

Deno.test({
  name: "specHash is invariant under random topological relabellings and padding of all 500 NASLib cells",
  ignore: CSV === null,
  fn: () => {
    const rng = new Rng(2024);
    for (const r of readRows(CSV!)) {
      const h = specHash(r.cell);
      for (let t = 0; t < 3; t++) {
        const { matrix, ops } = relabel(r.cell, randomTopoPerm(r.cell, rng));
        assert.equal(specHash(makeSpec(matrix, ops)), h, `line ${r.line}`);
        // arbitrary relabelling (matrix no longer upper triangular): hashModule alone
        const perm = rng.shuffle(Array.from({ length: r.cell.ops.length - 2 }, (_, i) => i));
        const q = relabel(r.cell, perm);
        const labels = q.ops.map((op, v) =>
          v === 0 ? -1 : v === q.ops.length - 1 ? -2 : NB101_OPS.indexOf(op as typeof NB101_OPS[number])
        );
        assert.equal(hashModule(q.matrix, labels), h, `line ${r.line}`);
      }
      // the raw (unpruned) spec hashes like its pruned cell
      assert.equal(specHash(parseSpec(`${r.adjacency}:${r.ops}`)), h);
    }
  },
});
