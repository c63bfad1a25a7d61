/**
 * Tests of the DARTS / NAS-Bench-301 space: the three text forms, canonical edge order, parse errors, sampling,
 * mutation, and the network's parameter count and FLOPs against NASLib's NB301 zero-cost table (725 rows,
 * skipped when ../shared/data is absent). Pure logic; no GPU needed.
 * @module
 */

import assert from "node:assert/strict";
import {
  canonicalDartsGenotype,
  DARTS_EDGES_PER_CELL,
  DARTS_OPS,
  dartsEdgeNode,
  type DartsGenotype,
  dartsGenotypeProblem,
  dartsNetworkCost,
  formatDartsArch,
  formatDartsGenotypeRepr,
  formatNaslibCompact,
  isDartsGenotype,
  mutateDartsGenotype,
  parseDartsAny,
  parseDartsArch,
  parseDartsGenotypeRepr,
  parseNaslibCompact,
  sampleDartsGenotype,
  sampleDartsGenotypes,
} from "../spaces/darts.ts";
import { ArchParseError } from "../spaces/nb201.ts";
import { Rng } from "../spaces/rng.ts";

// Row 1 of nb301_naslib_zc725.csv, in its two encodings, and its canonical string.
const REPR = "Genotype(normal=[('max_pool_3x3', 0), ('dil_conv_3x3', 1), ('avg_pool_3x3', 1), " +
  "('avg_pool_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 3)], " +
  "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), " +
  "('sep_conv_3x3', 0), ('max_pool_3x3', 3), ('avg_pool_3x3', 0), ('max_pool_3x3', 2), ('dil_conv_5x5', 3)], " +
  "reduce_concat=[2, 3, 4, 5])";
const COMPACT = "[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], " +
  "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]";
const CANON = "normal=|max_pool_3x3~0|dil_conv_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|+" +
  "|sep_conv_3x3~0|sep_conv_3x3~1|+|sep_conv_3x3~1|skip_connect~3|;" +
  "reduce=|skip_connect~0|max_pool_3x3~1|+|sep_conv_3x3~0|sep_conv_3x3~1|+" +
  "|avg_pool_3x3~0|max_pool_3x3~3|+|max_pool_3x3~2|dil_conv_5x5~3|";

/** Asserts that `fn` throws an ArchParseError naming `token` at 1-based `position` (and `expected`, if given). */
function assertParseError(
  fn: () => unknown,
  token: string,
  position: number,
  expected?: string,
): ArchParseError {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ArchParseError, `expected ArchParseError, got ${caught}`);
  const err = caught as ArchParseError;
  assert.equal(err.token, token, err.message);
  assert.equal(err.position, position, err.message);
  assert.ok(err.message.includes(`position ${position}`), err.message);
  assert.ok(err.message.includes("expected"), err.message);
  assert.ok(err.message.includes("form"), err.message);
  if (expected !== undefined) assert.ok(err.message.includes(expected), err.message);
  return err;
}

Deno.test("the three forms parse to the same genotype and the canonical string sorts each node's edges", () => {
  const a = parseDartsGenotypeRepr(REPR);
  const b = parseNaslibCompact(COMPACT);
  assert.deepEqual(a, b);
  assert.equal(formatDartsArch(a), CANON);
  assert.ok(!/[",]/.test(CANON));
  assert.deepEqual(parseDartsArch(CANON), canonicalDartsGenotype(a));
  assert.equal(formatDartsGenotypeRepr(a), REPR);
  assert.equal(formatNaslibCompact(a), COMPACT);
  assert.deepEqual(parseDartsAny(REPR), a);
  assert.deepEqual(parseDartsAny(COMPACT), a);
  assert.deepEqual(parseDartsAny(`  ${CANON}\n`), canonicalDartsGenotype(a));
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.normal) && Object.isFrozen(a.normal[0]));
});

Deno.test("formatDartsArch is the same for genotypes that differ only in the order of a node's two edges", () => {
  const g = parseNaslibCompact(COMPACT);
  const swapped: DartsGenotype = {
    normal: g.normal.map((_, e) => g.normal[e ^ 1]!),
    reduce: g.reduce,
  };
  assert.notDeepEqual(swapped, g);
  assert.equal(formatDartsArch(swapped), formatDartsArch(g));
  // parseDartsArch keeps the written order; formatting canonicalises it again.
  const written = CANON.replace("|max_pool_3x3~0|dil_conv_3x3~1|", "|dil_conv_3x3~1|max_pool_3x3~0|");
  const p = parseDartsArch(written);
  assert.deepEqual(p.normal[0], { op: "dil_conv_3x3", input: 1 });
  assert.equal(formatDartsArch(p), CANON);
});

Deno.test("round trips hold for sampled genotypes when going through every form", () => {
  for (const g of sampleDartsGenotypes(200, 7)) {
    const canon = formatDartsArch(g);
    assert.equal(formatDartsArch(parseDartsArch(canon)), canon);
    assert.deepEqual(parseDartsArch(canon), canonicalDartsGenotype(g));
    assert.deepEqual(parseDartsGenotypeRepr(formatDartsGenotypeRepr(g)), g);
    assert.deepEqual(parseNaslibCompact(formatNaslibCompact(g)), g);
  }
});

Deno.test("parseDartsArch names the bad token, its position and the expected form when the string is invalid", () => {
  const at = (needle: string) => CANON.indexOf(needle) + 1;
  assertParseError(() => parseDartsArch(""), "", 1, "an arch string");
  assertParseError(
    () => parseDartsArch(CANON.replace("dil_conv_3x3", "conv_3x3")),
    "conv_3x3",
    at("dil_conv_3x3"),
  );
  assertParseError(
    () => parseDartsArch(CANON.replace("max_pool_3x3~0", "none~0")),
    "none",
    1 + "normal=|".length,
    "max_pool_3x3",
  );
  // input out of range: node 2 takes inputs 0..1
  assertParseError(
    () => parseDartsArch(CANON.replace("dil_conv_3x3~1", "dil_conv_3x3~2")),
    "2",
    at("~1|+") + 1,
    "0..1",
  );
  // both edges from the same input
  assertParseError(
    () => parseDartsArch(CANON.replace("dil_conv_3x3~1", "dil_conv_3x3~0")),
    "0",
    at("dil_conv_3x3~1") + "dil_conv_3x3~".length,
    "other than 0",
  );
  // a node with one edge
  const oneEdge = CANON.replace("|max_pool_3x3~0|dil_conv_3x3~1|", "|max_pool_3x3~0|");
  assertParseError(() => parseDartsArch(oneEdge), "+", oneEdge.indexOf("+") + 1, "2 per node");
  // a node with three edges
  const threeEdges = CANON.replace("dil_conv_3x3~1|", "dil_conv_3x3~1|skip_connect~0|");
  assertParseError(() => parseDartsArch(threeEdges), "skip_connect", threeEdges.indexOf("skip_connect") + 1);
  // three nodes, five nodes
  const threeNodes = CANON.replace("+|sep_conv_3x3~1|skip_connect~3|", "");
  assertParseError(() => parseDartsArch(threeNodes), ";", threeNodes.indexOf(";") + 1, "4 nodes");
  const fiveNodes = CANON.replace(";", "+|skip_connect~0|skip_connect~1|;");
  assertParseError(() => parseDartsArch(fiveNodes), "+", fiveNodes.indexOf("+|skip_connect~0|skip") + 1);
  // missing reduce cell, wrong cell name, trailing garbage, negative input
  assertParseError(
    () => parseDartsArch(CANON.slice(0, CANON.indexOf(";"))),
    "",
    CANON.indexOf(";") + 1,
    '";"',
  );
  assertParseError(() => parseDartsArch(CANON.replace("reduce=", "reduction=")), "reduction", at("reduce="));
  assertParseError(() => parseDartsArch(CANON + "|"), "|", CANON.length + 1, "end of input");
  assertParseError(() => parseDartsArch(CANON.replace("~0|", "~-1|")), "-1", at("~0|") + 1, "integer");
});

Deno.test("parseDartsGenotypeRepr and parseNaslibCompact reject bad ops, inputs, edge counts and concat", () => {
  const at = (s: string, needle: string) => s.indexOf(needle) + 1;
  let s = REPR.replace("'dil_conv_3x3'", "'conv_7x7'");
  assertParseError(() => parseDartsGenotypeRepr(s), "'conv_7x7'", at(s, "'conv_7x7'"), "unknown op");
  s = REPR.replace("('dil_conv_3x3', 1)", "('dil_conv_3x3', 2)");
  assertParseError(() => parseDartsGenotypeRepr(s), "2", at(s, "2)"), "0..1");
  s = REPR.replace("('dil_conv_3x3', 1)", "('dil_conv_3x3', 0)");
  assertParseError(
    () => parseDartsGenotypeRepr(s),
    "0",
    at(s, "('dil_conv_3x3', 0)") + "('dil_conv_3x3', ".length,
  );
  s = REPR.replace("('max_pool_3x3', 0), ", "");
  assertParseError(() => parseDartsGenotypeRepr(s), "]", at(s, "], normal_concat"), "8 edges");
  s = REPR.replace("('skip_connect', 3)]", "('skip_connect', 3), ('skip_connect', 4)]");
  assertParseError(() => parseDartsGenotypeRepr(s), "(", at(s, "('skip_connect', 4)"), "8 edges");
  s = REPR.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4, 6]");
  assertParseError(() => parseDartsGenotypeRepr(s), "6", at(s, "6]"), "concat = [2, 3, 4, 5]");
  s = REPR.replace("'max_pool_3x3', 0", "'none', 0");
  assertParseError(() => parseDartsGenotypeRepr(s), "'none'", at(s, "'none'"), "zero op");
  assertParseError(() => parseDartsGenotypeRepr("Genotype(normal="), "", 17, '"["');

  s = COMPACT.replace("(1, 5)", "(1, 7)");
  assertParseError(() => parseNaslibCompact(s), "7", at(s, "(1, 7)") + 4, "op index 0..6");
  s = COMPACT.replace("(1, 1), (0, 1)", "(3, 1), (0, 1)"); // node 3 takes inputs 0..2
  assertParseError(() => parseNaslibCompact(s), "3", at(s, "(3, 1)") + 1, "0..2");
  s = COMPACT.replace("(1, 5)", "(0, 5)");
  assertParseError(() => parseNaslibCompact(s), "0", at(s, "(0, 5)") + 1, "two different inputs");
  s = COMPACT.replace("(0, 0), (1, 5), ", "");
  assertParseError(() => parseNaslibCompact(s), "]", at(s, "]"), "8 edges");
  s = COMPACT.slice(0, -1) + ", []]";
  assertParseError(() => parseNaslibCompact(s), ",", COMPACT.length, "2 cells");
  assertParseError(() => parseNaslibCompact("[[(0, 0)"), "", 9);
});

Deno.test("dartsGenotypeProblem explains invalid in-memory genotypes and passes valid ones", () => {
  const g = parseNaslibCompact(COMPACT);
  assert.equal(dartsGenotypeProblem(g), null);
  assert.ok(isDartsGenotype(g));
  assert.match(dartsGenotypeProblem({ normal: g.normal.slice(1), reduce: g.reduce })!, /7 edges/);
  const sameInput = { normal: [{ op: "max_pool_3x3", input: 1 }, ...g.normal.slice(1)], reduce: g.reduce };
  assert.match(dartsGenotypeProblem(sameInput)!, /both edges into node 2 come from node 1/);
  const badOp = { normal: [{ op: "none", input: 0 }, ...g.normal.slice(1)], reduce: g.reduce };
  assert.match(dartsGenotypeProblem(badOp)!, /"none" is not one of/);
  assert.throws(() => formatDartsArch(badOp as unknown as DartsGenotype), TypeError);
  assert.equal(isDartsGenotype(null), false);
});

function assertValid(g: DartsGenotype): void {
  const p = dartsGenotypeProblem(g);
  assert.equal(p, null, p ?? "");
}

Deno.test("sampleDartsGenotypes is deterministic in the seed, prefix-stable and valid", () => {
  const a = sampleDartsGenotypes(300, 11);
  assert.deepEqual(a, sampleDartsGenotypes(300, 11));
  assert.deepEqual(a.slice(0, 40), sampleDartsGenotypes(40, 11));
  assert.notDeepEqual(a.slice(0, 5), sampleDartsGenotypes(5, 12));
  assert.deepEqual(sampleDartsGenotypes(0, 1), []);
  assert.throws(() => sampleDartsGenotypes(-1, 0), RangeError);
  for (const g of a) assertValid(g);
  assert.equal(new Set(a.map(formatDartsArch)).size, a.length);
});

Deno.test("sampleDartsGenotype is uniform over ops and over ordered input pairs when many are drawn", () => {
  const rng = new Rng(3);
  const n = 4000;
  const opCount = new Map<string, number>();
  // node 5 (edges 6, 7): inputs 0..4, 5 * 4 = 20 ordered pairs of different inputs
  const pairCount = new Map<string, number>();
  for (let t = 0; t < n; t++) {
    const g = sampleDartsGenotype(rng);
    for (const e of [...g.normal, ...g.reduce]) opCount.set(e.op, (opCount.get(e.op) ?? 0) + 1);
    const key = `${g.reduce[6]!.input},${g.reduce[7]!.input}`;
    pairCount.set(key, (pairCount.get(key) ?? 0) + 1);
  }
  assert.equal(opCount.size, DARTS_OPS.length);
  const perOp = (16 * n) / DARTS_OPS.length;
  for (const [op, c] of opCount) assert.ok(Math.abs(c - perOp) < 0.05 * perOp, `${op}: ${c}`);
  assert.equal(pairCount.size, 20);
  for (const [k, c] of pairCount) assert.ok(Math.abs(c - n / 20) < 0.25 * (n / 20), `${k}: ${c}`);
});

Deno.test("mutateDartsGenotype changes exactly one edge, stays valid and reaches every kind of change", () => {
  const rng = new Rng(5);
  let g = sampleDartsGenotypes(1, 0)[0]!;
  const kinds = new Set<string>();
  for (let t = 0; t < 2000; t++) {
    const child = mutateDartsGenotype(g, rng);
    assertValid(child);
    const diffs: string[] = [];
    for (const cell of ["normal", "reduce"] as const) {
      for (let e = 0; e < DARTS_EDGES_PER_CELL; e++) {
        const a = g[cell][e]!;
        const b = child[cell][e]!;
        if (a.op !== b.op) diffs.push(`${cell}:${e}:op`);
        if (a.input !== b.input) diffs.push(`${cell}:${e}:input`);
      }
    }
    assert.equal(diffs.length, 1, diffs.join(" "));
    const [, e, what] = diffs[0]!.split(":");
    if (what === "input") assert.ok(dartsEdgeNode(Number(e)) > 2, "node 2 inputs cannot change");
    kinds.add(diffs[0]!);
    assert.notEqual(formatDartsArch(child), formatDartsArch(g));
    g = child;
  }
  // 16 edges x op + (6 edges into nodes 3..5) x 2 cells x input
  assert.equal(kinds.size, 16 + 12);
  assert.throws(() => mutateDartsGenotype({ normal: [], reduce: [] }, rng), TypeError);
});

Deno.test("dartsNetworkCost follows the DARTS layer rules on a hand-counted all-max-pool genotype", () => {
  // All edges max_pool from nodes 0 and 1 (and 0, 1 for every node): no cell-op parameters at all.
  const cell = Array.from({ length: 8 }, (_, e) => ({ op: "max_pool_3x3" as const, input: e % 2 }));
  const g = { normal: cell, reduce: cell };
  // stem 3*96*9 + 2*96; cells (C, C_pp, C_p): 0:(32,96,96) 1:(32,96,128) 2:(64,128,128) 3:(64,128 FR,256)
  // 4:(64,256,256) 5:(128,256,256) 6:(128,256 FR,512) 7:(128,512,512); classifier 512*10 + 10.
  const rcb = (i: number, o: number) => i * o + 2 * o;
  const fr = (i: number, o: number) => i * o + 2 * o;
  const expected = 3 * 96 * 9 + 2 * 96 +
    rcb(96, 32) + rcb(96, 32) + rcb(96, 32) + rcb(128, 32) + rcb(128, 64) + rcb(128, 64) +
    fr(128, 64) + rcb(256, 64) + rcb(256, 64) + rcb(256, 64) + rcb(256, 128) + rcb(256, 128) +
    fr(256, 128) + rcb(512, 128) + rcb(512, 128) + rcb(512, 128) + 512 * 10 + 10;
  assert.equal(dartsNetworkCost(g, { variant: "naslib" }).params, expected);
  assert.equal(dartsNetworkCost(g, { variant: "darts" }).params, expected);
  const aux = 512 * 128 + 256 + 128 * 768 * 4 + 2 * 768 + 768 * 10 + 10;
  assert.equal(dartsNetworkCost(g, { variant: "darts", auxiliary: true }).params, expected + aux);
  assert.throws(() => dartsNetworkCost(g, { variant: "darts", auxiliary: true, imageSize: 64 }), RangeError);
  assert.throws(() => dartsNetworkCost(g, { variant: "naslib", imageSize: 30 }), RangeError);
  assert.throws(() => dartsNetworkCost(g, { variant: "other" as "darts" }), TypeError);
});

Deno.test("dartsNetworkCost counts one sep_conv_3x3 edge as two depthwise-pointwise-BN stacks", () => {
  const base = Array.from({ length: 8 }, (_, e) => ({ op: "max_pool_3x3" as const, input: e % 2 }));
  const withSep = base.map((e, k) => k === 7 ? { op: "sep_conv_3x3" as const, input: e.input } : e);
  const p0 = dartsNetworkCost({ normal: base, reduce: base }, { variant: "naslib" });
  const p1 = dartsNetworkCost({ normal: withSep, reduce: base }, { variant: "naslib" });
  const pa = dartsNetworkCost({ normal: withSep, reduce: base }, { variant: "darts" });
  // 6 normal cells: 2 at C=32 (32x32), 2 at 64 (16x16), 2 at 128 (8x8)
  const per = (c: number) => 2 * (9 * c + c * c);
  const macs = (c: number, h: number) => per(c) * h * h;
  assert.equal(p1.params - p0.params, 2 * (per(32) + per(64) + per(128)));
  assert.equal(pa.params - p1.params, 2 * (4 * 32 + 4 * 64 + 4 * 128)); // affine BNs in the darts variant
  assert.equal(p1.macs - p0.macs, 2 * (macs(32, 32) + macs(64, 16) + macs(128, 8)));
});

// ---------- NASLib's NB301 zero-cost table (../shared/data), skipped when absent ----------

const CSV_URL = new URL("../../shared/data/nasbench301_darts/nb301_naslib_zc725.csv", import.meta.url);
const JSON_URL = new URL(
  "../../shared/data/nasbench301_darts/original/zc_nasbench301_naslib_6639fd15.json",
  import.meta.url,
);
function exists(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}
const csvExists = exists(CSV_URL);
const jsonExists = exists(JSON_URL);
if (!csvExists) console.log(`darts_test: skipping the NB301 table tests: ${CSV_URL.pathname} is absent`);
if (!jsonExists) console.log(`darts_test: skipping the exact FLOPs test: ${JSON_URL.pathname} is absent`);

/** Splits one CSV line; fields may be double-quoted (this file has no escaped quotes). */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      const j = line.indexOf('"', i + 1);
      out.push(line.slice(i + 1, j));
      i = j + 2;
    } else {
      let j = line.indexOf(",", i);
      if (j < 0) j = line.length;
      out.push(line.slice(i, j));
      i = j + 1;
    }
  }
  return out;
}

function readTable(): { header: string[]; rows: string[][] } {
  const lines = Deno.readTextFileSync(CSV_URL).split(/\r?\n/).filter((l) => l !== "");
  const header = splitCsv(lines[0]!);
  const rows = lines.slice(1).map(splitCsv);
  assert.equal(rows.length, 725);
  for (const r of rows) assert.equal(r.length, header.length);
  return { header, rows };
}

Deno.test({
  name: "both encodings of nb301_naslib_zc725.csv agree on all 725 rows when parsed",
  ignore: !csvExists,
  fn: () => {
    const { header, rows } = readTable();
    const ci = header.indexOf("naslib_compact");
    const gi = header.indexOf("genotype");
    const seen = new Set<string>();
    for (const [k, r] of rows.entries()) {
      const a = parseNaslibCompact(r[ci]!);
      const b = parseDartsGenotypeRepr(r[gi]!);
      assert.deepEqual(a, b, `row ${k + 1}`);
      assert.equal(formatNaslibCompact(a), r[ci], `row ${k + 1}`);
      assert.equal(formatDartsGenotypeRepr(b), r[gi], `row ${k + 1}`);
      const canon = formatDartsArch(a);
      assert.deepEqual(parseDartsArch(canon), canonicalDartsGenotype(a), `row ${k + 1}`);
      seen.add(canon);
    }
    assert.equal(seen.size, 725, "the 725 genotypes are distinct up to edge order");
  },
});

Deno.test({
  name: "dartsNetworkCost params reproduce the params column (millions, 6 decimals) on all 725 rows",
  ignore: !csvExists,
  fn: () => {
    const { header, rows } = readTable();
    const ci = header.indexOf("naslib_compact");
    const pi = header.indexOf("params");
    const fi = header.indexOf("flops");
    let worstFlops = 0;
    for (const [k, r] of rows.entries()) {
      const g = parseNaslibCompact(r[ci]!);
      const cost = dartsNetworkCost(g, { variant: "naslib" });
      assert.equal(cost.params, Math.round(Number(r[pi]) * 1e6), `row ${k + 1}: ${r[pi]} M`);
      // Edge order inside a node does not change the network.
      assert.deepEqual(dartsNetworkCost(canonicalDartsGenotype(g), { variant: "naslib" }), cost);
      // flops column: 8 significant digits in mega-FLOPs (about +-5 FLOPs); constant offset 8,704.
      worstFlops = Math.max(worstFlops, Math.abs(Number(r[fi]) * 1e6 - (cost.flops + 8704)));
    }
    assert.ok(worstFlops <= 5, `flops column differs from flops + 8704 by up to ${worstFlops}`);
  },
});

Deno.test({
  name: "dartsNetworkCost flops plus 8,704 equal NASLib's unrounded flops scores for all 725 archs",
  ignore: !jsonExists,
  fn: () => {
    const table = JSON.parse(Deno.readTextFileSync(JSON_URL)).cifar10 as Record<
      string,
      { flops: { score: number }; params: { score: number } }
    >;
    const keys = Object.keys(table);
    assert.equal(keys.length, 725);
    for (const key of keys) {
      const cost = dartsNetworkCost(parseNaslibCompact(key), { variant: "naslib" });
      assert.equal(Math.round(table[key]!.flops.score * 1e6), cost.flops + 8704, key);
      assert.equal(Math.round(table[key]!.params.score * 1e6), cost.params, key);
    }
  },
});
