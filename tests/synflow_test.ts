// synflow on the GPU (scaled float32, proxies/synflow.ts) against its definition evaluated in float64 on the
// plan reference: tiny networks, and the full-size CIFAR network whose synflow (~1e50) overflows float32.
import { synflowScore } from "../proxies/synflow.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { parseArch } from "../spaces/nb201.ts";
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
