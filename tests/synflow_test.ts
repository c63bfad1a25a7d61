// synflow on the GPU (scaled float32, proxies/synflow.ts) against its definition evaluated in float64 on the
// plan reference: tiny networks, and the full-size CIFAR network whose synflow (~1e50) overflows float32.
import { synflowScore } from "../proxies/synflow.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { parseArch } from "../spaces/nb201.ts";
import { lowerNb101 } from "../spaces/nb101_network.ts";
import { parseCell } from "../spaces/nb101.ts";
import { initParams } from "../spaces/init.ts";
import type { NetworkPlan } from "../spaces/plan.ts";
import { testGpu } from "./_helpers.ts";
import { planBackwardRef, planForwardRef } from "./reference_grad.ts";

const gpu = await testGpu();

/** log of sum over conv and linear weights of |W * dR/dW|, R = sum of outputs, abs params, no BN, ones. */
function synflowRef(plan: NetworkPlan, seed: number): number {
  const params = new Map<string, Float64Array>(
    [...initParams(plan, seed)].map(([k, v]) => [k, Float64Array.from(v, Math.abs)]),
  );
  const x = {
    n: 1,
    c: plan.input.c,
    h: plan.input.h,
    w: plan.input.w,
    d: new Float64Array(plan.input.c * plan.input.h * plan.input.w).fill(1),
  };
  const tape = planForwardRef(plan, params, x, { noBn: true });
  const { grads } = planBackwardRef(plan, params, tape, new Float64Array(plan.classes).fill(1), {
    noBn: true,
  });
  let s = 0;
  for (const p of plan.params) {
    if (p.kind !== "conv" && p.kind !== "linear_weight") continue;
    const g = grads.get(p.name);
    if (!g) continue;
    const w = params.get(p.name)!;
    for (let i = 0; i < g.length; i++) s += Math.abs(w[i]! * g[i]!);
  }
  return Math.log(s);
}

const ARCHS = [
  "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
  "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
  "|avg_pool_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|",
];

Deno.test({
  name: "log synflow of tiny networks on the GPU equals the float64 definition",
  ignore: gpu === null,
  async fn() {
    for (const [i, arch] of ARCHS.entries()) {
      const plan = lowerNb201(parseArch(arch), {
        input: { c: 3, h: 8, w: 8 },
        classes: 5,
        channels: 4,
        cellsPerStage: 2,
      });
      const got = await synflowScore(gpu!, plan, 1 + i);
      const want = synflowRef(plan, 1 + i);
      if (!(Math.abs(got - want) < 1e-4 * Math.max(1, Math.abs(want)))) {
        throw new Error(`${arch}: ${got} vs ${want}`);
      }
    }
  },
});

Deno.test({
  name: "log synflow of the full CIFAR network (beyond float32's range) matches float64",
  ignore: gpu === null,
  async fn() {
    const plan = lowerNb201(parseArch(ARCHS[0]!), { classes: 10 });
    const got = await synflowScore(gpu!, plan, 0);
    const want = synflowRef(plan, 0);
    if (!(want > Math.log(3.4e38))) throw new Error(`expected a synflow beyond float32, got e^${want}`);
    if (!(Math.abs(got - want) < 1e-4 * Math.abs(want))) throw new Error(`${got} vs ${want}`);
  },
});

Deno.test({
  name: "log synflow of small NB101 networks (relu, slice, max-pool terms) equals the float64 definition",
  ignore: gpu === null,
  async fn() {
    const cells = [
      "0100110001000000010010000010000001000000010000000:input;conv3x3-bn-relu;maxpool3x3;conv3x3-bn-relu;conv3x3-bn-relu;conv1x1-bn-relu;output",
      "0110001000100100001000000010000000100000010000000:input;conv1x1-bn-relu;maxpool3x3;conv3x3-bn-relu;maxpool3x3;conv3x3-bn-relu;output",
      "0111100111000100000100000:input;conv3x3-bn-relu;maxpool3x3;maxpool3x3;output",
    ];
    for (const [i, cell] of cells.entries()) {
      // stem 5: uneven channel splits (slices); 3 stacks: both max pools between stacks.
      const plan = lowerNb101(parseCell(cell), cell, {
        input: { c: 3, h: 16, w: 16 },
        classes: 4,
        stem: 5,
        cellsPerStack: 2,
      });
      const ops = new Set(plan.tensors.flatMap((t) => t.terms.map((term) => term.op)));
      for (const op of ["slice", "maxpool2"] as const) {
        if (i < 2 && !ops.has(op)) throw new Error(`${cell}: no ${op} term`);
      }
      const got = await synflowScore(gpu!, plan, 5 + i);
      const want = synflowRef(plan, 5 + i);
      if (!(Math.abs(got - want) < 1e-4 * Math.max(1, Math.abs(want)))) {
        throw new Error(`${cell}: ${got} vs ${want}`);
      }
    }
  },
});

Deno.test({
  name: "log synflow of the NB101 benchmark network (stem 128, ~1e38) equals the float64 definition",
  ignore: gpu === null,
  async fn() {
    const cell =
      "0100110001000000010010000010000001000000010000000:input;conv3x3-bn-relu;maxpool3x3;conv3x3-bn-relu;conv3x3-bn-relu;conv1x1-bn-relu;output";
    const plan = lowerNb101(parseCell(cell), cell, {});
    const got = await synflowScore(gpu!, plan, 0);
    const want = synflowRef(plan, 0);
    if (!(want > Math.log(1e30))) {
      throw new Error(`premise: synflow ${Math.exp(want)} is not near float32's limit`);
    }
    if (!(Math.abs(got - want) < 1e-4 * Math.abs(want))) throw new Error(`${got} vs ${want}`);
  },
});
