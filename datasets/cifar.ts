/**
 * Readers for the official CIFAR binary layouts (Krizhevsky 2009, "binary version" on the CIFAR page).
 *
 * - CIFAR-10: records of 3073 bytes = 1 label byte (0..9) + 3072 pixel bytes (1024 R, 1024 G, 1024 B; each
 *   plane row-major 32x32). Files `data_batch_1.bin` .. `data_batch_5.bin` (train, 10,000 records each) and
 *   `test_batch.bin` (10,000), in `cifar-10-batches-bin/` of `cifar-10-binary.tar.gz`; any file with that layout
 *   (e.g. a subset such as `cifar10_test_eembc200.bin`) reads the same way.
 * - CIFAR-100: records of 3074 bytes = 1 coarse label byte (0..19) + 1 fine label byte (0..99) + 3072 pixel
 *   bytes. Files `train.bin` (50,000) and `test.bin` (10,000) in `cifar-100-binary/` of
 *   `cifar-100-binary.tar.gz`. The label used downstream is the fine label.
 *
 * A user path may be a `.bin` file (read as is; `split` does not apply), a directory holding the official files
 * (directly or in the official sub-folder, or holding the official archive), or the `.tar.gz` itself (read
 * without unpacking). `split` picks "train" (all training files, in official order) or "test" (the default).
 *
 * @example
 * ```ts
 * import { readCifar10 } from "./cifar.ts";
 * const bytes = new Uint8Array(2 * 3073); // two records, label 0, black images
 * const records = readCifar10(bytes, "two.bin");
 * console.log(records.n, records.labels); // 2 Int32Array [0, 0]
 * ```
 * @module
 */

import { join } from "node:path";
import { isGzip, isTar, readArchive, type TarMember } from "./_tar.ts";
import { parseRecords, type RecordLayout } from "./_records.ts";
import { type Cifar100Records, DatasetError, type RawRecords, type Split } from "./types.ts";
import { displayPath, readFileOrThrow, statOrNull } from "./_files.ts";

/** Bytes per CIFAR-10 record: 1 label byte + 3072 pixel bytes. */
export const CIFAR10_RECORD_BYTES = 3073;
/** Bytes per CIFAR-100 record: 1 coarse + 1 fine label byte + 3072 pixel bytes. */
export const CIFAR100_RECORD_BYTES = 3074;

const CIFAR10_LAYOUT: RecordLayout = {
  name: "CIFAR-10",
  fields: [{ what: "label", size: 1, max: 9, rule: "CIFAR-10 labels are 0..9" }],
  c: 3,
  h: 32,
  w: 32,
};

const CIFAR100_LAYOUT: RecordLayout = {
  name: "CIFAR-100",
  fields: [
    { what: "coarse label", size: 1, max: 19, rule: "CIFAR-100 coarse labels are 0..19" },
    { what: "fine label", size: 1, max: 99, rule: "CIFAR-100 fine labels are 0..99" },
  ],
  c: 3,
  h: 32,
  w: 32,
};

/** The official file names of one CIFAR variant. */
interface Official {
  name: string;
  folder: string;
  archive: string;
  train: string[];
  test: string[];
}

const OFFICIAL: Record<"cifar10" | "cifar100", Official> = {
  cifar10: {
    name: "CIFAR-10",
    folder: "cifar-10-batches-bin",
    archive: "cifar-10-binary.tar.gz",
    train: [
      "data_batch_1.bin",
      "data_batch_2.bin",
      "data_batch_3.bin",
      "data_batch_4.bin",
      "data_batch_5.bin",
    ],
    test: ["test_batch.bin"],
  },
  cifar100: {
    name: "CIFAR-100",
    folder: "cifar-100-binary",
    archive: "cifar-100-binary.tar.gz",
    train: ["train.bin"],
    test: ["test.bin"],
  },
};

/** Parses a CIFAR-10 binary file held in memory; `file` names it in errors and in the result. */
export function readCifar10(bytes: Uint8Array, file: string): RawRecords {
  const p = parseRecords(bytes, file, CIFAR10_LAYOUT, [CIFAR100_LAYOUT]);
  return {
    n: p.n,
    c: 3,
    h: 32,
    w: 32,
    labels: p.columns[0]!,
    pixels: p.pixels,
    file,
    parts: [{ file, first: 0, n: p.n }],
  };
}

/** Parses a CIFAR-100 binary file held in memory; labels are the fine labels, `coarse` the superclasses. */
export function readCifar100(bytes: Uint8Array, file: string): Cifar100Records {
  const p = parseRecords(bytes, file, CIFAR100_LAYOUT, [CIFAR10_LAYOUT]);
  return {
    n: p.n,
    c: 3,
    h: 32,
    w: 32,
    labels: p.columns[1]!,
    coarse: p.columns[0]!,
    pixels: p.pixels,
    file,
    parts: [{ file, first: 0, n: p.n }],
  };
}

/** Reads a CIFAR-10 file (`dataset` "cifar10") or a CIFAR-100 file ("cifar100") held in memory. */
export function readCifar(dataset: "cifar10" | "cifar100", bytes: Uint8Array, file: string): RawRecords {
  return dataset === "cifar10" ? readCifar10(bytes, file) : readCifar100(bytes, file);
}

/** Concatenates record sets of the same image shape, in order (coarse labels kept when all have them). */
export function concatRecords(list: readonly RawRecords[]): RawRecords {
  const first = list[0];
  if (first === undefined) throw new RangeError("concatRecords needs at least one record set");
  if (list.length === 1) return first;
  let n = 0;
  for (const r of list) n += r.n;
  const image = first.c * first.h * first.w;
  const labels = new Int32Array(n);
  const pixels = new Uint8Array(n * image);
  const withCoarse = list.every((r) => "coarse" in r);
  const coarse = new Int32Array(withCoarse ? n : 0);
  const parts = [];
  let at = 0;
  for (const r of list) {
    labels.set(r.labels, at);
    pixels.set(r.pixels, at * image);
    if (withCoarse) coarse.set((r as Cifar100Records).coarse, at);
    for (const s of r.parts) parts.push({ file: s.file, first: at + s.first, n: s.n });
    at += r.n;
  }
  const out: RawRecords = {
    n,
    c: first.c,
    h: first.h,
    w: first.w,
    labels,
    pixels,
    file: list.map((r) => r.file).join(" + "),
    parts,
  };
  return withCoarse ? { ...out, coarse } as Cifar100Records : out;
}

/**
 * Reads the `split` of an official CIFAR archive (`cifar-10-binary.tar.gz` / `cifar-100-binary.tar.gz`, or the
 * same archive uncompressed) held in memory. Train = all training members in official order.
 */
export function readCifarArchive(
  dataset: "cifar10" | "cifar100",
  bytes: Uint8Array,
  archive: string,
  split: Split = "test",
): RawRecords {
  const off = OFFICIAL[dataset];
  const members = readArchive(bytes, archive);
  const wanted = off[split];
  const found: TarMember[] = [];
  const missing: string[] = [];
  for (const base of wanted) {
    const m = members.find((x) => x.name === `${off.folder}/${base}`) ??
      members.find((x) => x.name === base || x.name.endsWith(`/${base}`));
    if (m === undefined) missing.push(`${off.folder}/${base}`);
    else found.push(m);
  }
  if (missing.length > 0) {
    const names = members.map((m) => m.name);
    throw new DatasetError(
      `${archive}: the ${off.name} ${split} split needs the archive member(s) ${
        missing.join(", ")
      }, not found; ` +
        `the archive holds: ${names.length === 0 ? "no files" : listSome(names)}`,
      archive,
    );
  }
  return concatRecords(found.map((m) => readCifar(dataset, m.data, `${archive}:${m.name}`)));
}

/** Options of {@link loadCifar}. */
export interface LoadCifarOptions {
  /** "train" or "test" (default); used for directories and archives, not for a single `.bin` file. */
  split?: Split;
}

/**
 * Reads CIFAR records from a user path: a `.bin` file (any file of the layout), a directory holding the official
 * files (directly, in `cifar-10-batches-bin/` / `cifar-100-binary/`, or as the official `.tar.gz`), or the
 * official archive itself.
 */
export async function loadCifar(
  dataset: "cifar10" | "cifar100",
  path: string | URL,
  options: LoadCifarOptions = {},
): Promise<RawRecords> {
  const split = options.split ?? "test";
  const p = displayPath(path);
  const info = await statOrNull(p);
  if (info === null) throw new DatasetError(`${p}: no such file or directory`, p);
  if (info.isDirectory) return await loadCifarDirectory(dataset, p, split);
  const bytes = await readFileOrThrow(p);
  if (isGzip(bytes) || isTar(bytes)) return readCifarArchive(dataset, bytes, p, split);
  return readCifar(dataset, bytes, p);
}

/** Reads the official files of `split` from a directory (or its official sub-folder or archive). */
async function loadCifarDirectory(
  dataset: "cifar10" | "cifar100",
  dir: string,
  split: Split,
): Promise<RawRecords> {
  const off = OFFICIAL[dataset];
  const wanted = off[split];
  const partial: string[] = [];
  for (const d of [dir, join(dir, off.folder)]) {
    const present: string[] = [];
    for (const base of wanted) {
      const s = await statOrNull(join(d, base));
      if (s !== null && s.isFile) present.push(base);
    }
    if (present.length === wanted.length) {
      const list = [];
      for (const base of wanted) {
        const f = join(d, base);
        list.push(readCifar(dataset, await readFileOrThrow(f), f));
      }
      return concatRecords(list);
    }
    if (present.length > 0) {
      partial.push(
        `${d} has ${present.join(", ")} but lacks ${wanted.filter((b) => !present.includes(b)).join(", ")}`,
      );
    }
  }
  const archive = join(dir, off.archive);
  const a = await statOrNull(archive);
  if (a !== null && a.isFile) {
    return readCifarArchive(dataset, await readFileOrThrow(archive), archive, split);
  }
  const entries = [];
  try {
    for await (const e of Deno.readDir(dir)) entries.push(e.isDirectory ? `${e.name}/` : e.name);
  } catch { /* listing is only for the message */ }
  entries.sort();
  const expected =
    `${listNames(off.test)} (split test) or ${listNames(off.train)} (split train), directly or in ` +
    `${off.folder}/, or the archive ${off.archive}`;
  throw new DatasetError(
    partial.length > 0
      ? `${dir}: incomplete ${off.name} ${split} split: ${partial.join("; ")}; expected ${expected}`
      : `${dir}: holds none of the official ${off.name} files; expected ${expected}; found: ` +
        (entries.length === 0 ? "an empty directory" : listSome(entries)),
    dir,
  );
}

/** "a.bin" or "a.bin..e.bin" for a run of official names. */
function listNames(names: readonly string[]): string {
  return names.length === 1 ? names[0]! : `${names[0]}..${names[names.length - 1]}`;
}

/** The first 20 names, then how many more. */
function listSome(names: readonly string[]): string {
  const head = names.slice(0, 20).join(", ");
  return names.length > 20 ? `${head}, ... (${names.length - 20} more)` : head;
}
