/**
 * Gradient-based zero-cost proxies (Abdelfattah et al. 2021; ALGORITHMS.md section 3) on one GPU forward +
 * backward pass of the untrained network (training-mode batch norm, PyTorch-default init from the seed):
 *
 * - `grad_norm`: sum over conv and linear layers of the Frobenius norm of dL/dW (mean cross-entropy);
 * - `snip`: sum over conv and linear weights of |W * dL/dW|;
 * - `fisher`: for every conv (and the linear layer), per output channel 0.5 * mean over the batch of
 *   (sum over the plane of activation * dL/dactivation)^2, the activation being the layer's output, counted
 *   once per weight of that channel (the reference broadcasts it to the channel's weights);
 * - `jacob_cov`: J = d(sum of outputs)/d(input), one row per image; score = -sum over the eigenvalues l of
 *   corrcoef(J) of (log(l + 1e-5) + 1/(l + 1e-5)) (NASWOT v1);
 * - `grasp`: -sum over conv and linear weights of W * (H g), g = dL/dW of the mean cross-entropy and H its
 *   Hessian in those weights (see {@link graspScore});
 * - `synflow`: log of sum over conv and linear weights of |W * dR/dW| with abs weights, no batch norm, one
 *   all-ones image, R = sum of outputs (proxies/synflow.ts; the minibatch is not used).
 *
 * Host-side sums are in float64. A degenerate network (a constant row of J) scores `-inf`, never NaN.
 * @module
 */

import type { Gpu } from "../shaders/gpu.ts";
import { initParams } from "../spaces/init.ts";
import type { NetworkPlan } from "../spaces/plan.ts";
import { type GradResult, runGradients } from "./_backward.ts";
import { synflowScore } from "./synflow.ts";

/** The gradient proxies this module computes. */
export const GRADIENT_PROXIES = ["grad_norm", "snip", "fisher", "jacob_cov", "grasp", "synflow"] as const;
/** One of {@link GRADIENT_PROXIES}. */
export type GradientProxy = typeof GRADIENT_PROXIES[number];

/** True for a gradient proxy name. */
export function isGradientProxy(name: string): name is GradientProxy {
  return (GRADIENT_PROXIES as readonly string[]).includes(name);
}

/**
 * Scores a plan (lowered with the dataset's number of classes) on a batch already on the GPU; `labels` are
 * the batch's classes (cross-entropy proxies).
 */
export async function gradientScore(
  gpu: Gpu,
  plan: NetworkPlan,
  input: GPUBuffer,
  labels: Uint32Array,
  n: number,
  seed: number,
  proxy: GradientProxy,
): Promise<number> {
  return (await gradientScores(gpu, plan, input, labels, n, seed, [proxy])).get(proxy)!;
}

/** grad_norm, snip or fisher from one cross-entropy forward + backward pass. */
function ceProxy(
  proxy: GradientProxy,
  plan: NetworkPlan,
  params: Map<string, Float32Array>,
  weights: readonly { name: string; kind: string; shape: number[] }[],
  r: GradResult,
  labels: Uint32Array,
  n: number,
): number {
  if (proxy === "fisher") {
    let total = 0;
    for (const p of weights) {
      if (p.kind !== "conv") continue;
      const f = r.fisher!.get(p.name);
      if (!f) continue; // a conv on a removed (identically zero) tensor: activation 0
      const cout = p.shape[0]!;
      const perChannel = p.shape.slice(1).reduce((a, b) => a * b, 1);
      total += channelFisher(f, n, cout) * perChannel;
    }
    // The linear layer: activation = logits, gradient = dL/dlogits (mean cross-entropy).
    const cls = plan.classes;
    const dlog = crossEntropyGrad(r.logits, labels, cls);
    const act = new Float64Array(n * cls);
    for (let i = 0; i < n * cls; i++) act[i] = r.logits[i]! * dlog[i]!;
    total += channelFisher(act, n, cls) * (params.get(plan.head.weight)!.length / cls);
    return total;
  }
  let total = 0;
  for (const p of weights) {
    const g = r.grads.get(p.name)!;
    const w = params.get(p.name)!;
    if (proxy === "grad_norm") {
      let s = 0;
      for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
      total += Math.sqrt(s);
    } else {
      for (let i = 0; i < g.length; i++) total += Math.abs(w[i]! * g[i]!);
    }
  }
  return total;
}

/**
 * Several gradient proxies of one arch: grad_norm, snip, fisher and grasp share one cross-entropy pass
 * (grasp then runs two more); jacob_cov and synflow run their own. Each value is the same, bit for bit,
 * whatever other proxies are asked for with it.
 */
export async function gradientScores(
  gpu: Gpu,
  plan: NetworkPlan,
  input: GPUBuffer,
  labels: Uint32Array,
  n: number,
  seed: number,
  proxies: readonly GradientProxy[],
): Promise<Map<GradientProxy, number>> {
  const out = new Map<GradientProxy, number>();
  const ce = proxies.filter((p) => p === "grad_norm" || p === "snip" || p === "fisher" || p === "grasp");
  if (ce.length > 0) {
    const params = initParams(plan, seed);
    const weights = plan.params.filter((p) => p.kind === "conv" || p.kind === "linear_weight");
    const r = await runGradients(gpu, plan, params, input, n, {
      loss: "ce",
      labels,
      params: ce.some((p) => p !== "fisher") ? weights.map((p) => p.name) : [],
      fisher: ce.includes("fisher"),
      keepTensors: ce.includes("grasp"),
    });
    for (const p of ce) {
      out.set(
        p,
        p === "grasp"
          ? (await graspScore(gpu, plan, params, input, labels, n, r)).score
          : ceProxy(p, plan, params, weights, r, labels, n),
      );
    }
  }
  for (const p of proxies) {
    if (out.has(p)) continue;
    if (p === "synflow") out.set(p, await synflowScore(gpu, plan, seed));
    else {
      const r = await runGradients(gpu, plan, initParams(plan, seed), input, n, {
        loss: "sum",
        inputGrad: true,
      });
      out.set(p, jacobCovScore(r.dinput!, n));
    }
  }
  return out;
}

/** grasp's step along g, relative: e = GRASP_STEP * |W| / |g| over the conv and linear weights. */
export const GRASP_STEP = 1e-5;

/**
 * grasp (Wang et al. 2020, as NASLib's zero-cost code computes it, temperature 1): -sum over conv and linear
 * weights of W * (H g), g = dL/dW of the mean cross-entropy and H the Hessian of L in those weights (biases and
 * batch-norm parameters stay fixed). WGSL has no double backward, so H g is a central difference of
 * gradients along g, (dL/dW(W + e g) - dL/dW(W - e g)) / 2e, e = {@link GRASP_STEP} * |W| / |g|, taken with
 * every ReLU's mask frozen at the unperturbed network's (`frozen` of runGradients). The network is then
 * smooth in W, so the difference has no jumps from ReLUs that change side, and it converges to what
 * autograd's double backward gives (which also treats ReLU's second derivative as 0). `first` is the
 * unperturbed cross-entropy pass if already run with `keepTensors` and the weights' gradients (its kept
 * tensors are released here). Also returns H g per weight (tests). No gradient at all scores 0.
 */
export async function graspScore(
  gpu: Gpu,
  plan: NetworkPlan,
  params: Map<string, Float32Array>,
  input: GPUBuffer,
  labels: Uint32Array,
  n: number,
  first?: GradResult,
  step = GRASP_STEP,
): Promise<{ score: number; hg: Map<string, Float64Array> }> {
  const weights = plan.params.filter((p) => p.kind === "conv" || p.kind === "linear_weight");
  const names = weights.map((p) => p.name);
  const r0 = first ?? await runGradients(gpu, plan, params, input, n, {
    loss: "ce",
    labels,
    params: names,
    keepTensors: true,
  });
  if (!r0.tensors) throw new RangeError("graspScore: the first pass must keep its tensors (keepTensors)");
  try {
    let ww = 0, gg = 0;
    for (const name of names) {
      const w = params.get(name)!, g = r0.grads.get(name)!;
      for (let i = 0; i < w.length; i++) {
        ww += w[i]! * w[i]!;
        gg += g[i]! * g[i]!;
      }
    }
    const hg = new Map<string, Float64Array>(names.map((k) => [k, new Float64Array(params.get(k)!.length)]));
    if (!(gg > 0)) return { score: Number.isNaN(gg) ? -Infinity : 0, hg };
    const e = step * Math.sqrt(ww / gg);
    const shifted = async (sign: number) => {
      const moved = new Map(params);
      for (const name of names) {
        const w = params.get(name)!, g = r0.grads.get(name)!;
        moved.set(name, Float32Array.from(w, (v, i) => v + sign * e * g[i]!));
      }
      return (await runGradients(gpu, plan, moved, input, n, {
        loss: "ce",
        labels,
        params: names,
        frozen: r0.tensors,
      })).grads;
    };
    const up = await shifted(1);
    const down = await shifted(-1);
    let score = 0;
    for (const name of names) {
      const w = params.get(name)!, a = up.get(name)!, b = down.get(name)!, h = hg.get(name)!;
      for (let i = 0; i < w.length; i++) {
        h[i] = (a[i]! - b[i]!) / (2 * e);
        score -= w[i]! * h[i]!;
      }
    }
    return { score: Number.isNaN(score) ? -Infinity : score, hg };
  } finally {
    for (const b of r0.tensors?.values() ?? []) gpu.release(b);
  }
}

/** Sum over channels of 0.5 * mean over images of s[n][c]^2. */
function channelFisher(s: ArrayLike<number>, n: number, c: number): number {
  let total = 0;
  for (let ch = 0; ch < c; ch++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += s[i * c + ch]! * s[i * c + ch]!;
    total += (0.5 * m) / n;
  }
  return total;
}

/** d(mean cross-entropy)/dlogits in float64. */
export function crossEntropyGrad(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  cls: number,
): Float64Array {
  const n = labels.length;
  const d = new Float64Array(n * cls);
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let k = 0; k < cls; k++) mx = Math.max(mx, logits[i * cls + k]!);
    let s = 0;
    for (let k = 0; k < cls; k++) s += Math.exp(logits[i * cls + k]! - mx);
    for (let k = 0; k < cls; k++) {
      d[i * cls + k] = (Math.exp(logits[i * cls + k]! - mx) / s - (k === labels[i] ? 1 : 0)) / n;
    }
  }
  return d;
}

/**
 * jacob_cov from the input gradients ([n][d] row-major): the eigenvalues of the rows' correlation matrix
 * (numpy.corrcoef), score -sum(log(l + 1e-5) + 1/(l + 1e-5)); -inf when a row is constant.
 */
export function jacobCovScore(j: ArrayLike<number>, n: number): number {
  const d = j.length / n;
  const z = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let k = 0; k < d; k++) m += j[i * d + k]!;
    m /= d;
    let ss = 0;
    for (let k = 0; k < d; k++) {
      const v = j[i * d + k]! - m;
      z[i * d + k] = v;
      ss += v * v;
    }
    if (!(ss > 0)) return -Infinity;
    const inv = 1 / Math.sqrt(ss);
    for (let k = 0; k < d; k++) z[i * d + k] = z[i * d + k]! * inv;
  }
  const c = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += z[a * d + k]! * z[b * d + k]!;
      c[a * n + b] = s;
      c[b * n + a] = s;
    }
  }
  let score = 0;
  for (const l of symmetricEigenvalues(c, n)) score -= Math.log(l + 1e-5) + 1 / (l + 1e-5);
  return Number.isNaN(score) ? -Infinity : score;
}

/** Eigenvalues of a symmetric n x n matrix (cyclic Jacobi rotations, float64). */
export function symmetricEigenvalues(m: ArrayLike<number>, n: number): Float64Array {
  const a = Float64Array.from(m);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! * a[p * n + q]!;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1);
        const sn = t * cs;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = cs * akp - sn * akq;
          a[k * n + q] = sn * akp + cs * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = cs * apk - sn * aqk;
          a[q * n + k] = sn * apk + cs * aqk;
        }
      }
    }
  }
  return Float64Array.from({ length: n }, (_, i) => a[i * n + i]!);
}
