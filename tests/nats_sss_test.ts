// NATS-Bench size space: encoding, index order, sampling, mutation, lowering (parameter counts), and the
// space interface the pipeline uses.
import assert from "node:assert/strict";
import { NATS_SSS_SIZE, natsSss, parseWidths } from "../spaces/nats_sss.ts";
import { getSpace, SPACES } from "../spaces/registry.ts";
import { ArchParseError } from "../spaces/space.ts";
import { Rng } from "../spaces/rng.ts";
import { sampleIndices } from "../spaces/nb201.ts";
import { allArchs, parseArchList, sampleArchs } from "../pipeline/sample.ts";
import { checkArchRecords } from "../pipeline/build.ts";

function parseError(fn: () => unknown): ArchParseError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ArchParseError, `expected ArchParseError, got ${String(e)}`);
    return e;
  }
  throw new Error("expected a parse error");
}

Deno.test("nats-sss index is the base-8 number of the widths, c0 most significant", () => {
  assert.equal(natsSss.indexOf("8:8:8:16:40"), 12);
  assert.equal(natsSss.indexOf("8:8:8:8:8"), 0);
  assert.equal(natsSss.indexOf("64:64:64:64:64"), 32767);
  assert.equal(natsSss.indexOf("16:8:8:8:8"), 4096);
  assert.equal(natsSss.archAt(12), "8:8:8:16:40");
  for (let i = 0; i < NATS_SSS_SIZE; i += 97) assert.equal(natsSss.indexOf(natsSss.archAt(i)), i);
});

Deno.test("nats-sss parse errors name the bad token and its position", () => {
  const e1 = parseError(() => parseWidths("8:8:12:16:40"));
  assert.equal(e1.token, "12");
  assert.equal(e1.position, 5);
  assert.match(e1.message, /bad width 3/);
  const e2 = parseError(() => parseWidths("8:8:8:16"));
  assert.match(e2.message, /too few widths \(found 4\)/);
  const e3 = parseError(() => parseWidths("8:8:8:16:40:8"));
  assert.equal(e3.token, "8");
  assert.equal(e3.position, 13);
  const e4 = parseError(() => parseWidths("8:08:8:16:40"));
  assert.equal(e4.token, "08");
  parseError(() => parseWidths(""));
  parseError(() => parseWidths("8:8:8:16:x"));
  parseError(() => natsSss.parseLine("32768"));
  assert.equal(natsSss.parseLine(" 12 "), "8:8:8:16:40");
  assert.equal(natsSss.canonical("  8:8:8:16:40 "), "8:8:8:16:40");
});

Deno.test("nats-sss parameter counts: 8:8:8:16:40 has 67,378 (NATS-Bench 0.067378 MB), 8:8:8:8:8 11,714", () => {
  const p12 = natsSss.lower("8:8:8:16:40", { classes: 10 });
  assert.equal(p12.paramCount, 67378);
  // NATS-Bench reports 7.991706 MFLOPs: our 7,991,696 MACs plus the classifier's 10 bias additions.
  assert.equal(p12.macs, 7991696);
  // Hand count: stem 232, each cell 5 convs x 592, each block 592 + 592 + 64, lastact 16, head 90.
  assert.equal(natsSss.lower("8:8:8:8:8", { classes: 10 }).paramCount, 11714);
  assert.equal(natsSss.lower("64:64:64:64:64", { classes: 10 }).paramCount, 713674);
  assert.equal(p12.space, "nats-sss");
  assert.equal(p12.arch, "8:8:8:16:40");
});

Deno.test("nats-sss width-changing cells carry the NATS-Bench node-0 edges", () => {
  const plan = natsSss.lower("8:16:24:16:8");
  const names = plan.params.map((p) => p.name);
  // Cell 2 maps 16 -> 24: its skip (edge 0->3) is Conv1x1 + BN, its convolutions read 16 channels.
  assert.ok(names.includes("cells.2.edge03.conv.weight"));
  assert.deepEqual(plan.params.find((p) => p.name === "cells.2.edge03.conv.weight")!.shape, [24, 16, 1, 1]);
  assert.deepEqual(plan.params.find((p) => p.name === "cells.2.edge01.conv.weight")!.shape, [24, 16, 3, 3]);
  assert.deepEqual(plan.params.find((p) => p.name === "cells.2.edge12.conv.weight")!.shape, [24, 24, 3, 3]);
  // Cell 0 keeps its width: a plain identity skip, no parameters.
  assert.ok(!names.includes("cells.0.edge03.conv.weight"));
});

Deno.test("nats-sss sampling is seeded, prefix-stable, and mutation changes exactly one width", () => {
  const a = natsSss.sample(50, 3, { replace: false });
  assert.deepEqual(a, natsSss.sample(50, 3, { replace: false }));
  assert.deepEqual(a.slice(0, 10), natsSss.sample(10, 3, { replace: false }));
  assert.equal(new Set(a).size, 50);
  assert.notDeepEqual(a, natsSss.sample(50, 4, { replace: false }));
  const rng = new Rng(5);
  for (let t = 0; t < 200; t++) {
    const i = rng.int(NATS_SSS_SIZE);
    const j = natsSss.mutate(i, rng);
    const x = natsSss.archAt(i).split(":");
    const y = natsSss.archAt(j).split(":");
    assert.equal(x.filter((w, k) => w !== y[k]).length, 1, `${x} -> ${y}`);
  }
});

Deno.test("the space registry serves nb201 unchanged through the interface", () => {
  assert.deepEqual([...SPACES.keys()], ["nb201", "nats-sss", "nb101", "nb101-stem16", "darts"]);
  const nb = getSpace("nb201");
  assert.deepEqual(nb.sample(20, 7, { replace: true }), sampleIndices(20, 7, { replace: true }));
  assert.equal(nb.indexOf(nb.archAt(9930)), 9930);
  assert.throws(
    () => getSpace("nb999"),
    /unknown search space "nb999"; known: nb201, nats-sss, nb101, nb101-stem16, darts/,
  );
});

Deno.test("sample stage draws, lists and parses nats-sss architectures", () => {
  const s = sampleArchs(5, 1, false, "nats-sss");
  assert.equal(s.length, 5);
  for (const r of s) assert.equal(natsSss.indexOf(r.arch_str), r.index);
  assert.equal(allArchs("nats-sss").length, 32768);
  const l = parseArchList("l.txt", "# c\n12\n64:64:64:64:64\n", "nats-sss");
  assert.deepEqual(l.map((r) => r.index), [12, 32767]);
  assert.throws(() => parseArchList("l.txt", "8:8:8:16:41\n", "nats-sss"), /l\.txt:1: bad width 5/);
});

Deno.test("archs.jsonl records whose index does not match their arch string are refused, naming the line", () => {
  const ok = checkArchRecords("a.jsonl", [{ space: "nats-sss", index: 12, arch_str: "8:8:8:16:40" }]);
  assert.equal(ok[0]!.index, 12);
  assert.throws(
    () => checkArchRecords("a.jsonl", [{ space: "nats-sss", index: 13, arch_str: "8:8:8:16:40" }]),
    /a\.jsonl:1: "index" 13 does not match arch_str 8:8:8:16:40 \(index 12\)/,
  );
  assert.throws(
    () => checkArchRecords("a.jsonl", [{ space: "nb999", index: 0, arch_str: "x" }]),
    /a\.jsonl:1: unknown space "nb999"/,
  );
  // Spaces without an index order take any index >= -1 (rows of a benchmark file, or -1).
  const nb = checkArchRecords("a.jsonl", [{ space: "nb101", index: 7, arch_str: "0100:input;output" }]);
  assert.equal(nb[0]!.index, 7);
});
