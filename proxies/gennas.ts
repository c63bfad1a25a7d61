/**
 * GenNAS (Li et al. 2021, ALGORITHMS.md section 4): train each candidate for a moment on a synthetic
 * regression task and score it by its loss. The network loses its classifier; after each of the 3 stages its
 * feature map is resized to 8x8 (nearest: rows and columns 0, 2, 4, ... at each halving, as the authors'
 * F.interpolate) and passed through BN -> Conv1x1 heads (spaces/regression_heads.ts,
 * `regressionHeads`); the loss is the weighted MSE of the heads against fixed synthetic targets, minimised by
 * SGD with momentum and weight decay.
 *
 * The whole loop runs on the GPU: parameters live in one flat buffer (proxies/_train.ts), each step records
 * forward, MSE gradient, backward and the SGD update and submits them without reading anything back; only
 * the last step's squared errors are read at the end. The inputs of every step (the fixed images plus fresh
 * seeded noise) are written to the input buffer between submissions.
 * @module
 */

import type { Gpu } from "../shaders/gpu.ts";
import type { SgdConfig } from "../shaders/train.ts";
import { initParams, type Params } from "../spaces/init.ts";
import type { NetworkPlan } from "../spaces/plan.ts";
import { type MseHead, runGradients } from "./_backward.ts";
import { GpuParams } from "./_train.ts";

/** The training task and its optimiser. */
export interface GennasConfig {
  /** SGD steps (100). */
  iterations: number;
  sgd: SgdConfig;
  /** MSE weight of each stage's head (0.25, 0.5, 1.0). */
  weights: readonly number[];
}

/** The configuration ALGORITHMS.md section 4 states. */
export const GENNAS_DEFAULTS: GennasConfig = {
  iterations: 100,
  sgd: { lr: 0.1, momentum: 0.9, weightDecay: 4e-5 },
  weights: [0.25, 0.5, 1.0],
};

/** A GenNAS run's result: the final weighted loss (score = -loss, higher is better) and per-head losses. */
export interface GennasResult {
  score: number;
  loss: number;
  headLosses: number[];
}

/**
 * Trains `plan` (lowered with `regressionHeads`) from `params`: step t's input is `inputs(t)`
 * ([n][C][H][W]), the targets are fixed ([n][channels][size][size] per head). Returns the loss of one more
 * forward pass after the last update (on `inputs(iterations)`, batch statistics), and with `readParams` the
 * trained parameters (one more read-back; scoring does not need them).
 */
export async function gennasTrain(
  gpu: Gpu,
  plan: NetworkPlan,
  params: Params,
  inputs: (step: number) => Float32Array,
  targets: readonly Float32Array[],
  n: number,
  cfg: GennasConfig,
  readParams = false,
): Promise<{ loss: number; headLosses: number[]; params?: Params }> {
  const outs = plan.outputs;
  if (!outs || outs.length !== targets.length || outs.length !== cfg.weights.length) {
    throw new RangeError(`gennas: plan has ${outs?.length ?? 0} heads, ${targets.length} targets`);
  }
  const gp = GpuParams.create(gpu, plan, params);
  const input = gpu.acquire(n * plan.input.c * plan.input.h * plan.input.w * 4, "gennas.input");
  const live = outs.map((t, i) => ({ t, i })).filter(({ t }) => t >= 0);
  const sqs = live.map(({ i }) => gpu.acquire(targets[i]!.length * 4, `gennas.sq${i}`));
  const heads: MseHead[] = live.map(({ t, i }, k) => ({
    tensor: t,
    target: gpu.upload(targets[i]!, `gennas.target${i}`),
    weight: cfg.weights[i]!,
    sq: sqs[k]!.buffer,
  }));
  const recorders = [];
  try {
    // Steps 0..iterations-1 train; one more forward (inputs(iterations), no update) measures the loss.
    // With every head identically zero (no path from the input to any stage output) there is nothing to
    // train: the loss is the targets' mean square, below.
    let last: Float32Array | null = null;
    for (let step = 0; heads.length > 0 && step <= cfg.iterations; step++) {
      // Without noise every step's input is the same array: write it once.
      const x = inputs(step);
      if (x !== last) gpu.write(input, x);
      last = x;
      const r = await runGradients(gpu, plan, params, input.buffer, n, {
        loss: "mse",
        heads,
        gpuParams: gp,
        ...(step < cfg.iterations ? { sgd: cfg.sgd } : {}),
        submitOnly: true,
      });
      recorders.push(r.recorder!);
    }
    const data = heads.length > 0
      ? await gpu.read(heads.map((h, k) => ({ src: h.sq, size: targets[live[k]!.i]!.length * 4 })))
      : [];
    // A head that is identically zero (its stage output is) has loss mean(t^2).
    const headLosses = targets.map((t, i) => {
      const k = live.findIndex((l) => l.i === i);
      const sq = k >= 0 ? new Float32Array(data[k]!) : t.map((v) => v * v);
      let s = 0;
      for (const v of sq) s += v;
      return s / t.length;
    });
    const loss = headLosses.reduce((a, l, i) => a + cfg.weights[i]! * l, 0);
    return { loss, headLosses, ...(readParams ? { params: await gp.read(gpu) } : {}) };
  } finally {
    for (const r of recorders) r.dispose();
    for (const h of heads) h.target.destroy();
    gp.destroy();
    gpu.release(input);
    for (const b of sqs) gpu.release(b);
  }
}

/** GenNAS score of `plan` from the `seed` initialisation: minus the final loss. */
export async function gennasScore(
  gpu: Gpu,
  plan: NetworkPlan,
  inputs: (step: number) => Float32Array,
  targets: readonly Float32Array[],
  n: number,
  seed: number,
  cfg: GennasConfig = GENNAS_DEFAULTS,
): Promise<GennasResult> {
  const r = await gennasTrain(gpu, plan, initParams(plan, seed), inputs, targets, n, cfg);
  return { score: Number.isFinite(r.loss) ? -r.loss : -Infinity, loss: r.loss, headLosses: r.headLosses };
}
