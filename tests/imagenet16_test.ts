/**
 * Tests of the official ImageNet16 pickles (datasets/_pickle.ts, datasets/imagenet16.ts): pickles written here
 * by a tiny test-only writer in the styles of Python 2 cPickle (BINSTRING data, dtype BUILD), Python 3 protocol 2
 * (`_codecs.encode`) and protocol 4 (FRAME, BINBYTES, numpy scalar labels); files written by real Python
 * (tests/fixtures/imagenet16/, see make.py there); the ImageNet16-120 subset; folders; refused and broken files.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DatasetError,
  isImageNet16Pickle,
  loadBatch,
  loadImageNet16,
  readImageNet16File,
  readImageNet16Pickle,
} from "../datasets/mod.ts";

// ---------- a tiny pickle writer (tests only) ----------

/** Pixel value of byte k (0..767) of image r: differs per image and per byte. */
function pixel(r: number, k: number): number {
  return (r * 37 + k * 7 + (k >> 8)) & 255;
}

/** n images of the test pattern, planar 16x16 RGB, rows of 768 bytes. */
function pixels(n: number, offset = 0): Uint8Array {
  const out = new Uint8Array(n * 768);
  for (let r = 0; r < n; r++) for (let k = 0; k < 768; k++) out[r * 768 + k] = pixel(r + offset, k);
  return out;
}

/** Emits pickle opcodes into chunks; `bytes()` joins them. */
class Writer {
  private chunks: Uint8Array[] = [];

  /** Raw bytes or opcode characters. */
  raw(...parts: (string | number[] | Uint8Array)[]): this {
    for (const p of parts) {
      if (typeof p === "string") this.chunks.push(Uint8Array.from(p, (c) => c.charCodeAt(0)));
      else this.chunks.push(p instanceof Uint8Array ? p : Uint8Array.from(p));
    }
    return this;
  }

  /** Little-endian unsigned integer of `n` bytes. */
  le(v: number, n: number): number[] {
    return Array.from({ length: n }, (_, i) => Math.floor(v / 2 ** (8 * i)) & 255);
  }

  /** BININT1 / BININT2 / BININT as Python picks them (BININT for negatives). */
  int(v: number): this {
    if (v >= 0 && v < 256) return this.raw("K", [v]);
    if (v >= 0 && v < 65536) return this.raw("M", this.le(v, 2));
    return this.raw("J", this.le(v >>> 0, 4));
  }

  /** py2 str: SHORT_BINSTRING or BINSTRING. */
  str2(b: Uint8Array | string): this {
    const u = typeof b === "string" ? Uint8Array.from(b, (c) => c.charCodeAt(0)) : b;
    return u.length < 256 ? this.raw("U", [u.length], u) : this.raw("T", this.le(u.length, 4), u);
  }

  /** py3 str: SHORT_BINUNICODE (protocol 4) or BINUNICODE. */
  unicode(s: string, short = false): this {
    const u = new TextEncoder().encode(s);
    return short && u.length < 256 ? this.raw([0x8c, u.length], u) : this.raw("X", this.le(u.length, 4), u);
  }

  /** py3 bytes: SHORT_BINBYTES or BINBYTES. */
  binbytes(b: Uint8Array): this {
    return b.length < 256 ? this.raw("C", [b.length], b) : this.raw("B", this.le(b.length, 4), b);
  }

  /** The pickle. */
  bytes(): Uint8Array {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Python 2 cPickle, protocol 2, as it writes `{'data': ndarray, 'labels': [...]}` (key order as in py2_proto2). */
function py2Pickle(data: Uint8Array, shape: number[], labels: number[]): Uint8Array {
  const w = new Writer().raw([0x80, 2], "}", "q", [1], "(");
  w.str2("labels").raw("q", [2], "]", "q", [3], "(");
  for (const l of labels) w.int(l);
  w.raw("e");
  w.str2("data").raw("q", [4]);
  w.raw("cnumpy.core.multiarray\n_reconstruct\n", "q", [5], "cnumpy\nndarray\n", "q", [6]);
  w.int(0).raw([0x85], "q", [7]).str2("b").raw([0x87], "R", "q", [8]);
  w.raw("(").int(1); // state: (1, shape, dtype, False, raw)
  w.raw("(");
  for (const d of shape) w.int(d);
  w.raw("t", "q", [9]);
  w.raw("cnumpy\ndtype\n", "q", [10]).str2("u1").raw("q", [11]).int(0).int(1).raw([0x87], "R", "q", [12]);
  w.raw("(").int(3).str2("|").raw("q", [13], "NNN").int(-1).int(-1).int(0).raw("t", "b"); // dtype BUILD
  w.raw([0x89]).str2(data).raw("q", [14], "t", "b"); // NEWFALSE, BINSTRING raw data, TUPLE, BUILD
  w.raw("u", "."); // SETITEMS, STOP
  return w.bytes();
}

/** Python 3, protocol 2: bytes as `_codecs.encode(str, 'latin1')`, dtype('u1', False, True). */
function py3Proto2Pickle(data: Uint8Array, shape: number[], labels: number[]): Uint8Array {
  const encoded = (b: Uint8Array, w: Writer) => {
    w.raw("c_codecs\nencode\n").unicode(Array.from(b, (c) => String.fromCharCode(c)).join(""));
    return w.unicode("latin1").raw([0x86], "R");
  };
  const w = new Writer().raw([0x80, 2], "}", "q", [0], "(");
  w.unicode("data").raw("cnumpy._core.multiarray\n_reconstruct\n", "cnumpy\nndarray\n").int(0).raw([0x85]);
  encoded(Uint8Array.of(0x62), w).raw([0x87], "R");
  w.raw("(").int(1).raw("(");
  for (const d of shape) w.int(d);
  w.raw("t", "cnumpy\ndtype\n").unicode("u1").raw([0x89, 0x88, 0x87], "R");
  w.raw("(").int(3).unicode("|").raw("NNN").int(-1).int(-1).int(0).raw("t", "b");
  w.raw([0x89]);
  encoded(data, w).raw("t", "b");
  w.unicode("labels").raw("]", "(");
  for (const l of labels) w.int(l);
  w.raw("e", "u", ".");
  return w.bytes();
}

/** Python 3, protocol 4: FRAME, STACK_GLOBAL, MEMOIZE/BINGET, BINBYTES data, numpy int64 scalar labels. */
function proto4Pickle(
  data: Uint8Array,
  shape: number[],
  labels: number[],
  options: { global?: [string, string] } = {},
): Uint8Array {
  const body = new Writer().raw("}", [0x94], "(");
  const memo: Record<string, number> = {};
  let next = 1;
  const global = (module: string, name: string) => {
    if (memo[module] === undefined) {
      body.unicode(module, true).raw([0x94]);
      memo[module] = next++;
    } else body.raw("h", [memo[module]!]);
    body.unicode(name, true).raw([0x94]);
    next++;
    body.raw([0x93, 0x94]);
    next++;
  };
  body.unicode("data", true).raw([0x94]);
  next++;
  if (options.global !== undefined) global(...options.global);
  global("numpy._core.multiarray", "_reconstruct");
  global("numpy", "ndarray");
  body.int(0).raw([0x85]).binbytes(Uint8Array.of(0x62)).raw([0x87], "R");
  body.raw("(").int(1).raw("(");
  for (const d of shape) body.int(d);
  body.raw("t");
  global("numpy", "dtype");
  body.unicode("u1", true).raw([0x89, 0x88, 0x87], "R");
  body.raw("(").int(3).unicode("|", true).raw("NNN").int(-1).int(-1).int(0).raw("t", "b");
  body.raw([0x89]).binbytes(data).raw("t", "b");
  body.unicode("labels", true).raw("]", "(");
  for (const l of labels) {
    global("numpy._core.multiarray", "scalar");
    global("numpy", "dtype");
    body.unicode("i8", true).raw([0x89, 0x88, 0x87], "R");
    body.raw("(").int(3).unicode("<", true).raw("NNN").int(-1).int(-1).int(0).raw("t", "b");
    const le = new Uint8Array(8);
    new DataView(le.buffer).setBigInt64(0, BigInt(l), true);
    body.binbytes(le).raw([0x86], "R");
  }
  body.raw("e", "u", ".");
  const b = body.bytes();
  return new Writer().raw([0x80, 4, 0x95], new Writer().le(b.length, 8), b).bytes();
}

/** Asserts the pattern of `rows` (source image indices) in the pixels of `r`. */
function assertRows(px: Uint8Array, rows: number[]): void {
  assert.equal(px.length, rows.length * 768);
  rows.forEach((src, i) => {
    for (let k = 0; k < 768; k++) {
      if (px[i * 768 + k] !== pixel(src, k)) {
        assert.fail(`image ${i} (source ${src}) byte ${k}: got ${px[i * 768 + k]}, want ${pixel(src, k)}`);
      }
    }
  });
}

/** Runs `fn` with a fresh temporary directory. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "untrained-in16-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts that `fn` throws a DatasetError whose message matches every pattern; returns it. */
function assertDatasetError(fn: () => unknown, ...patterns: RegExp[]): DatasetError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DatasetError, `expected a DatasetError, got ${caught}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

const LABELS = [1, 120, 121, 1000, 7, 120];
const FIXTURES = new URL("./fixtures/imagenet16/", import.meta.url);

// ---------- formats ----------

Deno.test("readImageNet16Pickle reads a Python 2 cPickle file (BINSTRING data, dtype BUILD) as views", () => {
  const bytes = py2Pickle(pixels(3), [3, 768], [5, 1, 1000]);
  assert.ok(isImageNet16Pickle(bytes));
  const r = readImageNet16Pickle(bytes, "val_data", 1000);
  assert.deepEqual([r.n, r.c, r.h, r.w], [3, 3, 16, 16]);
  assert.deepEqual(Array.from(r.labels), [4, 0, 999]);
  assertRows(r.pixels, [0, 1, 2]);
  assert.equal(
    r.pixels.buffer,
    bytes.buffer,
    "all images kept: the pixels are a view of the file, not a copy",
  );
  assert.equal(r.file, "val_data");
  assert.deepEqual(r.parts, [{ file: "val_data", first: 0, n: 3 }]);
});

Deno.test("readImageNet16Pickle reads Python 3 protocol 2 files whose bytes are _codecs.encode(str, latin1)", () => {
  const r = readImageNet16Pickle(py3Proto2Pickle(pixels(4), [4, 768], [3, 2, 1, 120]), "p2", 120);
  assert.deepEqual(Array.from(r.labels), [2, 1, 0, 119]);
  assertRows(r.pixels, [0, 1, 2, 3]);
});

Deno.test("readImageNet16Pickle reads protocol 4 (FRAME, BINBYTES, memo) with numpy int64 scalar labels", () => {
  const r = readImageNet16Pickle(proto4Pickle(pixels(3), [3, 768], [9, 100, 64]), "p4");
  assert.deepEqual(Array.from(r.labels), [8, 99, 63]);
  assertRows(r.pixels, [0, 1, 2]);
  // (N, 3, 16, 16) holds the same bytes in the same order
  const r4 = readImageNet16Pickle(proto4Pickle(pixels(2), [2, 3, 16, 16], [1, 2]), "p4d");
  assertRows(r4.pixels, [0, 1]);
});

for (const name of ["py2_proto0", "py2_proto2", "py3_proto0", "py3_proto2", "py3_proto4"]) {
  Deno.test(`loadImageNet16 reads ${name}, written by real Python (tests/fixtures/imagenet16/make.py)`, async () => {
    const url = new URL(name, FIXTURES);
    const all = await loadImageNet16(url, { classes: 1000 });
    assert.deepEqual(Array.from(all.labels), LABELS.map((l) => l - 1));
    assertRows(all.pixels, [0, 1, 2, 3, 4, 5]);
    const sub = await loadImageNet16(url);
    assert.deepEqual(Array.from(sub.labels), [0, 119, 6, 119]);
    assertRows(sub.pixels, [0, 1, 4, 5]);
  });
}

Deno.test("readImageNet16Pickle keeps only labels <= 120, mapped to 0..119, by default (ImageNet16-120)", () => {
  const r = readImageNet16Pickle(py2Pickle(pixels(6), [6, 768], LABELS), "val_data");
  assert.equal(r.n, 4);
  assert.deepEqual(Array.from(r.labels), [0, 119, 6, 119]);
  assertRows(r.pixels, [0, 1, 4, 5]);
  assert.equal(r.file, "val_data (ImageNet16-120)");
  assert.deepEqual(r.parts, [{ file: "val_data (ImageNet16-120)", first: 0, n: 4 }]);
  const r150 = readImageNet16Pickle(py2Pickle(pixels(6), [6, 768], LABELS), "val_data", 150);
  assert.deepEqual(Array.from(r150.labels), [0, 119, 120, 6, 119]);
});

Deno.test("readImageNet16File still reads 770-byte binary records, including labels whose bytes look like '(' or 0x80", () => {
  const bin = new Uint8Array(3 * 770);
  [40, 125, 640].forEach((label, r) => {
    bin[r * 770] = label & 255;
    bin[r * 770 + 1] = label >> 8;
    bin.set(pixels(1, r), r * 770 + 2);
  });
  assert.ok(!isImageNet16Pickle(bin));
  const r = readImageNet16File(bin, "x.bin");
  assert.deepEqual(Array.from(r.labels), [40, 125, 640]);
  assertRows(r.pixels, [0, 1, 2]);
});

// ---------- folders ----------

Deno.test("loadImageNet16 reads the train batches present in order, and val_data for split test", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(join(dir, "train_data_batch_1"), py2Pickle(pixels(3), [3, 768], [1, 500, 2]));
    await Deno.writeFile(join(dir, "train_data_batch_2"), proto4Pickle(pixels(2, 3), [2, 768], [3, 4]));
    await Deno.writeFile(join(dir, "val_data"), py3Proto2Pickle(pixels(2, 10), [2, 768], [120, 121]));
    const train = await loadImageNet16(dir, { split: "train" });
    assert.deepEqual(Array.from(train.labels), [0, 1, 2, 3]);
    assertRows(train.pixels, [0, 2, 3, 4]);
    const b1 = join(dir, "train_data_batch_1 (ImageNet16-120)");
    const b2 = join(dir, "train_data_batch_2 (ImageNet16-120)");
    assert.deepEqual(train.parts, [{ file: b1, first: 0, n: 2 }, { file: b2, first: 2, n: 2 }]);
    const test = await loadImageNet16(dir);
    assert.deepEqual(Array.from(test.labels), [119]);
    assertRows(test.pixels, [10]);
    // loadBatch: the folder, split and subset wire through; all labels are ImageNet16-120 classes
    const batch = await loadBatch({ dataset: "imagenet16", path: dir, split: "train", batch: 3, seed: 1 });
    assert.deepEqual([batch.n, batch.c, batch.h, batch.w, batch.classes], [3, 3, 16, 16, 120]);
    assert.ok(Array.from(batch.labels).every((l) => l >= 0 && l < 120));
    assert.match(batch.source, /train_data_batch_\d \(ImageNet16-120\) records/);
  });
});

Deno.test("loadImageNet16 finds the official Imagenet16_train/ and Imagenet16_val/ sub-folders", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "Imagenet16_train"));
    await Deno.mkdir(join(dir, "Imagenet16_val"));
    await Deno.writeFile(
      join(dir, "Imagenet16_train", "train_data_batch_3"),
      proto4Pickle(pixels(1), [1, 768], [7]),
    );
    await Deno.writeFile(join(dir, "Imagenet16_val", "val_data"), proto4Pickle(pixels(2), [2, 768], [8, 9]));
    assert.deepEqual(Array.from((await loadImageNet16(dir, { split: "train" })).labels), [6]);
    assert.deepEqual(Array.from((await loadImageNet16(dir, { split: "test" })).labels), [7, 8]);
  });
});

Deno.test("loadImageNet16 fails naming the expected files when a folder holds none of the split", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(join(dir, "val_data"), proto4Pickle(pixels(1), [1, 768], [1]));
    await Deno.writeFile(join(dir, "other.bin"), new Uint8Array(770));
    await assert.rejects(
      () => loadImageNet16(dir, { split: "train" }),
      (e: unknown) =>
        e instanceof DatasetError && /train_data_batch_1\.\.train_data_batch_10/.test(e.message) &&
        /Imagenet16_train\//.test(e.message) && /found: other\.bin, val_data/.test(e.message) &&
        /\.bin file of 770-byte records/.test(e.message),
    );
  });
});

// ---------- refused and broken files ----------

Deno.test("readImageNet16Pickle fails naming the byte offset when a pickle is truncated", () => {
  const full = py2Pickle(pixels(2), [2, 768], [1, 2]);
  const cut = full.subarray(0, full.length - 700); // inside the BINSTRING of the pixels
  const e = assertDatasetError(
    () => readImageNet16Pickle(cut, "cut"),
    /^cut: truncated pickle: 1536 bytes needed from byte offset \d+/,
    /BINSTRING \('T'\)/,
  );
  assert.equal(e.file, "cut");
  assert.ok(e.offset !== undefined && e.offset > 0 && e.offset < cut.length);
  assertDatasetError(
    () => readImageNet16Pickle(full.subarray(0, full.length - 1), "nostop"),
    /without a STOP/,
  );
});

Deno.test("readImageNet16Pickle refuses a global outside the whitelist (os.system) and names it", () => {
  const evil = new Writer().raw([0x80, 2], "cos\nsystem\n").unicode("echo hi").raw([0x85], "R", ".").bytes();
  assertDatasetError(
    () => readImageNet16Pickle(evil, "evil"),
    /^evil: refused global os\.system at byte offset 2/,
  );
  // a protocol 4 STACK_GLOBAL is refused the same way, before anything is called
  const evil4 = proto4Pickle(pixels(1), [1, 768], [1], { global: ["builtins", "eval"] });
  assertDatasetError(
    () => readImageNet16Pickle(evil4, "evil4"),
    /refused global builtins\.eval at byte offset \d+ .*STACK_GLOBAL/,
  );
});

Deno.test("readImageNet16Pickle fails when data is not N x 768 uint8", () => {
  assertDatasetError(
    () => readImageNet16Pickle(proto4Pickle(new Uint8Array(2 * 700), [2, 700], [1, 2]), "bad"),
    /^bad: 'data' at byte offset \d+ is ndarray uint8 \(2, 700\); expected a C-order uint8 array of shape \(N, 768\)/,
  );
});

Deno.test("readImageNet16Pickle fails when labels and data rows differ in number", () => {
  assertDatasetError(
    () => readImageNet16Pickle(py2Pickle(pixels(3), [3, 768], [1, 2]), "short"),
    /^short: 'labels' has 2 entries but 'data' has 3 rows/,
  );
});

Deno.test("readImageNet16Pickle fails naming the record and offset when a label is 0 or 1001", () => {
  for (const bad of [0, 1001]) {
    const bytes = py2Pickle(pixels(3), [3, 768], [1, bad, 2]);
    const e = assertDatasetError(
      () => readImageNet16Pickle(bytes, "val_data"),
      new RegExp(
        `^val_data: label ${bad} of record 1 \\(labels\\[1\\]; its pixels at byte offset \\d+\\); .*1\\.\\.1000`,
      ),
    );
    // the offset is where record 1's pixels start in the file
    assert.deepEqual(
      Array.from(bytes.subarray(e.offset!, e.offset! + 768)),
      Array.from(pixels(2).subarray(768)),
    );
  }
});

Deno.test("readImageNet16Pickle fails when the pickle is not the ImageNet16 dict", () => {
  const list = new Writer().raw([0x80, 2], "]", ".").bytes();
  assertDatasetError(() => readImageNet16Pickle(list, "l"), /^l: the pickle holds list of 0, not the dict/);
  const noLabels = new Writer().raw([0x80, 2], "}").str2("data").raw("N", "s", ".").bytes();
  assertDatasetError(() => readImageNet16Pickle(noLabels, "n"), /lacks 'labels'; it has keys data/);
  const proto5 = new Writer().raw([0x80, 5, 0x96], new Writer().le(1, 8), [0], ".").bytes();
  assertDatasetError(() => readImageNet16Pickle(proto5, "p5"), /unsupported opcode .*BYTEARRAY8/);
});
