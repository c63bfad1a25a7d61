// Search protocols: the pure cores (random-search choice, regularized evolution, the AREA warm start) on toy
// oracles, and `search --algo ...` end to end on a generated benchmark table and score table covering all
// 15,625 archs, so no GPU is needed (every score is found in the table).
import { natsSss } from "../spaces/nats_sss.ts";
import {
  areaPopulation,
  chooseBest,
  type Evaluation,
  evolutionRng,
  meanStd,
  randomSearchDraws,
  regularizedEvolution,
} from "../pipeline/protocols.ts";
import { formatArch, indexToArch, NB201_SIZE } from "../spaces/nb201.ts";
import { Rng } from "../spaces/rng.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

function eq<T>(a: T, b: T, msg: string) {
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    throw new Error(`${msg}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
  }
}

/** A toy fitness: number of nor_conv_3x3 edges, plus a small index-dependent tie breaker. */
function toyFitness(i: number): number {
  const a = indexToArch(i);
  return a.filter((op) => op === "nor_conv_3x3").length * 10 + (i % 97) / 100;
}

Deno.test("chooseBest takes the highest score, the first on ties, and never a NaN or -inf when others exist", () => {
  eq(chooseBest([5, 6, 7], [1, 3, 3]), 6, "tie -> first");
  eq(chooseBest([5, 6, 7], [-Infinity, -Infinity, -Infinity]), 5, "all -inf -> first");
  eq(chooseBest([5, 6, 7], [NaN, -Infinity, 2]), 7, "NaN skipped");
  eq(chooseBest([5, 6], [NaN, -Infinity]), 6, "-inf beats NaN");
});

Deno.test("random-search draws depend only on (n, seed, run) and are uniform with replacement", () => {
  eq(randomSearchDraws(10, 0, 3), randomSearchDraws(10, 0, 3), "deterministic");
  assert(
    JSON.stringify(randomSearchDraws(10, 0, 3)) !== JSON.stringify(randomSearchDraws(10, 0, 4)),
    "runs differ",
  );
  eq(randomSearchDraws(20, 1, 0).slice(0, 10), randomSearchDraws(10, 1, 0), "prefix property");
  const big = randomSearchDraws(5000, 7, 0);
  assert(big.every((i) => Number.isInteger(i) && i >= 0 && i < NB201_SIZE), "range");
  assert(new Set(big).size < 5000, "draws with replacement repeat");
});

Deno.test("regularized evolution keeps the budget, ages out the oldest, and is reproducible from its seed", async () => {
  const evals: number[] = [];
  const evaluate = (i: number): Promise<Evaluation> => {
    evals.push(i);
    return Promise.resolve({ fitness: toyFitness(i), seconds: 100 });
  };
  const params = { population: 10, sample: 3, budgetSeconds: 12_000, budgetEvals: Infinity };
  const r1 = await regularizedEvolution(params, evolutionRng("rea", 0, 0), evaluate);
  eq(r1.evaluated, 120, "12000 s / 100 s per evaluation");
  eq(r1.seconds, 12_000, "budget spent exactly");
  eq(r1.trajectory.length, 120, "one point per evaluation");
  // The chosen arch is the fittest evaluated; fitness never decreases along the trajectory.
  const best = Math.max(...evals.slice(0, 120).map(toyFitness));
  eq(r1.fitness, best, "chosen = best of history");
  for (let k = 1; k < r1.trajectory.length; k++) {
    assert(r1.trajectory[k]!.bestFitness >= r1.trajectory[k - 1]!.bestFitness, "monotone");
  }
  // Each child differs from some member of the population in exactly one edge.
  for (let k = 10; k < 120; k++) {
    const child = indexToArch(evals[k]!);
    const window = evals.slice(k - 10, k).map(indexToArch);
    assert(
      window.some((p) => p.filter((op, e) => op !== child[e]).length === 1),
      `child ${k} is a one-edge mutation of a population member`,
    );
  }
  // Evolution should beat the initial population on this easy landscape.
  assert(r1.fitness > Math.max(...evals.slice(0, 10).map(toyFitness)), "evolution improves");
  const again = await regularizedEvolution(params, evolutionRng("rea", 0, 0), evaluate);
  eq(again.trajectory, r1.trajectory, "same seed, same run");
  const other = await regularizedEvolution(params, evolutionRng("rea", 0, 1), evaluate);
  assert(JSON.stringify(other.trajectory) !== JSON.stringify(r1.trajectory), "another run differs");
  // An evaluation budget stops it too; an initial population is used as given.
  const init = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  evals.length = 0;
  const r3 = await regularizedEvolution(
    { ...params, budgetSeconds: Infinity, budgetEvals: 25 },
    new Rng(5),
    evaluate,
    init,
  );
  eq(r3.evaluated, 25, "evaluation budget");
  eq(evals.slice(0, 10), init, "initial population evaluated first, in order");
});

Deno.test("regularized evolution stops before an evaluation that would exceed the budget", async () => {
  const r = await regularizedEvolution(
    { population: 3, sample: 2, budgetSeconds: 250, budgetEvals: Infinity },
    new Rng(1),
    () => Promise.resolve({ fitness: 1, seconds: 100 }),
  );
  eq([r.evaluated, r.seconds], [2, 200], "third evaluation would exceed 250 s");
});

Deno.test("the AREA warm start keeps the best P of the candidates by score, best first", async () => {
  const score = (ix: readonly number[]) =>
    Promise.resolve(ix.map((i) => (i % 1000) - (i === 5 ? Infinity : 0)));
  const pop = await areaPopulation(20, 10, 0, 0, score);
  eq(pop.length, 10, "population size");
  const s = pop.map((i) => i % 1000);
  for (let k = 1; k < s.length; k++) assert(s[k - 1]! >= s[k]!, "sorted by score, best first");
});

Deno.test("meanStd is numpy's mean and population std, skipping NaN", () => {
  const m = meanStd([1, 2, 3, 4, NaN]);
  eq([m.mean, m.n], [2.5, 4], "mean");
  assert(Math.abs(m.std - Math.sqrt(1.25)) < 1e-15, "std with n in the denominator");
});

// ---------------------------------------------------------------------------------------------------------
// The command, on generated tables (no GPU: every score is in the score table).

const root = new URL("..", import.meta.url).pathname;

async function deno(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--deny-net", `${root}mod.ts`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Toy proxy score: rewards conv edges, so random search prefers them. */
function toyScore(i: number): number {
  return indexToArch(i).filter((op) => op.startsWith("nor_conv")).length + (i % 13) / 100;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function tables(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "untrained-protocols-" });
  const bench = ["index,arch_str,acc_test,acc_valid_12,train_s"];
  const scores = ["index,arch_str,proxy,dataset,batch,seed,score,n_units"];
  for (let i = 0; i < NB201_SIZE; i++) {
    const a = formatArch(indexToArch(i));
    bench.push(`${i},${a},${(50 + toyFitness(i)).toFixed(6)},${toyFitness(i).toFixed(6)},${100 + (i % 7)}`);
    scores.push(`${i},${a},naswot,synthetic-cifar10,128,0,${toyScore(i).toFixed(6)},100`);
  }
  await Deno.writeTextFile(`${dir}/bench.csv`, bench.join("\n") + "\n");
  await Deno.writeTextFile(`${dir}/scores.csv`, scores.join("\n") + "\n");
  return dir;
}

Deno.test("search --algo rea|random|area|rea-proxy give byte-identical files on rerun and pick what the protocol says", async () => {
  const dir = await tables();
  const common = [
    "--bench",
    `${dir}/bench.csv`,
    "--metric",
    "acc_test",
    "--fitness",
    "acc_valid_12",
    "--quiet",
  ];
  const files = ["runs.csv", "summary.json", "trajectory.csv"];
  for (const algo of ["rea", "area", "rea-proxy"]) {
    const out = [`${dir}/${algo}-a`, `${dir}/${algo}-b`];
    for (const o of out) {
      const r = await deno([
        "search",
        "--algo",
        algo,
        "--runs",
        "3",
        "--cost-column",
        "train_s",
        "--budget",
        "3000",
        "--budget-evals",
        "40",
        "--scores",
        `${dir}/scores.csv`,
        "--out",
        o,
        ...common,
      ]);
      if (r.code !== 0) throw new Error(`${algo}: exit ${r.code}: ${r.err}`);
      assert(r.out.includes("acc_test:"), `${algo} prints the metric`);
      assert(!r.out.includes("scored on the GPU") || r.out.includes(" 0 archs scored on the GPU"), "no GPU");
    }
    for (const f of files) {
      eq(
        await Deno.readTextFile(`${out[0]}/${f}`),
        await Deno.readTextFile(`${out[1]}/${f}`),
        `${algo} ${f}`,
      );
    }
    const runs = (await Deno.readTextFile(`${out[0]}/runs.csv`)).trim().split("\n");
    eq(runs.length, 4, `${algo}: header + 3 runs`);
    const head = runs[0]!.split(",");
    for (const line of runs.slice(1)) {
      const cells = line.split(",");
      const get = (c: string) => cells[head.indexOf(c)]!;
      const evaluated = Number(get("evaluated"));
      if (algo === "rea-proxy") eq(evaluated, 40, "evaluation budget");
      else assert(Number(get("sim_seconds")) <= 3000 && evaluated >= 27, `${algo}: time budget (${line})`);
      eq(
        Number(get("acc_test")),
        Number((50 + toyFitness(Number(get("index")))).toFixed(6)),
        "metric looked up",
      );
    }
  }
  // Random search: each run's choice is the best toy score among its draws.
  const r = await deno([
    "search",
    "--algo",
    "random",
    "--runs",
    "4",
    "--n",
    "30",
    "--scores",
    `${dir}/scores.csv`,
    "--out",
    `${dir}/rs`,
    ...common,
  ]);
  if (r.code !== 0) throw new Error(`random: ${r.err}`);
  const lines = (await Deno.readTextFile(`${dir}/rs/runs.csv`)).trim().split("\n").slice(1);
  lines.forEach((line, run) => {
    const d = randomSearchDraws(30, 0, run);
    const want = chooseBest(d, d.map(toyScore));
    eq(Number(line.split(",")[1]), want, `random run ${run}`);
  });
  // Nothing was scored, so the run wrote no score cache of its own.
  assert(!(await exists(`${dir}/rs/scores.csv`)), "no cache file when nothing was scored");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("search --algo with a missing column or a bad flag exits 2 naming the problem", async () => {
  const dir = await tables();
  const r1 = await deno([
    "search",
    "--algo",
    "rea",
    "--bench",
    `${dir}/bench.csv`,
    "--metric",
    "nope",
    "--out",
    `${dir}/x`,
  ]);
  eq(r1.code, 2, "exit code");
  assert(r1.err.includes("bench.csv") && r1.err.includes('"nope"'), r1.err);
  const r2 = await deno(["search", "--algo", "bogus", "--bench", `${dir}/bench.csv`, "--out", `${dir}/y`]);
  eq(r2.code, 2, "exit code");
  assert(r2.err.includes("bogus") && r2.err.includes("rea-proxy"), r2.err);
  const r3 = await deno(["search", "--algo", "rea", "--out", `${dir}/z`]);
  eq(r3.code, 2, "exit code");
  assert(r3.err.includes("--bench"), r3.err);
  const r4 = await deno(["search", "--fitness", "acc_valid_12", "--out", `${dir}/w`]);
  eq(r4.code, 2, "a protocol flag without --algo");
  assert(r4.err.includes("--fitness needs --algo"), r4.err);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("search --algo runs on nats-sss with a NATS-style table (rea with the MAC time model, random) and refuses nb101", async () => {
  const dir = await Deno.makeTempDir({ prefix: "untrained-protocols-nats-" });
  const bench = ["index,arch_str,acc_test,acc_valid_12"];
  const scores = ["index,arch_str,proxy,dataset,batch,seed,score,n_units"];
  // Toy benchmark: wider networks are better; the toy score prefers a wide first stage.
  const widths = (i: number) => natsSss.archAt(i).split(":").map(Number);
  for (let i = 0; i < natsSss.size!; i++) {
    const w = widths(i);
    const acc = w.reduce((a, b) => a + b, 0) / 4;
    bench.push(`${i},${natsSss.archAt(i)},${(acc + 10).toFixed(6)},${acc.toFixed(6)}`);
    scores.push(
      `${i},${natsSss.archAt(i)},naswot,synthetic-cifar10,128,0,${(w[0]! + (i % 11) / 100).toFixed(6)},1`,
    );
  }
  await Deno.writeTextFile(`${dir}/bench.csv`, bench.join("\n") + "\n");
  await Deno.writeTextFile(`${dir}/scores.csv`, scores.join("\n") + "\n");
  const common = ["--space", "nats-sss", "--bench", `${dir}/bench.csv`, "--metric", "acc_test", "--quiet"];
  const rea = await deno([
    "search",
    "--algo",
    "rea",
    "--runs",
    "2",
    "--fitness",
    "acc_valid_12",
    "--budget",
    "3000",
    "--out",
    `${dir}/rea`,
    ...common,
  ]);
  if (rea.code !== 0) throw new Error(`rea: ${rea.err}`);
  const reaRuns = (await Deno.readTextFile(`${dir}/rea/runs.csv`)).trim().split("\n").slice(1);
  for (const line of reaRuns) {
    const [, index, arch] = line.split(",");
    eq(arch, natsSss.archAt(Number(index)), "runs.csv names NATS archs");
  }
  const rs = await deno([
    "search",
    "--algo",
    "random",
    "--runs",
    "3",
    "--n",
    "20",
    "--scores",
    `${dir}/scores.csv`,
    "--out",
    `${dir}/rs`,
    ...common,
  ]);
  if (rs.code !== 0) throw new Error(`random: ${rs.err}`);
  const lines = (await Deno.readTextFile(`${dir}/rs/runs.csv`)).trim().split("\n").slice(1);
  lines.forEach((line, run) => {
    const d = randomSearchDraws(20, 0, run, natsSss);
    const want = chooseBest(d, d.map((i) => widths(i)[0]! + (i % 11) / 100));
    eq(Number(line.split(",")[1]), want, `random run ${run}`);
  });
  // A score table of another space is refused, not silently joined by index.
  const wrong = await deno([
    "search",
    "--algo",
    "random",
    "--n",
    "5",
    "--scores",
    `${dir}/scores.csv`,
    "--out",
    `${dir}/wrong`,
    "--bench",
    `${dir}/bench.csv`,
    "--metric",
    "acc_test",
    "--quiet",
  ]);
  eq(wrong.code, 2, "an NB201 run with a NATS score table exits 2");
  assert(/is it a score table of another space/.test(wrong.err), wrong.err);
  const nb101 = await deno([
    "search",
    "--algo",
    "random",
    "--space",
    "nb101",
    "--bench",
    `${dir}/bench.csv`,
    "--out",
    `${dir}/x`,
  ]);
  eq(nb101.code, 2, "nb101 is refused");
  assert(/no index order/.test(nb101.err), nb101.err);
  await Deno.remove(dir, { recursive: true });
});
