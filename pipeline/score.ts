/**
 * Stage 3, score: every architecture scored by a proxy on one minibatch shared by all candidates, each
 * candidate with its own seeded initialisation. Rows are appended to `<out>.partial` as they are scored, so
 * a killed run resumes where it stopped; the finished file is written atomically in input order and the
 * partial file removed. `--shard i/n` scores a contiguous slice, so shards concatenated in order equal one
 * unsharded run byte for byte.
 * @module
 */

import { Gpu } from "../shaders/gpu.ts";
import { linearRegions, naswot, normalizedLogdet } from "../proxies/naswot.ts";
import { ntkScore } from "../proxies/ntk.ts";
import { GENNAS_DEFAULTS, gennasScore } from "../proxies/gennas.ts";
import {
  buildTargets,
  COMBO,
  noisyInput,
  type TargetSpec,
  upsampleNearest,
} from "../proxies/gennas_targets.ts";
import { GRADIENT_PROXIES, gradientScore, gradientScores, isGradientProxy } from "../proxies/gradient.ts";
import type { NetworkPlan, ReluCount } from "../spaces/plan.ts";
import { getSpace } from "../spaces/registry.ts";
import type { LowerOptions } from "../spaces/space.ts";
import { loadBatch } from "../datasets/minibatch.ts";
import type { DatasetName, ImageBatch } from "../datasets/types.ts";
import { DataError, UsageError } from "./_errors.ts";
import { appendMetrics, parseCsv, readJsonl, toCsv, writeFileAtomic } from "./_io.ts";
import { Progress } from "./_progress.ts";
import { SCORE_COLUMNS, type ScoreRow, scoreRowFromCsv, scoreRowToCsv } from "./_schema.ts";
import { datasetShape } from "./build.ts";
import { type ArchRecord, checkSpace } from "./sample.ts";
import { checkArchRecords } from "./build.ts";

/**
 * Proxies that come out of NASWOT's forward pass (one pass serves all of them): `das` is NASWOT decoupled,
 * its score log|det(K / N_A)| and its `n_units` N_A (rank combines them, `--ensemble das@w`);
 * `linear_regions` counts the distinct activation patterns of the minibatch's images.
 */
export const FORWARD_PROXIES = ["naswot", "das", "linear_regions"] as const;

/** Proxies the score stage knows. */
export const PROXIES = [...FORWARD_PROXIES, ...GRADIENT_PROXIES, "ntk", "gennas"] as const;

const isForwardProxy = (p: string) => (FORWARD_PROXIES as readonly string[]).includes(p);

/** A shard: this process scores slice `index` of `count` contiguous slices. */
export interface Shard {
  index: number;
  count: number;
}

/** Parses `i/n` (0 <= i < n). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new UsageError(`--shard: expected i/n with 0 <= i < n (e.g. 0/4), got "${text}"`);
  }
  return { index, count };
}

/** The contiguous slice [start, end) of `length` items that shard i of n scores. */
export function shardRange(length: number, shard: Shard): [number, number] {
  return [
    Math.floor((shard.index * length) / shard.count),
    Math.floor(((shard.index + 1) * length) / shard.count),
  ];
}

/** Options of the score stage. */
export interface ScoreOptions {
  inPath: string;
  outPath: string;
  proxy: string;
  /** Dataset whose shape, head and normalisation are used. */
  dataset: string;
  /** Path of the image file(s), or "synthetic". */
  data: string;
  batch: number;
  seed: number;
  split?: "train" | "test";
  reluCount?: ReluCount;
  shard?: Shard;
  quiet?: boolean;
  /** Where per-arch timings go (default: metrics.jsonl beside the output). */
  metricsPath?: string;
  /** An open GPU to use (the caller keeps ownership); opened and closed here otherwise. */
  gpu?: Gpu;
  /** GenNAS task (targets, head channels, noise); default COMBO. */
  gennasTask?: TargetSpec;
  /** GenNAS training steps (default 100). */
  gennasIters?: number;
}

/** The `dataset` column: the dataset name, prefixed with `synthetic-` for a synthetic minibatch. */
export function datasetLabel(dataset: string, data: string): string {
  return data === "synthetic" ? `synthetic-${dataset}` : dataset;
}

/** Loads the shared minibatch (file or synthetic) for a dataset. */
export async function loadScoringBatch(
  o: Pick<ScoreOptions, "dataset" | "data" | "batch" | "seed" | "split">,
): Promise<ImageBatch> {
  const { input, classes } = datasetShape(o.dataset);
  if (!Number.isInteger(o.batch) || o.batch < 2) {
    throw new UsageError(`--batch must be an integer >= 2, got ${o.batch}`);
  }
  if (o.data === "synthetic") {
    const { syntheticBatch } = await import("../datasets/minibatch.ts");
    return syntheticBatch({ batch: o.batch, c: input.c, h: input.h, w: input.w, classes, seed: o.seed });
  }
  return await loadBatch({
    dataset: o.dataset as DatasetName,
    path: o.data,
    batch: o.batch,
    seed: o.seed,
    split: o.split ?? "test",
    classes: o.dataset === "imagenet16" ? undefined : classes,
  });
}

/**
 * Reads the rows of a scores file (a partial one may end in a torn line, which is dropped). Rows of another
 * run (proxy, dataset, batch, seed) are an error when `strict`, and skipped otherwise; `expect.proxy` may list
 * several proxies separated by commas.
 */
async function readPartial(
  path: string,
  expect: Omit<ScoreRow, "index" | "arch_str" | "score" | "n_units">,
  strict = true,
): Promise<ScoreRow[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return [];
  }
  const end = text.lastIndexOf("\n");
  text = end < 0 ? "" : text.slice(0, end + 1);
  if (text === "") return [];
  const table = parseCsv(path, text, SCORE_COLUMNS);
  return table.rows.flatMap((r, i) => {
    const row = scoreRowFromCsv(r, `${path}:${table.lines[i]}`);
    for (const k of ["proxy", "dataset", "batch", "seed"] as const) {
      const ok = k === "proxy" ? expect.proxy.split(",").includes(row.proxy) : row[k] === expect[k];
      if (!ok) {
        if (!strict) return [];
        throw new UsageError(
          `${path} holds rows of another run (${k} ${row[k]} != ${
            expect[k]
          }); delete it or pick another --out`,
        );
      }
    }
    return [row];
  });
}

/** Reads archs.jsonl or plans.jsonl records. */
export async function readArchInput(path: string): Promise<ArchRecord[]> {
  const rows = await readJsonl(path);
  if (rows.length === 0) throw new UsageError(`${path}: no architectures`);
  return checkArchRecords(path, rows);
}

/** Runs the score stage; returns the rows of this shard in input order and the GPU that scored them. */
export async function runScore(o: ScoreOptions): Promise<{ rows: ScoreRow[]; device: string }> {
  const proxies = o.proxy.split(",");
  for (const p of proxies) {
    if (!(PROXIES as readonly string[]).includes(p)) {
      throw new UsageError(`--proxy: unknown proxy "${p}"; known: ${PROXIES.join(", ")}`);
    }
  }
  if (new Set(proxies).size !== proxies.length) {
    throw new UsageError(`--proxy ${o.proxy}: a proxy appears twice`);
  }
  datasetShape(o.dataset); // an unknown --dataset fails here, before any work
  const all = await readArchInput(o.inPath);
  for (const r of all) checkSpace(r.space);
  const [start, end] = shardRange(all.length, o.shard ?? { index: 0, count: 1 });
  const records = all.slice(start, end);
  const dir = o.outPath.includes("/") ? o.outPath.slice(0, o.outPath.lastIndexOf("/")) || "/" : ".";
  try {
    if (!(await Deno.stat(dir)).isDirectory) throw new Error();
  } catch {
    throw new UsageError(`--out ${o.outPath}: folder ${dir} does not exist`);
  }
  const batch = await loadScoringBatch(o);
  const key = { proxy: o.proxy, dataset: datasetLabel(o.dataset, o.data), batch: o.batch, seed: o.seed };
  const partialPath = `${o.outPath}.partial`;
  // Rows already scored by this run: a finished output (rerunning a stage rescores nothing) and the partial
  // file of an interrupted run. Both must come from the same proxy, dataset, batch size and seed.
  // Keyed by proxy and arch: one run may score several proxies (--proxy a,b), one row each.
  const done = new Map<string, ScoreRow>();
  const id = (proxy: string, arch: string) => `${proxy}\t${arch}`;
  for (const row of await readPartial(o.outPath, key, false)) done.set(id(row.proxy, row.arch_str), row);
  const partial = await readPartial(partialPath, key);
  for (const row of partial) done.set(id(row.proxy, row.arch_str), row);
  if (partial.length === 0) await Deno.writeTextFile(partialPath, toCsv(SCORE_COLUMNS, []));

  const todo = [...new Set(records.map((r) => r.arch_str))].filter((a) =>
    proxies.some((p) => !done.has(id(p, a)))
  );
  const metricsPath = o.metricsPath ?? `${dir}/metrics.jsonl`;
  // The GPU is opened even when every row is reused, to record which device the run belongs to.
  const gpu = o.gpu ?? await Gpu.open();
  const device = gpu.describe();
  if (todo.length > 0) {
    const note = o.quiet ? null : gpu.softwareNote();
    if (note) console.error(note);
    const data = uploadScoringBatch(gpu, batch, "score.batch");
    const xb = data.xb;
    const progress = new Progress(todo.length, { label: "score", quiet: o.quiet });
    const byArch = new Map(records.map((r) => [r.arch_str, r]));
    const t0 = performance.now();
    try {
      for (const archStr of todo) {
        const rec = byArch.get(archStr)!;
        const ta = performance.now();
        const missing = proxies.filter((p) => !done.has(id(p, archStr)));
        const scored = await scoreArchProxies(
          gpu,
          data,
          rec.index,
          archStr,
          { ...o, space: rec.space },
          key,
          missing,
        );
        for (const { row } of scored) {
          await Deno.writeTextFile(partialPath, csvLine(row), { append: true });
          done.set(id(row.proxy, archStr), row);
        }
        await appendMetrics(metricsPath, {
          stage: "score",
          index: rec.index,
          seconds: round((performance.now() - ta) / 1000),
          ...(missing.includes("naswot")
            ? { logdet_gpu: round(scored.find((x) => x.row.proxy === "naswot")!.logdetGpu) }
            : {}),
        });
        progress.tick();
      }
      progress.finish();
      await appendMetrics(metricsPath, {
        stage: "score",
        archs: todo.length,
        seconds: round((performance.now() - t0) / 1000),
        compile_seconds: round(gpu.compileSeconds),
        device: gpu.describe(),
      });
    } finally {
      xb.destroy();
    }
  }
  if (!o.gpu) gpu.dispose();
  const rows = records.flatMap((r) =>
    proxies.map((p) => ({ ...done.get(id(p, r.arch_str))!, index: r.index }))
  );
  await writeFileAtomic(o.outPath, toCsv(SCORE_COLUMNS, rows.map(scoreRowToCsv)));
  await Deno.remove(partialPath).catch(() => {});
  return { rows, device };
}

/** What scoring one architecture needs of the score options. */
export type ArchScoreOptions =
  & Pick<ScoreOptions, "dataset" | "batch" | "seed" | "reluCount" | "gennasTask" | "gennasIters">
  & {
    /** Search space of the arch strings (default nb201). */
    space?: string;
  };

/** Lowers an arch string of `o.space` (default nb201). */
function lowerArch(o: { space?: string }, archStr: string, opts: LowerOptions): NetworkPlan {
  return getSpace(o.space ?? "nb201").lower(archStr, opts);
}

/** The key columns of a score row: which run it belongs to. */
export type ScoreKey = Pick<ScoreRow, "proxy" | "dataset" | "batch" | "seed">;

/** The shared minibatch on the GPU, its labels (gradient proxies) and its host copy (GenNAS). */
export interface ScoringInput {
  xb: GPUBuffer;
  labels: Uint32Array;
  images: Float32Array;
}

/** Uploads a minibatch for scoring. */
export function uploadScoringBatch(gpu: Gpu, batch: ImageBatch, label: string): ScoringInput {
  return {
    xb: gpu.upload(batch.data, label),
    labels: Uint32Array.from(batch.labels),
    images: batch.data,
  };
}

/**
 * Scores one architecture on the GPU with the minibatch already uploaded; the score depends only on (arch,
 * proxy, minibatch, batch size, seed), never on what was scored before. NASWOT's network has one output
 * (ALGORITHMS.md section 2); the gradient proxies and ntk use the dataset's classes. `n_units` is N_A for
 * naswot, das and linear_regions and 0 for the other proxies.
 */
export async function scoreArch(
  gpu: Gpu,
  data: ScoringInput,
  index: number,
  archStr: string,
  o: ArchScoreOptions,
  key: ScoreKey,
): Promise<{ row: ScoreRow; logdetGpu: number }> {
  const { input, classes } = datasetShape(o.dataset);
  if (key.proxy === "gennas") {
    if (input.h !== input.w || ![16, 32].includes(input.h)) {
      throw new UsageError(
        `--proxy gennas: 32x32 or 16x16 inputs only (${o.dataset} is ${input.h}x${input.w})`,
      );
    }
    const task = o.gennasTask ?? COMBO;
    const { images, targets } = gennasData(data, task, input, o);
    const plan = lowerArch(o, archStr, {
      input: { c: input.c, h: 32, w: 32 },
      classes,
      regressionHeads: { channels: task.channels, size: 8 },
    });
    const inputs = (step: number) => noisyInput(task, images, o.seed, step);
    const r = await gennasScore(gpu, plan, inputs, targets, o.batch, o.seed, {
      ...GENNAS_DEFAULTS,
      iterations: o.gennasIters ?? GENNAS_DEFAULTS.iterations,
    });
    return { row: { index, arch_str: archStr, ...key, score: r.score, n_units: 0 }, logdetGpu: NaN };
  }
  if (isGradientProxy(key.proxy)) {
    const plan = lowerArch(o, archStr, { input, classes });
    const score = await gradientScore(gpu, plan, data.xb, data.labels, o.batch, o.seed, key.proxy);
    return { row: { index, arch_str: archStr, ...key, score, n_units: 0 }, logdetGpu: NaN };
  }
  if (key.proxy === "ntk") {
    const plan = lowerArch(o, archStr, { input, classes });
    const { score } = await ntkScore(gpu, plan, data.xb, o.batch, o.seed);
    return { row: { index, arch_str: archStr, ...key, score, n_units: 0 }, logdetGpu: NaN };
  }
  return (await forwardScores(gpu, data, index, archStr, o, key, [key.proxy]))[0]!;
}

const gennasCache = new WeakMap<
  ScoringInput,
  { key: string; images: Float32Array; targets: Float32Array[] }
>();

/**
 * GenNAS's 32x32 images (16x16 ones upsampled by nearest, as the authors do) and fixed targets: the same for
 * every arch of a run, so made once per minibatch, task and seed.
 */
function gennasData(
  data: ScoringInput,
  task: TargetSpec,
  input: { c: number; h: number; w: number },
  o: ArchScoreOptions,
): { images: Float32Array; targets: Float32Array[] } {
  const key = JSON.stringify([task, o.batch, o.seed]);
  let d = gennasCache.get(data);
  if (!d || d.key !== key) {
    const f = 32 / input.h;
    const images = f === 1
      ? data.images
      : upsampleNearest(data.images, o.batch * input.c, input.h, input.w, f);
    d = { key, images, targets: buildTargets(task, images, o.batch, 32, 32, o.seed) };
    gennasCache.set(data, d);
  }
  return d;
}

/** The NASWOT-pass proxies of one arch from a single forward pass, in the order of `proxies`. */
async function forwardScores(
  gpu: Gpu,
  data: ScoringInput,
  index: number,
  archStr: string,
  o: ArchScoreOptions,
  key: ScoreKey,
  proxies: readonly string[],
): Promise<{ row: ScoreRow; logdetGpu: number }[]> {
  const { input } = datasetShape(o.dataset);
  const plan = lowerArch(o, archStr, { input, classes: 1, reluCount: o.reluCount ?? "paper" });
  const r = await naswot(gpu, plan, data.xb, o.batch, o.seed);
  return proxies.map((proxy) => {
    const score = proxy === "naswot"
      ? r.score
      : proxy === "das"
      ? normalizedLogdet(r.ham, r.units, o.batch)
      : linearRegions(r.ham, o.batch);
    return {
      row: { index, arch_str: archStr, ...key, proxy, score, n_units: r.units },
      logdetGpu: r.logdetGpu,
    };
  });
}

/**
 * Scores one architecture with several proxies; naswot, das and linear_regions share one forward pass, the
 * cross-entropy gradient proxies (grad_norm, snip, fisher, grasp) one forward + backward pass. Rows come back in the
 * order of `proxies`.
 */
export async function scoreArchProxies(
  gpu: Gpu,
  data: ScoringInput,
  index: number,
  archStr: string,
  o: ArchScoreOptions,
  key: ScoreKey,
  proxies: readonly string[],
): Promise<{ row: ScoreRow; logdetGpu: number }[]> {
  const grad = proxies.filter(isGradientProxy);
  const shared = grad.length > 1
    ? await gradientScores(
      gpu,
      lowerArch(o, archStr, datasetShape(o.dataset)),
      data.xb,
      data.labels,
      o.batch,
      o.seed,
      grad,
    )
    : null;
  const fwd = proxies.filter(isForwardProxy);
  const forward = fwd.length > 1 ? await forwardScores(gpu, data, index, archStr, o, key, fwd) : null;
  const out: { row: ScoreRow; logdetGpu: number }[] = [];
  for (const proxy of proxies) {
    const k = { ...key, proxy };
    if (forward && isForwardProxy(proxy)) out.push(forward[fwd.indexOf(proxy)]!);
    else if (shared && isGradientProxy(proxy)) {
      out.push({
        row: { index, arch_str: archStr, ...k, score: shared.get(proxy)!, n_units: 0 },
        logdetGpu: NaN,
      });
    } else out.push(await scoreArch(gpu, data, index, archStr, o, k));
  }
  return out;
}

/** The score rows of a file that belong to run `key`; rows of other runs are skipped, a torn last line too. */
export function readScoreRows(path: string, key: ScoreKey): Promise<ScoreRow[]> {
  return readPartial(path, key, false);
}

function csvLine(row: ScoreRow): string {
  const text = toCsv(SCORE_COLUMNS, [scoreRowToCsv(row)]);
  return text.slice(text.indexOf("\n") + 1);
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Joins shard score files in shard order (headers checked) into one file, byte-identical to an unsharded run. */
export async function runMerge(inPaths: string[], outPath: string): Promise<number> {
  if (inPaths.length === 0) throw new UsageError("merge needs at least one --in file");
  const parts: string[] = [];
  let header: string | null = null;
  /** Row key (index, proxy, dataset, batch, seed) -> the file that has it: a shard given twice is an error. */
  const seen = new Map<string, string>();
  for (const p of inPaths) {
    let text: string;
    try {
      text = await Deno.readTextFile(p);
    } catch {
      throw new UsageError(`merge: cannot read ${p}`);
    }
    const nl = text.indexOf("\n");
    if (nl < 0) throw new DataError(`${p}:1: not a scores file (no header line)`);
    const h = text.slice(0, nl);
    if (header === null) header = h;
    else if (h !== header) throw new DataError(`${p}:1: header differs from ${inPaths[0]}`);
    const { rows, lines } = parseCsv(p, text, SCORE_COLUMNS);
    rows.forEach((r, i) => {
      const key = [r.index, r.proxy, r.dataset, r.batch, r.seed].join(",");
      const first = seen.get(key);
      if (first !== undefined) {
        throw new DataError(`${p}:${lines[i]}: arch ${r.index} (${r.proxy}) is already in ${first}`);
      }
      seen.set(key, p);
    });
    parts.push(text.slice(nl + 1));
  }
  const body = parts.join("");
  await writeFileAtomic(outPath, `${header}\n${body}`);
  return body.split("\n").filter((l) => l !== "").length;
}
