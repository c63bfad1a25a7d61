/**
 * The search protocols as a command: `search --algo random|rea|area|rea-proxy --runs R --bench TABLE`.
 * Runs R seeded runs, looks the chosen architectures up in the benchmark table and writes, into the run
 * folder, `runs.csv` (one row per run: the chosen arch and its value in every metric column of the table),
 * `trajectory.csv` (evolution: the steps of the best-so-far, and the last evaluation), `summary.json` (mean and std per
 * metric), the score cache `scores.csv` and `manifest.json`. Wall-clock times go to `metrics.jsonl` only.
 * @module
 */

import { getSpace } from "../spaces/registry.ts";
import type { SearchSpace } from "../spaces/space.ts";
import type { ReluCount } from "../spaces/plan.ts";
import { DataError, UsageError } from "./_errors.ts";
import {
  appendMetrics,
  formatFloat,
  parseFloatField,
  stableStringify,
  toCsv,
  writeFileAtomic,
  writeManifest,
} from "./_io.ts";
import { ScoreCache } from "./_scorer.ts";
import { type BenchTable, readBenchTable } from "./evaluate.ts";
import {
  areaPopulation,
  chooseBest,
  type Evaluation,
  type EvolutionResult,
  evolutionRng,
  meanStd,
  randomSearchDraws,
  regularizedEvolution,
} from "./protocols.ts";
import { VERSION } from "./version.ts";

/** The protocols `search --algo` runs. */
export const ALGOS = ["random", "rea", "area", "rea-proxy"] as const;
/** One of {@link ALGOS}. */
export type Algo = typeof ALGOS[number];

/** Epochs of the short training schedule REA's fitness comes from (NB201 `hp="12"`). */
export const SHORT_EPOCHS = 12;
/**
 * Mean seconds per training epoch over NB201 on `cifar10-valid` (NATS-Bench `train-per-time`, averaged over the
 * space: 9.14 s). Used by the training-time model when the table has no time column.
 */
export const MEAN_EPOCH_SECONDS = 9.14;

/** Options of a protocol run. */
export interface ProtocolOptions {
  algo: Algo;
  /** Search space (default nb201); it must have a benchmark index order, which the table follows. */
  space?: string;
  runs: number;
  out: string;
  seed: number;
  bench: string;
  /** Column reported as the search's accuracy (printed, first in the summary). */
  metric: string;
  /** REA fitness column (12-epoch validation accuracy by default). */
  fitness: string;
  /** Column of simulated training seconds; the MAC model when absent. */
  costColumn?: string;
  n: number;
  population: number;
  sample: number;
  budgetSeconds: number;
  budgetEvals: number;
  candidates: number;
  proxy: string;
  dataset: string;
  data: string;
  batch: number;
  reluCount: ReluCount;
  scores: readonly string[];
  quiet?: boolean;
  command: string[];
}

/** One row of runs.csv, before formatting. */
interface RunRow {
  run: number;
  chosen: number;
  /** Proxy score (random, area seed, rea-proxy) or fitness (rea, area) of the chosen arch. */
  value: number;
  evaluated: number;
  seconds: number;
  /** Best value of `metric` among the archs the run looked at. */
  optimum: number;
}

/** What the command prints. */
export interface ProtocolSummary {
  text: string;
  summary: Record<string, unknown>;
}

/** Looks numbers up in a benchmark table; a missing column is an error naming the file. */
class Bench {
  #cache = new Map<string, Float64Array>();
  constructor(readonly table: BenchTable, readonly size: number) {}

  column(name: string, flag: string): Float64Array {
    const hit = this.#cache.get(name);
    if (hit) return hit;
    if (!this.table.metrics.includes(name)) {
      throw new DataError(
        `${this.table.path}: no column "${name}" (${flag}); columns: ${this.table.metrics.join(", ")}`,
      );
    }
    const out = new Float64Array(this.size).fill(NaN);
    for (const row of this.table.rows.values()) {
      const text = row.values[name] ?? "";
      if (row.index >= 0 && row.index < this.size && text.trim() !== "") {
        out[row.index] = parseFloatField(text, `${this.table.path}:${row.line}: column ${name}`);
      }
    }
    this.#cache.set(name, out);
    return out;
  }
}

const macsCache = new Map<string, Float64Array>();

/** Multiply-accumulates per CIFAR image of every architecture of an indexed space (computed once). */
export function spaceMacs(space: SearchSpace = getSpace("nb201")): Float64Array {
  const hit = macsCache.get(space.name);
  if (hit) return hit;
  const size = space.size ?? 0;
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) out[i] = space.lower(space.archAt(i), { classes: 10 }).macs;
  macsCache.set(space.name, out);
  return out;
}

/**
 * Simulated seconds to train each architecture for 12 epochs. With no time column in the table we model
 * an epoch as half fixed cost and half proportional to the arch's MACs, scaled so that the space's mean is
 * {@link MEAN_EPOCH_SECONDS}: `12 * 9.14 * (0.5 + 0.5 * macs / mean_macs)`.
 */
export function modelTrainSeconds(space: SearchSpace = getSpace("nb201")): Float64Array {
  const macs = spaceMacs(space);
  const mean = macs.reduce((a, b) => a + b, 0) / macs.length;
  return macs.map((m) => SHORT_EPOCHS * MEAN_EPOCH_SECONDS * (0.5 + 0.5 * m / mean));
}

function checkPositive(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${name} must be a positive integer, got ${v}`);
}

/** Runs a protocol (see the module comment). */
export async function runProtocol(o: ProtocolOptions): Promise<ProtocolSummary> {
  if (!(ALGOS as readonly string[]).includes(o.algo)) {
    throw new UsageError(`--algo: unknown algorithm "${o.algo}"; known: ${ALGOS.join(", ")}`);
  }
  checkPositive("runs", o.runs);
  checkPositive("n", o.n);
  checkPositive("population", o.population);
  checkPositive("sample-size", o.sample);
  checkPositive("candidates", o.candidates);
  checkPositive("budget-evals", o.budgetEvals);
  if (!(o.budgetSeconds > 0)) throw new UsageError(`--budget must be positive, got ${o.budgetSeconds}`);
  if (o.algo === "area" && o.candidates < o.population) {
    throw new UsageError(`--candidates ${o.candidates} must be at least --population ${o.population}`);
  }
  const space = getSpace(o.space ?? "nb201");
  if (space.size === null) {
    throw new UsageError(
      `--space ${space.name}: the search protocols draw and mutate benchmark indices, and ${space.name} has no ` +
        `index order (its benchmark covers a sample of cells); run the main job: mod.ts search --space ` +
        `${space.name} --from FILE`,
    );
  }
  const bench = new Bench(await readBenchTable(o.bench), space.size);
  const metrics = bench.table.metrics.filter((m) => {
    try {
      bench.column(m, "metric");
      return true;
    } catch {
      return false; // a non-numeric column (e.g. a note) is not a metric
    }
  });
  const main = bench.column(o.metric, "--metric");
  const needsTraining = o.algo === "rea" || o.algo === "area";
  const fitness = needsTraining ? bench.column(o.fitness, "--fitness") : null;
  const cost = needsTraining
    ? (o.costColumn ? bench.column(o.costColumn, "--cost-column") : modelTrainSeconds(space))
    : null;
  const needsScores = o.algo !== "rea";
  await Deno.mkdir(o.out, { recursive: true });
  const p = (name: string) => `${o.out}/${name}`;
  const cache = needsScores
    ? await ScoreCache.open({
      proxy: o.proxy,
      dataset: o.dataset,
      data: o.data,
      batch: o.batch,
      seed: o.seed,
      reluCount: o.reluCount,
      space: space.name,
      tables: o.scores,
      cachePath: p("scores.csv"),
      metricsPath: p("metrics.jsonl"),
      quiet: o.quiet,
    })
    : null;

  const rows: RunRow[] = [];
  const traj: { run: number; point: EvolutionResult["trajectory"][number] }[] = [];
  try {
    if (o.algo === "random") {
      // Score the union of all draws once (cached), then every run is a lookup.
      const draws = Array.from({ length: o.runs }, (_, r) => randomSearchDraws(o.n, o.seed, r, space));
      await cache!.scores(draws.flat());
      for (let r = 0; r < o.runs; r++) {
        const t0 = performance.now();
        const d = draws[r]!;
        const s = await cache!.scores(d);
        const chosen = chooseBest(d, s);
        rows.push({
          run: r,
          chosen,
          value: s[d.indexOf(chosen)]!,
          evaluated: o.n,
          seconds: 0,
          optimum: Math.max(...d.map((i) => main[i]!)),
        });
        await appendMetrics(p("metrics.jsonl"), { stage: "search.run", run: r, seconds: secs(t0) });
      }
    } else {
      for (let r = 0; r < o.runs; r++) {
        const t0 = performance.now();
        const rng = evolutionRng(o.algo, o.seed, r);
        const seen: number[] = [];
        let evaluate: (i: number) => Promise<Evaluation>;
        if (o.algo === "rea-proxy") {
          evaluate = async (i) => {
            seen.push(i);
            return { fitness: (await cache!.scores([i]))[0]!, seconds: 0 };
          };
        } else {
          evaluate = (i) => {
            seen.push(i);
            return Promise.resolve({ fitness: fitness![i]!, seconds: cost![i]! });
          };
        }
        const initial = o.algo === "area"
          ? await areaPopulation(o.candidates, o.population, o.seed, r, (ix) => cache!.scores(ix), space)
          : undefined;
        const res = await regularizedEvolution(
          {
            population: o.population,
            sample: o.sample,
            budgetSeconds: needsTraining ? o.budgetSeconds : Infinity,
            budgetEvals: needsTraining ? Infinity : o.budgetEvals,
          },
          rng,
          evaluate,
          initial,
          space,
        );
        rows.push({
          run: r,
          chosen: res.chosen,
          value: res.fitness,
          evaluated: res.evaluated,
          seconds: res.seconds,
          optimum: Math.max(...seen.map((i) => main[i]!)),
        });
        // The best-so-far is a step function: keep its steps and the last evaluation.
        res.trajectory.forEach((point, k, all) => {
          if (k === 0 || k === all.length - 1 || point.best !== all[k - 1]!.best) {
            traj.push({ run: r, point });
          }
        });
        await appendMetrics(p("metrics.jsonl"), { stage: "search.run", run: r, seconds: secs(t0) });
      }
    }
  } finally {
    cache?.close();
  }

  // runs.csv
  const valueName = o.algo === "rea" || o.algo === "area" ? `fitness_${o.fitness}` : `score_${o.proxy}`;
  const columns = [
    "run",
    "index",
    "arch_str",
    valueName,
    "evaluated",
    "sim_seconds",
    ...metrics,
    `optimum_${o.metric}`,
  ];
  const f = (x: number) => formatFloat(x, 6);
  const csvRows = rows.map((row) => {
    const rec: Record<string, string | number> = {
      run: row.run,
      index: row.chosen,
      arch_str: space.archAt(row.chosen),
      [valueName]: f(row.value),
      evaluated: row.evaluated,
      sim_seconds: formatFloat(row.seconds, 3),
      [`optimum_${o.metric}`]: f(row.optimum),
    };
    for (const m of metrics) rec[m] = f(bench.column(m, "metric")[row.chosen]!);
    return rec;
  });
  await writeFileAtomic(p("runs.csv"), toCsv(columns, csvRows));
  if (traj.length > 0) {
    const tcols = ["run", "evaluated", "sim_seconds", "best_index", "best_fitness", o.metric];
    await writeFileAtomic(
      p("trajectory.csv"),
      toCsv(
        tcols,
        traj.map(({ run, point }) => ({
          run,
          evaluated: point.evaluated,
          sim_seconds: formatFloat(point.seconds, 3),
          best_index: point.best,
          best_fitness: f(point.bestFitness),
          [o.metric]: f(main[point.best]!),
        })),
      ),
    );
  } else {
    await Deno.remove(p("trajectory.csv")).catch(() => {});
  }

  // summary.json
  const stat = (xs: number[]) => {
    const m = meanStd(xs);
    return { mean: round6(m.mean), std: round6(m.std), n: m.n };
  };
  const perMetric: Record<string, unknown> = {};
  for (const m of metrics) perMetric[m] = stat(rows.map((row) => bench.column(m, "metric")[row.chosen]!));
  const params: Record<string, unknown> = {
    algo: o.algo,
    runs: o.runs,
    metric: o.metric,
    ...(o.algo === "random" ? { n: o.n } : {}),
    ...(o.algo !== "random" ? { population: o.population, sample_size: o.sample } : {}),
    ...(needsTraining
      ? {
        fitness: o.fitness,
        budget_seconds: o.budgetSeconds,
        train_time: o.costColumn ??
          `model: ${SHORT_EPOCHS} * ${MEAN_EPOCH_SECONDS} s * (0.5 + 0.5 * macs / mean)`,
      }
      : {}),
    ...(o.algo === "rea-proxy" ? { budget_evals: o.budgetEvals } : {}),
    ...(o.algo === "area" ? { candidates: o.candidates } : {}),
    ...(needsScores
      ? { proxy: o.proxy, dataset: o.dataset, data: o.data, batch: o.batch, relu_count: o.reluCount }
      : {}),
  };
  const summary = {
    schema: 1,
    params,
    seed: o.seed,
    chosen: perMetric,
    optimum: stat(rows.map((row) => row.optimum)),
    evaluated: stat(rows.map((row) => row.evaluated)),
    sim_seconds: stat(rows.map((row) => row.seconds)),
  };
  await writeFileAtomic(p("summary.json"), stableStringify(summary, 2) + "\n");
  const inputs = [
    o.bench,
    ...(needsScores ? o.scores : []),
    ...(needsScores && o.data !== "synthetic" ? [o.data] : []),
  ];
  await writeManifest(o.out, {
    command: o.command,
    stage: `search.${o.algo}`,
    versions: { untrained: VERSION, deno: Deno.version.deno },
    seeds: { search: o.seed, ...(needsScores ? { minibatch: o.seed, init: o.seed } : {}) },
    inputs: inputs.map((path) => ({ path })),
    params: { ...params, device: cache?.device() ?? null },
  });

  const main0 = meanStd(rows.map((row) => main[row.chosen]!));
  const lines = [
    `${o.algo}: ${o.runs} run${o.runs === 1 ? "" : "s"}` +
    (o.algo === "random"
      ? `, N=${o.n}`
      : `, ${stat(rows.map((r) => r.evaluated)).mean} evaluations per run`) +
    (cache ? `, ${cache.computed} archs scored on the GPU` : ""),
    `${o.metric}: ${main0.mean.toFixed(2)} +- ${main0.std.toFixed(2)}` +
    ` (optimum in what the runs saw: ${meanStd(rows.map((r) => r.optimum)).mean.toFixed(2)})`,
  ];
  if (o.runs === 1) {
    const r0 = rows[0]!;
    lines.unshift(
      `chosen: #${r0.chosen} ${space.archAt(r0.chosen)}`,
      `${valueName}: ${f(r0.value)}`,
    );
  }
  return { text: lines.join("\n"), summary };
}

function secs(t0: number): number {
  return Math.round(performance.now() - t0) / 1000;
}

function round6(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x;
}
