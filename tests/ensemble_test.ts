// Ensembles: rank average and the synflow/jacob_cov/snip vote, as pure functions and through `rank --ensemble`.
import { ensembleComponents, ensembleRows } from "../pipeline/ensemble.ts";
import type { ScoreRow } from "../pipeline/_schema.ts";

function eq<T>(a: T, b: T, msg: string) {
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    throw new Error(`${msg}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
  }
}

const row = (proxy: string, index: number, score: number): ScoreRow => ({
  index,
  arch_str: `a${index}`,
  proxy,
  dataset: "cifar10",
  batch: 8,
  seed: 0,
  score,
  n_units: 0,
});

Deno.test("rank average: minus the mean of each proxy's average rank, over archs every proxy scored", () => {
  const rows = [
    row("naswot", 1, 10),
    row("naswot", 2, 30),
    row("naswot", 3, 20),
    row("naswot", 4, 5),
    row("synflow", 1, 3),
    row("synflow", 2, 1),
    row("synflow", 3, 2),
  ];
  const e = ensembleRows(rows, "naswot+synflow");
  // naswot ranks (1 = best) on archs 1..3: 3, 1, 2; synflow: 1, 3, 2
  eq(e.map((r) => [r.index, r.proxy, r.score]), [[1, "naswot+synflow", -2], [2, "naswot+synflow", -2], [
    3,
    "naswot+synflow",
    -2,
  ]], "ties");
  const f = ensembleRows([...rows, row("naswot", 5, -Infinity), row("synflow", 5, 9)], "naswot+synflow");
  eq(f.find((r) => r.index === 5)!.score, -2.5, "-inf ranks last (4), synflow best (1)");
});

Deno.test("vote: an arch wins a pair when two of synflow, jacob_cov and snip score it strictly higher", () => {
  const rows = [
    row("synflow", 1, 3),
    row("synflow", 2, 2),
    row("synflow", 3, 1),
    row("jacob_cov", 1, 1),
    row("jacob_cov", 2, 3),
    row("jacob_cov", 3, 2),
    row("snip", 1, 2),
    row("snip", 2, 1),
    row("snip", 3, 3),
  ];
  // 1 vs 2: synflow 1, jacob 2, snip 1 -> 1 wins; 1 vs 3: 1, 3, 3 -> 3; 2 vs 3: 2, 2, 3 -> 2
  eq(ensembleRows(rows, "vote").map((r) => r.score), [1, 1, 1], "a rock-paper-scissors cycle");
  eq(ensembleComponents("vote"), ["synflow", "jacob_cov", "snip"], "components");
});

Deno.test("tenas ranks by the mean rank of ntk and linear_regions; das@w adds w log N_A to das rows", () => {
  const rows = [
    row("ntk", 1, -10),
    row("ntk", 2, -2),
    row("ntk", 3, -5),
    row("linear_regions", 1, 8),
    row("linear_regions", 2, 6),
    row("linear_regions", 3, 7),
  ];
  // ntk ranks: 3, 1, 2; linear_regions: 1, 3, 2
  eq(ensembleRows(rows, "tenas").map((r) => [r.index, r.proxy, r.score]), [
    [1, "tenas", -2],
    [2, "tenas", -2],
    [3, "tenas", -2],
  ], "tenas");
  const das = [
    { ...row("das", 1, -100), n_units: Math.E ** 3 },
    { ...row("das", 2, -Infinity), n_units: 100 },
  ];
  const e = ensembleRows(das, "das@0.5");
  eq(e.map((r) => r.proxy), ["das@0.5", "das@0.5"], "proxy name");
  if (Math.abs(e[0]!.score - (-100 + 1.5)) > 1e-12) throw new Error(`das@0.5: ${e[0]!.score}`);
  eq(e[1]!.score, -Infinity, "a singular K stays -inf");
  eq(ensembleRows(das, "das@8")[0]!.n_units, das[0]!.n_units, "n_units kept");
  let msg = "";
  try {
    ensembleRows(das, "das@x");
  } catch (err) {
    msg = (err as Error).message;
  }
  eq(msg.includes("das@w"), true, "malformed weight");
  // Without das rows, naswot rows give the same decoupling: das@batch is NASWOT itself.
  const nw = [{ ...row("naswot", 1, 50), n_units: 20 }, { ...row("naswot", 2, 40), n_units: 30 }];
  const back = ensembleRows(nw, "das@8");
  if (Math.abs(back[0]!.score - 50) > 1e-12 || Math.abs(back[1]!.score - 40) > 1e-12) {
    throw new Error(`das@batch from naswot rows: ${back.map((r) => r.score)}`);
  }
  const zero = ensembleRows(nw, "das@0");
  if (Math.abs(zero[0]!.score - (50 - 8 * Math.log(20))) > 1e-12) throw new Error("das@0 from naswot rows");
});

Deno.test("ensembles name what is missing: an absent proxy, a proxy with two runs, a malformed spec", () => {
  const rows = [row("naswot", 1, 1), row("synflow", 1, 2), { ...row("synflow", 1, 2), seed: 1 }];
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  eq(err(() => ensembleRows(rows, "naswot+snip")).includes('"snip"'), true, "absent");
  eq(err(() => ensembleRows(rows, "naswot+synflow")).includes("several runs"), true, "two runs");
  eq(err(() => ensembleComponents("naswot")).includes("a+b"), true, "malformed");
});

Deno.test("rank --in a.csv --in b.csv --ensemble a+b writes the ensemble as a ranked group", async () => {
  const dir = await Deno.makeTempDir({ prefix: "untrained-ensemble-" });
  const head = "index,arch_str,proxy,dataset,batch,seed,score,n_units\n";
  const arch = (i: number) =>
    [
      "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
      "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ][i]!;
  await Deno.writeTextFile(
    `${dir}/a.csv`,
    head + `1651,${arch(0)},naswot,cifar10,8,0,1.000000,10\n4,${arch(1)},naswot,cifar10,8,0,2.000000,10\n`,
  );
  await Deno.writeTextFile(
    `${dir}/b.csv`,
    head + `1651,${arch(0)},synflow,cifar10,8,0,5.000000,0\n4,${arch(1)},synflow,cifar10,8,0,3.000000,0\n`,
  );
  const root = new URL("..", import.meta.url).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      `${root}mod.ts`,
      "rank",
      "--in",
      `${dir}/a.csv`,
      "--in",
      `${dir}/b.csv`,
      "--ensemble",
      "naswot+synflow",
      "--out",
      `${dir}/r.csv`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
  const lines = (await Deno.readTextFile(`${dir}/r.csv`)).trim().split("\n");
  eq(lines.filter((l) => l.includes(",naswot+synflow,")).length, 2, "two ensemble rows");
  eq(lines.length, 7, "header + 3 groups of 2");
  await Deno.remove(dir, { recursive: true });
});
