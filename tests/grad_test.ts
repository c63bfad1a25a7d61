// The float64 backward references (tests/reference_grad.ts) against central finite differences, and the
// plan forward they use against the literal NB201 forward of tests/reference.ts.
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { parseArch } from "../spaces/nb201.ts";
import { initParams } from "../spaces/init.ts";
import { Rng } from "../spaces/rng.ts";
import { nb201ForwardRef, type T4 } from "./reference.ts";
import { checkPlanGradients, planForwardRef } from "./reference_grad.ts";

const ARCHS = [
  "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
  "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
  "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
];

function tinyPlan(arch: string) {
  return lowerNb201(parseArch(arch), {
    input: { c: 3, h: 8, w: 8 },
    classes: 3,
    channels: 4,
    cellsPerStage: 1,
  });
}

function randomInput(n: number, seed: number): T4 {
  const rng = new Rng(seed);
  const d = new Float64Array(n * 3 * 8 * 8);
  for (let i = 0; i < d.length; i++) d[i] = rng.normal();
  return { n, c: 3, h: 8, w: 8, d };
}

Deno.test("the plan forward reference equals the literal NB201 forward (float64)", () => {
  for (const arch of ARCHS) {
    const plan = tinyPlan(arch);
    const params = initParams(plan, 1);
    const x = randomInput(3, 2);
    const a = planForwardRef(plan, params, x).logits;
    const b =
      nb201ForwardRef(parseArch(arch), params, x, { classes: 3, channels: 4, cellsPerStage: 1 }).logits;
    for (let i = 0; i < a.length; i++) {
      if (Math.abs(a[i]! - b[i]!) > 1e-12 * Math.max(1, Math.abs(b[i]!))) {
        throw new Error(`${arch}: logit ${i}: plan ${a[i]} vs literal ${b[i]}`);
      }
    }
  }
});

Deno.test("planBackwardRef's parameter and input gradients match central finite differences of the loss", () => {
  const labels = [0, 2, 1];
  for (const arch of ARCHS) {
    const plan = tinyPlan(arch);
    const p32 = initParams(plan, 3);
    const params = new Map<string, Float64Array>([...p32].map(([k, v]) => [k, Float64Array.from(v)]));
    const x = randomInput(3, 4);
    const checked = checkPlanGradients(plan, params, x, labels, 3, arch, new Rng(5));
    if (checked < 20) throw new Error(`${arch}: only ${checked} checks`);
  }
});
