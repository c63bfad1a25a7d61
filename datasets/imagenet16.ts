/**
 * Reader for 16x16 ImageNet files in this project's binary layout (see `shared/data/imagenet16/SOURCE.md`):
 * records of 770 bytes = 2-byte little-endian label + 768 pixel bytes (256 R, 256 G, 256 B; each plane
 * row-major 16x16), the planar layout of the ImageNet16 `data` rows. Labels are 0-based class indices, 0..999.
 *
 * Note: the shipped stand-in `imagenet_foolbox20_16x16.bin` is labelled with ImageNet-1k indices (sorted-WNID
 * order), not with ImageNet16-120 classes; use it for input statistics, not for label-based checks.
 *
 * @example
 * ```ts
 * import { readImageNet16 } from "./imagenet16.ts";
 * const records = readImageNet16(new Uint8Array(770), "one.bin");
 * console.log(records.n, records.h, records.w); // 1 16 16
 * ```
 * @module
 */

import { parseRecords, type RecordLayout } from "./_records.ts";
import { DatasetError, type RawRecords } from "./types.ts";
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

/** Reads an ImageNet16 `.bin` file from a user path (a file; a directory is an error listing its `.bin` files). */
export async function loadImageNet16(path: string | URL): Promise<RawRecords> {
  const p = displayPath(path);
  const info = await statOrNull(p);
  if (info === null) throw new DatasetError(`${p}: no such file or directory`, p);
  if (info.isDirectory) {
    const bins = [];
    for await (const e of Deno.readDir(p)) if (e.isFile && e.name.endsWith(".bin")) bins.push(e.name);
    bins.sort();
    throw new DatasetError(
      `${p}: is a directory; ImageNet16 needs one .bin file of ${IMAGENET16_RECORD_BYTES}-byte records` +
        (bins.length > 0 ? `; .bin files here: ${bins.join(", ")}` : "; none here"),
      p,
    );
  }
  return readImageNet16(await readFileOrThrow(p), p);
}
