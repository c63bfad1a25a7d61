/**
 * Depthwise 2-D convolution kernel generation (pure) for DARTS's sep_conv and dil_conv: a register-blocked
 * direct convolution over one channel per invocation, mirroring
 * `torch.nn.Conv2d(C, C, k, stride, padding, dilation, groups=C, bias=False)` with an optional ReLU on the
 * input. Weights stay in PyTorch layout [C][1][k][k].
 *
 * @example
 * ```ts
 * import { dwConvKernel, dwConvMacs, type DwConvSpec } from "./dwconv.ts";
 * const spec: DwConvSpec = { n: 2, c: 16, h: 8, w: 8, k: 3, stride: 1, pad: 1, dilation: 1, relu: true };
 * const { kernel, groups } = dwConvKernel(spec);
 * console.log(kernel.name, groups, dwConvMacs(spec)); // dispatch with encodeDwConv(rec, pipeline, groups, x, w, y)
 * ```
 * @module
 */

import { memoize } from "./_memo.ts";
import type { Binding, Kernel, Recorder } from "./gpu.ts";
import { renderWgsl } from "./_template.ts";
import template from "./dwconv.wgsl" with { type: "text" };

/** Shape and options of one depthwise convolution (NCHW, groups = channels, no bias). */
export interface DwConvSpec {
  /** Batch size. */
  n: number;
  /** Channels (input = output). */
  c: number;
  /** Input height. */
  h: number;
  /** Input width. */
  w: number;
  /** Kernel size (square). */
  k: number;
  /** Stride in both directions. */
  stride: number;
  /** Zero padding on every side. */
  pad: number;
  /** Spacing between taps in both directions (1 = dense). */
  dilation: number;
  /** Apply ReLU to the input as it is loaded. */
  relu: boolean;
}

/** Register-blocking choice: a TH x TP tile of output pixels per invocation. */
export interface DwConvBlocking {
  /** Output pixels per invocation along a row. */
  tp: number;
  /** Output rows per invocation. */
  th: number;
}

/** Largest workgroup count per dispatch dimension WebGPU guarantees. */
const MAX_GROUPS = 65535;

/** Output spatial size, as PyTorch: floor((H + 2p - d(k-1) - 1)/s) + 1. Throws on an empty output. */
export function dwConvOutSize(spec: DwConvSpec): { ho: number; wo: number } {
  const span = spec.dilation * (spec.k - 1) + 1;
  const ho = Math.floor((spec.h + 2 * spec.pad - span) / spec.stride) + 1;
  const wo = Math.floor((spec.w + 2 * spec.pad - span) / spec.stride) + 1;
  if (ho < 1 || wo < 1) throw new RangeError(`dwconv: empty output for ${JSON.stringify(spec)}`);
  return { ho, wo };
}

/**
 * Default blocking: 8 output rows x 4 pixels (8 x 8 at k >= 5), clipped to the output. Measured on llvmpipe
 * (batch 128, C=32, 32x32, interleaved runs): 4x4 and smaller tiles were slower at k=3 and clearly slower at
 * k=5 (each invocation has a fixed cost; bigger tiles reuse each loaded input value across more taps).
 */
export function defaultDwBlocking(spec: DwConvSpec): DwConvBlocking {
  const { ho, wo } = dwConvOutSize(spec);
  return { tp: Math.min(spec.k >= 5 ? 8 : 4, wo), th: Math.min(8, ho) };
}

/** The kernel (WGSL text + constants) and dispatch size [x, y] of a depthwise convolution. Pure, memoised. */
export const dwConvKernel = memoize(function dwConvKernel(spec: DwConvSpec, blockingArg?: DwConvBlocking): {
  kernel: Kernel;
  groups: [number, number];
} {
  for (const [key, v] of Object.entries(spec)) {
    if (typeof v === "number" && !(Number.isInteger(v) && v >= (key === "pad" ? 0 : 1))) {
      throw new RangeError(`dwconv: ${key} must be a ${key === "pad" ? "non-negative" : "positive"} integer`);
    }
  }
  const { tp, th } = blockingArg ?? defaultDwBlocking(spec);
  if (!(Number.isInteger(tp) && tp >= 1 && Number.isInteger(th) && th >= 1)) {
    throw new RangeError(`dwconv: blocking must be positive integers, got tp=${tp} th=${th}`);
  }
  const { ho, wo } = dwConvOutSize(spec);
  const tiles = spec.n * spec.c * Math.ceil(ho / th) * Math.ceil(wo / tp);
  const wgs = Math.ceil(tiles / 64);
  const gy = Math.ceil(wgs / MAX_GROUPS);
  const gx = Math.ceil(wgs / gy);
  const code = renderWgsl(template, {
    K: spec.k,
    S: spec.stride,
    D: spec.dilation,
    PAD: spec.pad,
    TP: tp,
    TH: th,
    ...unrolledDwBody(spec.k, spec.stride, spec.dilation, th, tp, spec.relu),
  });
  const name = `dwconv_k${spec.k}s${spec.stride}d${spec.dilation}p${spec.pad}${
    spec.relu ? "_relu" : ""
  }_th${th}tp${tp}`;
  const kernel: Kernel = {
    name,
    code,
    constants: { N: spec.n, C: spec.c, H: spec.h, W: spec.w, HO: ho, WO: wo, GX: gx },
  };
  return { kernel, groups: [gx, gy] };
});

/**
 * Emits the unrolled parts of the kernel: weight and accumulator declarations with the clamped column
 * indices, then per needed input row one load of each needed column (zero outside, ReLU'd when asked) and
 * the multiply-adds of every (output row, tap, pixel) reading that row, then the guarded stores. Input
 * column q of the tile feeds pixel p through tap kx when q = p*s + kx*d, input row r feeds output row i
 * through tap ky when r = i*s + ky*d; within one output the taps are summed in (ky, kx) order.
 */
function unrolledDwBody(k: number, s: number, d: number, th: number, tp: number, relu: boolean): {
  DECL: string;
  BODY: string;
  STORE: string;
} {
  const cols = new Set<number>();
  for (let p = 0; p < tp; p++) for (let kx = 0; kx < k; kx++) cols.add(p * s + kx * d);
  const rows = new Set<number>();
  for (let i = 0; i < th; i++) for (let ky = 0; ky < k; ky++) rows.add(i * s + ky * d);
  const decl: string[] = [];
  for (let ky = 0; ky < k; ky++) {
    for (let kx = 0; kx < k; kx++) decl.push(`  let w_${ky}_${kx} = wt[wbase + ${ky * k + kx}u];`);
  }
  for (const q of [...cols].sort((a, b) => a - b)) {
    decl.push(`  let cx${q} = u32(clamp(ix0 + ${q}, 0, i32(W) - 1));`);
    decl.push(`  let cm${q} = ix0 + ${q} >= 0 && ix0 + ${q} < i32(W);`);
  }
  for (let i = 0; i < th; i++) {
    for (let p = 0; p < tp; p++) decl.push(`  var a_${i}_${p} = 0.0;`);
  }
  const body: string[] = [];
  for (const r of [...rows].sort((a, b) => a - b)) {
    body.push(`  {`);
    body.push(`    let iy = iy0 + ${r};`);
    body.push(`    let rok = iy >= 0 && iy < i32(H);`);
    body.push(`    let rb = xbase + u32(clamp(iy, 0, i32(H) - 1)) * W;`);
    // (output row, ky) pairs reading this row; each reads every needed column.
    const taps: [number, number][] = [];
    for (let i = 0; i < th; i++) {
      const dy = r - i * s;
      if (dy >= 0 && dy % d === 0 && dy / d < k) taps.push([i, dy / d]);
    }
    for (const q of [...cols].sort((a, b) => a - b)) {
      const load = `x[rb + cx${q}]`;
      body.push(`    let v${q} = select(0.0, ${relu ? `max(${load}, 0.0)` : load}, rok && cm${q});`);
    }
    for (const [i, ky] of taps) {
      for (let kx = 0; kx < k; kx++) {
        for (let p = 0; p < tp; p++) {
          body.push(`    a_${i}_${p} = fma(w_${ky}_${kx}, v${p * s + kx * d}, a_${i}_${p});`);
        }
      }
    }
    body.push(`  }`);
  }
  const store: string[] = [];
  store.push(`  if (live) {`);
  for (let i = 0; i < th; i++) {
    store.push(`    if (oy0 + ${i}u < HO) {`);
    store.push(`      let ob = (plane * HO + oy0 + ${i}u) * WO + ox0;`);
    for (let p = 0; p < tp; p++) {
      store.push(`      if (ox0 + ${p}u < WO) { y[ob + ${p}u] = a_${i}_${p}; }`);
    }
    store.push(`    }`);
  }
  store.push(`  }`);
  return { DECL: decl.join("\n"), BODY: body.join("\n"), STORE: store.join("\n") };
}

/** Multiply-accumulates of a depthwise convolution (per whole batch): N*C*HO*WO*k*k. */
export function dwConvMacs(spec: DwConvSpec): number {
  const { ho, wo } = dwConvOutSize(spec);
  return spec.n * spec.c * ho * wo * spec.k * spec.k;
}

/**
 * Records one depthwise convolution: x [N][C][H][W], w [C][1][k][k] (PyTorch layout), y [N][C][HO][WO]
 * (written, not accumulated). `pipeline` and `groups` come from `dwConvKernel` of the same spec and blocking.
 */
export function encodeDwConv(
  rec: Recorder,
  pipeline: GPUComputePipeline,
  groups: [number, number],
  x: Binding,
  w: Binding,
  y: Binding,
): void {
  rec.dispatch(pipeline, [x, w, y], groups);
}
