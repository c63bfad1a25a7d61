/**
 * Private core shared by the binary readers: files made of fixed-size records, each a few little-endian
 * label fields followed by the planar pixels. Checks the size and every label, and names the file and the byte
 * offset of the first problem.
 * @module
 */

import { DatasetError } from "./types.ts";

/** One label field of a record. */
export interface LabelField {
  /** What the field is called in messages: "label", "coarse label", "fine label". */
  what: string;
  /** Width in bytes (unsigned, little-endian). */
  size: 1 | 2;
  /** Largest valid value (the smallest is 0). */
  max: number;
  /** Sentence appended to an out-of-range message, e.g. "CIFAR-10 labels are 0..9". */
  rule: string;
}

/** A fixed-size record layout: label fields in order, then c planes of h*w bytes. */
export interface RecordLayout {
  /** Human name of the layout, e.g. "CIFAR-10". */
  name: string;
  /** Label fields at the start of each record, in file order. */
  fields: readonly LabelField[];
  /** Channels per image. */
  c: number;
  /** Image height. */
  h: number;
  /** Image width. */
  w: number;
}

/** Bytes per record of a layout. */
export function recordBytes(layout: RecordLayout): number {
  let header = 0;
  for (const f of layout.fields) header += f.size;
  return header + layout.c * layout.h * layout.w;
}

/** Records split into label columns (one per field) and the concatenated pixels. */
export interface ParsedRecords {
  /** Number of records. */
  n: number;
  /** One Int32Array of n values per label field, in field order. */
  columns: Int32Array[];
  /** n*c*h*w pixel bytes. */
  pixels: Uint8Array;
}

/**
 * Parses `bytes` as records of `layout`. `others` are layouts the file might have been meant for: when the size
 * fits one of them instead, the error says so.
 */
export function parseRecords(
  bytes: Uint8Array,
  file: string,
  layout: RecordLayout,
  others: readonly RecordLayout[] = [],
): ParsedRecords {
  const rb = recordBytes(layout);
  if (bytes.length === 0) {
    throw new DatasetError(
      `${file}: empty file (0 bytes); expected ${layout.name} records of ${rb} bytes`,
      file,
      0,
    );
  }
  const n = Math.floor(bytes.length / rb);
  const rest = bytes.length - n * rb;
  if (rest !== 0) {
    const hints = others.filter((o) => bytes.length % recordBytes(o) === 0).map((o) =>
      ` (the size is a multiple of ${recordBytes(o)}, the ${o.name} record: is this a ${o.name} file?)`
    );
    throw new DatasetError(
      `${file}: size ${bytes.length} bytes is not a whole number of ${layout.name} records; truncated record at ` +
        `byte offset ${n * rb} (record ${n}): ${rest} bytes, expected ${rb} per record${hints.join("")}`,
      file,
      n * rb,
    );
  }
  const imageBytes = layout.c * layout.h * layout.w;
  const columns = layout.fields.map(() => new Int32Array(n));
  const pixels = new Uint8Array(n * imageBytes);
  for (let r = 0; r < n; r++) {
    const start = r * rb;
    let at = start;
    for (let f = 0; f < layout.fields.length; f++) {
      const field = layout.fields[f]!;
      const v = field.size === 1 ? bytes[at]! : bytes[at]! | (bytes[at + 1]! << 8);
      if (v > field.max) {
        throw new DatasetError(
          `${field.what} ${v} at byte offset ${at} of ${file} (record ${r}); ${field.rule}`,
          file,
          at,
        );
      }
      columns[f]![r] = v;
      at += field.size;
    }
    pixels.set(bytes.subarray(at, start + rb), r * imageBytes);
  }
  return { n, columns, pixels };
}
