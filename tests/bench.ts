/**
 * `deno task bench [--random N] [--runs R]`: validates, then times, the hot path at batch 128.
 *
 * 1. Validation: the conv kernels of the three NB201 shapes against the float64 reference (batch 2), and
 *    a NASWOT score whose GPU f32 log-determinant must agree with the float64 one.
 * 2. conv3x3 GFLOP/s at C=16/32x32, C=32/16x16, C=64/8x8 (batch 128), direct and Winograd F(2x2,3x3).
 * 3. Forward pass of the all-nor_conv_3x3 network (logits, batch 128).
 * 4. NASWOT seconds per arch: all none, all nor_conv_3x3, the mixed cell, and the mean over N seeded random
 *    archs; for the fixed archs the GPU time split by kernel class (timestamp queries) and the remainder
 *    (dispatch, upload and read-back overhead).
 * 5. Gradient proxies: seconds per arch for the mixed cell at `--grad-batch` (default 64), after checking the
 *    GPU backward against the float64 reference on a tiny network.
 * 6. TE-NAS's ntk for the mixed cell at `--ntk-batch` (default 8): one forward, one backward pass per image,
 *    3 inits. das and linear_regions come out of NASWOT's pass (section 4) at no extra GPU cost.
 * 7. GenNAS for the mixed cell at batch 16: seconds per training step (forward, MSE, backward, SGD; no
 *    read-back) over `--gennas-iters` steps (default 10), and the per-arch time of the paper's 100 steps plus
 *    the final forward at that rate.
 * Prints median, min and max of R runs. `--skip 2,3,4` (any of 2-7) leaves sections out (validation always runs).
 * @module
 */

import { Gpu } from "../shaders/gpu.ts";
import { encodeWinograd, packWinogradWeights, winogradKernel } from "../shaders/winograd.ts";
import {
  convKernel,
  convMacs,
  type ConvSpec,
  defaultBlocking,
  encodeConv,
  packConvWeights,
} from "../shaders/conv2d.ts";
import { formatArch, indexToArch, parseArch, sampleIndices } from "../spaces/nb201.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { initParams } from "../spaces/init.ts";
import { runForward } from "../proxies/_forward.ts";
import { runGradients } from "../proxies/_backward.ts";
import { ntkScore } from "../proxies/ntk.ts";
import { GENNAS_DEFAULTS, gennasScore } from "../proxies/gennas.ts";
import { buildTargets, COMBO, noisyInput } from "../proxies/gennas_targets.ts";
import { GRADIENT_PROXIES, gradientScore } from "../proxies/gradient.ts";
import { planBackwardRef, planForwardRef } from "./reference_grad.ts";
import { logdetFromHamming } from "../proxies/naswot.ts";
import { syntheticBatch } from "../datasets/minibatch.ts";
import { assertClose, randomFloats } from "./_helpers.ts";
import { conv2d } from "./reference.ts";

const args = Deno.args;
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const RANDOM = flag("--random", 50);
/** `--skip 5,6,7` leaves out those of sections 2-7 (here the slow gradient, ntk and gennas timings); validation always runs. */
const SKIP = new Set(
  (args[args.indexOf("--skip") + 1] ?? "").split(",").filter(() => args.includes("--skip")),
);
const run = (section: number) => !SKIP.has(String(section));
const RUNS = flag("--runs", 3);
const B = 128;

const gpu = await Gpu.open();
console.log(`device: ${gpu.describe()}; batch ${B}; ${RUNS} runs each (median [min, max])`);

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `${med.toFixed(3)} [${s[0]!.toFixed(3)}, ${s[s.length - 1]!.toFixed(3)}]`;
}

// 1. Validation.
const SHAPES: [number, number][] = [[16, 32], [32, 16], [64, 8]];
for (const [c, hw] of SHAPES) {
  const spec: ConvSpec = { n: 2, cin: c, h: hw, w: hw, cout: c, k: 3, stride: 1, pad: 1, relu: true };
  const x = randomFloats(2 * c * hw * hw, 1);
  const w = randomFloats(c * c * 9, 2);
  const got = await convOnce(spec, x, w);
  const want = conv2d({ n: 2, c, h: hw, w: hw, d: Float64Array.from(x) }, w, c, 3, 1, 1, true);
  assertClose(got, want.d, 1e-5, `conv3x3 C=${c} ${hw}x${hw}`);
}
console.log("validated: conv3x3 kernels match the float64 reference");

async function convOnce(spec: ConvSpec, x: Float32Array, w: Float32Array): Promise<Float32Array> {
  const bl = defaultBlocking(spec);
  const { kernel, groups } = convKernel(spec, bl);
  const p = await gpu.pipeline(kernel);
  const xb = gpu.upload(x, "x");
  const wb = gpu.upload(packConvWeights(w, spec.cout, spec.cin, spec.k, bl.tc), "w");
  const yb = gpu.acquire(spec.n * spec.cout * spec.h * spec.w * 4);
  const rec = gpu.record("bench");
  encodeConv(gpu, rec, p, spec, bl, groups, xb, wb, yb);
  rec.submit();
  const [y] = await gpu.read([{ src: yb, size: spec.n * spec.cout * spec.h * spec.w * 4 }]);
  gpu.release(yb);
  xb.destroy();
  wb.destroy();
  return new Float32Array(y!);
}

// 2. conv3x3 throughput: the direct kernel, and Winograd with the blocking that measured best here (4x4
// tiles of 2x2 outputs x 8 channels; tt4/th2 2 and 2x2 x 16 channels were within 10%).
const WINOGRAD_BLOCKING = { tt: 4, th2: 4, tc: 8 };
if (run(2)) {
  console.log("\nconv3x3 (ReLU on load), batch 128: GFLOP/s");
  for (const [c, hw] of SHAPES) {
    const spec: ConvSpec = { n: B, cin: c, h: hw, w: hw, cout: c, k: 3, stride: 1, pad: 1, relu: true };
    const bl = defaultBlocking(spec);
    const { kernel, groups } = convKernel(spec, bl);
    const p = await gpu.pipeline(kernel);
    const xb = gpu.upload(randomFloats(B * c * hw * hw, 3), "x");
    const wb = gpu.upload(packConvWeights(randomFloats(c * c * 9, 4), c, c, 3, bl.tc), "w");
    const yb = gpu.acquire(B * c * hw * hw * 4);
    const reps = 5;
    const once = async () => {
      const rec = gpu.record("bench");
      for (let i = 0; i < reps; i++) encodeConv(gpu, rec, p, spec, bl, groups, xb, wb, yb);
      rec.submit();
      await gpu.device.queue.onSubmittedWorkDone();
    };
    await once();
    const g: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      await once();
      g.push((2 * convMacs(spec) * reps) / ((performance.now() - t) / 1000) / 1e9);
    }
    console.log(`  C=${c} ${hw}x${hw} (th${bl.th} tp${bl.tp} tc${bl.tc}): ${stats(g)}`);
    // Winograd F(2x2,3x3), the same conv in fewer multiplies (GFLOP/s counted as the direct conv's): checked
    // against the direct kernel's output first. Not used for scoring (its last bits differ from the direct's).
    const wbl = WINOGRAD_BLOCKING;
    const wk = winogradKernel(spec, wbl);
    const wp = await gpu.pipeline(wk.kernel);
    const ww = gpu.upload(packWinogradWeights(randomFloats(c * c * 9, 4), c, c, wbl.tc), "w.winograd");
    const yw = gpu.acquire(B * c * hw * hw * 4);
    const onceW = async () => {
      const rec = gpu.record("bench.winograd");
      for (let i = 0; i < reps; i++) encodeWinograd(gpu, rec, wp, spec, wbl, wk.groups, xb, ww, yw);
      rec.submit();
      await gpu.device.queue.onSubmittedWorkDone();
    };
    await onceW();
    const [d, wv] = await gpu.read([{ src: yb, size: B * c * hw * hw * 4 }, {
      src: yw,
      size: B * c * hw * hw * 4,
    }]);
    assertClose(new Float32Array(wv!), new Float32Array(d!), 1e-4, `winograd C=${c} ${hw}x${hw} vs direct`);
    const gw: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      await onceW();
      gw.push((2 * convMacs(spec) * reps) / ((performance.now() - t) / 1000) / 1e9);
    }
    console.log(`    Winograd F(2x2,3x3) (th${wbl.th2} tt${wbl.tt} tc${wbl.tc} tiles): ${stats(gw)}`);
    gpu.release(yb);
    gpu.release(yw);
    xb.destroy();
    wb.destroy();
    ww.destroy();
  }
}

// 3 and 4.
const batch = syntheticBatch({ batch: B, seed: 0 });
const input = gpu.upload(batch.data, "bench.batch");
const CONV3 =
  "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
const FIXED: [string, string][] = [
  ["all none", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"],
  ["all nor_conv_3x3", CONV3],
  ["mixed", "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"],
];

if (run(3)) {
  const plan = lowerNb201(parseArch(CONV3), { classes: 10 });
  const params = initParams(plan, 0);
  await runForward(gpu, plan, params, input, B, { logits: true });
  const t: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    await runForward(gpu, plan, params, input, B, { logits: true });
    t.push((performance.now() - t0) / 1000);
  }
  console.log(
    `\nforward, all nor_conv_3x3, logits only: ${stats(t)} s (${(plan.macs * B * 2 / 1e9).toFixed(1)} GFLOP)`,
  );
}

async function naswotSeconds(archStr: string): Promise<{ s: number; check: number; dispatches: number }> {
  const plan = lowerNb201(parseArch(archStr), { classes: 1 });
  const t0 = performance.now();
  const r = await runForward(gpu, plan, initParams(plan, 0), input, B, { naswot: true });
  const score = logdetFromHamming(r.ham!, r.units!, B);
  const s = (performance.now() - t0) / 1000;
  const check = Number.isFinite(score) ? Math.abs(score - r.logdetGpu!) / Math.abs(score) : 0;
  return { s, check, dispatches: r.dispatches };
}

if (run(4)) {
  console.log("\nNASWOT seconds per arch (compiled, batch 128):");
  const CLASSES: [string, RegExp][] = [
    ["conv", /^conv2d/],
    ["bn stats", /^bn_stats/],
    ["node+codes", /^node/],
    ["popcount", /^popcount/],
    ["logdet", /^logdet/],
  ];
  for (const [name, arch] of FIXED) {
    await naswotSeconds(arch); // compile
    const t: number[] = [];
    let worst = 0;
    let dispatches = 0;
    for (let r = 0; r < RUNS; r++) {
      const x = await naswotSeconds(arch);
      t.push(x.s);
      worst = Math.max(worst, x.check);
      dispatches = x.dispatches;
    }
    // The score is the float64 log-determinant of the exact integer K; the f32 Cholesky kernel's value is
    // shown for comparison (K is close to N_A * 11^T, so f32 loses digits on large networks).
    const f32note = `, f32 Cholesky off by ${(worst * 100).toFixed(2)}%`;
    let split = "";
    if (gpu.canProfile) {
      const plan = lowerNb201(parseArch(arch), { classes: 1 });
      const t0 = performance.now();
      const r = await runForward(gpu, plan, initParams(plan, 0), input, B, { naswot: true, profile: true });
      const wall = (performance.now() - t0) / 1000;
      const by = new Map<string, number>();
      for (const [k, v] of r.timings!) {
        const c = CLASSES.find(([, re]) => re.test(k))?.[0] ?? "other";
        by.set(c, (by.get(c) ?? 0) + v);
      }
      const gpuTotal = [...by.values()].reduce((a, b) => a + b, 0);
      split = "\n      " + CLASSES.map(([c]) => `${c} ${(by.get(c) ?? 0).toFixed(3)}`).join(", ") +
        `, overhead ${(Math.max(0, wall - gpuTotal)).toFixed(3)} (profiled run ${wall.toFixed(3)} s)`;
    }
    console.log(`  ${name.padEnd(18)} ${stats(t)} s, ${dispatches} dispatches${f32note}${split}`);
  }

  {
    const idx = sampleIndices(RANDOM, 0, { replace: false });
    const t: number[] = [];
    for (const i of idx) await naswotSeconds(formatArch(indexToArch(i))); // compile every shape once
    for (let r = 0; r < Math.max(1, Math.min(RUNS, 2)); r++) {
      const t0 = performance.now();
      for (const i of idx) await naswotSeconds(formatArch(indexToArch(i)));
      t.push((performance.now() - t0) / 1000 / RANDOM);
    }
    console.log(`  mean of ${RANDOM} random ${stats(t)} s`);
  }
}
// 5. Gradient proxies: seconds per arch for the mixed cell (one forward + backward each; synflow batch 1).
if (run(5)) {
  const GB = flag("--grad-batch", 64);
  const mixed = FIXED[2]![1];
  const plan = lowerNb201(parseArch(mixed), { classes: 10 });
  const gbatch = syntheticBatch({ batch: GB, seed: 0 });
  const gin = gpu.upload(gbatch.data, "bench.grad.batch");
  const labels = Uint32Array.from(gbatch.labels);
  // Validate first: the input gradient of a tiny network against the float64 reference.
  {
    const tiny = lowerNb201(parseArch(mixed), {
      input: { c: 3, h: 8, w: 8 },
      classes: 5,
      channels: 4,
      cellsPerStage: 1,
    });
    const p = initParams(tiny, 0);
    const x = randomFloats(2 * 3 * 64, 9);
    const xb = gpu.upload(x, "bench.tiny");
    const r = await runGradients(gpu, tiny, p, xb, 2, { loss: "sum", inputGrad: true });
    const tape = planForwardRef(tiny, p, { n: 2, c: 3, h: 8, w: 8, d: Float64Array.from(x) });
    const want = planBackwardRef(tiny, p, tape, new Float64Array(10).fill(1)).dinput.d;
    assertClose(r.dinput!, want, 2e-3, "backward input gradient");
    xb.destroy();
  }
  console.log(`\ngradient proxies, mixed cell, batch ${GB} (synflow: one all-ones image), seconds per arch:`);
  for (const proxy of GRADIENT_PROXIES) {
    await gradientScore(gpu, plan, gin, labels, GB, 0, proxy); // compile
    const t: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      await gradientScore(gpu, plan, gin, labels, GB, 0, proxy);
      t.push((performance.now() - t0) / 1000);
    }
    console.log(`  ${proxy.padEnd(10)} ${stats(t)} s`);
  }
  gin.destroy();
}
// 6. ntk: seconds per arch for the mixed cell.
if (run(6)) {
  const NB = flag("--ntk-batch", 8);
  const plan = lowerNb201(parseArch(FIXED[2]![1]), { classes: 10 });
  const nin = gpu.upload(syntheticBatch({ batch: NB, seed: 0 }).data, "bench.ntk.batch");
  const first = await ntkScore(gpu, plan, nin, NB, 0); // compile
  if (!first.conds.every((k) => k >= 1)) throw new Error(`ntk: condition numbers ${first.conds} < 1`);
  const t: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    await ntkScore(gpu, plan, nin, NB, 0);
    t.push((performance.now() - t0) / 1000);
  }
  console.log(`\nntk, mixed cell, batch ${NB}, 3 inits (${3 * NB} backward passes): ${stats(t)} s per arch`);
  nin.destroy();
}

// 7. GenNAS: seconds per training step for the mixed cell, batch 16.
if (run(7)) {
  const GI = flag("--gennas-iters", 10);
  const plan = lowerNb201(parseArch(FIXED[2]![1]), {
    classes: 10,
    regressionHeads: { channels: COMBO.channels, size: 8 },
  });
  const b = syntheticBatch({ batch: 16, seed: 0 });
  const targets = buildTargets(COMBO, b.data, 16, 32, 32, 0);
  const inputs = (step: number) => noisyInput(COMBO, b.data, 0, step);
  const cfg = { ...GENNAS_DEFAULTS, iterations: GI };
  const first = await gennasScore(gpu, plan, inputs, targets, 16, 0, cfg); // compile
  if (!Number.isFinite(first.loss)) throw new Error(`gennas: loss ${first.loss}`);
  const t: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    await gennasScore(gpu, plan, inputs, targets, 16, 0, cfg);
    t.push((performance.now() - t0) / 1000 / (GI + 1));
  }
  t.sort((a, c) => a - c);
  const med = t[Math.floor(t.length / 2)]!;
  console.log(
    `\ngennas, mixed cell, batch 16: ${stats(t)} s per step (${GI} steps + final forward); ` +
      `100 steps + final forward = ${(101 * med).toFixed(1)} s per arch at the median rate`,
  );
}

console.log(`\ncompile time so far: ${gpu.compileSeconds.toFixed(1)} s (summed over parallel compiles)`);
input.destroy();
gpu.dispose();
