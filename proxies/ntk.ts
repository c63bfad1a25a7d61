/**
 * TE-NAS's trainability score (Chen et al. 2021): the condition number of the empirical neural tangent
 * kernel on one minibatch. The network runs in training mode (batch statistics); row i of the Jacobian J is
 * the gradient of image i's summed outputs with respect to every weight (conv, batch-norm scale and
 * classifier weights; biases excluded, as TE-NAS takes the parameters named `weight`); NTK = J J^T and
 * kappa = lambda_max / lambda_min. A lower kappa means an easier network to train, so the score is -kappa,
 * averaged over `repeats` initialisations (TE-NAS uses 3). One forward pass serves all n backward passes.
 *
 * @example
 * ```ts ignore
 * const plan = lowerNb201(parseArch(arch), { classes: 10 });
 * const r = await ntkScore(gpu, plan, batchBuffer, 16, 0);
 * console.log(r.score, r.conds);
 * ```
 * @module
 */

import type { Gpu } from "../shaders/gpu.ts";
import { initParams, type Params } from "../spaces/init.ts";
import type { NetworkPlan } from "../spaces/plan.ts";
import { runGradients } from "./_backward.ts";
import { symmetricEigenvalues } from "./gradient.ts";

/** The parameters the NTK differentiates: conv, batch-norm scale and classifier weights. */
export function ntkParamNames(plan: NetworkPlan): string[] {
  return plan.params
    .filter((p) => p.kind === "conv" || p.kind === "bn_weight" || p.kind === "linear_weight")
    .map((p) => p.name);
}

/** The n x n empirical NTK (float64) of one initialisation, from n backward passes over one forward. */
export async function ntkGram(
  gpu: Gpu,
  plan: NetworkPlan,
  params: Params,
  input: GPUBuffer,
  n: number,
): Promise<Float64Array> {
  const names = ntkParamNames(plan);
  const rowMasks = Array.from({ length: n }, (_, i) => {
    const m = new Uint32Array(n);
    m[i] = 1;
    return m;
  });
  const r = await runGradients(gpu, plan, params, input, n, { loss: "sum", rowMasks, params: names });
  return gramOfRows(r.passes!.map((g) => names.map((name) => g.get(name)!)), n);
}

/** Gram matrix of n rows, each given as a list of float32 pieces, accumulated in float64. */
export function gramOfRows(rows: readonly (readonly Float32Array[])[], n: number): Float64Array {
  const k = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let s = 0;
      const ra = rows[a]!;
      const rb = rows[b]!;
      for (let p = 0; p < ra.length; p++) {
        const x = ra[p]!;
        const y = rb[p]!;
        for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
      }
      k[a * n + b] = s;
      k[b * n + a] = s;
    }
  }
  return k;
}

/**
 * lambda_max / lambda_min of a symmetric positive semi-definite matrix; +Infinity when the smallest
 * eigenvalue is not positive (a singular NTK: two images the network cannot tell apart, or no weights).
 */
export function conditionNumber(k: ArrayLike<number>, n: number): number {
  const ev = symmetricEigenvalues(k, n);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of ev) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return lo > 0 ? hi / lo : Infinity;
}

/** A TE-NAS NTK evaluation: the condition number of each initialisation and the score -mean. */
export interface NtkResult {
  score: number;
  conds: number[];
}

/** -mean condition number of the NTK over `repeats` initialisations of `seed` (-inf when one is singular). */
export async function ntkScore(
  gpu: Gpu,
  plan: NetworkPlan,
  input: GPUBuffer,
  n: number,
  seed: number,
  repeats = 3,
): Promise<NtkResult> {
  const conds: number[] = [];
  for (let r = 0; r < repeats; r++) {
    conds.push(conditionNumber(await ntkGram(gpu, plan, initParams(plan, seed, r), input, n), n));
  }
  const mean = conds.reduce((a, b) => a + b, 0) / conds.length;
  return { score: -mean, conds };
}
