/**
 * Kernel specs (pure) of the fixed-structure kernels: batch-norm statistics, weighted popcount, Cholesky
 * log-determinant and the classifier head. Their WGSL files document bindings, shapes and formulas.
 * @module
 */

import { memoize } from "./_memo.ts";
import type { Binding, Gpu, Kernel, PooledBuffer, Recorder } from "./gpu.ts";
import { renderWgsl } from "./_template.ts";
import bnStats from "./bn_stats.wgsl" with { type: "text" };
import popcount from "./popcount.wgsl" with { type: "text" };
import logdet from "./logdet.wgsl" with { type: "text" };
import head from "./head.wgsl" with { type: "text" };

/** Batch-norm statistics: [partial (x, part), finalize (-, part, stats, affine)]. */
export const bnKernels = memoize(function bnKernels(n: number, c: number, hw: number): [Kernel, Kernel] {
  const constants = { N: n, C: c, HW: hw };
  const vec4 = hw % 4 === 0;
  const code = renderWgsl(bnStats, { VEC4: vec4 });
  return [
    { name: `bn_stats.partial${vec4 ? "4" : ""}`, code, entry: "partial", constants },
    { name: `bn_stats.finalize${vec4 ? "4" : ""}`, code, entry: "finalize", constants },
  ];
});

/** Rows of the Hamming matrix each popcount invocation handles. */
export const POPCOUNT_ROWS = 16;

/**
 * Workgroup size of the popcount: 16 for the per-row-block (vec4) kernel, whose dispatches shrink from N to
 * N - i0 columns (llvmpipe runs a workgroup on one thread, so small workgroups keep both cores busy down to
 * the last block), 64 for the single-dispatch scalar one.
 */
function popcountWorkgroup(vec4: boolean): number {
  return vec4 ? 16 : 64;
}

/** True when the popcount kernel reads codes as vec4s and its row block from a uniform buffer range. */
export function popcountVec4(words: number): boolean {
  return words % 4 === 0 && POPCOUNT_ROWS * words * 4 <= 65536;
}

/**
 * Weighted Hamming accumulation over packed codes of `words` u32 per image; record it with
 * `encodePopcount`.
 */
export const popcountKernel = memoize(function popcountKernel(n: number, words: number): Kernel {
  const vec4 = popcountVec4(words);
  const ti = POPCOUNT_ROWS;
  const decl: string[] = [];
  const body: string[] = [];
  const store: string[] = [];
  for (let t = 0; t < ti; t++) {
    decl.push(`  var h${t} = 0u;`);
    if (vec4) {
      body.push(`    { let d = countOneBits(rows[${t}u * len + w] ^ cj); h${t} += d.x + d.y + d.z + d.w; }`);
    } else {
      decl.push(`  let r${t} = min(i0 + ${t}u, N - 1u) * len;`);
      body.push(`    h${t} += countOneBits(codes[r${t} + w] ^ cj);`);
    }
    store.push(`    if (i0 + ${t}u < N) { ham[(i0 + ${t}u) * N + j] += weight * h${t}; }`);
    if (vec4) store.push(`    if (mirror && i0 + ${t}u < N) { ham[j * N + i0 + ${t}u] += weight * h${t}; }`);
  }
  const code = renderWgsl(popcount, {
    VEC4: vec4,
    WG: popcountWorkgroup(vec4),
    TI: ti,
    ROWLEN: (ti * words) / 4,
    DECL: decl.join("\n"),
    BODY: body.join("\n"),
    STORE: store.join("\n"),
  });
  return { name: `popcount${vec4 ? "4" : ""}`, code, constants: { N: n, WORDS: words } };
});

/**
 * Records ham += weight * Hamming(codes) for n images of `words` words. `codes` must allow uniform use
 * (pooled buffers do) and hold whole row blocks (n rounded up to POPCOUNT_ROWS images).
 */
export function encodePopcount(
  gpu: Gpu,
  rec: Recorder,
  pipeline: GPUComputePipeline,
  n: number,
  words: number,
  codes: PooledBuffer,
  ham: Binding,
  weight: number,
): void {
  const blocks = Math.ceil(n / POPCOUNT_ROWS);
  if (!Number.isInteger(weight) || weight < 1 || weight >= 16 || blocks > 64) {
    throw new RangeError(`encodePopcount: weight ${weight} (1..15) or ${n} images (<= 1024) out of range`);
  }
  if (!popcountVec4(words)) {
    rec.dispatch(pipeline, [codes, ham, gpu.blockIndex(weight * 64)], [
      Math.ceil(n / popcountWorkgroup(false)),
      blocks,
    ]);
    return;
  }
  const bytes = POPCOUNT_ROWS * words * 4;
  if (codes.size < blocks * bytes) throw new RangeError("encodePopcount: codes buffer too small");
  for (let b = 0; b < blocks; b++) {
    const rows = { buffer: codes.buffer, offset: b * bytes, size: bytes };
    rec.dispatch(pipeline, [codes, ham, gpu.blockIndex(weight * 64 + b), rows], [
      Math.ceil((n - b * POPCOUNT_ROWS) / popcountWorkgroup(true)),
    ]);
  }
}

/** log|det(N_A - ham)| by float32 Cholesky: [fill, column, finish]; record it with `encodeLogdet`. */
export const logdetKernels = memoize(function logdetKernels(n: number): [Kernel, Kernel, Kernel] {
  const k = (entry: string): Kernel => ({
    name: `logdet.${entry}`,
    code: logdet,
    entry,
    constants: { N: n },
  });
  return [k("fill"), k("column"), k("finish")];
});

/**
 * Records log|det(units - ham)| for n images into `out` (n + 1 floats: the pivots, then the value), with
 * `scratch` of n*n floats; one dispatch per column.
 */
export function encodeLogdet(
  gpu: Gpu,
  rec: Recorder,
  pipelines: [GPUComputePipeline, GPUComputePipeline, GPUComputePipeline],
  n: number,
  units: number,
  ham: Binding,
  scratch: Binding,
  out: Binding,
): void {
  const params = rec.uniform(new Uint32Array([units % 2 ** 32, Math.floor(units / 2 ** 32), 0, 0]));
  const [fill, column, finish] = pipelines;
  rec.dispatch(fill, [ham, scratch, null, params], [Math.ceil((n * n) / 64)]);
  for (let j = 0; j < n; j++) {
    rec.dispatch(column, [null, scratch, out, null, gpu.blockIndex(j)], [Math.ceil(n / 64)]);
  }
  rec.dispatch(finish, [null, null, out, params], [1]);
}

/**
 * Classifier head: [gap (x, feat), linear (feat, weights+bias, logits)]. The pool applies ReLU first unless
 * `relu` is false (DARTS pools the raw last cell output).
 */
export const headKernels = memoize(
  function headKernels(n: number, c: number, hw: number, classes: number, relu = true): [Kernel, Kernel] {
    return [
      relu
        ? { name: "head.gap", code: head, entry: "gap", constants: { N: n, C: c, HW: hw } }
        : { name: "head.gap_raw", code: head, entry: "gap", constants: { N: n, C: c, HW: hw, RELU: 0 } },
      { name: "head.linear", code: head, entry: "linear", constants: { N: n, C: c, CLS: classes } },
    ];
  },
);
