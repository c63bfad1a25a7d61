/**
 * A score cache for the search protocols: scores are looked up in score tables given by the user (rows of
 * other runs skipped) and in the run folder's own `scores.csv`; only architectures never scored before go to
 * the GPU. New rows are written to the folder's `scores.csv` (sorted by index, atomically) after every batch,
 * so a killed protocol loses at most the architecture being scored.
 * @module
 */

import { Gpu } from "../shaders/gpu.ts";
import { formatArch, indexToArch } from "../spaces/nb201.ts";
import type { ReluCount } from "../spaces/plan.ts";
import { UsageError } from "./_errors.ts";
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
  /** Score tables to reuse (rows of other runs are skipped). */
  tables: readonly string[];
  /** The cache this run writes: every architecture it scored, sorted by index. */
  cachePath: string;
  /** Timings go here. */
  metricsPath: string;
  quiet?: boolean;
}

/** Looks up or computes proxy scores of NB201 benchmark indices. */
export class ScoreCache {
  readonly key: ScoreKey;
  #o: ScorerOptions;
  #rows = new Map<number, ScoreRow>();
  #own = new Map<number, ScoreRow>();
  #gpu: Gpu | null = null;
  #data: ScoringInput | null = null;
  /** Architectures scored on the GPU by this cache. */
  computed = 0;

  private constructor(o: ScorerOptions) {
    this.#o = o;
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
      for (const row of await readScoreRows(path, c.key)) c.#rows.set(row.index, row);
    }
    for (const row of await readScoreRows(o.cachePath, c.key)) {
      c.#rows.set(row.index, row);
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
          formatArch(indexToArch(index)),
          o,
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
