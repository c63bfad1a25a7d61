/**
 * Stage `rank`: `scores.csv` -> `ranked.csv`. Orders the architectures of every scoring run by score.
 *
 * @module
 */

import { DataError } from "./_errors.ts";
import { toCsv, writeFileAtomic } from "./_io.ts";
import { ensembleRows } from "./ensemble.ts";
import {
  groupByRun,
  RANKED_COLUMNS,
  type RankedRow,
  rankedRowToCsv,
  readScores,
  runLabel,
  type ScoreRow,
} from "./_schema.ts";

function compareScoresDescending(a: ScoreRow, b: ScoreRow): number {
  if (a.score !== b.score) return a.score > b.score ? -1 : 1;
  return a.index - b.index;
}

/**
 * Ranks score rows per run, i.e. per (proxy, dataset, batch, seed) group.
 *
 * - Groups are output in `compareRunKeys` order (proxy, dataset, batch, seed), so the result does
 *   not depend on the input order of the groups.
 * - Within a group rows are ordered by descending score (`-inf` last), ties broken by benchmark `index`
 *   ascending, then by input order (duplicate indices are kept).
 * - `rank` is the unique 1-based position in that order (1..n); `rank_avg` is the mean `rank` of all rows of
 *   the group with exactly the same score (so tied scores share a `rank_avg`, e.g. 2.5).
 *
 * @throws {DataError} when a score is NaN (proxies write degenerate scores as `-inf`, never NaN).
 */
export function rankScores(rows: readonly ScoreRow[]): RankedRow[] {
  for (const row of rows) {
    if (Number.isNaN(row.score)) {
      throw new DataError(`score is NaN for index ${row.index} in run ${runLabel(row)}`);
    }
  }
  const out: RankedRow[] = [];
  for (const group of groupByRun(rows)) {
    const sorted = [...group.rows].sort(compareScoresDescending);
    let i = 0;
    while (i < sorted.length) {
      const score = (sorted[i] as ScoreRow).score;
      let j = i + 1;
      while (j < sorted.length && (sorted[j] as ScoreRow).score === score) j++;
      const rankAvg = (i + 1 + j) / 2; // mean of the ranks i+1 .. j
      for (let k = i; k < j; k++) out.push({ ...(sorted[k] as ScoreRow), rank: k + 1, rank_avg: rankAvg });
      i = j;
    }
  }
  return out;
}

/** Options of {@linkcode runRank}. */
export interface RankOptions {
  /** Path of the input `scores.csv`. */
  inPath: string;
  /** More score files, concatenated after the first (e.g. one per proxy, for ensembles). */
  morePaths?: readonly string[];
  /** Ensembles to add as proxies of their own (`a+b`, `vote`; see pipeline/ensemble.ts). */
  ensembles?: readonly string[];
  /** Path of the output `ranked.csv` (its folder must exist). */
  outPath: string;
}

/**
 * Reads `scores.csv` (columns {@linkcode SCORE_COLUMNS}; extra columns are ignored) and any further score
 * files, adds the requested ensembles, ranks everything with {@linkcode rankScores} and writes `ranked.csv`
 * (columns {@linkcode RANKED_COLUMNS}) atomically. Returns the ranked rows.
 *
 * @throws {UsageError} for a missing input file or output folder, or an ensemble whose components are
 *   missing; {@linkcode DataError} naming the file and line for a malformed row or a NaN score.
 */
export async function runRank(options: RankOptions): Promise<RankedRow[]> {
  const rows: ScoreRow[] = [];
  for (const path of [options.inPath, ...(options.morePaths ?? [])]) {
    rows.push(...(await readScores(path)).rows);
  }
  for (const spec of options.ensembles ?? []) rows.push(...ensembleRows(rows, spec));
  const ranked = rankScores(rows);
  await writeFileAtomic(options.outPath, toCsv(RANKED_COLUMNS, ranked.map(rankedRowToCsv)));
  return ranked;
}
