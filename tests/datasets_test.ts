/**
 * Tests of datasets/: binary readers (generated fixtures in a temp dir and the real files in ../shared/data when
 * present), the tar.gz path, error messages, normalisation, seeded minibatches and the synthetic batch.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  type Cifar100Records,
  DatasetError,
  formatIndices,
  loadBatch,
  loadCifar,
  loadImageNet16,
  NORMALIZATION,
  normalizePixels,
  type RawRecords,
  readCifar10,
  readCifar100,
  readCifarArchive,
  readImageNet16,
  selectMinibatch,
  syntheticBatch,
} from "../datasets/mod.ts";

// ---------- fixtures ----------

/** Pixel value of byte k (0..3071 for CIFAR) of record r: a pattern that differs per record and per byte. */
function pixel(r: number, k: number): number {
  return (r * 37 + k * 7 + (k >> 8)) & 255;
}

/** A CIFAR-10 file: one record per label. */
function cifar10Bytes(labels: readonly number[], recordOffset = 0): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((label, r) => {
    out[r * 3073] = label;
    for (let k = 0; k < 3072; k++) out[r * 3073 + 1 + k] = pixel(r + recordOffset, k);
  });
  return out;
}

/** A CIFAR-100 file: one record per (coarse, fine) pair. */
function cifar100Bytes(pairs: readonly (readonly [number, number])[]): Uint8Array {
  const out = new Uint8Array(pairs.length * 3074);
  pairs.forEach(([coarse, fine], r) => {
    out[r * 3074] = coarse;
    out[r * 3074 + 1] = fine;
    for (let k = 0; k < 3072; k++) out[r * 3074 + 2 + k] = pixel(r, k);
  });
  return out;
}

/** An ImageNet16 file: 2-byte little-endian label + 768 pixels per record. */
function imagenet16Bytes(labels: readonly number[]): Uint8Array {
  const out = new Uint8Array(labels.length * 770);
  labels.forEach((label, r) => {
    out[r * 770] = label & 255;
    out[r * 770 + 1] = label >> 8;
    for (let k = 0; k < 768; k++) out[r * 770 + 2 + k] = pixel(r, k);
  });
  return out;
}

/** One ustar header + data block(s) for a regular file ("0") or a directory ("5"). */
function tarEntry(name: string, data: Uint8Array, type = "0", prefix = ""): Uint8Array {
  const h = new Uint8Array(512);
  const put = (text: string, at: number) => {
    for (let i = 0; i < text.length; i++) h[at + i] = text.charCodeAt(i);
  };
  put(name, 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(data.length.toString(8).padStart(11, "0") + "\0", 124);
  put("14000000000\0", 136);
  put("        ", 148);
  put(type, 156);
  put("ustar\0" + "00", 257);
  put(prefix, 345);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  const out = new Uint8Array(512 + Math.ceil(data.length / 512) * 512);
  out.set(h);
  out.set(data, 512);
  return out;
}

/** A gzip-compressed tar archive of the entries (directories have no data), ended by two zero blocks. */
function tarGz(entries: readonly { name: string; data?: Uint8Array }[]): Uint8Array {
  const blocks = entries.map((e) =>
    e.data === undefined ? tarEntry(e.name, new Uint8Array(0), "5") : tarEntry(e.name, e.data)
  );
  const total = blocks.reduce((s, b) => s + b.length, 0) + 1024;
  const tar = new Uint8Array(total);
  let at = 0;
  for (const b of blocks) {
    tar.set(b, at);
    at += b.length;
  }
  const gz = gzipSync(tar);
  return new Uint8Array(gz.buffer, gz.byteOffset, gz.byteLength);
}

/** Checks that every record of `records` equals source record `indices[i]` of the pixel pattern. */
function assertPattern(records: RawRecords, indices: readonly number[] | Int32Array, image = 3072): void {
  for (let i = 0; i < records.n; i++) {
    const src = indices[i]!;
    for (let k = 0; k < image; k += 97) {
      assert.equal(records.pixels[i * image + k], pixel(src, k), `record ${i} (source ${src}) byte ${k}`);
    }
  }
}

/** Runs `fn`, expects a DatasetError whose message contains every fragment; returns it. */
async function expectDatasetError(fn: () => unknown, ...fragments: string[]): Promise<DatasetError> {
  let caught: unknown = null;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DatasetError, `expected a DatasetError, got ${caught}`);
  for (const f of fragments) {
    assert.ok(caught.message.includes(f), `message lacks "${f}":\n${caught.message}`);
  }
  return caught;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "datasets_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------- readers on generated fixtures ----------

Deno.test("readCifar10 returns labels and planar pixels when a generated file is read from disk", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "small.bin");
    await Deno.writeFile(file, cifar10Bytes([3, 0, 9, 7]));
    const r = await loadCifar("cifar10", file);
    assert.deepEqual([r.n, r.c, r.h, r.w], [4, 3, 32, 32]);
    assert.deepEqual(Array.from(r.labels), [3, 0, 9, 7]);
    assert.equal(r.pixels.length, 4 * 3072);
    assertPattern(r, [0, 1, 2, 3]);
    assert.equal(r.file, file);
    assert.deepEqual(r.parts, [{ file, first: 0, n: 4 }]);
  });
});

Deno.test("readCifar100 returns fine labels and coarse labels when a generated file is parsed", () => {
  const r = readCifar100(cifar100Bytes([[10, 49], [4, 0], [19, 99]]), "c100.bin") as Cifar100Records;
  assert.deepEqual(Array.from(r.labels), [49, 0, 99]);
  assert.deepEqual(Array.from(r.coarse), [10, 4, 19]);
  assertPattern(r, [0, 1, 2]);
});

Deno.test("readImageNet16 decodes 2-byte little-endian labels and 16x16 pixels when a file is parsed", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "in16.bin");
    await Deno.writeFile(file, imagenet16Bytes([999, 258, 0]));
    const r = await loadImageNet16(file);
    assert.deepEqual([r.n, r.c, r.h, r.w], [3, 3, 16, 16]);
    assert.deepEqual(Array.from(r.labels), [999, 258, 0]);
    assertPattern(r, [0, 1, 2], 768);
  });
});

Deno.test("loadCifar concatenates data_batch_1..5 in order when a directory is read with split train", async () => {
  await withTempDir(async (dir) => {
    for (let b = 1; b <= 5; b++) {
      await Deno.writeFile(join(dir, `data_batch_${b}.bin`), cifar10Bytes([b, b], 2 * (b - 1)));
    }
    await Deno.writeFile(join(dir, "test_batch.bin"), cifar10Bytes([9]));
    const train = await loadCifar("cifar10", dir, { split: "train" });
    assert.deepEqual(Array.from(train.labels), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    assertPattern(train, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(train.parts.map((p) => [p.first, p.n]), [[0, 2], [2, 2], [4, 2], [6, 2], [8, 2]]);
    assert.equal(train.parts[4]!.file, join(dir, "data_batch_5.bin"));
    const test = await loadCifar("cifar10", dir);
    assert.deepEqual(Array.from(test.labels), [9]);
  });
});

Deno.test("loadCifar finds the official sub-folder when a directory holds cifar-100-binary/", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "cifar-100-binary"));
    await Deno.writeFile(join(dir, "cifar-100-binary", "test.bin"), cifar100Bytes([[1, 2], [3, 4]]));
    const r = await loadCifar("cifar100", dir, { split: "test" });
    assert.deepEqual(Array.from(r.labels), [2, 4]);
    assert.equal(r.file, join(dir, "cifar-100-binary", "test.bin"));
  });
});

// ---------- official archives ----------

Deno.test("loadCifar reads each split of cifar-10-binary.tar.gz when given the archive or its directory", async () => {
  const archive = tarGz([
    { name: "cifar-10-batches-bin/" },
    { name: "cifar-10-batches-bin/batches.meta.txt", data: new TextEncoder().encode("airplane\n") },
    { name: "cifar-10-batches-bin/test_batch.bin", data: cifar10Bytes([4, 2, 8]) },
    ...[3, 1, 2, 5, 4].map((b) => ({
      name: `cifar-10-batches-bin/data_batch_${b}.bin`,
      data: cifar10Bytes([b], b - 1),
    })),
  ]);
  await withTempDir(async (dir) => {
    const file = join(dir, "cifar-10-binary.tar.gz");
    await Deno.writeFile(file, archive);
    const test = await loadCifar("cifar10", file);
    assert.deepEqual(Array.from(test.labels), [4, 2, 8]);
    assertPattern(test, [0, 1, 2]);
    assert.equal(test.file, `${file}:cifar-10-batches-bin/test_batch.bin`);
    const train = await loadCifar("cifar10", dir, { split: "train" });
    assert.deepEqual(Array.from(train.labels), [1, 2, 3, 4, 5]); // official order, not archive order
    assertPattern(train, [0, 1, 2, 3, 4]);
  });
});

Deno.test("readCifarArchive reads train.bin and test.bin when given cifar-100-binary.tar.gz bytes", () => {
  const archive = tarGz([
    { name: "cifar-100-binary/" },
    { name: "cifar-100-binary/train.bin", data: cifar100Bytes([[0, 1], [2, 3], [4, 5]]) },
    { name: "cifar-100-binary/test.bin", data: cifar100Bytes([[19, 99]]) },
  ]);
  const train = readCifarArchive("cifar100", archive, "cifar-100-binary.tar.gz", "train") as Cifar100Records;
  assert.deepEqual(Array.from(train.labels), [1, 3, 5]);
  assert.deepEqual(Array.from(train.coarse), [0, 2, 4]);
  assertPattern(train, [0, 1, 2]);
  const test = readCifarArchive("cifar100", archive, "cifar-100-binary.tar.gz", "test");
  assert.deepEqual(Array.from(test.labels), [99]);
  assert.equal(test.file, "cifar-100-binary.tar.gz:cifar-100-binary/test.bin");
});

Deno.test("readCifarArchive finds members when names use the ustar prefix or a GNU long-name entry", () => {
  const longDir = "x".repeat(120);
  const entries = [
    tarEntry("test_batch.bin", cifar10Bytes([6]), "0", "cifar-10-batches-bin"),
    tarEntry("././@LongLink", new TextEncoder().encode(`${longDir}/data_batch_1.bin\0`), "L"),
    tarEntry(`${longDir}/data_batch_1.bin`.slice(0, 100), cifar10Bytes([1])),
    ...[2, 3, 4, 5].map((b) => tarEntry(`./cifar-10-batches-bin/data_batch_${b}.bin`, cifar10Bytes([b]))),
  ];
  const tar = new Uint8Array(entries.reduce((s, e) => s + e.length, 0) + 1024);
  let at = 0;
  for (const e of entries) {
    tar.set(e, at);
    at += e.length;
  }
  const test = readCifarArchive("cifar10", tar, "plain.tar", "test");
  assert.equal(test.file, "plain.tar:cifar-10-batches-bin/test_batch.bin");
  assert.deepEqual(Array.from(test.labels), [6]);
  const train = readCifarArchive("cifar10", tar, "plain.tar", "train");
  assert.deepEqual(Array.from(train.labels), [1, 2, 3, 4, 5]);
  assert.equal(train.parts[0]!.file, `plain.tar:${longDir}/data_batch_1.bin`);
});

// ---------- errors ----------

Deno.test("readCifar10 names the file and byte offset when the last record is truncated", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "cut.bin");
    await Deno.writeFile(file, cifar10Bytes([1, 2, 3]).subarray(0, 3073 * 2 + 100));
    const e = await expectDatasetError(
      () => loadCifar("cifar10", file),
      file,
      "truncated record at byte offset 6146 (record 2): 100 bytes, expected 3073 per record",
    );
    assert.equal(e.offset, 6146);
    assert.equal(e.file, file);
  });
});

Deno.test("readCifar10 suggests CIFAR-100 when the size is a multiple of 3074", async () => {
  await expectDatasetError(
    () => readCifar10(cifar100Bytes([[0, 0], [1, 1]]), "c100.bin"),
    "c100.bin",
    "byte offset 6146",
    "is this a CIFAR-100 file?",
  );
});

Deno.test("readCifar10 fails with the file name when the file is empty", async () => {
  await expectDatasetError(() => readCifar10(new Uint8Array(0), "empty.bin"), "empty.bin", "empty file");
});

Deno.test("readCifar10 names the byte offset when a label is out of range", async () => {
  const e = await expectDatasetError(
    () => readCifar10(cifar10Bytes([1, 12]), "bad.bin"),
    "label 12 at byte offset 3073 of bad.bin",
    "CIFAR-10 labels are 0..9",
  );
  assert.equal(e.offset, 3073);
});

Deno.test("readCifar100 names the fine-label byte when a fine label is out of range", async () => {
  await expectDatasetError(
    () => readCifar100(cifar100Bytes([[0, 0], [0, 100]]), "bad100.bin"),
    "fine label 100 at byte offset 3075 of bad100.bin",
    "CIFAR-100 fine labels are 0..99",
  );
  await expectDatasetError(
    () => readCifar100(cifar100Bytes([[20, 0]]), "badcoarse.bin"),
    "coarse label 20 at byte offset 0 of badcoarse.bin",
  );
});

Deno.test("readImageNet16 fails with file and offset when a label exceeds 999 or a record is cut", async () => {
  await expectDatasetError(
    () => readImageNet16(imagenet16Bytes([5, 1000]), "in.bin"),
    "label 1000 at byte offset 770 of in.bin",
  );
  await expectDatasetError(
    () => readImageNet16(imagenet16Bytes([5, 6]).subarray(0, 1000), "in.bin"),
    "in.bin",
    "truncated record at byte offset 770 (record 1): 230 bytes, expected 770 per record",
  );
});

Deno.test("loadCifar lists the expected official names when a directory holds none of them", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(join(dir, "other.bin"), cifar10Bytes([1]));
    await expectDatasetError(
      () => loadCifar("cifar10", dir),
      dir,
      "test_batch.bin",
      "data_batch_1.bin..data_batch_5.bin",
      "cifar-10-binary.tar.gz",
      "found: other.bin",
    );
    await Deno.writeFile(join(dir, "data_batch_1.bin"), cifar10Bytes([1]));
    await expectDatasetError(() => loadCifar("cifar10", dir, { split: "train" }), "lacks data_batch_2.bin");
  });
});

Deno.test("readCifarArchive lists the archive's members when the split's member is missing", async () => {
  const archive = tarGz([{ name: "cifar-10-batches-bin/test_batch.bin", data: cifar10Bytes([1]) }]);
  await expectDatasetError(
    () => readCifarArchive("cifar10", archive, "c10.tar.gz", "train"),
    "c10.tar.gz",
    "cifar-10-batches-bin/data_batch_1.bin",
    "holds: cifar-10-batches-bin/test_batch.bin",
  );
});

Deno.test("readCifarArchive reports the header offset when a tar header is corrupt", async () => {
  const tar = new Uint8Array(
    gunzipFixture(tarGz([{ name: "cifar-10-batches-bin/test_batch.bin", data: cifar10Bytes([1]) }])),
  );
  tar[10] = 0x41; // change the name without fixing the checksum
  await expectDatasetError(
    () => readCifarArchive("cifar10", tar, "broken.tar", "test"),
    "broken.tar",
    "checksum mismatch at byte offset 0",
  );
});

/** Decompresses a fixture (for tests that damage the tar itself). */
function gunzipFixture(gz: Uint8Array): Uint8Array {
  const tar = gunzipSync(gz);
  return new Uint8Array(tar.buffer, tar.byteOffset, tar.byteLength);
}

Deno.test("selectMinibatch names the file and both numbers when batch exceeds the records", async () => {
  const records = readCifar10(cifar10Bytes([1, 2, 3]), "three.bin");
  await expectDatasetError(() => selectMinibatch(records, 4, 0), "batch 4", "3 records", "three.bin");
});

// ---------- normalisation ----------

Deno.test("normalizePixels gives (x - mean) / std per channel when pixels are 0, 128 and 255", () => {
  // one image of 3 channels x 1x3 pixels: values 0, 128, 255 in each channel
  const pixels = new Uint8Array([0, 128, 255, 0, 128, 255, 0, 128, 255]);
  const x = normalizePixels(pixels, { n: 1, c: 3, h: 1, w: 3 }, NORMALIZATION.cifar10);
  const mean = [125.3, 123.0, 113.9];
  const std = [63.0, 62.1, 66.7];
  for (let c = 0; c < 3; c++) {
    [0, 128, 255].forEach((v, k) => assert.equal(x[c * 3 + k], Math.fround((v - mean[c]!) / std[c]!)));
  }
  assert.equal(x[0], Math.fround(-125.3 / 63.0));
  assert.ok(Math.abs(x[0]! - -1.9888888) < 1e-6);
  assert.ok(Math.abs(x[8]! - (255 - 113.9) / 66.7) < 1e-6);
  const y = normalizePixels(
    new Uint8Array([255, 255, 255]),
    { n: 1, c: 3, h: 1, w: 1 },
    NORMALIZATION.imagenet16,
  );
  assert.deepEqual(Array.from(y), [
    Math.fround((255 - 122.68) / 63.22),
    Math.fround((255 - 116.66) / 61.26),
    Math.fround((255 - 104.01) / 65.09),
  ]);
  const z = normalizePixels(
    new Uint8Array([129, 124, 112]),
    { n: 1, c: 3, h: 1, w: 1 },
    NORMALIZATION.cifar100,
  );
  assert.deepEqual(Array.from(z), [
    Math.fround((129 - 129.3) / 68.2),
    Math.fround((124 - 124.1) / 65.4),
    Math.fround((112 - 112.4) / 70.4),
  ]);
});

// ---------- minibatches ----------

Deno.test("selectMinibatch gives the same ascending distinct records when the seed is repeated", () => {
  const records = readCifar10(cifar10Bytes(Array.from({ length: 50 }, (_, i) => i % 10)), "fifty.bin");
  const a = selectMinibatch(records, 12, 42);
  const b = selectMinibatch(records, 12, 42);
  assert.deepEqual(Array.from(a.indices), Array.from(b.indices));
  assert.deepEqual(a.pixels, b.pixels);
  const idx = Array.from(a.indices);
  assert.equal(new Set(idx).size, 12);
  assert.deepEqual(idx, [...idx].sort((x, y) => x - y));
  assert.ok(idx.every((i) => i >= 0 && i < 50));
  assert.deepEqual(Array.from(a.labels), idx.map((i) => i % 10));
  assertPattern(a, idx);
  assert.equal(a.source, `fifty.bin records ${formatIndices(idx)}`);
});

Deno.test("selectMinibatch chooses different records when the seeds differ", () => {
  const records = readCifar10(cifar10Bytes(Array.from({ length: 50 }, () => 0)), "fifty.bin");
  const seen = new Set<string>();
  for (let seed = 0; seed < 5; seed++) {
    seen.add(Array.from(selectMinibatch(records, 12, seed).indices).join(","));
  }
  assert.equal(seen.size, 5);
});

Deno.test("selectMinibatch takes every record in file order when batch equals the record count", () => {
  const records = readCifar10(cifar10Bytes([5, 6, 7]), "three.bin");
  for (const seed of [0, 1, 99]) {
    const mb = selectMinibatch(records, 3, seed);
    assert.deepEqual(Array.from(mb.indices), [0, 1, 2]);
    assert.equal(mb.source, "three.bin records 0..2");
  }
});

Deno.test("selectMinibatch describes per-file indices when records span several files", () => {
  const parts = [0, 1].map((f) => readCifar10(cifar10Bytes([f, f, f, f], 4 * f), `b${f}.bin`));
  const all: RawRecords = {
    ...parts[0]!,
    n: 8,
    labels: new Int32Array([0, 0, 0, 0, 1, 1, 1, 1]),
    pixels: new Uint8Array([...parts[0]!.pixels, ...parts[1]!.pixels]),
    file: "b0.bin + b1.bin",
    parts: [{ file: "b0.bin", first: 0, n: 4 }, { file: "b1.bin", first: 4, n: 4 }],
  };
  const mb = selectMinibatch(all, 8, 0);
  assert.equal(mb.source, "b0.bin records 0..3; b1.bin records 0..3");
  for (let seed = 0; seed < 10; seed++) {
    const some = selectMinibatch(all, 5, seed);
    const idx = Array.from(some.indices);
    const inB0 = idx.filter((i) => i < 4);
    const inB1 = idx.filter((i) => i >= 4).map((i) => i - 4);
    const expected = [
      ...(inB0.length > 0 ? [`b0.bin records ${formatIndices(inB0)}`] : []),
      ...(inB1.length > 0 ? [`b1.bin records ${formatIndices(inB1)}`] : []),
    ].join("; ");
    assert.equal(some.source, expected);
    assert.deepEqual(Array.from(some.labels), idx.map((i) => (i < 4 ? 0 : 1)));
    assertPattern(some, idx);
  }
});

Deno.test("formatIndices writes runs as a..b when indices are consecutive", () => {
  assert.equal(formatIndices([0, 1, 2, 5, 7, 8, 10, 11, 12, 13]), "0..2,5,7,8,10..13");
  assert.equal(formatIndices([]), "");
});

Deno.test("syntheticBatch repeats its images and labels when the seed is repeated", () => {
  const a = syntheticBatch({ batch: 16, seed: 7 });
  const b = syntheticBatch({ batch: 16, seed: 7 });
  assert.deepEqual(a, b);
  assert.deepEqual([a.n, a.c, a.h, a.w, a.classes], [16, 3, 32, 32, 10]);
  assert.equal(a.data.length, 16 * 3 * 32 * 32);
  assert.equal(a.source, "synthetic(seed=7)");
  assert.ok(a.labels.every((l) => l >= 0 && l < 10));
  let sum = 0;
  let sq = 0;
  for (const v of a.data) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / a.data.length;
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(sq / a.data.length - mean * mean - 1) < 0.03, "variance near 1");
  const c = syntheticBatch({ batch: 16, seed: 8 });
  assert.notDeepEqual(Array.from(c.data.subarray(0, 8)), Array.from(a.data.subarray(0, 8)));
  const small = syntheticBatch({ batch: 2, c: 1, h: 3, w: 5, classes: 4, seed: 1 });
  assert.deepEqual([small.data.length, small.classes], [30, 4]);
});

Deno.test("loadBatch returns the synthetic batch of the dataset's shape when path is synthetic", async () => {
  const b = await loadBatch({ dataset: "imagenet16", path: "synthetic", batch: 4, seed: 3 });
  assert.deepEqual([b.n, b.c, b.h, b.w, b.classes], [4, 3, 16, 16, 120]);
  assert.deepEqual(b, syntheticBatch({ batch: 4, h: 16, w: 16, classes: 120, seed: 3 }));
});

Deno.test("loadBatch normalises the chosen records and names them in source when a file is read", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "c100.bin");
    await Deno.writeFile(file, cifar100Bytes(Array.from({ length: 9 }, (_, i) => [i, 10 * i] as const)));
    const b = await loadBatch({ dataset: "cifar100", path: file, batch: 4, seed: 5 });
    const mb = selectMinibatch(await loadCifar("cifar100", file), 4, 5);
    assert.equal(b.source, `${file} records ${formatIndices(mb.indices)}`);
    assert.deepEqual(Array.from(b.labels), Array.from(mb.indices).map((i) => 10 * i));
    assert.equal(b.classes, 100);
    const first = mb.indices[0]!;
    assert.equal(b.data[0], Math.fround((pixel(first, 0) - 129.3) / 68.2));
    assert.equal(b.data[2048], Math.fround((pixel(first, 2048) - 112.4) / 70.4));
  });
});

Deno.test("loadBatch fails with a hint when an ImageNet16 label is not below the class count", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "in.bin");
    await Deno.writeFile(file, imagenet16Bytes([3, 500]));
    await expectDatasetError(
      () => loadBatch({ dataset: "imagenet16", path: file, batch: 2, seed: 0 }),
      "label 500",
      "(record 1)",
      "classes: 1000",
    );
    const b = await loadBatch({ dataset: "imagenet16", path: file, batch: 2, seed: 0, classes: 1000 });
    assert.deepEqual(Array.from(b.labels), [3, 500]);
  });
});

// ---------- real data (../shared/data), skipped when absent ----------

const DATA = new URL("../../shared/data/", import.meta.url);
const hasData = (() => {
  try {
    return Deno.statSync(DATA).isDirectory;
  } catch {
    return false;
  }
})();
if (!hasData) console.log(`datasets_test: ${DATA.pathname} not found; real-data tests are ignored`);

/** Column `column` of a CSV file with a header row and no quoted commas, as numbers. */
async function csvColumn(url: URL, column: string): Promise<number[]> {
  const lines = (await Deno.readTextFile(url)).trim().split(/\r?\n/);
  const header = lines[0]!.split(",");
  const at = header.indexOf(column);
  assert.ok(at >= 0, `${url.pathname} has no column ${column}`);
  return lines.slice(1).map((l) => Number(l.split(",")[at]));
}

Deno.test({
  name: "loadCifar labels equal the index CSV when reading cifar10_test_eembc200.bin",
  ignore: !hasData,
  fn: async () => {
    const r = await loadCifar("cifar10", new URL("cifar10/cifar10_test_eembc200.bin", DATA));
    assert.equal(r.n, 200);
    const expected = await csvColumn(new URL("cifar10/cifar10_test_eembc200_index.csv", DATA), "label");
    assert.deepEqual(Array.from(r.labels), expected);
  },
});

Deno.test({
  name: "loadCifar labels equal the official first 20 test labels when reading the foolbox file",
  ignore: !hasData,
  fn: async () => {
    const r = await loadCifar("cifar10", new URL("cifar10/cifar10_test_first20_foolbox.bin", DATA));
    assert.deepEqual(Array.from(r.labels), [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]);
  },
});

Deno.test({
  name: "loadCifar labels equal the index CSV when reading cifar10_test_jpegq75_1000.bin",
  ignore: !hasData,
  fn: async () => {
    const r = await loadCifar("cifar10", new URL("cifar10/cifar10_test_jpegq75_1000.bin", DATA));
    assert.equal(r.n, 1000);
    const expected = await csvColumn(new URL("cifar10/cifar10_test_jpegq75_1000_index.csv", DATA), "label");
    assert.deepEqual(Array.from(r.labels), expected);
    assert.ok(Array.from(r.labels).every((l, i) => l === i % 10));
  },
});

Deno.test({
  name: "loadCifar fine and coarse labels match the official ones when reading the CIFAR-100 foolbox file",
  ignore: !hasData,
  fn: async () => {
    const r = await loadCifar(
      "cifar100",
      new URL("cifar100/cifar100_test_first20_foolbox.bin", DATA),
    ) as Cifar100Records;
    const fine = [49, 33, 72, 51, 71, 92, 15, 14, 23, 0, 71, 75, 81, 69, 40, 43, 92, 97, 70, 53];
    assert.deepEqual(Array.from(r.labels), fine);
    const map = new URL("cifar100/fine_to_coarse.csv", DATA);
    const fines = await csvColumn(map, "fine");
    const coarses = await csvColumn(map, "coarse");
    assert.deepEqual(Array.from(r.coarse), fine.map((f) => coarses[fines.indexOf(f)]));
  },
});

Deno.test({
  name: "loadImageNet16 labels equal the index CSV when reading the 16x16 stand-in file",
  ignore: !hasData,
  fn: async () => {
    const r = await loadImageNet16(new URL("imagenet16/imagenet_foolbox20_16x16.bin", DATA));
    const expected = await csvColumn(
      new URL("imagenet16/imagenet_foolbox20_16x16_index.csv", DATA),
      "imagenet1k_label_0based_sorted_wnid",
    );
    assert.deepEqual(Array.from(r.labels), expected);
  },
});

Deno.test({
  name: "loadBatch gives a normalised CIFAR-10 batch of real pixels when reading the eembc file",
  ignore: !hasData,
  fn: async () => {
    const url = new URL("cifar10/cifar10_test_eembc200.bin", DATA);
    const b = await loadBatch({ dataset: "cifar10", path: url, batch: 64, seed: 0 });
    assert.deepEqual([b.n, b.c, b.h, b.w, b.classes], [64, 3, 32, 32, 10]);
    assert.ok(b.source.startsWith(`${decodeURIComponent(url.pathname)} records `), b.source);
    let sum = 0;
    for (const v of b.data) sum += v;
    const mean = sum / b.data.length;
    assert.ok(Math.abs(mean) < 0.5, `normalised mean ${mean} should be near 0 for real images`);
    assert.ok(Array.from(b.labels).every((l) => l >= 0 && l < 10));
  },
});
