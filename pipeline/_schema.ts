/**
 * Record types and column orders of the pipeline's CSV artifacts (`scores.csv`, `ranked.csv`), with their
 * fixed text formatting and parsing.
 *
 * @module
 */

import { formatFloat, parseFloatField, parseIntField, readCsv } from "./_io.ts";
import { DataError } from "./_errors.ts";

/** Column order of `scores.csv`. */
export const SCORE_COLUMNS = [
  "index",
  "arch_str",
  "proxy",
  "dataset",
  "batch",
  "seed",
  "score",
  "n_units",
] as const;

/** A column of `scores.csv`. */
export type ScoreColumn = typeof SCORE_COLUMNS[number];

/** Decimals written for scores (`formatFloat(score, SCORE_DIGITS)`). */
export const SCORE_DIGITS = 6;

/** One row of `scores.csv`: the score of one architecture under one proxy, dataset, batch size and seed. */
export interface ScoreRow {
  /** Benchmark index of the architecture (NB201: 0..15624). */
  index: number;
  /** Architecture string, e.g. NB201 `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`. */
  arch_str: string;
  /** Proxy name, e.g. `naswot`. */
  proxy: string;
  /** Dataset of the scoring minibatch, e.g. `cifar10`, or `synthetic`. */
  dataset: string;
  /** Minibatch size B. */
  batch: number;
  /** Seed of the run (minibatch and initialisation). */
  seed: number;
  /** Proxy score, higher is better; `-Infinity` for degenerate architectures (written `-inf`), never NaN. */
  score: number;
  /** Number of units the score is built from (NASWOT: N_A, the ReLU units counted); 0 when not applicable. */
  n_units: number;
}

/** Column order of `ranked.csv`: the score columns, then `rank` and `rank_avg`. */
export const RANKED_COLUMNS = [...SCORE_COLUMNS, "rank", "rank_avg"] as const;

/** A column of `ranked.csv`. */
export type RankedColumn = typeof RANKED_COLUMNS[number];

/** One row of `ranked.csv`. */
export interface RankedRow extends ScoreRow {
  /** Unique 1-based position within its (proxy, dataset, batch, seed) group: best score = 1. */
  rank: number;
  /** Average of the `rank`s of all rows of the group with the same score (equals `rank` when untied). */
  rank_avg: number;
}

/** The fields that identify one scoring run; ranking and evaluation work per run. */
export interface RunKey {
  /** Proxy name. */
  proxy: string;
  /** Dataset name. */
  dataset: string;
  /** Minibatch size. */
  batch: number;
  /** Run seed. */
  seed: number;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders run keys by proxy, dataset (UTF-16 code units), then batch and seed numerically. */
export function compareRunKeys(a: RunKey, b: RunKey): number {
  return compareStrings(a.proxy, b.proxy) || compareStrings(a.dataset, b.dataset) || a.batch - b.batch ||
    a.seed - b.seed;
}

/** Short text form of a run key: `proxy/dataset/b<batch>/s<seed>`. */
export function runLabel(key: RunKey): string {
  return `${key.proxy}/${key.dataset}/b${key.batch}/s${key.seed}`;
}

/**
 * Splits rows into runs by (proxy, dataset, batch, seed). Groups come out ordered by
 * {@linkcode compareRunKeys}; rows keep their input order within a group.
 */
export function groupByRun<T extends RunKey>(rows: readonly T[]): { key: RunKey; rows: T[] }[] {
  const groups = new Map<string, { key: RunKey; rows: T[] }>();
  for (const row of rows) {
    const id = JSON.stringify([row.proxy, row.dataset, row.batch, row.seed]);
    let group = groups.get(id);
    if (group === undefined) {
      group = { key: { proxy: row.proxy, dataset: row.dataset, batch: row.batch, seed: row.seed }, rows: [] };
      groups.set(id, group);
    }
    group.rows.push(row);
  }
  return [...groups.values()].sort((a, b) => compareRunKeys(a.key, b.key));
}

/** Formats a score row as CSV cells (score with {@linkcode SCORE_DIGITS} decimals, `-inf` for -Infinity). */
export function scoreRowToCsv(row: ScoreRow): Record<ScoreColumn, string> {
  return {
    index: String(row.index),
    arch_str: row.arch_str,
    proxy: row.proxy,
    dataset: row.dataset,
    batch: String(row.batch),
    seed: String(row.seed),
    score: formatFloat(row.score, SCORE_DIGITS),
    n_units: String(row.n_units),
  };
}

/**
 * Parses a `scores.csv` record (column -> text). `where` (e.g. `scores.csv:12`) prefixes error messages.
 * The score may be `inf`, `-inf` or `nan`; rejecting NaN is up to the caller.
 *
 * @throws {DataError} naming `where` and the column on a malformed number.
 */
export function scoreRowFromCsv(record: Readonly<Record<string, string>>, where: string): ScoreRow {
  const text = (column: ScoreColumn) => record[column] ?? "";
  const int = (column: ScoreColumn) => parseIntField(text(column), `${where}: column ${column}`);
  return {
    index: int("index"),
    arch_str: text("arch_str"),
    proxy: text("proxy"),
    dataset: text("dataset"),
    batch: int("batch"),
    seed: int("seed"),
    score: parseFloatField(text("score"), `${where}: column score`),
    n_units: int("n_units"),
  };
}

/** Formats a ranked row as CSV cells; `rank_avg` (an integer or half-integer) gets one decimal. */
export function rankedRowToCsv(row: RankedRow): Record<RankedColumn, string> {
  return { ...scoreRowToCsv(row), rank: String(row.rank), rank_avg: formatFloat(row.rank_avg, 1) };
}

/**
 * Parses a `ranked.csv` record; see {@linkcode scoreRowFromCsv}.
 *
 * @throws {DataError} naming `where` and the column on a malformed number.
 */
export function rankedRowFromCsv(record: Readonly<Record<string, string>>, where: string): RankedRow {
  return {
    ...scoreRowFromCsv(record, where),
    rank: parseIntField(record["rank"] ?? "", `${where}: column rank`),
    rank_avg: parseFloatField(record["rank_avg"] ?? "", `${where}: column rank_avg`),
  };
}

/**
 * Reads a scores (or ranked) CSV: its rows as {@linkcode ScoreRow}s and each row's line in the file.
 *
 * @throws {UsageError} for a missing file; {@linkcode DataError} naming the file and line for a malformed row
 *   or a NaN score (degenerate scores are written `-inf`).
 */
export async function readScores(path: string): Promise<{ rows: ScoreRow[]; lines: number[] }> {
  const table = await readCsv(path, SCORE_COLUMNS);
  const rows = table.rows.map((record, i) => {
    const where = `${path}:${table.lines[i]}`;
    const row = scoreRowFromCsv(record, where);
    if (Number.isNaN(row.score)) {
      throw new DataError(`${where}: score is nan (write degenerate scores as -inf)`);
    }
    return row;
  });
  return { rows, lines: table.lines };
}
