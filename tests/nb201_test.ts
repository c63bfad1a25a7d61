/**
 * Tests of the NB201 topology space: arch strings, the official benchmark index order, sampling, mutation.
 * Pure logic; no GPU needed.
 * @module
 */

import assert from "node:assert/strict";
import {
  archEdges,
  ArchParseError,
  archToIndex,
  enumerateArchs,
  formatArch,
  indexToArch,
  isNb201Arch,
  mutateArch,
  NB201_EDGES,
  NB201_OPS,
  NB201_SIZE,
  type Nb201Arch,
  parseArch,
  parseArchOrIndex,
  sampleIndices,
} from "../spaces/nb201.ts";
import { Rng } from "../spaces/rng.ts";

const KNOWN: [number, string][] = [
  [0, "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"],
  [9, "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"],
  [9930, "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"],
];

const GOOD = KNOWN[2]![1];

/** Asserts that `fn` throws an ArchParseError whose message names `token` and `position`. */
function assertParseError(fn: () => unknown, token: string, position: number): ArchParseError {
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
  assert.ok(
    err.message.includes(`position ${position}`),
    `message lacks position ${position}: ${err.message}`,
  );
  return err;
}

Deno.test("parseArch and formatArch round-trip when given every one of the 15,625 archs", () => {
  const archs = enumerateArchs();
  assert.equal(archs.length, NB201_SIZE);
  const seen = new Set<string>();
  archs.forEach((a, i) => {
    const s = formatArch(a);
    seen.add(s);
    assert.deepEqual(parseArch(s), a);
    assert.equal(formatArch(parseArch(s)), s);
    assert.equal(archToIndex(a), i);
    assert.equal(indexToArch(i), a);
  });
  assert.equal(seen.size, NB201_SIZE);
});

Deno.test("indexToArch matches the published arch when given the known indices 0, 9 and 9930", () => {
  for (const [i, s] of KNOWN) {
    assert.equal(formatArch(indexToArch(i)), s);
    assert.equal(archToIndex(parseArch(s)), i);
  }
});

Deno.test("parseArch returns ops in edge order when given a valid string", () => {
  const a = parseArch(GOOD);
  assert.deepEqual(
    [...a],
    ["nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_3x3", "nor_conv_3x3"],
  );
  assert.deepEqual(archEdges(a).map((e) => [e.from, e.to]), NB201_EDGES.map((e) => [...e]));
  assert.deepEqual(archEdges(a)[3], { from: 0, to: 3, op: "skip_connect" });
});

Deno.test("parseArch ignores surrounding whitespace when the string is otherwise valid", () => {
  assert.equal(formatArch(parseArch(`  ${GOOD}\n`)), GOOD);
  assert.equal(formatArch(parseArch(`\t${GOOD}\r\n`)), GOOD);
});

Deno.test("parseArch throws naming the op and position when an op is unknown", () => {
  const s = "|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|";
  const err = assertParseError(() => parseArch(s), "conv_3x3", 2);
  assert.match(err.message, /bad op/);
  assert.match(err.message, /none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3/);
  assert.ok(err.message.includes("|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"));
  // Position counts leading whitespace of the original input.
  assertParseError(() => parseArch("  |none~0|+|none~0|nne~1|+|none~0|none~1|none~2|"), "nne", 20);
});

Deno.test("parseArch throws naming the source when the input-node number is wrong", () => {
  const err = assertParseError(
    () => parseArch("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"),
    "~1",
    6,
  );
  assert.match(err.message, /expected "~0"/);
  assertParseError(() => parseArch("|none~0|+|none~0|none~1|+|none~0|none~2|none~2|"), "~2", 38);
  assertParseError(() => parseArch("|none~0|+|none~0|none~01|+|none~0|none~1|none~2|"), "~01", 22);
});

Deno.test("parseArch throws when an edge has no '~'", () => {
  assertParseError(() => parseArch("|none|+|none~0|none~1|+|none~0|none~1|none~2|"), "none", 2);
  assertParseError(() => parseArch("||+|none~0|none~1|+|none~0|none~1|none~2|"), "", 2);
});

Deno.test("parseArch throws when the number of nodes is wrong", () => {
  assertParseError(() => parseArch("|none~0|+|none~0|none~1|"), "|none~0|none~1|", 25);
  const extra = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|";
  assertParseError(() => parseArch(extra), "|none~0|", 49);
});

Deno.test("parseArch throws when the number of edges into a node is wrong", () => {
  assertParseError(
    () => parseArch("|none~0|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"),
    "none~1",
    9,
  );
  assertParseError(
    () => parseArch("|none~0|+|none~0|+|none~0|none~1|none~2|"),
    "|none~0|",
    10,
  );
  assertParseError(
    () => parseArch("|none~0|+|none~0|none~1|+|none~0|none~1|"),
    "|none~0|none~1|",
    26,
  );
});

Deno.test("parseArch throws when a pipe is missing", () => {
  assertParseError(() => parseArch("none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "none~0|", 1);
  assertParseError(
    () => parseArch("|none~0|+|none~0|none~1|+|none~0|none~1|none~2"),
    "|none~0|none~1|none~2",
    26,
  );
  assertParseError(() => parseArch("|none~0+|none~0|none~1|+|none~0|none~1|none~2|"), "|none~0", 1);
});

Deno.test("parseArch throws when the input is empty or blank", () => {
  const err = assertParseError(() => parseArch(""), "", 1);
  assert.match(err.message, /empty/);
  assertParseError(() => parseArch("   "), "   ", 1);
});

Deno.test("parseArch throws when whitespace is inside the string", () => {
  assertParseError(() => parseArch("| none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), " none", 2);
});

Deno.test("indexToArch throws a RangeError naming the index when it is out of range", () => {
  for (const bad of [-1, NB201_SIZE, 1.5, NaN]) {
    assert.throws(
      () => indexToArch(bad),
      (e: unknown) => e instanceof RangeError && e.message.includes(String(bad)),
    );
  }
});

Deno.test("archToIndex and formatArch throw when the arch is malformed", () => {
  const short = ["none", "none"] as unknown as Nb201Arch;
  const badOp = ["none", "none", "none", "none", "none", "conv"] as unknown as Nb201Arch;
  assert.throws(() => archToIndex(short), TypeError);
  assert.throws(() => archToIndex(badOp), /conv/);
  assert.throws(() => formatArch(badOp), TypeError);
  assert.ok(!isNb201Arch(badOp));
  assert.ok(isNb201Arch(parseArch(GOOD)));
});

Deno.test("parseArchOrIndex accepts an arch string or a decimal index when given either", () => {
  assert.equal(formatArch(parseArchOrIndex(" 9930\n")), GOOD);
  assert.equal(formatArch(parseArchOrIndex("0")), KNOWN[0]![1]);
  assert.equal(formatArch(parseArchOrIndex(`${GOOD}  `)), GOOD);
});

Deno.test("parseArchOrIndex throws naming the token when the line is neither", () => {
  assertParseError(() => parseArchOrIndex("15625"), "15625", 1);
  assertParseError(() => parseArchOrIndex("  -3"), "-3", 3);
  assertParseError(() => parseArchOrIndex("12.5"), "12.5", 1);
  assertParseError(() => parseArchOrIndex("hello"), "hello", 1);
  assertParseError(() => parseArchOrIndex(""), "", 1);
  assertParseError(() => parseArchOrIndex("|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "bad", 2);
});

Deno.test("sampleIndices is deterministic and prefix-stable when called with the same seed", () => {
  for (const replace of [true, false]) {
    const a = sampleIndices(200, 7, { replace });
    assert.deepEqual(sampleIndices(200, 7, { replace }), a);
    assert.deepEqual(sampleIndices(37, 7, { replace }), a.slice(0, 37));
    assert.deepEqual(sampleIndices(0, 7, { replace }), []);
    assert.notDeepEqual(sampleIndices(200, 8, { replace }), a);
    assert.ok(a.every((i) => Number.isInteger(i) && i >= 0 && i < NB201_SIZE));
  }
});

Deno.test("sampleIndices returns distinct indices when drawing without replacement", () => {
  const all = sampleIndices(NB201_SIZE, 3, { replace: false });
  assert.equal(new Set(all).size, NB201_SIZE);
  assert.deepEqual(sampleIndices(100, 3, { replace: false }), all.slice(0, 100));
  assert.throws(() => sampleIndices(NB201_SIZE + 1, 3, { replace: false }), /15626/);
  assert.throws(() => sampleIndices(-1, 3, { replace: true }), RangeError);
});

Deno.test("sampleIndices is roughly uniform when drawing many with replacement", () => {
  // 5 bins of 3125 indices each; 50,000 draws -> expected 10,000 per bin, sd ~ 89.
  const counts = [0, 0, 0, 0, 0];
  for (const i of sampleIndices(50_000, 11, { replace: true })) counts[Math.floor(i / 3125)]!++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 600, `bin count ${c}`);
});

Deno.test("mutateArch changes exactly one edge to a different op when applied", () => {
  const rng = new Rng(123);
  const edgeHits = new Array<number>(6).fill(0);
  let a = indexToArch(0);
  for (let t = 0; t < 3000; t++) {
    const b = mutateArch(a, rng);
    const diff = b.map((op, e) => (op !== a[e] ? e : -1)).filter((e) => e >= 0);
    assert.equal(diff.length, 1, `${formatArch(a)} -> ${formatArch(b)}`);
    edgeHits[diff[0]!]!++;
    assert.ok(isNb201Arch(b));
    a = b;
  }
  for (const h of edgeHits) assert.ok(h > 350, `edge hit count ${h}`);
  // Every different op is reachable from a fixed parent.
  const parent = parseArch(GOOD);
  const targets = new Set<string>();
  for (let t = 0; t < 500; t++) {
    const c = mutateArch(parent, rng);
    const e = c.findIndex((op, k) => op !== parent[k]);
    targets.add(`${e}:${c[e]}`);
  }
  assert.equal(targets.size, 6 * (NB201_OPS.length - 1));
});

const CSV_URL = new URL("../../shared/data/nasbench201/nb201_tss_accuracies.csv", import.meta.url);
let csvExists = false;
try {
  csvExists = Deno.statSync(CSV_URL).isFile;
} catch {
  csvExists = false;
}
if (!csvExists) {
  console.log(`nb201_test: skipping the CSV agreement test: ${CSV_URL.pathname} is absent or unreadable`);
}

Deno.test({
  name: "indexToArch agrees with the benchmark CSV when checked on all 15,625 rows",
  ignore: !csvExists,
  fn: () => {
    const lines = Deno.readTextFileSync(CSV_URL).split(/\r?\n/).filter((l) => l !== "");
    const header = lines[0]!.split(",");
    assert.equal(header[0], "index");
    assert.equal(header[1], "arch_str");
    const rows = lines.slice(1);
    assert.equal(rows.length, NB201_SIZE);
    for (const row of rows) {
      const [idx, arch] = row.split(",", 2);
      const i = Number(idx);
      assert.equal(formatArch(indexToArch(i)), arch, `row ${idx}`);
      assert.equal(archToIndex(parseArch(arch!)), i, `row ${idx}`);
    }
  },
});
