/**
 * Datasets: readers for the CIFAR-10 / CIFAR-100 binary files (plain, in a directory, or inside the official
 * `.tar.gz`), 16x16 ImageNet files (the official pickles, read safely, or 770-byte records), per-dataset
 * normalisation, seeded minibatches and the synthetic default.
 * Knows nothing of the GPU.
 *
 * @example
 * ```ts
 * import { loadBatch } from "./mod.ts";
 * // The embedded default: seeded Gaussian images, no files needed.
 * const batch = await loadBatch({ dataset: "cifar10", path: "synthetic", batch: 8, seed: 0 });
 * console.log(batch.n, batch.c, batch.h, batch.w, batch.source); // 8 3 32 32 synthetic(seed=0)
 * // A real file: 8 images of the CIFAR-10 test subset, normalised with the CIFAR-10 statistics.
 * // await loadBatch({ dataset: "cifar10", path: "cifar10_test_eembc200.bin", batch: 8, seed: 0 });
 * ```
 * @module
 */

export {
  type Cifar100Records,
  DATASET_INFO,
  DatasetError,
  type DatasetName,
  type ImageBatch,
  type RawRecords,
  type RecordSpan,
  type Split,
} from "./types.ts";
export {
  CIFAR100_RECORD_BYTES,
  CIFAR10_RECORD_BYTES,
  concatRecords,
  loadCifar,
  type LoadCifarOptions,
  readCifar,
  readCifar10,
  readCifar100,
  readCifarArchive,
} from "./cifar.ts";
export {
  IMAGENET16_RECORD_BYTES,
  IMAGENET16_TRAIN_FILES,
  IMAGENET16_VAL_FILE,
  isImageNet16Pickle,
  loadImageNet16,
  type LoadImageNet16Options,
  readImageNet16,
  readImageNet16File,
  readImageNet16Pickle,
} from "./imagenet16.ts";
export { type ChannelStats, NORMALIZATION, normalizePixels, type Shape4 } from "./normalize.ts";
export {
  formatIndices,
  loadBatch,
  type LoadBatchOptions,
  type Minibatch,
  selectMinibatch,
  syntheticBatch,
  type SyntheticOptions,
  toImageBatch,
} from "./minibatch.ts";
