/**
 * Minibatches: a seeded choice of records from a file, the synthetic default batch, and `loadBatch`, which wires
 * a user path (or "synthetic") to a normalised {@link ImageBatch}.
 *
 * Selection rule (the same on every machine): with `rng = new Rng(deriveSeed(seed, "minibatch"))` and
 * `idx = [0, 1, ..., n-1]`, for i = 0..batch-1 swap idx[i] with idx[i + rng.int(n - i)] (the first `batch` steps
 * of a forward Fisher-Yates shuffle, i.e. sampling WITHOUT replacement); the batch is idx[0..batch-1] sorted
 * ascending, so images keep their file order. When batch equals the number of records, every record is taken in
 * file order whatever the seed. A batch larger than the file is an error, never a silent repeat.
 *
 * @example
 * ```ts
 * import { syntheticBatch } from "./minibatch.ts";
 * const b = syntheticBatch({ batch: 4, seed: 0 });
 * console.log(b.n, b.c, b.h, b.w, b.source); // 4 3 32 32 synthetic(seed=0)
 * ```
 * @module
 */

import { deriveSeed, Rng } from "../spaces/rng.ts";
import { loadCifar } from "./cifar.ts";
import { loadImageNet16 } from "./imagenet16.ts";
import { NORMALIZATION, normalizePixels } from "./normalize.ts";
import {
  type Cifar100Records,
  DATASET_INFO,
  DatasetError,
  type DatasetName,
  type ImageBatch,
  type RawRecords,
  type Split,
} from "./types.ts";

/** A selection of records: the chosen records (in ascending source order) plus where they came from. */
export interface Minibatch extends RawRecords {
  /** Indices of the chosen records among the source records, ascending (length n). */
  indices: Int32Array;
  /** Human description: each source file with the chosen record indices within it, e.g. `a.bin records 3,7..9`. */
  source: string;
}

/**
 * Chooses `batch` distinct records with the seeded rule in the module comment and copies them (labels, pixels,
 * coarse labels when present). Throws a {@link DatasetError} when `batch` exceeds the records available.
 */
export function selectMinibatch(records: RawRecords, batch: number, seed: number): Minibatch {
  if (!Number.isSafeInteger(batch) || batch <= 0) {
    throw new RangeError(`batch must be a positive integer, got ${batch}`);
  }
  const n = records.n;
  if (batch > n) {
    throw new DatasetError(
      `batch ${batch} is larger than the ${n} records available in ${records.file}; ` +
        `use a batch of at most ${n} or a larger file`,
      records.file,
    );
  }
  let indices: Int32Array;
  if (batch === n) {
    indices = Int32Array.from({ length: n }, (_, i) => i);
  } else {
    const rng = new Rng(deriveSeed(seed, "minibatch"));
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < batch; i++) {
      const j = i + rng.int(n - i);
      const t = idx[i]!;
      idx[i] = idx[j]!;
      idx[j] = t;
    }
    indices = idx.slice(0, batch).sort();
  }
  const image = records.c * records.h * records.w;
  const labels = new Int32Array(batch);
  const pixels = new Uint8Array(batch * image);
  const srcCoarse = "coarse" in records ? (records as Cifar100Records).coarse : null;
  const coarse = new Int32Array(srcCoarse === null ? 0 : batch);
  for (let k = 0; k < batch; k++) {
    const r = indices[k]!;
    labels[k] = records.labels[r]!;
    if (srcCoarse !== null) coarse[k] = srcCoarse[r]!;
    pixels.set(records.pixels.subarray(r * image, (r + 1) * image), k * image);
  }
  const parts = [];
  const described = [];
  for (const part of records.parts) {
    const local = [];
    let first = -1;
    for (let k = 0; k < batch; k++) {
      const r = indices[k]!;
      if (r >= part.first && r < part.first + part.n) {
        if (first < 0) first = k;
        local.push(r - part.first);
      }
    }
    if (local.length === 0) continue;
    parts.push({ file: part.file, first, n: local.length });
    described.push(`${part.file} records ${formatIndices(local)}`);
  }
  const out: Minibatch = {
    n: batch,
    c: records.c,
    h: records.h,
    w: records.w,
    labels,
    pixels,
    file: records.file,
    parts,
    indices,
    source: described.join("; "),
  };
  return srcCoarse === null ? out : { ...out, coarse } as Minibatch & Cifar100Records;
}

/** Ascending indices as runs: `0,3,5..9`. */
export function formatIndices(sorted: readonly number[] | Int32Array): string {
  const out: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) {
      end++;
      i++;
    }
    out.push(end === start ? `${start}` : end === start + 1 ? `${start},${end}` : `${start}..${end}`);
    i++;
  }
  return out.join(",");
}

/** Normalises a minibatch with the statistics of `dataset` into an {@link ImageBatch} of `classes` classes. */
export function toImageBatch(
  mb: Minibatch,
  dataset: DatasetName,
  classes = DATASET_INFO[dataset].classes,
): ImageBatch {
  const data = normalizePixels(mb.pixels, mb, NORMALIZATION[dataset]);
  return { n: mb.n, c: mb.c, h: mb.h, w: mb.w, data, labels: mb.labels, classes, source: mb.source };
}

/** Options of {@link syntheticBatch}. */
export interface SyntheticOptions {
  /** Number of images. */
  batch: number;
  /** Channels (default 3). */
  c?: number;
  /** Height (default 32). */
  h?: number;
  /** Width (default 32). */
  w?: number;
  /** Number of classes the labels are drawn from (default 10). */
  classes?: number;
  /** Seed; the stream is `new Rng(deriveSeed(seed, "synthetic"))`. */
  seed: number;
}

/**
 * The embedded default dataset: standard-Gaussian images (treated as already normalised) and uniform labels.
 * One stream `new Rng(deriveSeed(seed, "synthetic"))`: first batch*c*h*w `normal()` values in NCHW order
 * (stored as float32), then batch labels `int(classes)`.
 */
export function syntheticBatch(options: SyntheticOptions): ImageBatch {
  const { batch, c = 3, h = 32, w = 32, classes = 10, seed } = options;
  for (const [name, v] of [["batch", batch], ["c", c], ["h", h], ["w", w], ["classes", classes]] as const) {
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new RangeError(`syntheticBatch: ${name} must be a positive integer, got ${v}`);
    }
  }
  const rng = new Rng(deriveSeed(seed, "synthetic"));
  const data = new Float32Array(batch * c * h * w);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  const labels = new Int32Array(batch);
  for (let i = 0; i < batch; i++) labels[i] = rng.int(classes);
  return { n: batch, c, h, w, data, labels, classes, source: `synthetic(seed=${seed})` };
}

/** Options of {@link loadBatch}. */
export interface LoadBatchOptions {
  /** Which dataset the path holds; picks the reader, the normalisation and the default class count. */
  dataset: DatasetName;
  /**
   * A `.bin` file, a directory or an official archive (see `cifar.ts`), an official ImageNet16 pickle or a
   * folder of them (see `imagenet16.ts`), or the word "synthetic".
   */
  path: string | URL;
  /** Number of images to take. */
  batch: number;
  /** Seed of the selection (or of the synthetic images). */
  seed: number;
  /** "train" or "test" (default) for CIFAR directories and archives and ImageNet16 folders. */
  split?: Split;
  /**
   * Class count of the batch (default 10 / 100 / 120 for cifar10 / cifar100 / imagenet16). A file holding a
   * label outside 0..classes-1 is an error: pass `classes: 1000` for files labelled with ImageNet-1k indices,
   * such as the stand-in `imagenet_foolbox20_16x16.bin`. Official ImageNet16 pickles are first cut to the
   * subset of 1-based labels <= classes (120: ImageNet16-120; 1000: all), so they always pass.
   */
  classes?: number;
}

/**
 * Reads `path` (or makes the synthetic batch), chooses `batch` records with `seed`, and normalises them with the
 * dataset's statistics. The `source` of the result names the file(s) and the chosen record indices.
 */
export async function loadBatch(options: LoadBatchOptions): Promise<ImageBatch> {
  const { dataset, path, batch, seed, split = "test" } = options;
  const info = DATASET_INFO[dataset];
  if (info === undefined) {
    throw new RangeError(`unknown dataset ${dataset}; expected cifar10, cifar100 or imagenet16`);
  }
  const classes = options.classes ?? info.classes;
  if (path === "synthetic") {
    return syntheticBatch({ batch, c: info.c, h: info.h, w: info.w, classes, seed });
  }
  const records = dataset === "imagenet16"
    ? await loadImageNet16(path, { split, classes })
    : await loadCifar(dataset, path, { split });
  checkLabels(records, dataset, classes);
  return toImageBatch(selectMinibatch(records, batch, seed), dataset, classes);
}

/** Every label of the file must be a class of the batch. */
function checkLabels(records: RawRecords, dataset: DatasetName, classes: number): void {
  for (let r = 0; r < records.n; r++) {
    const label = records.labels[r]!;
    if (label < classes) continue;
    const part = records.parts.find((p) => r >= p.first && r < p.first + p.n);
    const where = part === undefined ? records.file : `${part.file} (record ${r - part.first})`;
    const hint = dataset === "imagenet16"
      ? "; the default is ImageNet16-120's 120 classes: pass classes: 1000 for files labelled with ImageNet-1k " +
        "indices (e.g. imagenet_foolbox20_16x16.bin)"
      : "";
    throw new DatasetError(
      `label ${label} in ${where} is not below classes = ${classes}${hint}`,
      part?.file ?? records.file,
    );
  }
}
