/**
 * NASWOT score (Mellor et al. 2021, the Hamming-kernel version; ALGORITHMS.md section 2): for every ReLU
 * the binary code [input > 0] of each image; K = sum over ReLUs of (N_r - Hamming(c_i, c_j)); score =
 * log|det K|. The GPU packs codes inside the kernels that produce each ReLU input and folds them into the
 * integer Hamming matrix with a popcount kernel; full activations are never kept for the score.
 *
 * The score written to result files is the float64 Cholesky log-determinant of the exact integer K read back
 * from the GPU, so it does not depend on a GPU's float32 rounding in the factorisation; the GPU's own f32
 * Cholesky value comes with it as a cross-check.
 *
 * @example
 * ```ts ignore
 * const gpu = await Gpu.open();
 * const plan = lowerNb201(parseArch("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|"));
 * const r = await naswot(gpu, plan, batchBuffer, 128, 0);
 * console.log(r.score, r.units);
 * ```
 * @module
 */

import type { Gpu } from "../shaders/gpu.ts";
import { initParams } from "../spaces/init.ts";
import type { NetworkPlan } from "../spaces/plan.ts";
import { runForward } from "./_forward.ts";

/** A NASWOT evaluation of one network. */
export interface NaswotResult {
  /** log|det K| in float64 (-inf when K is singular). */
  score: number;
  /** N_A: ReLU units counted with multiplicity (the diagonal of K). */
  units: number;
  /** The GPU's float32 Cholesky log-determinant (a cross-check). */
  logdetGpu: number;
  /** Weighted Hamming distances [n][n]; K = units - ham. */
  ham: Uint32Array;
}

/** Scores one plan on an input batch already on the GPU (n images), with weights drawn from `seed`. */
export async function naswot(
  gpu: Gpu,
  plan: NetworkPlan,
  input: GPUBuffer,
  n: number,
  seed: number,
): Promise<NaswotResult> {
  const params = initParams(plan, seed);
  const r = await runForward(gpu, plan, params, input, n, { naswot: true });
  const units = r.units!;
  return { score: logdetFromHamming(r.ham!, units, n), units, logdetGpu: r.logdetGpu!, ham: r.ham! };
}

/**
 * log|det K| for K = units - ham (symmetric, positive semi-definite) by float64 Cholesky on K / units.
 * A pivot below n * 2^-52 (rounding of an exactly singular K) gives -inf, never NaN.
 */
export function logdetFromHamming(ham: Uint32Array, units: number, n: number): number {
  return normalizedLogdet(ham, units, n) + n * Math.log(units);
}

/**
 * DAS's distinguishing ability (Liu et al. 2022: NASWOT decoupled): log|det(K / N_A)|, so that
 * log|det K| = this + n * log N_A. -inf when K is singular or N_A is 0.
 */
export function normalizedLogdet(ham: Uint32Array, units: number, n: number): number {
  if (ham.length !== n * n) throw new RangeError(`normalizedLogdet: ${ham.length} entries for n=${n}`);
  if (units <= 0) return -Infinity;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) a[i] = (units - ham[i]!) / units;
  const tiny = n * 2 ** -52;
  let logdet = 0;
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j]!;
    for (let k = 0; k < j; k++) d -= a[rj + k]! * a[rj + k]!;
    if (!(d > tiny)) return -Infinity;
    logdet += Math.log(d);
    const l = Math.sqrt(d);
    a[rj + j] = l;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j]!;
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = s / l;
    }
  }
  return logdet;
}

/**
 * Linear regions the images fall in (TE-NAS's expressivity count): the number of distinct activation
 * patterns among the n images, read off the Hamming matrix (two images share a pattern exactly when their
 * weighted Hamming distance is 0). Equals TE-NAS's sum over images of 1 / (images sharing its pattern).
 */
export function linearRegions(ham: Uint32Array, n: number): number {
  if (ham.length !== n * n) throw new RangeError(`linearRegions: ${ham.length} entries for n=${n}`);
  let regions = 0;
  for (let i = 0; i < n; i++) {
    let first = true;
    for (let j = 0; j < i && first; j++) if (ham[i * n + j] === 0) first = false;
    if (first) regions++;
  }
  return regions;
}
