/**
 * Stage `evaluate`: `ranked.csv` (or `scores.csv`) + a benchmark table -> `eval.json`. Per scoring run it
 * reports how well the proxy's scores rank the architectures by a benchmark accuracy: Kendall tau-b,
 * Spearman rho, top-k retrieval, the accuracy of the architecture the proxy would pick, and the best accuracy
 * present in the sample.
 *
 * @module
 */

import { SPACES as SPACE_TABLE } from "../spaces/registry.ts";
import { DataError, UsageError } from "./_errors.ts";
import {
  type CsvTable,
  formatFloat,
  parseCsv,
  parseFloatField,
  parseIntField,
  readTextInput,
  roundFloats,
  stableStringify,
  writeFileAtomic,
} from "./_io.ts";
import { groupByRun, readScores, runLabel, type ScoreRow } from "./_schema.ts";
import { kendallTauB, spearmanRho, topKRetrieval } from "./_stats.ts";

/** Top-k percentages reported by default. */
export const DEFAULT_TOPK: readonly number[] = [1, 5, 10];

/** Schema version written into `eval.json`. */
export const EVAL_SCHEMA = 1;

/** One architecture of a benchmark table. */
export interface BenchRow {
  /** Benchmark index. */
  index: number;
  /** Architecture string. */
  arch_str: string;
  /** 1-based line in the table file (for error messages). */
  line: number;
  /** Metric column -> cell text (may be empty when the benchmark lacks the value). */
  values: Readonly<Record<string, string>>;
}

/**
 * A benchmark table: a CSV with `index`, `arch_str` and one column per metric, like
 * `nb201_tss_accuracies.csv` (`cifar10_test_200`, `cifar10valid_valid_200`, ...).
 */
export interface BenchTable {
  /** The file it came from. */
  path: string;
  /** Every column other than `index` and `arch_str`, in file order. */
  metrics: readonly string[];
  /** Rows by benchmark index. */
  rows: ReadonlyMap<number, BenchRow>;
}

/**
 * Parses a benchmark table (see {@linkcode BenchTable}).
 *
 * @throws {DataError} naming the file and line for a missing `index`/`arch_str` column, a malformed index or a
 *   duplicate index.
 */
export function parseBenchTable(path: string, text: string): BenchTable {
  const layout = parseCsv(path, text, []);
  if (!layout.columns.includes("index") || !layout.columns.includes("arch_str")) {
    const bench = spaceLayoutTable(path, layout);
    if (bench) return bench;
  }
  const table = parseCsv(path, text, ["index", "arch_str"]);
  const rows = new Map<number, BenchRow>();
  table.rows.forEach((record, i) => {
    const line = table.lines[i] ?? 0;
    const index = parseIntField(record["index"] ?? "", `${path}:${line}: column index`);
    const previous = rows.get(index);
    if (previous !== undefined) {
      throw new DataError(`${path}:${line}: duplicate index ${index} (first on line ${previous.line})`);
    }
    rows.set(index, { index, arch_str: record["arch_str"] ?? "", line, values: record });
  });
  const metrics = table.columns.filter((column) => column !== "index" && column !== "arch_str");
  return { path, metrics, rows };
}

/** Reads a benchmark table file; see {@linkcode parseBenchTable}. */
export async function readBenchTable(path: string): Promise<BenchTable> {
  return parseBenchTable(path, await readTextInput(path, "benchmark table"));
}

/** The architecture a proxy picks (its best score) and its benchmark accuracy. */
export interface TopArch {
  /** Benchmark index. */
  index: number;
  /** Architecture string. */
  arch_str: string;
  /** Its score (written `null` in JSON when non-finite). */
  score: number;
  /** Its accuracy under the metric, `null` when the benchmark lacks it. */
  accuracy: number | null;
}

/** The architecture with the best accuracy among the evaluated rows. */
export interface BestInSample {
  /** Benchmark index. */
  index: number;
  /** Architecture string. */
  arch_str: string;
  /** Its accuracy under the metric. */
  accuracy: number;
}

/** Evaluation of one scoring run (one proxy, dataset, batch, seed). */
export interface GroupEval {
  /** Proxy name. */
  proxy: string;
  /** Dataset of the scoring minibatch. */
  dataset: string;
  /** Minibatch size. */
  batch: number;
  /** Run seed. */
  seed: number;
  /** Benchmark column the scores are compared with. */
  metric: string;
  /** Rows with a benchmark value for the metric (the ones all statistics use). */
  n: number;
  /** Rows without one (index absent from the table, or an empty / `nan` cell); excluded from statistics. */
  missing: number;
  /** Kendall tau-b of score vs metric over the n rows; `null` when undefined (n < 2 or a constant input). */
  kendall_tau_b: number | null;
  /** Spearman rho of score vs metric over the n rows; `null` when undefined. */
  spearman_rho: number | null;
  /** Percentage (as text, e.g. `"5"`) -> top-k retrieval fraction (see `topKRetrieval`); `null` when n = 0. */
  topk: Record<string, number | null>;
  /** The row with the best score (ties: lowest index), over all rows of the run; `null` for no rows. */
  top_arch: TopArch | null;
  /** The row with the best accuracy among the n rows (ties: lowest index); `null` when n = 0. */
  best_in_sample: BestInSample | null;
}

/** Options of {@linkcode evaluateRanking}. */
export interface EvaluateOptions {
  /** Top-k percentages, each in (0, 100]; default {@linkcode DEFAULT_TOPK}. */
  topk?: readonly number[];
  /** Where the rows came from, so errors can name the scores file and line: `lines[i]` is row i's line. */
  source?: { path: string; lines: readonly number[] };
}

function nullIfNaN(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}

/**
 * A table in a space's published layout (e.g. NB101's `adjacency_rowmajor_7x7`, `ops` columns): index = the
 * 0-based row number, arch_str = the space's canonical string of the row, metrics = every other column.
 */
function spaceLayoutTable(path: string, table: CsvTable): BenchTable | null {
  const first = table.rows[0];
  if (!first) return null;
  for (const space of SPACE_TABLE.values()) {
    if (!space.fromTable || space.fromTable(first) === null) continue;
    const rows = new Map<number, BenchRow>();
    table.rows.forEach((record, i) => {
      const line = table.lines[i] ?? 0;
      let arch_str: string | null;
      try {
        arch_str = space.fromTable!(record);
      } catch (e) {
        throw new DataError(`${path}:${line}: ${(e as Error).message}`);
      }
      rows.set(i, { index: i, arch_str: arch_str ?? "", line, values: record });
    });
    return { path, metrics: table.columns, rows };
  }
  return null;
}

/**
 * Evaluates score rows (from `scores.csv` or `ranked.csv`; `rank` columns are not used) against a benchmark
 * table, per (proxy, dataset, batch, seed) run, in run-key order.
 *
 * Rows are joined to the table by `index`; a row whose `arch_str` differs from the table's is an error. A row
 * whose index is absent from the table or whose metric cell is empty or `nan` counts as `missing` and is left
 * out of every statistic. Scores of `-inf` stay in: they are the lowest values (tied with each other).
 * Within a run the joined rows are ordered by index before top-k, so top-k ties resolve like `rank`.
 *
 * @throws {UsageError} when `metric` is not a metric column of the table (lists the available ones) or a
 *   top-k percentage is outside (0, 100]; {@linkcode DataError} naming the table file and line on an
 *   `arch_str` mismatch or a malformed / infinite metric value; `RangeError` on a NaN score.
 */
export function evaluateRanking(
  rows: readonly ScoreRow[],
  bench: BenchTable,
  metric: string,
  options: EvaluateOptions = {},
): GroupEval[] {
  if (!bench.metrics.includes(metric)) {
    throw new UsageError(
      `unknown metric "${metric}" for benchmark table ${bench.path}; ` +
        `available metric columns: ${bench.metrics.join(", ")}`,
    );
  }
  const percents = options.topk ?? DEFAULT_TOPK;
  for (const p of percents) {
    if (!(Number.isFinite(p) && p > 0 && p <= 100)) {
      throw new UsageError(`top-k percentage must be in (0, 100], got ${p}`);
    }
  }
  const position = new Map<ScoreRow, number>();
  rows.forEach((row, i) => position.set(row, i));
  const describe = (row: ScoreRow) => {
    const i = position.get(row) ?? -1;
    const line = options.source?.lines[i];
    return options.source !== undefined && line !== undefined
      ? `${options.source.path}:${line}`
      : `score row ${i + 1} (run ${runLabel(row)})`;
  };
  const accuracyOf = (row: ScoreRow): number | null => {
    const entry = bench.rows.get(row.index);
    if (entry === undefined) return null;
    if (entry.arch_str !== row.arch_str) {
      throw new DataError(
        `${bench.path}:${entry.line}: arch_str of index ${row.index} is "${entry.arch_str}" but ` +
          `${describe(row)} has "${row.arch_str}"`,
      );
    }
    const cell = entry.values[metric] ?? "";
    if (cell.trim() === "") return null;
    const value = parseFloatField(cell, `${bench.path}:${entry.line}: column ${metric}`);
    if (Number.isNaN(value)) return null;
    if (!Number.isFinite(value)) {
      throw new DataError(
        `${bench.path}:${entry.line}: column ${metric} is ${cell}, expected a finite value`,
      );
    }
    return value;
  };

  return groupByRun(rows).map(({ key, rows: group }) => {
    const joined: { row: ScoreRow; accuracy: number }[] = [];
    let top: TopArch | null = null;
    for (const row of group) {
      const accuracy = accuracyOf(row);
      if (accuracy !== null) joined.push({ row, accuracy });
      if (
        top === null || row.score > top.score || (row.score === top.score && row.index < top.index)
      ) {
        top = { index: row.index, arch_str: row.arch_str, score: row.score, accuracy };
      }
    }
    joined.sort((a, b) => a.row.index - b.row.index);
    const scores = joined.map((j) => j.row.score);
    const accs = joined.map((j) => j.accuracy);
    const topk: Record<string, number | null> = {};
    for (const result of topKRetrieval(scores, accs, percents)) {
      topk[String(result.percent)] = nullIfNaN(result.fraction);
    }
    let best: BestInSample | null = null;
    for (const { row, accuracy } of joined) {
      if (best === null || accuracy > best.accuracy) {
        best = { index: row.index, arch_str: row.arch_str, accuracy };
      }
    }
    return {
      ...key,
      metric,
      n: joined.length,
      missing: group.length - joined.length,
      kendall_tau_b: nullIfNaN(kendallTauB(scores, accs)),
      spearman_rho: nullIfNaN(spearmanRho(scores, accs)),
      topk,
      top_arch: top,
      best_in_sample: best,
    };
  });
}

/** The content of `eval.json`. */
export interface EvalReport {
  /** {@linkcode EVAL_SCHEMA}. */
  schema: number;
  /** Always `"evaluate"`. */
  stage: "evaluate";
  /** Benchmark column compared with. */
  metric: string;
  /** Top-k percentages reported. */
  topk_percents: readonly number[];
  /** One entry per run, in run-key order. */
  groups: GroupEval[];
}

/**
 * Serialises a report as `eval.json` text: sorted keys, 2-space indent, non-integer numbers rounded to 6
 * decimals, non-finite numbers as `null`, trailing newline.
 */
export function evalReportToJson(report: EvalReport): string {
  return stableStringify(roundFloats(report, 6), 2) + "\n";
}

/** Options of {@linkcode runEvaluate}. */
export interface EvaluateRunOptions {
  /** Path of `ranked.csv` or `scores.csv`. */
  inPath: string;
  /** Path of the benchmark table CSV. */
  benchPath: string;
  /** Benchmark column to compare with, e.g. `cifar10valid_valid_200`. */
  metric: string;
  /** Path of the output `eval.json` (its folder must exist). */
  outPath: string;
  /** Top-k percentages; default {@linkcode DEFAULT_TOPK}. */
  topk?: readonly number[];
}

/**
 * Reads the scores and the benchmark table, runs {@linkcode evaluateRanking} and writes `eval.json`
 * atomically (see {@linkcode evalReportToJson}). Returns the report.
 *
 * @throws {UsageError} for missing files, a missing output folder or an unknown metric; {@linkcode DataError}
 *   naming the file and line for malformed rows.
 */
export async function runEvaluate(options: EvaluateRunOptions): Promise<EvalReport> {
  const bench = await readBenchTable(options.benchPath);
  const { rows, lines } = await readScores(options.inPath);
  const topk = options.topk ?? DEFAULT_TOPK;
  const groups = evaluateRanking(rows, bench, options.metric, {
    topk,
    source: { path: options.inPath, lines },
  });
  const report: EvalReport = {
    schema: EVAL_SCHEMA,
    stage: "evaluate",
    metric: options.metric,
    topk_percents: topk,
    groups,
  };
  await writeFileAtomic(options.outPath, evalReportToJson(report));
  return report;
}

function fmt(x: number | null | undefined, digits: number): string {
  return x === null || x === undefined ? "n/a" : formatFloat(x, digits);
}

/**
 * A short human summary of evaluation results for the CLI: one line per run with n, missing, Kendall tau-b,
 * Spearman rho, top-k retrieval, and the accuracy of the picked and the best architecture.
 *
 * @example
 * ```ts
 * import { formatEvalSummary } from "./evaluate.ts";
 * formatEvalSummary([]); // "no runs to evaluate\n"
 * ```
 */
export function formatEvalSummary(groups: readonly GroupEval[]): string {
  if (groups.length === 0) return "no runs to evaluate\n";
  return groups.map((g) => {
    const topk = Object.entries(g.topk).map(([p, v]) => `top${p}%=${fmt(v, 3)}`).join(" ");
    const pick = g.top_arch === null
      ? "pick n/a"
      : `pick #${g.top_arch.index} ${g.metric}=${fmt(g.top_arch.accuracy, 2)}`;
    const best = g.best_in_sample === null
      ? "best n/a"
      : `best #${g.best_in_sample.index} ${fmt(g.best_in_sample.accuracy, 2)}`;
    return `${runLabel(g)}: n=${g.n} missing=${g.missing} tau_b=${fmt(g.kendall_tau_b, 4)} ` +
      `rho=${fmt(g.spearman_rho, 4)} ${topk} ${pick} ${best}\n`;
  }).join("");
}
