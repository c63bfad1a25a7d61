/**
 * Seeded parameter initialisation matching PyTorch's defaults in distribution (ALGORITHMS.md section 2):
 * conv and linear weights and linear biases ~ U(-1/sqrt(fan_in), +1/sqrt(fan_in)) (kaiming_uniform with
 * a = sqrt(5)); batch-norm weight 1, bias 0. The stream is derived from (seed, space, arch) only, so an
 * architecture and a seed give the same weights on any machine, shard or order.
 * @module
 */

import type { NetworkPlan } from "./plan.ts";
import { deriveSeed, Rng } from "./rng.ts";

/** Parameters by name, each a float32 array in PyTorch layout. */
export type Params = Map<string, Float32Array>;

/**
 * Draws every parameter of the plan, in the plan's parameter order. `repeat` > 0 draws another
 * initialisation for the same seed (proxies that average over several inits, like TE-NAS's NTK).
 */
export function initParams(plan: NetworkPlan, seed: number, repeat = 0): Params {
  const stream = repeat === 0 ? "init" : `init#${repeat}`;
  const rng = new Rng(deriveSeed(seed, stream, plan.space, plan.arch));
  const out: Params = new Map();
  for (const p of plan.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (p.kind === "bn_weight") a.fill(1);
    else if (p.kind !== "bn_bias") {
      const bound = 1 / Math.sqrt(p.fanIn);
      rng.fillUniform(a, -bound, bound);
    }
    out.set(p.name, a);
  }
  return out;
}
