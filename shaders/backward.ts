/**
 * Kernel specs (pure) of the backward passes: batch norm, convolution (input and weight gradients), ReLU and
 * the two average pools, and the classifier head with the loss gradient. Their WGSL files document bindings,
 * shapes and formulas; tests/grad_kernels_test.ts checks each against tests/reference_grad.ts.
 * @module
 */

import { memoize } from "./_memo.ts";
import type { Kernel } from "./gpu.ts";
import { renderWgsl } from "./_template.ts";
import { convOutSize, type ConvSpec } from "./conv2d.ts";
import bnBackward from "./bn_backward.wgsl" with { type: "text" };
import convBackward from "./conv_backward.wgsl" with { type: "text" };
import gradElementwise from "./grad_elementwise.wgsl" with { type: "text" };
import headBackward from "./head_backward.wgsl" with { type: "text" };

/** Workgroup size of every backward kernel (dispatch x = ceil(items / 64)). */
export const GRAD_WG = 64;

/** Workgroups for `items` invocations. */
export function groupsFor(items: number): [number] {
  return [Math.ceil(items / GRAD_WG)];
}

/**
 * Batch-norm backward: [partial (y, dz, stats, part), finalize (stats, part, coef, dparam),
 * apply (y, dz, stats, coef, dy)]; `acc` adds into dy instead of overwriting it.
 */
export const bnBackwardKernels = memoize(
  function bnBackwardKernels(n: number, c: number, hw: number, acc: boolean): [Kernel, Kernel, Kernel] {
    const constants = { N: n, C: c, HW: hw, ACC: acc ? 1 : 0 };
    const entry = (e: string): Kernel => ({
      name: `bn_backward.${e}`,
      code: bnBackward,
      entry: e,
      constants,
    });
    return [entry("partial"), entry("finalize"), entry("apply")];
  },
);

/** dx += mask * g (`relu`: mask = x > 0, else 1), one element per invocation. */
export const maskAccKernel = memoize(function maskAccKernel(elems: number, relu: boolean): Kernel {
  return {
    name: `grad.mask${relu ? "_relu" : ""}`,
    code: gradElementwise,
    entry: "mask",
    constants: { N: 1, C: 1, H: 1, W: elems, MASK: relu ? 1 : 0 },
  };
});

/** dx += AvgPool3x3(stride 1, pad 1, padding excluded)^T g, over n x c planes of h x w. */
export const pool3BackwardKernel = memoize(function pool3BackwardKernel(
  n: number,
  c: number,
  h: number,
  w: number,
): Kernel {
  return { name: "grad.pool3", code: gradElementwise, entry: "pool3", constants: { N: n, C: c, H: h, W: w } };
});

/** dx += AvgPool2x2(stride 2)^T g; the input planes are h x w, the output floor(h/2) x floor(w/2). */
export const pool2BackwardKernel = memoize(function pool2BackwardKernel(
  n: number,
  c: number,
  h: number,
  w: number,
): Kernel {
  return {
    name: "grad.pool2",
    code: gradElementwise,
    entry: "pool2",
    constants: { N: n, C: c, H: h, W: w, HO: Math.floor(h / 2), WO: Math.floor(w / 2) },
  };
});

/** Convolution backward: dx (x, w, dy, dx), dw_partial (x, dy, part) and dw_reduce (part, dw). */
export const convBackwardKernels = memoize(function convBackwardKernels(
  spec: ConvSpec,
  acc: { dx: boolean; dw: boolean },
): { dx: Kernel; dwPartial: Kernel; dwReduce: Kernel } {
  const { ho, wo } = convOutSize(spec);
  const code = renderWgsl(convBackward, {
    K: spec.k,
    S: spec.stride,
    PAD: spec.pad,
    RELU: spec.relu ? "true" : "false",
    KK: spec.k * spec.k,
  });
  const base = { N: spec.n, CIN: spec.cin, H: spec.h, W: spec.w, COUT: spec.cout, HO: ho, WO: wo };
  const name = `conv_backward_k${spec.k}s${spec.stride}p${spec.pad}${spec.relu ? "_relu" : ""}`;
  return {
    dx: { name: `${name}.dx`, code, entry: "dx_main", constants: { ...base, ACC: acc.dx ? 1 : 0 } },
    dwPartial: { name: `${name}.dw_partial`, code, entry: "dw_partial", constants: base },
    dwReduce: {
      name: `${name}.dw_reduce`,
      code,
      entry: "dw_reduce",
      constants: { ...base, ACC: acc.dw ? 1 : 0 },
    },
  };
});

/** Head backward: loss gradient, feature gradient, input gradient and classifier weight/bias gradient. */
export const headBackwardKernels = memoize(function headBackwardKernels(
  n: number,
  c: number,
  hw: number,
  classes: number,
  ones: boolean,
): { loss: Kernel; featGrad: Kernel; xGrad: Kernel; wGrad: Kernel } {
  const constants = { N: n, C: c, HW: hw, CLS: classes, ONES: ones ? 1 : 0 };
  const k = (e: string): Kernel => ({ name: `head_backward.${e}`, code: headBackward, entry: e, constants });
  return { loss: k("loss"), featGrad: k("feat_grad"), xGrad: k("x_grad"), wGrad: k("w_grad") };
});
