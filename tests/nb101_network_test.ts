// NAS-Bench-101 networks: the plan's parameter count equals the published count, and the GPU forward pass
// (with the new max-pool and channel-slice node terms) matches an independent float64 forward of NB101's
// model builder.
import { assertReluInputs } from "./_relu_inputs.ts";
import { lowerNb101 } from "../spaces/nb101_network.ts";
import {
  canonicalCell,
  nb101Params,
  type Nb101Spec,
  parseCell,
  pruneSpec,
  vertexChannels,
} from "../spaces/nb101.ts";
import { allArchs, parseArchList, sampleArchs } from "../pipeline/sample.ts";
import { parseBenchTable } from "../pipeline/evaluate.ts";
import { initParams, type Params } from "../spaces/init.ts";
import { runForward } from "../proxies/_forward.ts";
import { assertClose, randomFloats, testGpu } from "./_helpers.ts";
import { batchNorm, concat, conv2d, head, maxPool2, pool3, relu, type T4, zeros } from "./reference.ts";

const gpu = await testGpu();

const CELLS = {
  // The NB101 dataset's first key (00005c142e6f48ac74fdcf73e3439874): 8,555,530 parameters at stem 128.
  first:
    "0100110001000000010010000010000001000000010000000:input;conv3x3-bn-relu;maxpool3x3;conv3x3-bn-relu;conv3x3-bn-relu;conv1x1-bn-relu;output",
  // Input -> output only: the cell is one projection.
  trivial: "0100:input;output",
  // The input feeds the output (projection added to the concat) and two vertices; 3 output feeders (uneven split).
  // 0->1, 0->2, 0->6 (projection added to the concat), 1->3 (6 channels truncated to 5), 2->4 (pool of a
  // pool), 3->5, and 1, 4, 5 feeding the output (16 channels split 6 + 5 + 5).
  wide:
    "0110001000100100001000000001000000010000000100000000:input;conv1x1-bn-relu;maxpool3x3;conv3x3-bn-relu;maxpool3x3;conv3x3-bn-relu;output"
      .replace(
        /^[01]+/,
        ["0110001", "0001001", "0000100", "0000010", "0000001", "0000001", "0000000"].join(""),
      ),
};

Deno.test("NB101 plan parameter counts equal the published counts (8,555,530 for the first dataset key)", () => {
  const first = parseCell(CELLS.first);
  if (lowerNb101(first, CELLS.first).paramCount !== 8555530) throw new Error("first cell");
  for (const [name, s] of Object.entries(CELLS)) {
    const spec = parseCell(s);
    for (const stem of [16, 128]) {
      const got = lowerNb101(spec, s, { stem }).paramCount;
      const want = nb101Params(spec, { stem });
      if (got !== want) throw new Error(`${name} stem ${stem}: plan ${got}, nb101Params ${want}`);
    }
  }
});

// --- An independent float64 NB101 forward (model_builder semantics) ---

function channels(x: T4, from: number, count: number): T4 {
  const y = zeros(x.n, count, x.h, x.w);
  const hw = x.h * x.w;
  for (let n = 0; n < x.n; n++) {
    y.d.set(x.d.subarray((n * x.c + from) * hw, (n * x.c + from + count) * hw), n * count * hw);
  }
  return y;
}
const sum = (xs: T4[]): T4 => ({ ...xs[0]!, d: xs[0]!.d.map((_, i) => xs.reduce((s, x) => s + x.d[i]!, 0)) });

/** NB101 forward: logits and the input of every ReLU (BN outputs), by the plan's tensor names. */
function nb101Ref(spec: Nb101Spec, params: Params, x: T4, stem: number, classes: number) {
  const cell = pruneSpec(spec);
  const p = (name: string) => params.get(name)!;
  const reluIn = new Map<string, T4>();
  const cbr = (name: string, src: T4, cout: number, k: number): T4 => {
    const bn = batchNorm(
      conv2d(src, p(`${name}.conv.weight`), cout, k, 1, (k - 1) / 2),
      p(`${name}.bn.weight`),
      p(`${name}.bn.bias`),
    );
    reluIn.set(name, bn);
    return relu(bn);
  };
  let cur = cbr("stem", x, stem, 3);
  let g = 0;
  const n = cell.ops.length;
  const m = cell.matrix;
  for (let s = 0; s < 3; s++) {
    if (s > 0) cur = maxPool2(cur);
    const cout = s === 0 ? stem : 2 * cur.c;
    for (let k = 0; k < 3; k++, g++) {
      const ch = vertexChannels(cur.c, cout, cell);
      const out: T4[] = [cur];
      for (let v = 1; v < n - 1; v++) {
        const ins: T4[] = [];
        for (let u = 1; u < v; u++) if (m[u]![v]) ins.push(channels(out[u]!, 0, ch[v]!));
        if (m[0]![v]) ins.push(cbr(`cells.${g}.proj${v}`, cur, ch[v]!, 1));
        const vin = sum(ins);
        const op = cell.ops[v]!;
        out.push(
          op === "maxpool3x3"
            ? pool3(vin, 1, true)
            : cbr(`cells.${g}.vertex${v}`, vin, ch[v]!, op === "conv3x3-bn-relu" ? 3 : 1),
        );
      }
      const feeders = out.filter((_, u) => u > 0 && u < n - 1 && m[u]![n - 1]);
      let y = feeders.length > 0 ? concat(feeders) : null;
      if (m[0]![n - 1]) {
        const pr = cbr(`cells.${g}.proj_out`, cur, cout, 1);
        y = y ? sum([y, pr]) : pr;
      }
      cur = y!;
    }
  }
  return { logits: head(cur, p("classifier.weight"), p("classifier.bias"), classes), reluIn };
}

for (const [name, s] of Object.entries(CELLS)) {
  Deno.test({
    name: `GPU forward matches the float64 NB101 forward for the ${name} cell (stem 16, batch 4)`,
    ignore: gpu === null,
    async fn() {
      const spec = parseCell(s);
      const plan = lowerNb101(spec, s, { stem: 16 });
      const params = initParams(plan, 3);
      const n = 4;
      const x = randomFloats(n * 3 * 32 * 32, 9, -2, 2);
      const xb = gpu!.upload(x, "x");
      const r = await runForward(gpu!, plan, params, xb, n, {
        naswot: true,
        logits: true,
        keepTensors: true,
      });
      xb.destroy();
      const ref = nb101Ref(spec, params, { n, c: 3, h: 32, w: 32, d: Float64Array.from(x) }, 16, 10);
      const reluIn = new Map([...ref.reluIn].map(([name, t]) => [name, { t, count: 1 }]));
      assertReluInputs(plan, r, reluIn, n, 1e-3);
      assertClose(r.logits!, ref.logits, 1e-3, "logits");
    },
  });
}

Deno.test("nb101 through the pipeline: --from reads the NASLib CSV layout (index = row), bench tables join by row", () => {
  const csv = [
    "adjacency_rowmajor_7x7,ops,val_accuracy",
    `${"0".repeat(6)}1${
      "0".repeat(42)
    },input;conv3x3-bn-relu;conv3x3-bn-relu;conv3x3-bn-relu;conv3x3-bn-relu;conv3x3-bn-relu;output,83.5`,
    `${CELLS.first.split(":")[0]},${CELLS.first.split(":")[1]},91.2`,
  ].join("\n");
  const recs = parseArchList("t.csv", csv, "nb101-stem16");
  if (recs.length !== 2 || recs[0]!.index !== 0 || recs[1]!.index !== 1) {
    throw new Error(JSON.stringify(recs));
  }
  // Dangling vertices are pruned: row 0 is the input -> output cell.
  if (recs[0]!.arch_str !== "0100:input;output") throw new Error(recs[0]!.arch_str);
  const bench = parseBenchTable("t.csv", csv);
  if (
    bench.rows.get(1)!.arch_str !== recs[1]!.arch_str || bench.rows.get(0)!.values["val_accuracy"] !== "83.5"
  ) {
    throw new Error("bench table layout");
  }
  // Random cells: seeded, valid, canonical; no index order.
  const a = sampleArchs(5, 2, false, "nb101");
  if (JSON.stringify(a) !== JSON.stringify(sampleArchs(5, 2, false, "nb101"))) throw new Error("seeded");
  for (const r of a) {
    if (r.index !== -1 || canonicalCell(r.arch_str) !== r.arch_str) throw new Error(JSON.stringify(r));
  }
  let refused = false;
  try {
    allArchs("nb101");
  } catch (e) {
    refused = /no enumeration/.test((e as Error).message);
  }
  if (!refused) throw new Error("--all on nb101 must be refused");
});
