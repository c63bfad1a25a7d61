/**
 * Shared types of the dataset readers: raw records as read from the user's files, the normalised minibatch
 * handed to the proxies, and the error every reader throws.
 * @module
 */

/** The datasets the pipeline knows: CIFAR-10, CIFAR-100 (fine labels) and ImageNet16-120 (16x16 images). */
export type DatasetName = "cifar10" | "cifar100" | "imagenet16";

/** Which part of a dataset a directory or archive path is read from. */
export type Split = "train" | "test";

/** A normalised minibatch of images, ready to upload: NCHW float32 plus integer labels. */
export interface ImageBatch {
  /** Number of images (the batch size B). */
  n: number;
  /** Channels per image (3 for RGB). */
  c: number;
  /** Image height in pixels. */
  h: number;
  /** Image width in pixels. */
  w: number;
  /** n*c*h*w values, NCHW (each channel plane row-major), already normalised per channel. */
  data: Float32Array;
  /** n class labels, each in 0..classes-1 (CIFAR-100: the fine label). */
  labels: Int32Array;
  /** Number of classes of the dataset (10, 100, 120, or what the caller asked for). */
  classes: number;
  /** Human description of the origin: file(s) and record indices, or `synthetic(seed=..)`. */
  source: string;
}

/** A run of consecutive records that came from one file (or one archive member). */
export interface RecordSpan {
  /** The file path, or `ARCHIVE:MEMBER` for a member of a tar archive. */
  file: string;
  /** Index of the span's first record among all records of the {@link RawRecords} it belongs to. */
  first: number;
  /** Number of records in the span. */
  n: number;
}

/** Raw images as stored in the files: 0..255 pixels, each record planar CHW (R plane, G plane, B plane). */
export interface RawRecords {
  /** Number of records. */
  n: number;
  /** Channels per image (3). */
  c: number;
  /** Image height in pixels. */
  h: number;
  /** Image width in pixels. */
  w: number;
  /** n labels (CIFAR-100: the fine label; ImageNet16 files: 0-based class index). */
  labels: Int32Array;
  /** n*c*h*w bytes, record after record, each record planar CHW with row-major planes. */
  pixels: Uint8Array;
  /** Where the records came from: a path, `ARCHIVE:MEMBER`, or several of those joined by ` + `. */
  file: string;
  /** The files the records came from, in record order (one span for a single file). */
  parts: readonly RecordSpan[];
}

/** Raw CIFAR-100 records: {@link RawRecords} (labels = fine labels 0..99) plus the coarse labels 0..19. */
export interface Cifar100Records extends RawRecords {
  /** n coarse (superclass) labels, 0..19. */
  coarse: Int32Array;
}

/** Error thrown by the dataset readers; the message names the file and, where one applies, the byte offset. */
export class DatasetError extends Error {
  /** The file (or `ARCHIVE:MEMBER`, or directory) the error is about. */
  readonly file: string;
  /** Byte offset in that file where the problem was found, when there is one. */
  readonly offset: number | undefined;

  /** Creates an error about `file`; `offset` is the byte offset the message refers to, if any. */
  constructor(message: string, file: string, offset?: number) {
    super(message);
    this.name = "DatasetError";
    this.file = file;
    this.offset = offset;
  }
}

/** Image shape and class count of each dataset (ImageNet16-120: 120 classes of 16x16 images). */
export const DATASET_INFO: Readonly<
  Record<DatasetName, { c: number; h: number; w: number; classes: number }>
> = Object
  .freeze({
    cifar10: Object.freeze({ c: 3, h: 32, w: 32, classes: 10 }),
    cifar100: Object.freeze({ c: 3, h: 32, w: 32, classes: 100 }),
    imagenet16: Object.freeze({ c: 3, h: 16, w: 16, classes: 120 }),
  });
