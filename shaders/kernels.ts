/**
 * Kernel specs (pure) of the fixed-structure kernels: batch-norm statistics, weighted popcount, Cholesky
 * log-determinant and the classifier head. Their WGSL files document bindings, shapes and formulas.
 * @module
 */

import type { Kernel } from "./gpu.ts";
import bnStats from "./bn_stats.wgsl" with { type: "text" };
import popcount from "./popcount.wgsl" with { type: "text" };
import logdet from "./logdet.wgsl" with { type: "text" };
import head from "./head.wgsl" with { type: "text" };

/** Batch-norm statistics: [partial (x, part), finalize (-, part, stats)]. */
export function bnKernels(n: number, c: number, hw: number): [Kernel, Kernel] {
  const constants = { N: n, C: c, HW: hw };
  return [
    { name: "bn_stats.partial", code: bnStats, entry: "partial", constants },
    { name: "bn_stats.finalize", code: bnStats, entry: "finalize", constants },
  ];
}

/** Weighted Hamming accumulation over packed codes of `words` u32 per image. Dispatch [ceil(n/64), ceil(n/8)]. */
export function popcountKernel(n: number, words: number): Kernel {
  return { name: "popcount", code: popcount, constants: { N: n, WORDS: words } };
}

/** log|det(N_A - ham)| by f32 Cholesky. Dispatch [1]. */
export function logdetKernel(n: number): Kernel {
  return { name: "logdet", code: logdet, constants: { N: n } };
}

/** Classifier head: [gap (x, feat), linear (feat, weights+bias, logits)]. */
export function headKernels(n: number, c: number, hw: number, classes: number): [Kernel, Kernel] {
  return [
    { name: "head.gap", code: head, entry: "gap", constants: { N: n, C: c, HW: hw } },
    { name: "head.linear", code: head, entry: "linear", constants: { N: n, C: c, CLS: classes } },
  ];
}
