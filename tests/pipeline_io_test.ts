// Tests of pipeline/_io.ts (atomic writes, JSONL, CSV, float formatting, hashes, manifest, metrics),
// pipeline/_progress.ts and the rank stage's file shell.

import assert from "node:assert/strict";
import { DataError, UsageError } from "../pipeline/_errors.ts";
import {
  appendMetrics,
  formatFloat,
  parseCsv,
  parseFloatField,
  parseIntField,
  parseJsonl,
  readCsv,
  readJsonl,
  roundFloats,
  sha256File,
  stableStringify,
  toCsv,
  toJsonl,
  writeFileAtomic,
  writeManifest,
} from "../pipeline/_io.ts";
import { formatDuration, Progress } from "../pipeline/_progress.ts";
import { RANKED_COLUMNS, rankedRowFromCsv, SCORE_COLUMNS } from "../pipeline/_schema.ts";
import { runRank } from "../pipeline/rank.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pipeline_io_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

function isUsageErrorMentioning(...parts: string[]): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    for (const part of parts) {
      assert.ok(err.message.includes(part), `"${err.message}" should mention "${part}"`);
    }
    return true;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Atomic writes

Deno.test("writeFileAtomic writes the text and leaves no tmp file when the folder exists", async () => {
  await withTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/out.csv`, "a,b\n1,2\n");
    await writeFileAtomic(`${dir}/out.csv`, "a,b\n3,4\n");
    assert.equal(await Deno.readTextFile(`${dir}/out.csv`), "a,b\n3,4\n");
    assert.deepEqual(await listDir(dir), ["out.csv"]);
  });
});

Deno.test("writeFileAtomic throws a UsageError and writes nothing when the folder is missing", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nope/out.csv`;
    await assert.rejects(writeFileAtomic(path, "x\n"), isUsageErrorMentioning(path, `${dir}/nope`));
    assert.deepEqual(await listDir(dir), []);
  });
});

// ---------------------------------------------------------------------------------------------------------
// JSON / JSONL

Deno.test("toJsonl sorts keys recursively and ends every line with LF when records are nested", () => {
  const text = toJsonl([{ b: 1, a: { d: [{ z: 1, y: 2 }], c: "x" } }, { "5": 0, "10": 1 }]);
  assert.equal(text, '{"a":{"c":"x","d":[{"y":2,"z":1}]},"b":1}\n{"10":1,"5":0}\n');
  assert.equal(toJsonl([]), "");
  assert.deepEqual(parseJsonl("x.jsonl", text), [{ a: { c: "x", d: [{ y: 2, z: 1 }] }, b: 1 }, {
    "5": 0,
    "10": 1,
  }]);
});

Deno.test("stableStringify indents, drops undefined and writes null when numbers are not finite", () => {
  assert.equal(stableStringify({ b: [1, -Infinity], a: undefined, c: NaN }), '{"b":[1,null],"c":null}');
  assert.equal(stableStringify({ b: { y: 1 }, a: [] }, 2), '{\n  "a": [],\n  "b": {\n    "y": 1\n  }\n}');
  assert.equal(stableStringify(-0), "0");
});

Deno.test("roundFloats rounds nested non-integers to 6 decimals when asked", () => {
  assert.deepEqual(roundFloats({ a: [0.1234567891, 3], b: -1e-9, c: -Infinity }), {
    a: [0.123457, 3],
    b: 0,
    c: -Infinity,
  });
});

Deno.test("readJsonl names the file and line when a line is not valid JSON", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/archs.jsonl`;
    await Deno.writeTextFile(path, '{"a":1}\n\n{"a":2}\n{"a":\n');
    await assert.rejects(readJsonl(path), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.match(err.message, new RegExp(`^${path}:4: invalid JSON`));
      return true;
    });
    assert.throws(
      () => parseJsonl("x.jsonl", '{"a":1}\r\n[1]\r\n'),
      /^DataError: x\.jsonl:2: expected a JSON object/,
    );
    await assert.rejects(readJsonl(`${dir}/missing.jsonl`), isUsageErrorMentioning(`${dir}/missing.jsonl`));
  });
});

// ---------------------------------------------------------------------------------------------------------
// CSV

Deno.test("parseCsv returns string fields and file lines when fields are quoted or lines are blank", () => {
  const text = '\uFEFFid,name,note\n1,a,plain\n\n2,"b,c","two\nlines"\n3,"say ""hi""",\n';
  const table = parseCsv("t.csv", text, ["id", "note"]);
  assert.deepEqual(table.columns, ["id", "name", "note"]);
  assert.deepEqual(table.rows, [
    { id: "1", name: "a", note: "plain" },
    { id: "2", name: "b,c", note: "two\nlines" },
    { id: "3", name: 'say "hi"', note: "" },
  ]);
  assert.deepEqual(table.lines, [2, 4, 6]);
  const crlf = parseCsv("t.csv", "a,b\r\n1,2\r\n", ["a"]);
  assert.deepEqual(crlf.rows, [{ a: "1", b: "2" }]);
});

Deno.test("parseCsv names the file, line and missing columns when required columns are absent", () => {
  assert.throws(
    () => parseCsv("scores.csv", "index,arch_str\n1,x\n", ["index", "score", "seed"]),
    (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.equal(
        err.message,
        'scores.csv:1: missing columns "score", "seed"; available columns: index, arch_str',
      );
      return true;
    },
  );
});

Deno.test("parseCsv names the file and line when a row has the wrong number of fields or bad quotes", () => {
  assert.throws(() => parseCsv("s.csv", "a,b\n1,2\n3\n", []), /^DataError: s\.csv:3: expected 2 fields/);
  assert.throws(() => parseCsv("s.csv", 'a,b\n1,2\n3,"4\n', []), /^DataError: s\.csv:3: /);
  assert.throws(() => parseCsv("s.csv", "", []), /s\.csv: empty CSV/);
  assert.throws(() => parseCsv("s.csv", "a,a\n", []), /duplicate column "a"/);
});

Deno.test("toCsv quotes only when needed and round-trips through parseCsv when fields are awkward", () => {
  const rows = [
    { index: 1, text: "plain", other: "a,b" },
    { index: 2, text: 'q"uote', other: "line\nbreak" },
    { index: 3, text: " pad", other: "" },
  ];
  const text = toCsv(["index", "text", "other"], rows);
  assert.equal(text, 'index,text,other\n1,plain,"a,b"\n2,"q""uote","line\nbreak"\n3," pad",\n');
  assert.deepEqual(parseCsv("r.csv", text, []).rows, rows.map((r) => ({ ...r, index: String(r.index) })));
  assert.equal(toCsv(["a"], []), "a\n");
  assert.throws(() => toCsv(["a"], [{ a: 0.5 }]), /formatFloat/);
  assert.throws(() => toCsv(["a", "b"], [{ a: 1 }]), /no column "b"/);
});

// ---------------------------------------------------------------------------------------------------------
// Numbers

Deno.test("formatFloat never prints -0 and writes inf/-inf/nan when values are edge cases", () => {
  assert.equal(formatFloat(-0, 3), "0.000");
  assert.equal(formatFloat(-0.0000001, 6), "0.000000");
  assert.equal(formatFloat(-0.4, 0), "0");
  assert.equal(formatFloat(-0.5000001, 0), "-1");
  assert.equal(formatFloat(-0.0000006, 6), "-0.000001");
  assert.equal(formatFloat(1.5, 6), "1.500000");
  assert.equal(formatFloat(-776.44286, 6), "-776.442860");
  assert.equal(formatFloat(123, 0), "123");
  assert.equal(formatFloat(1e21, 2), "1000000000000000000000.00");
  assert.equal(formatFloat(-2.5e22, 1), "-25000000000000000000000.0");
  assert.equal(formatFloat(Infinity, 6), "inf");
  assert.equal(formatFloat(-Infinity, 6), "-inf");
  assert.equal(formatFloat(NaN, 6), "nan");
  assert.throws(() => formatFloat(1, -1), RangeError);
  assert.throws(() => formatFloat(1, 1.5), RangeError);
});

Deno.test("parseFloatField accepts what formatFloat writes and rejects junk when parsing fields", () => {
  const cases: [number, number][] = [
    [0, 0],
    [1.5, 1.5],
    [-776.44286, -776.44286],
    [1e-7, 0],
    [3e25, 3e25],
    [Infinity, Infinity],
    [-Infinity, -Infinity],
  ];
  for (const [x, back] of cases) {
    assert.equal(parseFloatField(formatFloat(x, 6)), back);
  }
  assert.ok(Number.isNaN(parseFloatField("nan")));
  assert.equal(parseFloatField(" -INF "), -Infinity);
  assert.equal(parseFloatField("+inf"), Infinity);
  assert.equal(parseFloatField("Infinity"), Infinity);
  assert.equal(parseFloatField("1e-3"), 0.001);
  assert.equal(parseFloatField(".5"), 0.5);
  for (const bad of ["", "abc", "1.2x", "0x10", "1,5", "--1"]) {
    assert.throws(
      () => parseFloatField(bad, "f.csv:3: column score"),
      /^DataError: f\.csv:3: column score: /,
    );
  }
});

Deno.test("parseIntField accepts integers and rejects fractions when parsing fields", () => {
  assert.equal(parseIntField("42"), 42);
  assert.equal(parseIntField(" -7 "), -7);
  assert.equal(Object.is(parseIntField("-0"), 0), true);
  for (const bad of ["1.0", "", "1e3", "99999999999999999999"]) {
    assert.throws(() => parseIntField(bad), DataError);
  }
});

// ---------------------------------------------------------------------------------------------------------
// Hashes, manifest, metrics

Deno.test("sha256File returns the known hex digest when the file holds abc", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/abc.txt`, "abc");
    assert.equal(
      await sha256File(`${dir}/abc.txt`),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    await assert.rejects(sha256File(`${dir}/none`), isUsageErrorMentioning(`${dir}/none`));
  });
});

Deno.test("writeManifest writes a byte-stable sorted manifest with input hashes when run twice", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/scores.csv`, "abc");
    const info = {
      command: ["rank", "--in", `${dir}/scores.csv`],
      stage: "rank",
      versions: { untrained: "0.1.0", deno: "2.9.6" },
      seeds: { sample: 0, init: [1, 2] },
      inputs: [{ path: `${dir}/scores.csv` }],
      params: { topk: [1, 5, 10], metric: "cifar10valid_valid_200" },
    };
    const path = await writeManifest(dir, info);
    const first = await Deno.readTextFile(path);
    await writeManifest(dir, info);
    assert.equal(await Deno.readTextFile(path), first);
    assert.equal(path, `${dir}/manifest.json`);
    const manifest = JSON.parse(first);
    assert.deepEqual(Object.keys(manifest), ["schema", "stages"]);
    assert.deepEqual(Object.keys(manifest.stages.rank), ["command", "inputs", "params", "seeds", "versions"]);
    assert.equal(manifest.schema, 1);
    await writeManifest(dir, { ...info, stage: "evaluate" });
    const both = JSON.parse(await Deno.readTextFile(path));
    assert.deepEqual(Object.keys(both.stages), ["evaluate", "rank"]);
    assert.deepEqual(manifest.stages.rank.inputs, [{
      bytes: 3,
      path: `${dir}/scores.csv`,
      sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    }]);
    assert.ok(first.endsWith("}\n") && !/time/i.test(first));
    await assert.rejects(
      writeManifest(dir, { ...info, inputs: [{ path: `${dir}/gone.csv` }] }),
      isUsageErrorMentioning(`${dir}/gone.csv`),
    );
    await assert.rejects(writeManifest(`${dir}/sub`, info), isUsageErrorMentioning(`${dir}/sub`));
  });
});

Deno.test("appendMetrics appends one sorted line with a timestamp when called twice", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/metrics.jsonl`;
    await appendMetrics(path, { stage: "score", seconds: 1.5 });
    await appendMetrics(path, { stage: "rank", seconds: 0.25, timestamp: "fixed" });
    const records = await readJsonl(path);
    assert.equal(records.length, 2);
    assert.match(String(records[0]?.["timestamp"]), /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(records[1], { seconds: 0.25, stage: "rank", timestamp: "fixed" });
    await assert.rejects(appendMetrics(`${dir}/x/metrics.jsonl`, {}), isUsageErrorMentioning(`${dir}/x`));
  });
});

// ---------------------------------------------------------------------------------------------------------
// Progress

Deno.test("Progress prints throttled lines and a final line when active", () => {
  const out: string[] = [];
  let now = 0;
  const progress = new Progress(10, {
    label: "score",
    active: true,
    write: (t) => out.push(t),
    now: () => now,
  });
  now = 1000;
  progress.tick(); // first update always prints
  now = 1200;
  progress.tick(); // within 0.5 s: suppressed
  now = 2000;
  progress.tick(3);
  assert.equal(out.length, 2);
  assert.equal(out[1], "\r\x1b[2Kscore 5/10 (50.0%), 2.50/s, ETA 0:02");
  now = 4000;
  progress.update(10);
  progress.finish();
  progress.finish();
  assert.equal(out.at(-1), "\r\x1b[2Kscore 10/10, 2.50/s, 0:04 elapsed\n");
  assert.equal(out.length, 4);
});

Deno.test("Progress stays silent when quiet or inactive", () => {
  const out: string[] = [];
  for (const options of [{ quiet: true, active: true }, { active: false }]) {
    const progress = new Progress(3, { ...options, write: (t) => out.push(t) });
    progress.tick();
    progress.finish();
    assert.equal(progress.done, 1);
  }
  assert.deepEqual(out, []);
  assert.equal(formatDuration(3725), "1:02:05");
  assert.equal(formatDuration(Infinity), "?");
});

// ---------------------------------------------------------------------------------------------------------
// rank shell

const SCORES_CSV = [
  SCORE_COLUMNS.join(","),
  "3,a3,naswot,cifar10,128,0,-inf,100",
  "1,a1,naswot,cifar10,128,0,2.000000,100",
  "2,a2,naswot,cifar10,128,0,2.000000,100",
  "0,a0,naswot,cifar10,128,0,7.250000,100",
  "",
].join("\n");

Deno.test("runRank writes ranked.csv atomically with -inf last when scores tie", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/scores.csv`, SCORES_CSV);
    await runRank({ inPath: `${dir}/scores.csv`, outPath: `${dir}/ranked.csv` });
    const text = await Deno.readTextFile(`${dir}/ranked.csv`);
    assert.equal(
      text,
      [
        RANKED_COLUMNS.join(","),
        "0,a0,naswot,cifar10,128,0,7.250000,100,1,1.0",
        "1,a1,naswot,cifar10,128,0,2.000000,100,2,2.5",
        "2,a2,naswot,cifar10,128,0,2.000000,100,3,2.5",
        "3,a3,naswot,cifar10,128,0,-inf,100,4,4.0",
        "",
      ].join("\n"),
    );
    assert.deepEqual(await listDir(dir), ["ranked.csv", "scores.csv"]);
    const table = await readCsv(`${dir}/ranked.csv`, RANKED_COLUMNS);
    assert.equal(rankedRowFromCsv(table.rows[3] ?? {}, "ranked.csv:5").score, -Infinity);
  });
});

Deno.test("runRank names the file and line when a score is nan or a column is missing", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/scores.csv`;
    await Deno.writeTextFile(path, SCORES_CSV.replace("2.000000,100\n2", "nan,100\n2"));
    await assert.rejects(
      runRank({ inPath: path, outPath: `${dir}/r.csv` }),
      new RegExp(`${path}:3: score is nan`),
    );
    await Deno.writeTextFile(path, "index,arch_str,score\n1,a,2\n");
    await assert.rejects(runRank({ inPath: path, outPath: `${dir}/r.csv` }), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.match(
        err.message,
        new RegExp(`^${path}:1: missing columns "proxy", "dataset", "batch", "seed"`),
      );
      return true;
    });
    await Deno.writeTextFile(path, SCORES_CSV.replace("128,0,-inf", "12x,0,-inf"));
    await assert.rejects(runRank({ inPath: path, outPath: `${dir}/r.csv` }), /scores\.csv:2: column batch/);
    await assert.rejects(
      runRank({ inPath: `${dir}/none.csv`, outPath: `${dir}/r.csv` }),
      isUsageErrorMentioning(`${dir}/none.csv`),
    );
    assert.deepEqual(await listDir(dir), ["scores.csv"]);
  });
});
