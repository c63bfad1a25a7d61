// Seeded initialisation: PyTorch's defaults in distribution, and the same weights for the same (arch, seed).
import { initParams } from "../spaces/init.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { parseArch } from "../spaces/nb201.ts";
import { Rng } from "../spaces/rng.ts";

const ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|";

Deno.test("initParams draws conv and linear weights from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and sets BN to 1 and 0", () => {
  const plan = lowerNb201(parseArch(ARCH), { classes: 10 });
  const params = initParams(plan, 3);
  for (const p of plan.params) {
    const a = params.get(p.name)!;
    if (a.length !== p.shape.reduce((x, y) => x * y, 1)) throw new Error(`${p.name}: size ${a.length}`);
    if (p.kind === "bn_weight" && a.some((v) => v !== 1)) throw new Error(`${p.name} is not all ones`);
    if (p.kind === "bn_bias" && a.some((v) => v !== 0)) throw new Error(`${p.name} is not all zeros`);
    if (p.kind === "conv" || p.kind.startsWith("linear")) {
      const bound = 1 / Math.sqrt(p.fanIn);
      if (a.some((v) => Math.abs(v) > bound)) throw new Error(`${p.name}: a value beyond +-${bound}`);
      if (a.length >= 2000) {
        // Uniform on [-b, b]: mean 0, variance b^2 / 3 (5-sigma tolerances for the sample size).
        const mean = a.reduce((s, v) => s + v, 0) / a.length;
        const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
        const sdMean = bound / Math.sqrt(3 * a.length);
        if (Math.abs(mean) > 5 * sdMean) throw new Error(`${p.name}: mean ${mean}`);
        if (Math.abs(variance / (bound * bound / 3) - 1) > 5 * Math.sqrt(0.8 / a.length)) {
          throw new Error(`${p.name}: variance ${variance}, expected ${(bound * bound) / 3}`);
        }
      }
    }
  }
});

Deno.test("initParams gives the same weights for the same arch and seed and different ones otherwise", () => {
  const plan = lowerNb201(parseArch(ARCH));
  const a = initParams(plan, 5).get("stem.conv.weight")!;
  const b = initParams(lowerNb201(parseArch(ARCH)), 5).get("stem.conv.weight")!;
  const c = initParams(plan, 6).get("stem.conv.weight")!;
  const other = lowerNb201(parseArch(ARCH.replace("avg_pool_3x3~0", "skip_connect~0")));
  const d = initParams(other, 5).get("stem.conv.weight")!;
  if (a.some((v, i) => v !== b[i])) throw new Error("same (arch, seed) gave different weights");
  if (a.every((v, i) => v === c[i])) throw new Error("another seed gave the same weights");
  if (a.every((v, i) => v === d[i])) throw new Error("another arch gave the same weights");
  // Pinned values: the stream must not change between versions (that would change every committed score).
  const pinned = [-0.13917818665504456, 0.152751162648201, -0.03763569891452789];
  if (pinned.some((v, i) => a[i] !== v)) {
    throw new Error(`the init stream changed: ${Array.from(a.slice(0, 3))}`);
  }
});

Deno.test("Rng.fillUniform draws what as many uniform() calls draw, and leaves the generator where they do", () => {
  for (const [seed, n] of [[0, 0], [1, 1], [7, 5], [123456789, 40_001]] as const) {
    const a = new Rng(seed);
    const b = new Rng(seed);
    a.normal(); // a pending Box-Muller spare must survive both paths alike
    b.normal();
    const want = Float32Array.from({ length: n }, () => a.uniform(-0.25, 0.75));
    const got = new Float32Array(n);
    b.fillUniform(got, -0.25, 0.75);
    const bad = got.findIndex((v, i) => !Object.is(v, want[i]));
    if (bad >= 0) throw new Error(`seed ${seed}: value ${bad} is ${got[bad]}, uniform() gave ${want[bad]}`);
    const f64 = new Float64Array(3);
    new Rng(seed).fillUniform(f64, 0, 1);
    const r = new Rng(seed);
    if (f64.some((v) => v !== r.next())) {
      throw new Error(`seed ${seed}: Float64Array fill differs from next()`);
    }
    if (a.normal() !== b.normal() || a.nextU32() !== b.nextU32()) {
      throw new Error(`seed ${seed}: the generator state differs after ${n} draws`);
    }
  }
});
