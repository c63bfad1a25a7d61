// The gradient proxies (proxies/gradient.ts) on the GPU against the same definitions evaluated on the float64
// plan reference, and the host-side linear algebra of jacob_cov against closed forms.
import {
  gradientScore,
  gradientScores,
  graspScore,
  jacobCovScore,
  symmetricEigenvalues,
} from "../proxies/gradient.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { parseArch } from "../spaces/nb201.ts";
import { initParams } from "../spaces/init.ts";
import { assertFrozenChangesNothing, randomFloats, testGpu } from "./_helpers.ts";
import type { T4 } from "./reference.ts";
import { crossEntropy, graspRef, planBackwardRef, planForwardRef, relativeError } from "./reference_grad.ts";

const gpu = await testGpu();

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

function close(a: number, b: number, tol: number, what: string) {
  if (!(Math.abs(a - b) <= tol * Math.max(Math.abs(b), 1e-30))) {
    throw new Error(`${what}: got ${a}, want ${b}`);
  }
}

Deno.test("symmetricEigenvalues keeps the trace and the sum of squares, and gives known spectra", () => {
  const ev = [...symmetricEigenvalues([2, 1, 1, 2], 2)].sort((a, b) => a - b);
  close(ev[0]!, 1, 1e-12, "eig 1");
  close(ev[1]!, 3, 1e-12, "eig 3");
  const n = 6;
  const r = randomFloats(n * n, 3);
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] = r[i * n + j]! + r[j * n + i]!;
  const e = symmetricEigenvalues(m, n);
  let tr = 0;
  for (let i = 0; i < n; i++) tr += m[i * n + i]!;
  close(e.reduce((a, b) => a + b, 0), tr, 1e-10, "trace");
  let fro = 0;
  for (const v of m) fro += v * v;
  close(e.reduce((a, b) => a + b * b, 0), fro, 1e-10, "sum of squares");
});

Deno.test("jacobCovScore: two rows with correlation r give eigenvalues 1 +- r; a constant row gives -inf", () => {
  const j = [1, 2, 3, 4, 2, 1, 4, 3];
  // rows (1,2,3,4) and (2,1,4,3): r = 0.6
  const f = (l: number) => Math.log(l + 1e-5) + 1 / (l + 1e-5);
  close(jacobCovScore(j, 2), -(f(1.6) + f(0.4)), 1e-12, "closed form");
  assert(jacobCovScore([1, 2, 3, 5, 5, 5], 2) === -Infinity, "constant row");
});

/** Two tiny NB201 networks (4 channels, one cell a stage, 8x8 inputs, 5 classes) and a batch of 4 for each. */
const TINY_ARCHS = [
  "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|skip_connect~1|nor_conv_3x3~2|",
  "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
];
const TINY_N = 4;

/** Tiny case `ai`: its plan, parameters from `seed`, a random batch from `xSeed` on the GPU and as a T4. */
function tinyCase(g: NonNullable<typeof gpu>, ai: number, seed: number, xSeed: number) {
  const arch = TINY_ARCHS[ai]!;
  const plan = lowerNb201(parseArch(arch), {
    input: { c: 3, h: 8, w: 8 },
    classes: 5,
    channels: 4,
    cellsPerStage: 1,
  });
  const x = randomFloats(TINY_N * 3 * 64, xSeed, -2, 2);
  const xt: T4 = { n: TINY_N, c: 3, h: 8, w: 8, d: Float64Array.from(x) };
  return { arch, plan, params: initParams(plan, seed), input: g.upload(x, "x"), xt };
}

Deno.test({
  name: "grad_norm, snip, fisher and jacob_cov on the GPU equal their float64 reference definitions",
  ignore: gpu === null,
  async fn() {
    const g = gpu!;
    const n = TINY_N;
    for (const ai of TINY_ARCHS.keys()) {
      const seed = 3 + ai;
      const { arch, plan, params, input, xt } = tinyCase(g, ai, seed, 20 + ai);
      const labels = Uint32Array.from([1, 0, 4, 2]);
      const tape = planForwardRef(plan, params, xt);
      const weights = plan.params.filter((p) => p.kind === "conv" || p.kind === "linear_weight");
      // CE gradients, with every conv's output and output gradient for fisher.
      const convs = new Map<string, { y: T4; dy: T4 }>();
      const ce = crossEntropy(tape.logits, labels, plan.classes);
      const ref = planBackwardRef(plan, params, tape, ce.dlogits, {
        onConv: (w, y, dy) => convs.set(w, { y, dy }),
      });
      let gradNorm = 0;
      let snip = 0;
      for (const p of weights) {
        const gr = ref.grads.get(p.name);
        if (!gr) continue;
        const w = params.get(p.name)!;
        gradNorm += Math.sqrt(gr.reduce((a, v) => a + v * v, 0));
        snip += gr.reduce((a, v, i) => a + Math.abs(v * w[i]!), 0);
      }
      let fisher = 0;
      for (const [name, { y, dy }] of convs) {
        const hw = y.h * y.w;
        const perChannel = params.get(name)!.length / y.c;
        for (let c = 0; c < y.c; c++) {
          let m = 0;
          for (let i = 0; i < n; i++) {
            let s = 0;
            for (let p = 0; p < hw; p++) s += y.d[(i * y.c + c) * hw + p]! * dy.d[(i * y.c + c) * hw + p]!;
            m += s * s;
          }
          fisher += 0.5 * (m / n) * perChannel;
        }
      }
      const cls = plan.classes;
      const fanIn = params.get(plan.head.weight)!.length / cls;
      for (let k = 0; k < cls; k++) {
        let m = 0;
        for (let i = 0; i < n; i++) m += (tape.logits[i * cls + k]! * ce.dlogits[i * cls + k]!) ** 2;
        fisher += 0.5 * (m / n) * fanIn;
      }
      const sum = planBackwardRef(plan, params, tape, new Float64Array(n * cls).fill(1));
      const jacob = jacobCovScore(sum.dinput.d, n);
      const want = { grad_norm: gradNorm, snip, fisher, jacob_cov: jacob } as const;
      const all = ["grad_norm", "snip", "fisher", "jacob_cov"] as const;
      const together = await gradientScores(g, plan, input, labels, n, seed, all);
      for (const proxy of all) {
        const got = await gradientScore(g, plan, input, labels, n, seed, proxy);
        close(got, want[proxy], 2e-3, `${arch}: ${proxy}`);
        // Sharing one pass changes nothing: the same kernels in the same order.
        if (together.get(proxy) !== got) {
          throw new Error(`${proxy}: shared pass ${together.get(proxy)} != ${got}`);
        }
      }
      input.destroy();
    }
  },
});

Deno.test({
  name: "grasp's frozen-mask difference of GPU gradients equals the float64 Hessian-gradient product",
  ignore: gpu === null,
  async fn() {
    const g = gpu!;
    const n = TINY_N;
    for (const ai of TINY_ARCHS.keys()) {
      const seed = 7 + ai;
      const { arch, plan, params, input, xt } = tinyCase(g, ai, seed, 30 + ai);
      const labels = Uint32Array.from([3, 0, 4, 1]);
      const { score: want, hg: wantHg } = graspRef(plan, params, xt, labels);
      const got = await graspScore(g, plan, params, input, labels, n);
      close(got.score, want, 2e-3, `${arch}: grasp`);
      const { rel, norm } = relativeError(got.hg, wantHg);
      assert(rel < 1e-2, `${arch}: H g relative error ${rel}`);
      assert(norm > 0, `${arch}: H g is zero`);
      // Through gradientScores (sharing grad_norm's pass) and gradientScore: the same value.
      const shared = (await gradientScores(g, plan, input, labels, n, seed, ["grad_norm", "grasp"])).get(
        "grasp",
      );
      const alone = await gradientScore(g, plan, input, labels, n, seed, "grasp");
      assert(shared === alone && alone === got.score, `${arch}: grasp ${shared} / ${alone} / ${got.score}`);
      input.destroy();
    }
  },
});

Deno.test({
  name: "frozen ReLU masks taken from the network's own forward give the unfrozen gradients bit for bit",
  ignore: gpu === null,
  async fn() {
    const g = gpu!;
    const n = 3;
    const plan = lowerNb201(
      parseArch(
        "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
      ),
      { input: { c: 3, h: 8, w: 8 }, classes: 4, channels: 4, cellsPerStage: 1 },
    );
    const params = initParams(plan, 11);
    const input = g.upload(randomFloats(n * 3 * 64, 12, -2, 2), "x");
    await assertFrozenChangesNothing(g, plan, params, input, Uint32Array.from([0, 3, 1]), plan.arch);
    input.destroy();
  },
});
