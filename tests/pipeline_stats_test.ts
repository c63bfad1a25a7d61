// Tests of pipeline/_stats.ts (against naive O(n^2) references and hand-computed cases), of the rank core and
// of the evaluate stage (tiny fixture table + the real NB201 table when ../shared/data is present).

import assert from "node:assert/strict";
import { DataError, UsageError } from "../pipeline/_errors.ts";
import type { ScoreRow } from "../pipeline/_schema.ts";
import { averageRanks, kendallTauB, pearson, spearmanRho, topKRetrieval } from "../pipeline/_stats.ts";
import { rankScores } from "../pipeline/rank.ts";
import {
  evaluateRanking,
  formatEvalSummary,
  parseBenchTable,
  readBenchTable,
  runEvaluate,
} from "../pipeline/evaluate.ts";
import { parseCsv, parseFloatField } from "../pipeline/_io.ts";

// ---------------------------------------------------------------------------------------------------------
// References and helpers

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sign(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Naive O(n^2) Kendall tau-b straight from the definition. */
function naiveTauB(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  let concordant = 0;
  let discordant = 0;
  let tiesX = 0;
  let tiesY = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = sign(x[i] as number, x[j] as number);
      const dy = sign(y[i] as number, y[j] as number);
      if (dx === 0) tiesX++;
      if (dy === 0) tiesY++;
      if (dx * dy > 0) concordant++;
      if (dx * dy < 0) discordant++;
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const denominator = Math.sqrt((n0 - tiesX) * (n0 - tiesY));
  return denominator === 0 ? NaN : (concordant - discordant) / denominator;
}

/** Naive average ranks: 1 + (#smaller) + (#equal - 1) / 2. */
function naiveRanks(values: readonly number[]): number[] {
  return values.map((v) => {
    const smaller = values.filter((w) => w < v).length;
    const equal = values.filter((w) => w === v).length;
    return 1 + smaller + (equal - 1) / 2;
  });
}

function naivePearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((x[i] as number) - mx) * ((y[i] as number) - my);
    sxx += ((x[i] as number) - mx) ** 2;
    syy += ((y[i] as number) - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** Random values from a small set (many ties), sometimes including -Infinity. */
function tiedSample(next: () => number, n: number, levels: number, withInf: boolean): number[] {
  return Array.from({ length: n }, () => {
    if (withInf && next() < 0.1) return -Infinity;
    return Math.floor(next() * levels) - levels / 2;
  });
}

function assertClose(actual: number, expected: number, tolerance: number, what: string): void {
  if (Number.isNaN(expected)) {
    assert.ok(Number.isNaN(actual), `${what}: expected NaN, got ${actual}`);
    return;
  }
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: expected ${expected}, got ${actual}`);
}

function row(partial: Partial<ScoreRow> & { index: number; score: number }): ScoreRow {
  return {
    arch_str: `arch${partial.index}`,
    proxy: "naswot",
    dataset: "cifar10",
    batch: 128,
    seed: 0,
    n_units: 100,
    ...partial,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Kendall tau-b, Spearman rho, ranks

Deno.test("kendallTauB returns 1 when the orders agree and -1 when reversed", () => {
  const x = [1, 2, 3, 4, 5, 6, 7];
  assert.equal(kendallTauB(x, x.map((v) => 10 * v)), 1);
  assert.equal(kendallTauB(x, x.map((v) => -v)), -1);
});

Deno.test("kendallTauB matches hand-computed values when there are ties", () => {
  // x = [1,2,2,3], y = [1,3,2,3]: C = 4, D = 0, n0 = 6, n1 = 1, n2 = 1 -> 4 / 5 (scipy: 0.8).
  assertClose(kendallTauB([1, 2, 2, 3], [1, 3, 2, 3]), 0.8, 1e-15, "tiny tied");
  // No ties: C = 7, D = 3 -> 0.4.
  assertClose(kendallTauB([1, 2, 3, 4, 5], [3, 1, 2, 5, 4]), 0.4, 1e-15, "no ties");
  // Joint tie (pair 0,1): C = 6, D = 0, n1 = 2, n2 = 3, n3 = 1 -> 6 / sqrt(8 * 7) (scipy: 0.8017837).
  assertClose(kendallTauB([1, 1, 2, 2, 3], [1, 1, 2, 1, 3]), 6 / Math.sqrt(56), 1e-15, "joint tie");
});

Deno.test("kendallTauB matches the naive O(n^2) reference when data has many ties and -inf", () => {
  const next = rng(12345);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(next() * 60);
    const x = tiedSample(next, n, 2 + Math.floor(next() * 6), trial % 3 === 0);
    const y = tiedSample(next, n, 2 + Math.floor(next() * 6), trial % 4 === 0);
    assertClose(kendallTauB(x, y), naiveTauB(x, y), 1e-12, `trial ${trial} n=${n}`);
  }
  const x = Array.from({ length: 2000 }, () => next());
  const y = x.map((v) => Math.round(10 * (v + 0.5 * next())));
  assertClose(kendallTauB(x, y), naiveTauB(x, y), 1e-12, "n=2000");
});

Deno.test("kendallTauB returns NaN when an input is constant or too short, and throws on NaN", () => {
  assert.ok(Number.isNaN(kendallTauB([1, 1, 1], [1, 2, 3])));
  assert.ok(Number.isNaN(kendallTauB([1], [2])));
  assert.ok(Number.isNaN(kendallTauB([], [])));
  assert.throws(() => kendallTauB([1, NaN], [1, 2]), RangeError);
  assert.throws(() => kendallTauB([1, 2], [1]), /length mismatch/);
});

Deno.test("averageRanks gives tied values their mean rank when values repeat", () => {
  assert.deepEqual(averageRanks([10, 20, 20, 30]), [1, 2.5, 2.5, 4]);
  assert.deepEqual(averageRanks([3, -Infinity, 3, -Infinity, 1]), [4.5, 1.5, 4.5, 1.5, 3]);
  assert.deepEqual(averageRanks([]), []);
  assert.throws(() => averageRanks([1, NaN]), /NaN/);
  const next = rng(7);
  for (let trial = 0; trial < 50; trial++) {
    const values = tiedSample(next, 1 + Math.floor(next() * 40), 5, true);
    assert.deepEqual(averageRanks(values), naiveRanks(values));
  }
});

Deno.test("spearmanRho matches hand-computed values and the naive reference when there are ties", () => {
  assertClose(spearmanRho([1, 2, 3, 4], [2, 4, 6, 8]), 1, 1e-15, "perfect");
  assertClose(spearmanRho([1, 2, 3, 4], [8, 6, 4, 2]), -1, 1e-15, "reversed");
  // Ranks x = [1.5,1.5,3.5,3.5,5], y = [2,2,4,2,5]: 7 / sqrt(9 * 8) (scipy: 0.8249579).
  assertClose(spearmanRho([1, 1, 2, 2, 3], [1, 1, 2, 1, 3]), 7 / Math.sqrt(72), 1e-15, "tied");
  const next = rng(99);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(next() * 50);
    const x = tiedSample(next, n, 4, trial % 2 === 0);
    const y = tiedSample(next, n, 7, trial % 5 === 0);
    const expected = n < 2 ? NaN : naivePearson(naiveRanks(x), naiveRanks(y));
    assertClose(spearmanRho(x, y), expected, 1e-12, `trial ${trial}`);
  }
});

Deno.test("pearson matches the naive reference when data is random", () => {
  const next = rng(3);
  const x = Array.from({ length: 100 }, () => next());
  const y = x.map((v) => v + next());
  assertClose(pearson(x, y), naivePearson(x, y), 1e-12, "pearson");
  assert.ok(Number.isNaN(pearson([2, 2], [1, 3])));
});

// ---------------------------------------------------------------------------------------------------------
// Top-k retrieval

Deno.test("topKRetrieval counts the true top-k found in the predicted top-k when percents vary", () => {
  // Accuracy order: 0 > 1 > 2 > ... > 9. Scores put 0 and 2 first, then 9, then the rest.
  const accs = [90, 89, 88, 87, 86, 85, 84, 83, 82, 81];
  const scores = [10, 1, 9, 2, 3, 4, 5, 6, 7, 8.5];
  const results = topKRetrieval(scores, accs, [10, 20, 30, 100]);
  assert.deepEqual(results.map((r) => r.k), [1, 2, 3, 10]);
  assert.deepEqual(results.map((r) => r.found), [1, 1, 2, 10]);
  assert.deepEqual(results.map((r) => r.fraction), [1, 0.5, 2 / 3, 1]);
});

Deno.test("topKRetrieval rounds k up and keeps at least one when n * p / 100 is fractional", () => {
  const n = 15284;
  const zeros = new Array<number>(n).fill(0);
  assert.deepEqual(topKRetrieval(zeros, zeros, [1, 5, 10]).map((r) => r.k), [153, 765, 1529]);
  assert.equal(topKRetrieval([1, 2, 3], [1, 2, 3], [1])[0]?.k, 1);
  // 3000 * 1.1 / 100 = 33.00000000000001 in floating point: still k = 33, not 34.
  const many = new Array<number>(3000).fill(0);
  assert.equal(topKRetrieval(many, many, [1.1])[0]?.k, 33);
});

Deno.test("topKRetrieval ranks -inf last and rejects NaN scores when scores are not finite", () => {
  const accs = [1, 2, 3, 4];
  // -inf on the truly best arch: it is ranked last, so the top-25% (k = 1) misses it.
  assert.equal(topKRetrieval([0, 1, 2, -Infinity], accs, [25])[0]?.fraction, 0);
  assert.equal(topKRetrieval([-Infinity, 1, 2, 5], accs, [25])[0]?.fraction, 1);
  assert.throws(() => topKRetrieval([NaN, 1, 2, 3], accs, [25]), /scores\[0\] is NaN/);
  assert.throws(() => topKRetrieval([0, 1, 2, 3], accs, [0]), /\(0, 100\]/);
  assert.ok(Number.isNaN(topKRetrieval([], [], [5])[0]?.fraction ?? 0));
});

Deno.test("topKRetrieval breaks ties by position when scores tie at the boundary", () => {
  // Scores tie for first; the earlier entry (position 0) wins the single top slot.
  assert.equal(topKRetrieval([5, 5, 1, 0], [1, 9, 3, 2], [25])[0]?.found, 0);
  assert.equal(topKRetrieval([5, 5, 1, 0], [9, 1, 3, 2], [25])[0]?.found, 1);
});

// ---------------------------------------------------------------------------------------------------------
// rank

Deno.test("rankScores orders by descending score with -inf last and ties by index when groups mix", () => {
  const rows: ScoreRow[] = [
    row({ index: 7, score: 1.5 }),
    row({ index: 3, score: -Infinity }),
    row({ index: 5, score: 2 }),
    row({ index: 2, score: 1.5 }),
    row({ index: 1, score: -Infinity }),
    row({ index: 9, score: 1.5 }),
    row({ index: 4, score: 0, proxy: "aaa" }),
    row({ index: 8, score: 0, seed: 1 }),
  ];
  const ranked = rankScores(rows);
  const summary = ranked.map((r) => [r.proxy, r.seed, r.index, r.rank, r.rank_avg]);
  assert.deepEqual(summary, [
    ["aaa", 0, 4, 1, 1],
    ["naswot", 0, 5, 1, 1],
    ["naswot", 0, 2, 2, 3],
    ["naswot", 0, 7, 3, 3],
    ["naswot", 0, 9, 4, 3],
    ["naswot", 0, 1, 5, 5.5],
    ["naswot", 0, 3, 6, 5.5],
    ["naswot", 1, 8, 1, 1],
  ]);
});

Deno.test("rankScores throws naming the index when a score is NaN", () => {
  assert.throws(() => rankScores([row({ index: 42, score: NaN })]), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.match(err.message, /index 42/);
    return true;
  });
});

// ---------------------------------------------------------------------------------------------------------
// evaluate on a tiny fixture

const FIXTURE = [
  "index,arch_str,acc_a,acc_b",
  "0,a0,50.0,1",
  "1,a1,60.0,2",
  "2,a2,70.0,",
  "3,a3,80.0,4",
  "4,a4,90.0,5",
  "",
].join("\n");

Deno.test("evaluateRanking reports correlations, top-k and picks when joined to a fixture table", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/bench.csv`;
    await Deno.writeTextFile(path, FIXTURE);
    const bench = await readBenchTable(path);
    assert.deepEqual(bench.metrics, ["acc_a", "acc_b"]);
    const rows = [
      row({ index: 0, arch_str: "a0", score: -Infinity }),
      row({ index: 1, arch_str: "a1", score: 1 }),
      row({ index: 2, arch_str: "a2", score: 3 }),
      row({ index: 3, arch_str: "a3", score: 2 }),
      row({ index: 4, arch_str: "a4", score: 4 }),
      row({ index: 99, arch_str: "zz", score: 100 }),
    ];
    const [group] = evaluateRanking(rows, bench, "acc_a", { topk: [20, 40] });
    assert.ok(group !== undefined);
    assert.equal(group.n, 5);
    assert.equal(group.missing, 1);
    // One discordant pair (2,3) of 10 -> tau = 0.8; ranks differ by one swap -> rho = 1 - 6*2/(5*24) = 0.9.
    assertClose(group.kendall_tau_b ?? NaN, 0.8, 1e-12, "tau");
    assertClose(group.spearman_rho ?? NaN, 0.9, 1e-12, "rho");
    assert.deepEqual(group.topk, { "20": 1, "40": 0.5 });
    assert.deepEqual(group.top_arch, { index: 99, arch_str: "zz", score: 100, accuracy: null });
    assert.deepEqual(group.best_in_sample, { index: 4, arch_str: "a4", accuracy: 90 });

    const [b] = evaluateRanking(rows, bench, "acc_b");
    assert.equal(b?.n, 4);
    assert.equal(b?.missing, 2);
    assert.deepEqual(Object.keys(b?.topk ?? {}), ["1", "5", "10"]);
    assert.match(
      formatEvalSummary([group]),
      /^naswot\/cifar10\/b128\/s0: n=5 missing=1 tau_b=0\.8000 rho=0\.9000/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evaluateRanking throws a UsageError listing metric columns when the metric is unknown", () => {
  const bench = parseBenchTable("bench.csv", FIXTURE);
  assert.throws(() => evaluateRanking([], bench, "acc_c"), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, /unknown metric "acc_c"/);
    assert.match(err.message, /bench\.csv/);
    assert.match(err.message, /available metric columns: acc_a, acc_b/);
    return true;
  });
  assert.throws(() => evaluateRanking([], bench, "arch_str"), UsageError);
});

Deno.test("evaluateRanking names the table file and line when arch_str disagrees", () => {
  const bench = parseBenchTable("bench.csv", FIXTURE);
  const rows = [row({ index: 3, arch_str: "wrong", score: 1 })];
  assert.throws(
    () => evaluateRanking(rows, bench, "acc_a", { source: { path: "ranked.csv", lines: [7] } }),
    (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.match(err.message, /^bench\.csv:5: arch_str of index 3 is "a3" but ranked\.csv:7 has "wrong"/);
      return true;
    },
  );
});

Deno.test("runEvaluate writes byte-stable sorted eval.json when run twice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bench.csv`, FIXTURE);
    await Deno.writeTextFile(
      `${dir}/ranked.csv`,
      "index,arch_str,proxy,dataset,batch,seed,score,n_units\n" +
        "0,a0,naswot,cifar10,128,0,-inf,10\n1,a1,naswot,cifar10,128,0,1.000000,10\n" +
        "3,a3,naswot,cifar10,128,0,0.333333,10\n",
    );
    const options = { inPath: `${dir}/ranked.csv`, benchPath: `${dir}/bench.csv`, metric: "acc_a" };
    const report = await runEvaluate({ ...options, outPath: `${dir}/eval.json` });
    await runEvaluate({ ...options, outPath: `${dir}/eval2.json` });
    const text = await Deno.readTextFile(`${dir}/eval.json`);
    assert.equal(text, await Deno.readTextFile(`${dir}/eval2.json`));
    assert.ok(text.endsWith("}\n"));
    assert.ok(!text.includes("\r"));
    const parsed = JSON.parse(text);
    assert.deepEqual(Object.keys(parsed), ["groups", "metric", "schema", "stage", "topk_percents"]);
    assert.equal(parsed.groups[0].kendall_tau_b, 0.333333);
    // Keys sorted as strings ("10" before "5"); JSON.parse would reorder integer-like keys, so check the text.
    assert.match(text, /"topk": \{\n\s+"1": [^\n]+\n\s+"10": [^\n]+\n\s+"5": /);
    assert.equal(report.groups[0]?.n, 3);
    await assert.rejects(
      runEvaluate({ ...options, metric: "nope", outPath: `${dir}/x.json` }),
      /unknown metric "nope"/,
    );
    await assert.rejects(
      runEvaluate({ ...options, outPath: `${dir}/missing/eval.json` }),
      (err: unknown) => err instanceof UsageError && err.message.includes(`${dir}/missing`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------------------
// evaluate on the real NB201 table (skipped when ../shared/data is absent)

const NB201_URL = new URL("../../shared/data/nasbench201/nb201_tss_accuracies.csv", import.meta.url);
const nb201Exists = (() => {
  try {
    return Deno.statSync(NB201_URL).isFile;
  } catch {
    return false;
  }
})();
if (!nb201Exists) console.log(`skipping the NB201 reference test: ${NB201_URL.pathname} not found`);

Deno.test({
  name: "evaluateRanking reproduces the published NASWOT v1 Kendall tau when scoring the NB201 table",
  ignore: !nb201Exists,
  fn: async () => {
    const path = NB201_URL.pathname;
    const text = await Deno.readTextFile(NB201_URL);
    const bench = parseBenchTable(path, text);
    const table = parseCsv(path, text, ["index", "arch_str", "naswot_v1_score_cifar10"]);
    const rows: ScoreRow[] = [];
    for (const record of table.rows) {
      const cell = record["naswot_v1_score_cifar10"] ?? "";
      if (cell === "") continue;
      rows.push(row({
        index: Number(record["index"]),
        arch_str: record["arch_str"] ?? "",
        score: parseFloatField(cell),
        proxy: "naswot_v1",
        batch: 256,
      }));
    }
    assert.equal(rows.length, 15284);
    // SOURCE.md: vs cifar10valid_valid_200 Kendall 0.569 / Spearman 0.741; vs cifar10_test_200 0.530 / 0.694.
    const expected = [["cifar10valid_valid_200", 0.569, 0.741], ["cifar10_test_200", 0.530, 0.694]] as const;
    for (const [metric, tau, rho] of expected) {
      const [group] = evaluateRanking(rows, bench, metric);
      assert.equal(group?.n, 15284);
      assert.equal(group?.missing, 0);
      assertClose(group?.kendall_tau_b ?? NaN, tau, 0.002, `${metric} Kendall`);
      assertClose(group?.spearman_rho ?? NaN, rho, 0.002, `${metric} Spearman`);
      console.log(`${metric}: n=${group?.n} tau_b=${group?.kendall_tau_b} rho=${group?.spearman_rho}`);
    }
  },
});
