/**
 * A score cache for the search protocols: scores are looked up in score tables given by the user (rows of
 * other runs skipped) and in the run folder's own `scores.csv`; only architectures never scored before go to
 * the GPU. New rows are written to the folder's `scores.csv` (sorted by index, atomically) after every batch,
 * so a killed protocol loses at most the architecture being scored.
 * @module
 */

import { Gpu } from "../shaders/gpu.ts";
import { getSpace } from "../spaces/registry.ts";
import type { SearchSpace } from "../spaces/space.ts";
import type { ReluCount } from "../spaces/plan.ts";
import { DataError, UsageError } from "./_errors.ts";
import { appendMetrics, toCsv, writeFileAtomic } from "./_io.ts";
import { Progress } from "./_progress.ts";
import { SCORE_COLUMNS, type ScoreRow, scoreRowToCsv } from "./_schema.ts";
import {
  datasetLabel,
  loadScoringBatch,
  PROXIES,
  readScoreRows,
  scoreArch,
  type ScoreKey,
  type ScoringInput,
  uploadScoringBatch,
} from "./score.ts";

/** How scores are computed when they are not cached. */
export interface ScorerOptions {
  proxy: string;
  dataset: string;
  /** Image file(s) or "synthetic". */
  data: string;
  batch: number;
  seed: number;
  reluCount: ReluCount;
  /** Search space of the indices (default nb201; it must have an index order). */
  space?: string;
  /** Score tables to reuse (rows of other runs are skipped). */
  tables: readonly string[];
  /** The cache this run writes: every architecture it scored, sorted by index. */
  cachePath: string;
  /** Timings go here. */
  metricsPath: string;
  quiet?: boolean;
}

/** Looks up or computes proxy scores of benchmark indices of an indexed space (NB201 by default). */
export class ScoreCache {
  readonly key: ScoreKey;
  readonly space: SearchSpace;
  #o: ScorerOptions;
  #rows = new Map<number, ScoreRow>();
  #own = new Map<number, ScoreRow>();
  #gpu: Gpu | null = null;
  #data: ScoringInput | null = null;
  /** Architectures scored on the GPU by this cache. */
  computed = 0;

  private constructor(o: ScorerOptions) {
    this.#o = o;
    this.space = getSpace(o.space ?? "nb201");
    this.key = { proxy: o.proxy, dataset: datasetLabel(o.dataset, o.data), batch: o.batch, seed: o.seed };
  }

  /** Opens the cache: reads the given tables and the run's own cache file. */
  static async open(o: ScorerOptions): Promise<ScoreCache> {
    if (!(PROXIES as readonly string[]).includes(o.proxy)) {
      throw new UsageError(`--proxy: unknown proxy "${o.proxy}"; known: ${PROXIES.join(", ")}`);
    }
    const c = new ScoreCache(o);
    for (const path of o.tables) {
      try {
        await Deno.stat(path);
      } catch {
        throw new UsageError(`--scores ${path}: no such file`);
      }
      for (const row of await readScoreRows(path, c.key)) c.#rows.set(c.#check(row, path), row);
    }
    for (const row of await readScoreRows(o.cachePath, c.key)) {
      c.#rows.set(c.#check(row, o.cachePath), row);
      c.#own.set(row.index, row);
    }
    return c;
  }

  /** Number of indices known without scoring. */
  get size(): number {
    return this.#rows.size;
  }

  /** True when `index` has a score already. */
  has(index: number): boolean {
    return this.#rows.has(index);
  }

  /** The row's index, after checking that its arch string is the space's arch at that index. */
  #check(row: ScoreRow, path: string): number {
    const want = row.index >= 0 && row.index < (this.space.size ?? 0) ? this.space.archAt(row.index) : null;
    if (want !== row.arch_str) {
      throw new DataError(
        `${path}: row of index ${row.index} has arch ${row.arch_str}, not the ${this.space.name} arch at that ` +
          `index (${want ?? "out of range"}); is it a score table of another space?`,
      );
    }
    return row.index;
  }

  /** Scores of `indices` (in order), computing the missing ones on the GPU. */
  async scores(indices: readonly number[]): Promise<number[]> {
    const todo = [...new Set(indices)].filter((i) => !this.#rows.has(i)).sort((a, b) => a - b);
    if (todo.length > 0) await this.#compute(todo);
    return indices.map((i) => this.#rows.get(i)!.score);
  }

  async #compute(todo: number[]): Promise<void> {
    const o = this.#o;
    if (this.#gpu === null) {
      const batch = await loadScoringBatch(o);
      this.#gpu = await Gpu.open();
      const note = o.quiet ? null : this.#gpu.softwareNote();
      if (note) console.error(note);
      this.#data = uploadScoringBatch(this.#gpu, batch, "scorer.batch");
    }
    const progress = new Progress(todo.length, { label: "score", quiet: o.quiet });
    try {
      for (const index of todo) {
        const t0 = performance.now();
        const { row } = await scoreArch(
          this.#gpu,
          this.#data!,
          index,
          this.space.archAt(index),
          { ...o, space: this.space.name },
          this.key,
        );
        this.#rows.set(index, row);
        this.#own.set(index, row);
        this.computed++;
        await appendMetrics(o.metricsPath, {
          stage: "search.score",
          index,
          seconds: Math.round(performance.now() - t0) / 1000,
        });
        progress.tick();
      }
    } finally {
      progress.finish();
      await this.#save();
    }
  }

  async #save(): Promise<void> {
    const rows = [...this.#own.values()].sort((a, b) => a.index - b.index);
    await writeFileAtomic(this.#o.cachePath, toCsv(SCORE_COLUMNS, rows.map(scoreRowToCsv)));
  }

  /** The device that scored (null when nothing was computed). */
  device(): string | null {
    return this.#gpu?.describe() ?? null;
  }

  /** Releases the GPU. */
  close(): void {
    this.#data?.xb.destroy();
    this.#gpu?.dispose();
    this.#gpu = null;
    this.#data = null;
  }
}
