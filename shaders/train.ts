/**
 * Kernel specs (pure) of on-GPU training: the gather that packs weights from the flat parameter buffer, the
 * weighted MSE of a regression head and the SGD step. The WGSL files document bindings and formulas;
 * tests/train_test.ts checks each against a TypeScript reference.
 * @module
 */

import { memoize } from "./_memo.ts";
import type { Kernel } from "./gpu.ts";
import train from "./train.wgsl" with { type: "text" };
import trainMse from "./train_mse.wgsl" with { type: "text" };
import trainSgd from "./train_sgd.wgsl" with { type: "text" };

/** Gather of `count` floats (bindings p, idx, out); dispatch over `count` invocations. */
export const gatherKernel = memoize(function gatherKernel(count: number): Kernel {
  return { name: "train.gather", code: train, entry: "gather", constants: { COUNT: count } };
});

/** Weighted MSE gradient and squared errors of `count` outputs (bindings y, t, d, sq). */
export const mseKernel = memoize(function mseKernel(count: number, weight: number): Kernel {
  return { name: "train.mse", code: trainMse, constants: { COUNT: count, W: weight } };
});

/** Hyper-parameters of SGD with momentum and weight decay. */
export interface SgdConfig {
  lr: number;
  momentum: number;
  weightDecay: number;
}

/** SGD step on one parameter slice (bindings p, v, grad, u); `zeroGrad` for parameters without a gradient. */
export const sgdKernel = memoize(function sgdKernel(
  lr: number,
  momentum: number,
  weightDecay: number,
  zeroGrad: boolean,
): Kernel {
  return {
    name: "train.sgd",
    code: trainSgd,
    constants: { LR: lr, MOMENTUM: momentum, WD: weightDecay, ZERO_GRAD: zeroGrad ? 1 : 0 },
  };
});
