// TE-NAS's NTK on the GPU against the float64 plan reference: the Gram matrix of per-image weight gradients
// (one backward pass per image over one forward), its condition number and the score over repeated inits.
import { conditionNumber, gramOfRows, ntkGram, ntkParamNames, ntkScore } from "../proxies/ntk.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { parseArch } from "../spaces/nb201.ts";
import { initParams } from "../spaces/init.ts";
import { assertClose, randomFloats, testGpu } from "./_helpers.ts";
import { planBackwardRef, planForwardRef } from "./reference_grad.ts";

const gpu = await testGpu();

const ARCHS = [
  "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
  "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
  "|skip_connect~0|+|none~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
];

/** The reference NTK: for each image, d(sum of its outputs)/d(weights) in float64, then J J^T. */
function ntkRef(
  plan: ReturnType<typeof lowerNb201>,
  params: Map<string, Float32Array>,
  x: Float32Array,
  n: number,
  size: number,
): Float64Array {
  const tape = planForwardRef(plan, params, { n, c: 3, h: size, w: size, d: Float64Array.from(x) });
  const names = ntkParamNames(plan);
  const j: Float64Array[][] = [];
  for (let i = 0; i < n; i++) {
    const dlog = new Float64Array(n * plan.classes);
    dlog.fill(1, i * plan.classes, (i + 1) * plan.classes);
    const g = planBackwardRef(plan, params, tape, dlog).grads;
    j.push(names.map((name) => g.get(name) ?? new Float64Array(params.get(name)!.length)));
  }
  const k = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      let s = 0;
      for (let p = 0; p < names.length; p++) {
        const u = j[a]![p]!;
        const v = j[b]![p]!;
        for (let q = 0; q < u.length; q++) s += u[q]! * v[q]!;
      }
      k[a * n + b] = s;
    }
  }
  return k;
}

Deno.test({
  name: "NTK: GPU Gram of per-image weight gradients matches the float64 reference",
  ignore: gpu === null,
  async fn() {
    const g = gpu!;
    const n = 5;
    const size = 8;
    let compared = 0;
    for (const [ai, arch] of ARCHS.entries()) {
      const plan = lowerNb201(parseArch(arch), {
        input: { c: 3, h: size, w: size },
        classes: 3,
        channels: 4,
        cellsPerStage: 1,
      });
      const params = initParams(plan, 3 + ai);
      const x = randomFloats(n * 3 * size * size, 21 + ai, -2, 2);
      const input = g.upload(x, "x");
      const got = await ntkGram(g, plan, params, input, n);
      const want = ntkRef(plan, params, x, n, size);
      let scale = 0;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < n * n; i++) {
        if (!(Math.abs(got[i]! - want[i]!) <= 1e-4 * scale)) {
          throw new Error(`${arch} NTK[${i}]: got ${got[i]} want ${want[i]} (scale ${scale})`);
        }
      }
      // Symmetric and positive semi-definite, as any Gram matrix.
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) assertClose([got[a * n + b]!], [got[b * n + a]!], 0, "sym");
      }
      const kGot = conditionNumber(got, n);
      const kWant = conditionNumber(want, n);
      if (Number.isFinite(kWant) && kWant < 1e4) {
        assertClose([Math.log(kGot)], [Math.log(kWant)], 1e-3, `${arch} log condition number`);
        compared++;
      }
      input.destroy();
    }
    if (compared < 2) throw new Error(`only ${compared} well-conditioned NTKs: the test lost its power`);
  },
});

Deno.test({
  name: "NTK score: -mean condition number over 3 inits, each init distinct, deterministic",
  ignore: gpu === null,
  async fn() {
    const g = gpu!;
    const n = 4;
    const plan = lowerNb201(parseArch(ARCHS[0]!), {
      input: { c: 3, h: 8, w: 8 },
      classes: 3,
      channels: 4,
      cellsPerStage: 1,
    });
    const input = g.upload(randomFloats(n * 3 * 64, 5, -2, 2), "x");
    const a = await ntkScore(g, plan, input, n, 0);
    const b = await ntkScore(g, plan, input, n, 0);
    if (a.conds.length !== 3) throw new Error(`expected 3 inits, got ${a.conds.length}`);
    if (new Set(a.conds).size !== 3) throw new Error(`inits should differ: ${a.conds}`);
    if (a.score !== b.score) throw new Error(`not deterministic: ${a.score} vs ${b.score}`);
    const mean = a.conds.reduce((s, v) => s + v, 0) / 3;
    assertClose([a.score], [-mean], 1e-15, "score = -mean");
    // The first init is the one every other proxy uses for this seed.
    const k0 = conditionNumber(await ntkGram(g, plan, initParams(plan, 0), input, n), n);
    assertClose([a.conds[0]!], [k0], 0, "first init");
    input.destroy();
  },
});

Deno.test("conditionNumber: lambda_max / lambda_min; singular -> Infinity; gramOfRows sums pieces", () => {
  assertClose([conditionNumber([4, 0, 0, 1], 2)], [4], 1e-12, "diag");
  // [[2,1],[1,2]] has eigenvalues 1 and 3.
  assertClose([conditionNumber([2, 1, 1, 2], 2)], [3], 1e-12, "2x2");
  if (conditionNumber([1, 1, 1, 1], 2) !== Infinity) throw new Error("singular should be Infinity");
  const k = gramOfRows([[Float32Array.of(1, 2), Float32Array.of(3)], [
    Float32Array.of(0, 1),
    Float32Array.of(-1),
  ]], 2);
  assertClose(k, [14, -1, -1, 2], 0, "gram");
});
