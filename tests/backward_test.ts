// The GPU forward + backward of whole NB201 plans against the float64 plan reference: every parameter
// gradient and the input gradient, for the cross-entropy loss and for the sum of the outputs.
import { runGradients } from "../proxies/_backward.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { parseArch } from "../spaces/nb201.ts";
import { initParams } from "../spaces/init.ts";
import { assertClose, randomFloats, testGpu } from "./_helpers.ts";
import { crossEntropy, planBackwardRef, planForwardRef } from "./reference_grad.ts";

const gpu = await testGpu();

/** |a - b| <= tol * max(max|b|, floor) everywhere. */
function assertCloseFloor(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  tol: number,
  floor: number,
  what: string,
) {
  let m = floor;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) {
    if (!(Math.abs(a[i]! - b[i]!) <= tol * m)) {
      throw new Error(`${what}: [${i}] got ${a[i]} want ${b[i]} (scale ${m})`);
    }
  }
}

const ARCHS = [
  "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
  "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
  "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
  "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
];

Deno.test({
  name: "GPU gradients of every parameter and of the input match the float64 reference (CE and sum losses)",
  ignore: gpu === null,
  async fn() {
    const g = gpu!;
    const n = 4;
    for (const [ai, arch] of ARCHS.entries()) {
      for (const size of [8, 16]) {
        const plan = lowerNb201(parseArch(arch), {
          input: { c: 3, h: size, w: size },
          classes: 5,
          channels: 4,
          cellsPerStage: 1,
        });
        const params = initParams(plan, 7 + ai);
        const x = randomFloats(n * 3 * size * size, 11 + ai, -2, 2);
        const labels = Uint32Array.from([0, 3, 1, 4]);
        const input = g.upload(x, "x");
        for (const loss of ["ce", "sum"] as const) {
          const names = plan.params.map((p) => p.name);
          const got = await runGradients(g, plan, params, input, n, {
            loss,
            labels,
            params: names,
            inputGrad: true,
          });
          const xt = { n, c: 3, h: size, w: size, d: Float64Array.from(x) };
          const tape = planForwardRef(plan, params, xt);
          assertClose(got.logits, tape.logits, 1e-4, `${arch} logits`);
          const dlog = loss === "ce"
            ? crossEntropy(tape.logits, labels, plan.classes).dlogits
            : new Float64Array(n * plan.classes).fill(1);
          const want = planBackwardRef(plan, params, tape, dlog);
          const what = `${arch} ${size}x${size} ${loss}`;
          let scale = 0;
          for (const gr of want.grads.values()) for (const v of gr) scale = Math.max(scale, Math.abs(v));
          for (const name of names) {
            const w = want.grads.get(name);
            // Parameters the plan does not use (on removed, identically zero tensors) get zero gradients.
            if (w === undefined) {
              if (got.grads.get(name)!.some((v) => v !== 0)) throw new Error(`${what}: ${name} should be 0`);
              continue;
            }
            // Some gradients are zero in exact arithmetic (a per-channel shift before a batch norm): compare
            // them on the scale of the network's largest gradient, where float32 rounding lives.
            assertCloseFloor(got.grads.get(name)!, w, 2e-3, 1e-4 * scale, `${what}: d/d ${name}`);
          }
          assertClose(got.dinput!, want.dinput.d, 2e-3, `${what}: d/d input`);
        }
        input.destroy();
      }
    }
  },
});
