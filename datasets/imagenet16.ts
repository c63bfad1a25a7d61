/**
 * Readers for 16x16 ImageNet files, in two formats (both planar: 256 R, 256 G, 256 B bytes per image, each plane
 * row-major 16x16):
 *
 * - The official downsampled-ImageNet 16x16 files (Chrabaszcz et al. 2017), as NAS-Bench-201 / xautodl's
 *   `DownsampledImageNet` read them: `train_data_batch_1` .. `train_data_batch_10` and `val_data`, each a Python
 *   pickle (protocols 0-4, Python 2 or 3) of a dict with `data` (numpy uint8, N x 768), `labels` (N ints,
 *   1-based, 1..1000) and, in train batches, `mean`. They are read by a safe pickle reader (`_pickle.ts`) that
 *   never executes anything. ImageNet16-120 keeps the images whose 1-based label is <= 120 and maps label l to
 *   l - 1 (0..119), as xautodl does with `use_num_of_class_only=120`; `classes` picks another subset (1000
 *   keeps every image). A folder path reads the `split`: "train" = the `train_data_batch_*` present, in order;
 *   "test" (the default) = `val_data`, on which NAS-Bench-201 evaluates. The files may lie in the folder itself
 *   or in the official `Imagenet16_train/` / `Imagenet16_val/` sub-folders.
 * - This project's binary layout (see `shared/data/imagenet16/SOURCE.md`): records of 770 bytes = 2-byte
 *   little-endian label + 768 pixel bytes. Labels are 0-based class indices, 0..999, read as they are (no
 *   subset). Note: the shipped stand-in `imagenet_foolbox20_16x16.bin` is labelled with ImageNet-1k indices
 *   (sorted-WNID order), not with ImageNet16-120 classes; use it for input statistics, not for label-based
 *   checks.
 *
 * A file is taken for a pickle when it starts like one ({@link isImageNet16Pickle}); otherwise it is read as
 * 770-byte records.
 *
 * @example
 * ```ts
 * import { readImageNet16 } from "./imagenet16.ts";
 * const records = readImageNet16(new Uint8Array(770), "one.bin");
 * console.log(records.n, records.h, records.w); // 1 16 16
 * ```
 * @module
 */

import { join } from "node:path";
import { parseRecords, type RecordLayout } from "./_records.ts";
import { DatasetError, type RawRecords, type Split } from "./types.ts";
import { parsePickle } from "./_pickle.ts";
import { describe, type PickleValue, PyArray, PyDict, readElement } from "./_pickle_values.ts";
import { concatRecords } from "./cifar.ts";
import { displayPath, readFileOrThrow, statOrNull } from "./_files.ts";

/** Bytes per ImageNet16 record: 2-byte little-endian label + 768 pixel bytes. */
export const IMAGENET16_RECORD_BYTES = 770;

const IMAGENET16_LAYOUT: RecordLayout = {
  name: "ImageNet16",
  fields: [{
    what: "label",
    size: 2,
    max: 999,
    rule: "ImageNet16 labels are 0..999 (0-based class index, 2-byte little-endian)",
  }],
  c: 3,
  h: 16,
  w: 16,
};

/** Parses an ImageNet16 binary file held in memory; `file` names it in errors and in the result. */
export function readImageNet16(bytes: Uint8Array, file: string): RawRecords {
  const p = parseRecords(bytes, file, IMAGENET16_LAYOUT);
  return {
    n: p.n,
    c: 3,
    h: 16,
    w: 16,
    labels: p.columns[0]!,
    pixels: p.pixels,
    file,
    parts: [{ file, first: 0, n: p.n }],
  };
}

/** The official training files, in order (xautodl's `train_list`). */
export const IMAGENET16_TRAIN_FILES: readonly string[] = Object.freeze(
  Array.from({ length: 10 }, (_, i) => `train_data_batch_${i + 1}`),
);

/** The official validation file (xautodl's `valid_list`); NAS-Bench-201 evaluates ImageNet16-120 on it. */
export const IMAGENET16_VAL_FILE = "val_data";

/** Pixel bytes per ImageNet16 image: 3 planes of 16x16. */
const IMAGE_BYTES = 768;

/** Largest 1-based label of the official files. */
const MAX_LABEL = 1000;

/**
 * True when `bytes` start like a pickle of a dict: `(d` / `(dp` (protocol 0), `}` (protocol 1) or PROTO 2..5
 * followed by a dict, MARK, FRAME or GLOBAL opcode, and (for PROTO 2 and 3) the STOP opcode as last byte.
 * None of the protocol 0 / 1 / 4 / 5 starts can begin a 770-byte record (its 2-byte label would exceed 999);
 * a protocol 2 / 3 start could only be a record labelled 640 or 896 whose third and last bytes also match.
 */
export function isImageNet16Pickle(bytes: Uint8Array): boolean {
  const [b0, b1, b2] = [bytes[0], bytes[1], bytes[2]];
  if (b0 === undefined || b1 === undefined) return false;
  if (b0 === 0x28 || b0 === 0x7d) return b1 >= 4; // '(' MARK / '}' EMPTY_DICT; a label <= 999 has b1 <= 3
  if (b0 !== 0x80 || b1 < 2 || b1 > 5) return false;
  if (b1 >= 4) return true;
  const dictStart = b2 === 0x7d || b2 === 0x28 || b2 === 0x63 || b2 === 0x95;
  return dictStart && bytes[bytes.length - 1] === 0x2e;
}

/** The name of a subset of `classes` classes, appended to file names in record descriptions. */
function subsetName(classes: number): string | null {
  return classes >= MAX_LABEL ? null : `ImageNet16-${classes}`;
}

/**
 * Parses an official downsampled-ImageNet 16x16 pickle held in memory and keeps the images whose 1-based label
 * is <= `classes` (default 120: ImageNet16-120), labels mapped to 0..classes-1. Every label of the file is
 * checked (1..1000) before the subset is taken. With `classes` < 1000 the result's `file` reads
 * `FILE (ImageNet16-120)`: record indices in batch descriptions count the subset's records, in file order.
 */
export function readImageNet16Pickle(bytes: Uint8Array, file: string, classes = 120): RawRecords {
  if (!Number.isSafeInteger(classes) || classes < 1) {
    throw new RangeError(`classes must be a positive integer, got ${classes}`);
  }
  const top = parsePickle(bytes, file);
  if (!(top instanceof PyDict)) {
    throw new DatasetError(
      `${file}: the pickle holds ${describe(top)}, not the dict of an ImageNet16 file ('data', 'labels')`,
      file,
    );
  }
  const data = top.get("data");
  const labelsValue = top.get("labels");
  if (data === undefined || labelsValue === undefined) {
    throw new DatasetError(
      `${file}: the pickled dict lacks ${data === undefined ? "'data'" : "'labels'"}; it has keys ` +
        `${top.keyNames().join(", ") || "none"} (an ImageNet16 file has 'data' and 'labels')`,
      file,
    );
  }
  const array = checkData(data, file);
  const n = array.shape[0]!;
  const labels = readLabels(labelsValue, file);
  if (labels.length !== n) {
    throw new DatasetError(
      `${file}: 'labels' has ${labels.length} entries but 'data' has ${n} rows`,
      file,
      array.dataOffset >= 0 ? array.dataOffset : undefined,
    );
  }
  let kept = 0;
  for (let r = 0; r < n; r++) {
    const l = labels[r]!;
    if (!Number.isInteger(l) || l < 1 || l > MAX_LABEL) {
      const at = array.dataOffset >= 0 ? array.dataOffset + r * IMAGE_BYTES : undefined;
      throw new DatasetError(
        `${file}: label ${l} of record ${r} (labels[${r}]` +
          (at === undefined ? ")" : `; its pixels at byte offset ${at})`) +
          `; ImageNet16 pickles have 1-based labels 1..${MAX_LABEL}`,
        file,
        at,
      );
    }
    if (l <= classes) kept++;
  }
  const out = new Int32Array(kept);
  let pixels: Uint8Array;
  if (kept === n) {
    for (let r = 0; r < n; r++) out[r] = labels[r]! - 1;
    pixels = array.data; // no copy: a view of the file where the pickle holds the bytes raw
  } else {
    pixels = new Uint8Array(kept * IMAGE_BYTES);
    let k = 0;
    for (let r = 0; r < n; r++) {
      const l = labels[r]!;
      if (l > classes) continue;
      out[k] = l - 1;
      pixels.set(array.data.subarray(r * IMAGE_BYTES, (r + 1) * IMAGE_BYTES), k * IMAGE_BYTES);
      k++;
    }
  }
  const subset = subsetName(classes);
  const name = subset === null ? file : `${file} (${subset})`;
  return {
    n: kept,
    c: 3,
    h: 16,
    w: 16,
    labels: out,
    pixels,
    file: name,
    parts: [{ file: name, first: 0, n: kept }],
  };
}

/** Checks that `data` is a C-order uint8 array of shape (N, 768) (or (N, 3, 16, 16)) and returns it. */
function checkData(data: PickleValue, file: string): PyArray {
  const where = (a: PyArray) => ` at byte offset ${a.dataOffset >= 0 ? a.dataOffset : a.offset}`;
  if (!(data instanceof PyArray)) {
    throw new DatasetError(`${file}: 'data' is ${describe(data)}, not a numpy array`, file);
  }
  const s = data.shape;
  const shapeOk = (s.length === 2 && s[1] === IMAGE_BYTES) ||
    (s.length === 4 && s[1] === 3 && s[2] === 16 && s[3] === 16);
  const dtypeOk = data.dtype !== null && data.dtype.kind === "u" && data.dtype.itemsize === 1;
  if (!shapeOk || !dtypeOk || (data.fortran && s[0]! > 1)) {
    throw new DatasetError(
      `${file}: 'data'${where(data)} is ${describe(data)}${data.fortran ? " in Fortran order" : ""}; ` +
        `expected a C-order uint8 array of shape (N, ${IMAGE_BYTES}) (16x16 R, G, B planes per row)`,
      file,
      data.dataOffset >= 0 ? data.dataOffset : data.offset,
    );
  }
  return data;
}

/** The labels as numbers: a list of ints (or numpy integer scalars), or a 1-D integer numpy array. */
function readLabels(v: PickleValue, file: string): number[] {
  if (Array.isArray(v)) {
    return v.map((x, r) => {
      if (typeof x === "number" && Number.isInteger(x)) return x;
      throw new DatasetError(
        `${file}: labels[${r}] is ${describe(x)}, not an int; ImageNet16 labels are ints 1..${MAX_LABEL}`,
        file,
      );
    });
  }
  if (
    v instanceof PyArray && v.dtype !== null && (v.dtype.kind === "i" || v.dtype.kind === "u") &&
    v.shape.length === 1
  ) {
    const out: number[] = [];
    for (let r = 0; r < v.shape[0]!; r++) out.push(Number(readElement(v.dtype, v.data, r)));
    return out;
  }
  throw new DatasetError(`${file}: 'labels' is ${describe(v)}, not a list of ints`, file);
}

/** Options of {@link loadImageNet16}. */
export interface LoadImageNet16Options {
  /** "test" (default: `val_data`) or "train" (`train_data_batch_*`); used for folders only. */
  split?: Split;
  /**
   * The subset of official pickles to keep: 1-based labels <= classes, mapped to 0..classes-1 (default 120,
   * ImageNet16-120; 1000 keeps all). Files in the 770-byte binary layout are read whole whatever this is.
   */
  classes?: number;
}

/** Reads one ImageNet16 file held in memory: an official pickle (subset of `classes`) or 770-byte records. */
export function readImageNet16File(bytes: Uint8Array, file: string, classes = 120): RawRecords {
  return isImageNet16Pickle(bytes) ? readImageNet16Pickle(bytes, file, classes) : readImageNet16(bytes, file);
}

/**
 * Reads ImageNet16 records from a user path: one file (an official pickle such as `val_data`, or a `.bin` file
 * of 770-byte records), or a folder holding the official pickles of `split` (directly or in `Imagenet16_train/`
 * / `Imagenet16_val/`).
 */
export async function loadImageNet16(
  path: string | URL,
  options: LoadImageNet16Options = {},
): Promise<RawRecords> {
  const { split = "test", classes = 120 } = options;
  const p = displayPath(path);
  const info = await statOrNull(p);
  if (info === null) throw new DatasetError(`${p}: no such file or directory`, p);
  if (!info.isDirectory) return readImageNet16File(await readFileOrThrow(p), p, classes);
  const wanted = split === "train" ? IMAGENET16_TRAIN_FILES : [IMAGENET16_VAL_FILE];
  const official = split === "train" ? "Imagenet16_train" : "Imagenet16_val";
  for (const d of [p, join(p, official)]) {
    const present: string[] = [];
    for (const base of wanted) {
      const s = await statOrNull(join(d, base));
      if (s !== null && s.isFile) present.push(join(d, base));
    }
    if (present.length === 0) continue;
    const list: RawRecords[] = [];
    for (const f of present) list.push(readImageNet16File(await readFileOrThrow(f), f, classes));
    return concatRecords(list);
  }
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(p)) entries.push(e.isDirectory ? `${e.name}/` : e.name);
  } catch { /* listing is only for the message */ }
  entries.sort();
  const bins = entries.filter((e) => e.endsWith(".bin"));
  const shown = entries.length === 0
    ? "an empty directory"
    : entries.slice(0, 20).join(", ") + (entries.length > 20 ? `, ... (${entries.length - 20} more)` : "");
  throw new DatasetError(
    `${p}: no ImageNet16 ${split} files here; expected ` +
      (split === "train"
        ? "train_data_batch_1..train_data_batch_10 (split train)"
        : "val_data (split test)") +
      `, directly or in ${official}/; found: ${shown}` +
      (bins.length > 0 ? `; pass a .bin file of ${IMAGENET16_RECORD_BYTES}-byte records by its path` : ""),
    p,
  );
}
