// DARTS networks (NASLib's NB301 model): the plan's parameter count equals dartsNetworkCost's "naslib" count
// (all 725 rows of NASLib's NB301 zero-cost table when ../shared/data is present), the `darts` space works
// through the registry, and the GPU forward (depthwise convs, stride-2 pools, FactorizedReduce, non-affine BNs,
// a head without ReLU) matches an independent float64 DARTS forward written here from the op definitions.
import assert from "node:assert/strict";
import { assertReluInputs } from "./_relu_inputs.ts";
import {
  type DartsGenotype,
  dartsNetworkCost,
  formatDartsArch,
  parseDartsAny,
  parseDartsGenotypeRepr,
  parseNaslibCompact,
} from "../spaces/darts.ts";
import { lowerDarts } from "../spaces/darts_network.ts";
import { getSpace } from "../spaces/registry.ts";
import { assertTermOps, NB201_TERM_OPS } from "../spaces/plan.ts";
import { initParams, type Params } from "../spaces/init.ts";
import { runForward } from "../proxies/_forward.ts";
import { assertClose, randomFloats, sharedData, testGpu } from "./_helpers.ts";
import { batchNorm, concat, conv2d, pool3, relu, type T4, zeros } from "./reference.ts";
import { dwConv2d } from "./reference_dw.ts";

const gpu = await testGpu();

// Two genotypes that together use every op on every kind of edge: stride-1 and stride-2 (reduction-cell input)
// sep/dil convs and pools, skips from intermediate nodes (identity) and from reduction-cell inputs
// (FactorizedReduce), and DARTS-V2 (the published cell).
const GENOTYPES: Record<string, string> = {
  mixA:
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('dil_conv_3x3', 0), ('dil_conv_5x5', 2), " +
    "('max_pool_3x3', 1), ('avg_pool_3x3', 3), ('skip_connect', 0), ('skip_connect', 4)], " +
    "normal_concat=[2, 3, 4, 5], reduce=[('skip_connect', 0), ('max_pool_3x3', 1), ('avg_pool_3x3', 0), " +
    "('skip_connect', 2), ('sep_conv_3x3', 1), ('dil_conv_5x5', 3), ('sep_conv_5x5', 0), ('dil_conv_3x3', 4)], " +
    "reduce_concat=[2, 3, 4, 5])",
  mixB:
    "Genotype(normal=[('avg_pool_3x3', 0), ('max_pool_3x3', 1), ('sep_conv_3x3', 2), ('skip_connect', 1), " +
    "('dil_conv_3x3', 3), ('sep_conv_5x5', 2), ('dil_conv_5x5', 4), ('avg_pool_3x3', 3)], " +
    "normal_concat=[2, 3, 4, 5], reduce=[('sep_conv_5x5', 0), ('dil_conv_3x3', 1), ('max_pool_3x3', 2), " +
    "('skip_connect', 1), ('avg_pool_3x3', 3), ('sep_conv_3x3', 0), ('dil_conv_5x5', 1), ('max_pool_3x3', 4)], " +
    "reduce_concat=[2, 3, 4, 5])",
  dartsV2: "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), " +
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], " +
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), " +
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], " +
    "reduce_concat=[2, 3, 4, 5])",
};

Deno.test("DARTS plan parameter counts, MACs and layer parameters equal dartsNetworkCost (naslib variant)", () => {
  for (const [name, s] of Object.entries(GENOTYPES)) {
    const g = parseDartsGenotypeRepr(s);
    for (const o of [{}, { channels: 8, layers: 5, imageSize: 16 }]) {
      const plan = lowerDarts(g, formatDartsArch(g), {
        channels: o.channels,
        layers: o.layers,
        input: o.imageSize ? { c: 3, h: o.imageSize, w: o.imageSize } : undefined,
      });
      const cost = dartsNetworkCost(g, { variant: "naslib", ...o });
      assert.equal(plan.paramCount, cost.params, `${name} ${JSON.stringify(o)} params`);
      assert.equal(plan.macs, cost.macs, `${name} ${JSON.stringify(o)} macs`);
      assert.equal(plan.layers.reduce((a, l) => a + l.params, 0), plan.paramCount, `${name} layer params`);
      assert.equal(
        new Set(plan.params.map((p) => p.name)).size,
        plan.params.length,
        "unique parameter names",
      );
    }
  }
});

Deno.test("DARTS plan parameter counts equal the params column of nb301_naslib_zc725.csv for all 725 rows", () => {
  const path = sharedData("nasbench301_darts/nb301_naslib_zc725.csv");
  if (path === null) return;
  const space = getSpace("darts");
  const lines = Deno.readTextFileSync(path).split(/\r?\n/).filter((l) => l !== "");
  const header = lines[0]!.split(",");
  const pi = header.indexOf("params");
  assert.ok(pi > 0 && header.indexOf("genotype") > 0, "params and genotype columns");
  let rows = 0;
  for (const line of lines.slice(1)) {
    // The two quoted columns (naslib_compact, genotype) come first; params is an unquoted column after them.
    const m = /^([^,]*),"([^"]*)","([^"]*)",(.*)$/.exec(line);
    assert.ok(m, `row ${rows + 1} layout`);
    const rest = m[4]!.split(",");
    const row = { dataset: m[1]!, naslib_compact: m[2]!, genotype: m[3]! };
    const arch = space.fromTable!(row)!;
    const plan = space.lower(arch);
    const want = dartsNetworkCost(parseNaslibCompact(row.naslib_compact), { variant: "naslib" }).params;
    assert.equal(plan.paramCount, want, `row ${rows + 1}`);
    assert.equal(plan.paramCount, Math.round(Number(rest[pi - 3]) * 1e6), `row ${rows + 1} params column`);
    rows++;
  }
  assert.equal(rows, 725);
});

Deno.test("darts space: registry, canonical strings from every form, seeded sampling, no index order", () => {
  const space = getSpace("darts");
  assert.equal(space.size, null);
  const g = parseDartsGenotypeRepr(GENOTYPES.mixA!);
  const canon = formatDartsArch(g);
  assert.equal(space.canonical(GENOTYPES.mixA!), canon);
  assert.equal(space.parseLine(`  ${canon}  `), canon);
  assert.equal(space.indexOf(canon), -1);
  assert.equal(space.fromTable!({ genotype: GENOTYPES.mixA! }), canon);
  assert.equal(space.fromTable!({ adjacency_rowmajor_7x7: "0" }), null);
  const a = space.sampleArchs!(4, 7);
  assert.deepEqual(a, space.sampleArchs!(4, 7));
  for (const s of a) assert.equal(space.canonical(s), s);
  assert.throws(() => space.archAt(0), /no benchmark index order/);
  const plan = space.lower(canon);
  assert.equal(plan.space, "darts");
  assert.equal(plan.head.relu, false);
  // Gradient proxies and synflow refuse DARTS plans (forward-only terms).
  assert.throws(() => assertTermOps(plan, NB201_TERM_OPS, "synflow"), /synflow/);
  // wrapper counting adds the preprocessing ReLUConvBN modules once more.
  const wrapper = space.lower(canon, { reluCount: "wrapper" });
  const uses = (p: typeof plan) => p.tensors.reduce((s, t) => s + t.reluUses, 0);
  assert.equal(uses(wrapper) - uses(plan), 2 * 8 - 2); // 8 cells x 2 inputs, minus 2 FactorizedReduce inputs
});

// --- An independent float64 DARTS forward (NASLib's NB301 model, written from the op definitions) ---

/** x[:, :, 1:, 1:]. */
function crop1(x: T4): T4 {
  const y = zeros(x.n, x.c, x.h - 1, x.w - 1);
  for (let p = 0; p < x.n * x.c; p++) {
    for (let i = 1; i < x.h; i++) {
      for (let j = 1; j < x.w; j++) y.d[(p * y.h + i - 1) * y.w + j - 1] = x.d[(p * x.h + i) * x.w + j]!;
    }
  }
  return y;
}
const add = (a: T4, b: T4): T4 => ({ ...a, d: a.d.map((v, i) => v + b.d[i]!) });
/** BatchNorm2d(affine=False) in training mode. */
const bnPlain = (x: T4): T4 => batchNorm(x, new Float64Array(x.c).fill(1), new Float64Array(x.c));

/** Logits and every ReLU's input (by the plan's tensor names, with the number of ReLUs reading it). */
function dartsRef(g: DartsGenotype, params: Params, x: T4, C: number, numLayers: number, classes: number) {
  const p = (name: string) => {
    const v = params.get(name);
    if (!v) throw new Error(`reference: missing parameter ${name}`);
    return v;
  };
  const names = new Map<T4, string>();
  const reluIn = new Map<string, { t: T4; count: number }>();
  const named = (t: T4, name: string) => {
    names.set(t, name);
    return t;
  };
  const note = (t: T4) => {
    const name = names.get(t)!;
    const e = reluIn.get(name);
    if (e) e.count++;
    else reluIn.set(name, { t, count: 1 });
  };
  const rcb = (name: string, t: T4, cout: number) => {
    note(t);
    return batchNorm(
      conv2d(relu(t), p(`${name}.conv.weight`), cout, 1, 1, 0),
      p(`${name}.bn.weight`),
      p(`${name}.bn.bias`),
    );
  };
  const fr = (name: string, t: T4, cout: number, affine: boolean) => {
    note(t);
    const r = relu(t);
    const cat = concat([
      conv2d(r, p(`${name}.conv_1.weight`), cout / 2, 1, 2, 0),
      conv2d(crop1(r), p(`${name}.conv_2.weight`), cout / 2, 1, 2, 0),
    ]);
    return affine ? batchNorm(cat, p(`${name}.bn.weight`), p(`${name}.bn.bias`)) : bnPlain(cat);
  };
  const op = (name: string, o: string, t: T4, stride: number): T4 => {
    const c = t.c;
    if (o === "skip_connect") return stride === 1 ? t : fr(name, t, c, false);
    if (o === "max_pool_3x3" || o === "avg_pool_3x3") return bnPlain(pool3(t, stride, o === "max_pool_3x3"));
    const k = o.endsWith("5x5") ? 5 : 3;
    note(t);
    if (o.startsWith("dil_conv")) {
      const d = dwConv2d(t, p(`${name}.dw.weight`), k, stride, k - 1, 2, true);
      return bnPlain(conv2d(d, p(`${name}.pw.weight`), c, 1, 1, 0));
    }
    const d1 = dwConv2d(t, p(`${name}.dw1.weight`), k, stride, (k - 1) / 2, 1, true);
    const b1 = named(bnPlain(conv2d(d1, p(`${name}.pw1.weight`), c, 1, 1, 0)), `${name}.bn1`);
    note(b1);
    const d2 = dwConv2d(b1, p(`${name}.dw2.weight`), k, 1, (k - 1) / 2, 1, true);
    return bnPlain(conv2d(d2, p(`${name}.pw2.weight`), c, 1, 1, 0));
  };
  const stem = named(
    batchNorm(conv2d(x, p("stem.conv.weight"), 3 * C, 3, 1, 1), p("stem.bn.weight"), p("stem.bn.bias")),
    "stem",
  );
  let s0 = stem;
  let s1 = stem;
  let c = C;
  let reductionPrev = false;
  for (let i = 0; i < numLayers; i++) {
    const reduction = i === Math.floor(numLayers / 3) || i === Math.floor((2 * numLayers) / 3);
    if (reduction) c *= 2;
    const states = [
      named(
        reductionPrev ? fr(`cells.${i}.pre0`, s0, c, true) : rcb(`cells.${i}.pre0`, s0, c),
        `cells.${i}.pre0`,
      ),
      named(rcb(`cells.${i}.pre1`, s1, c), `cells.${i}.pre1`),
    ];
    const cell = reduction ? g.reduce : g.normal;
    for (let k = 2; k < 6; k++) {
      const [a, b] = [cell[2 * k - 4]!, cell[2 * k - 3]!];
      const ea = op(
        `cells.${i}.edge${a.input}${k}`,
        a.op,
        states[a.input]!,
        reduction && a.input < 2 ? 2 : 1,
      );
      const eb = op(
        `cells.${i}.edge${b.input}${k}`,
        b.op,
        states[b.input]!,
        reduction && b.input < 2 ? 2 : 1,
      );
      states.push(named(add(ea, eb), `cells.${i}.node${k}`));
    }
    s0 = s1;
    s1 = named(concat(states.slice(2)), `cells.${i}.out`);
    reductionPrev = reduction;
  }
  // Global average pool of the raw last cell output, then the linear layer.
  const w = p("classifier.weight");
  const bias = p("classifier.bias");
  const hw = s1.h * s1.w;
  const logits = new Float64Array(s1.n * classes);
  for (let n = 0; n < s1.n; n++) {
    for (let k = 0; k < classes; k++) {
      let s = bias[k]!;
      for (let ch = 0; ch < s1.c; ch++) {
        let m = 0;
        for (let q = 0; q < hw; q++) m += s1.d[(n * s1.c + ch) * hw + q]!;
        s += (m / hw) * w[k * s1.c + ch]!;
      }
      logits[n * classes + k] = s;
    }
  }
  return { logits, reluIn };
}

for (const [name, s] of Object.entries(GENOTYPES)) {
  Deno.test({
    name: `GPU forward matches the float64 DARTS forward for ${name} (C=8, 5 cells, batch 3, 16x16)`,
    ignore: gpu === null,
    async fn() {
      const g = parseDartsAny(s);
      const [C, numLayers, n, size] = [8, 5, 3, 16];
      const plan = lowerDarts(g, formatDartsArch(g), {
        channels: C,
        layers: numLayers,
        input: { c: 3, h: size, w: size },
      });
      const params = initParams(plan, 5);
      const x = randomFloats(n * 3 * size * size, 17, -2, 2);
      const xb = gpu!.upload(x, "x");
      const r = await runForward(gpu!, plan, params, xb, n, {
        naswot: true,
        logits: true,
        keepTensors: true,
      });
      xb.destroy();
      const ref = dartsRef(
        g,
        params,
        { n, c: 3, h: size, w: size, d: Float64Array.from(x) },
        C,
        numLayers,
        10,
      );
      assertClose(r.logits!, ref.logits, 2e-3, "logits");
      assertReluInputs(plan, r, ref.reluIn, n, 2e-3);
    },
  });
}
