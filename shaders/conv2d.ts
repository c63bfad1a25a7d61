/**
 * conv2d kernel generation (pure) and weight re-layout for the register-blocked direct convolution.
 * @module
 */

import { memoize } from "./_memo.ts";
import type { Binding, Gpu, Kernel, Recorder } from "./gpu.ts";
import { renderWgsl } from "./_template.ts";
import template from "./conv2d.wgsl" with { type: "text" };

/** Shape and options of one 2-D convolution (NCHW, no bias). */
export interface ConvSpec {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
  /** Apply ReLU to the input as it is loaded. */
  relu: boolean;
  /**
   * What the kernel does with each output (default `store`): `add` adds it into y, `addMasked` adds it
   * where the mask tensor (binding 4, y's shape) is positive and adds 0 elsewhere: the ReLU backward
   * `dx += (x > 0) * conv(...)` fused into the input-gradient conv.
   */
  epilogue?: "store" | "add" | "addMasked";
  /**
   * Explicit output size, when it is not the formula's (absent otherwise): DARTS FactorizedReduce's conv on
   * x[:, :, 1:, 1:] runs as pad -1 with the output size of the shifted input, floor((H - 2) / S) + 1.
   */
  ho?: number;
  wo?: number;
}

/** Register-blocking choice: TP output pixels x TC output channels per invocation (TC a multiple of 4). */
export interface ConvBlocking {
  /** Output pixels per invocation along a row. */
  tp: number;
  /** Output channels per invocation (a multiple of 4). */
  tc: number;
  /** Output rows per invocation (default 1). */
  th?: number;
  /** Invocations per workgroup (default 64). */
  wg?: number;
  /**
   * Load the 4 inputs of a row that lie under the tile (aligned) as one vec4 (binding 5, x again); only where
   * `vec4Loads` allows it (default there).
   */
  vec4?: boolean;
}

/**
 * Output spatial size of a convolution: floor((H + 2*pad - k) / stride) + 1, or the spec's explicit size (which
 * must not read past the input's last row or column).
 */
export function convOutSize(spec: ConvSpec): { ho: number; wo: number } {
  const ho = spec.ho ?? Math.floor((spec.h + 2 * spec.pad - spec.k) / spec.stride) + 1;
  const wo = spec.wo ?? Math.floor((spec.w + 2 * spec.pad - spec.k) / spec.stride) + 1;
  if (
    (spec.ho !== undefined && (ho - 1) * spec.stride - spec.pad + spec.k > spec.h + Math.max(spec.pad, 0)) ||
    (spec.wo !== undefined && (wo - 1) * spec.stride - spec.pad + spec.k > spec.w + Math.max(spec.pad, 0))
  ) {
    throw new RangeError(`conv2d: explicit output size reads past the input for ${JSON.stringify(spec)}`);
  }
  if (ho < 1 || wo < 1) throw new RangeError(`conv2d: empty output for ${JSON.stringify(spec)}`);
  return { ho, wo };
}

/** Default blocking per shape: wide pixel tiles for wide rows, more channels when there are many. */
export function defaultBlocking(spec: ConvSpec): ConvBlocking {
  const { ho, wo } = convOutSize(spec);
  // Measured on llvmpipe (tests/bench.ts): 8x4 pixels x 16 channels beat 4x4x16 by 10-20% per conv (NASWOT
  // mixed cell 1.02 -> 0.81 s) at twice the compile time, and 1x8x16, 2x8x16, 2x4x32, 8x8x16, 8x4x32 lose.
  const tp = Math.min(4, wo);
  const th = Math.min(8, ho);
  const tc = spec.cout >= 16 ? 16 : spec.cout >= 8 ? 8 : 4;
  const wg = workgroupFor(spec.n * Math.ceil(ho / th) * Math.ceil(wo / tp));
  return { tp, tc, th, wg, vec4: vec4Loads(spec, tp) };
}

/**
 * True when each tile row's inputs under its 4 output pixels are 4 aligned floats inside the row: stride 1,
 * 4 pixels per row, rows of a multiple of 4, at most "same" padding, the formula's output size. llvmpipe
 * loads a storage value lane by lane, and a vec4 in one such loop: conv3x3 then makes 3 loads a row instead
 * of 6, conv1x1 1 instead of 4.
 */
export function vec4Loads(spec: ConvSpec, tp: number): boolean {
  return spec.stride === 1 && tp === 4 && spec.w % 4 === 0 && spec.pad >= 0 && 2 * spec.pad <= spec.k - 1 &&
    spec.ho === undefined && spec.wo === undefined;
}

/**
 * Workgroup size for a dispatch of `invocations`: 64, or fewer when that leaves under 4 workgroups.
 * llvmpipe runs each workgroup on one thread, so a small conv (batch 16, 8x8 planes: 32 tiles) in one
 * workgroup of 64 ran on one core with half its lanes idle at 11 GFLOP/s, and in 4 workgroups of 8 at 38
 * (timed like tests/bench.ts's conv rows, at batch 16, 2026-12-02). A real GPU leaves such a dispatch
 * mostly idle either way.
 */
export function workgroupFor(invocations: number): number {
  let wg = 64;
  while (wg > 8 && invocations < 4 * wg) wg /= 2;
  return wg;
}

/** The kernel (WGSL text + constants) and dispatch size of a convolution. Pure. */
export function convKernel(spec: ConvSpec, blocking?: ConvBlocking): {
  kernel: Kernel;
  groups: [number, number];
} {
  return convKernelOf(spec, blocking ?? defaultBlocking(spec));
}

const convKernelOf = memoize(function convKernelOf(spec: ConvSpec, blocking: ConvBlocking): {
  kernel: Kernel;
  groups: [number, number];
} {
  const { tp, tc } = blocking;
  const th = blocking.th ?? 1;
  const wg = blocking.wg ?? 64;
  const vec4 = blocking.vec4 ?? false;
  if (tc % 4 !== 0 || tc < 4) throw new RangeError(`conv2d: TC must be a multiple of 4, got ${tc}`);
  if (vec4 && !vec4Loads(spec, tp)) {
    throw new RangeError(`conv2d: vec4 loads do not apply to ${JSON.stringify(spec)}`);
  }
  const { ho, wo } = convOutSize(spec);
  const code = renderWgsl(template, {
    K: spec.k,
    S: spec.stride,
    PAD: spec.pad,
    TP: tp,
    TC4: tc / 4,
    WUNIFORM: uniformWeights(spec, tc),
    NW4: spec.cin * spec.k * spec.k * (tc / 4),
    TH: th,
    WG: wg,
    MASKED: spec.epilogue === "addMasked",
    VEC4: vec4,
    XSCALAR: scalarLoads(spec, blocking),
    ...unrolledConvBody(spec, th, tp, tc / 4, vec4),
  });
  const epi = spec.epilogue === "add" ? "_add" : spec.epilogue === "addMasked" ? "_addmask" : "";
  const name = `conv2d_k${spec.k}s${spec.stride}p${spec.pad}${spec.relu ? "_relu" : ""}${epi}${
    spec.ho !== undefined || spec.wo !== undefined ? `_o${ho}x${wo}` : ""
  }_th${th}tp${tp}tc${tc}${wg === 64 ? "" : `wg${wg}`}${vec4 ? "v4" : ""}`;
  const kernel: Kernel = {
    name,
    code,
    constants: { N: spec.n, CIN: spec.cin, H: spec.h, W: spec.w, COUT: spec.cout, HO: ho, WO: wo },
  };
  const xblocks = Math.ceil(wo / tp);
  const yblocks = Math.ceil(ho / th);
  return { kernel, groups: [Math.ceil((spec.n * yblocks * xblocks) / wg), Math.ceil(spec.cout / tc)] };
});

/** Inputs each tile row reads: its TP output pixels' receptive field along the row. */
function rowSegment(spec: ConvSpec, tp: number): number {
  return (tp - 1) * spec.stride + spec.k;
}

/** True when the kernel reads scalar inputs (binding 0): always, unless one vec4 covers each whole row. */
function scalarLoads(spec: ConvSpec, blocking: ConvBlocking): boolean {
  return !(blocking.vec4 ?? false) || rowSegment(spec, blocking.tp) > 4;
}

/** Bytes of one output-channel block of packed weights, padded to 256 (the uniform offset alignment). */
export function weightBlockBytes(cin: number, k: number, tc: number): number {
  return Math.ceil((cin * k * k * tc * 4) / 256) * 256;
}

/** The value an epilogue writes to y[at]: out (store), y + out (add), or y + out where m > 0 (addMasked). */
function epilogueValue(
  epilogue: NonNullable<ConvSpec["epilogue"]>,
  out: string,
  at: string,
  zero: string,
): string {
  return epilogue === "store"
    ? out
    : epilogue === "add"
    ? `y[${at}] + ${out}`
    : `y[${at}] + select(${zero}, ${out}, m[${at}] > ${zero})`;
}

/**
 * Emits the unrolled parts of the conv kernel: accumulator declarations, the per-input-channel body
 * (the tile's input rows loaded once with zero padding, then every pixel x channel-quad x tap multiply-add)
 * and the stores. Unrolling by hand matters on llvmpipe: scalars stay in registers while indexed arrays spill,
 * and each per-invocation storage load is expensive, so every loaded value feeds TH*TC*K multiply-adds.
 */
function unrolledConvBody(
  spec: ConvSpec,
  th: number,
  tp: number,
  tc4: number,
  vec4: boolean,
): {
  DECL: string;
  BODY: string;
  STORE: string;
} {
  const { k, stride: s, relu } = spec;
  const epilogue = spec.epilogue ?? "store";
  const seg = rowSegment(spec, tp);
  const rows = (th - 1) * s + k;
  const decl: string[] = [];
  for (let i = 0; i < th; i++) {
    for (let p = 0; p < tp; p++) {
      for (let c = 0; c < tc4; c++) decl.push(`  var a_${i}_${p}_${c} = vec4<f32>(0.0);`);
    }
  }
  // All loads first (every input value of the tile), then for each output pixel and channel quad its K*K
  // multiply-adds in a row: the accumulator stays in a register through them, where a tap-major order spilled
  // and reloaded it at every tap (llvmpipe: half the spill moves; conv3x3 +15-40% GFLOP/s, NASWOT per arch
  // -8 to -18%, measured in one process against the tap-major order). Each accumulator still sums ci
  // ascending, then ky, then kx, so the bits depend neither on this order nor on the tile.
  const body: string[] = [];
  for (let r = 0; r < rows; r++) {
    body.push(`    let ok${r} = iy0 + ${r} >= 0 && iy0 + ${r} < i32(H);`);
    body.push(`    let rb${r} = i32(xbase) + clamp(iy0 + ${r}, 0, i32(H) - 1) * i32(W);`);
    if (vec4) {
      // Inputs pad..pad+3 of the row are x[ox0..ox0+3]: in the row, aligned (vec4Loads), valid iff the row is.
      const v = `xq[u32(rb${r} + ix0 + PAD) / 4u]`;
      body.push(`    let q${r} = select(vec4<f32>(0.0), ${relu ? `max(${v}, vec4<f32>(0.0))` : v}, ok${r});`);
    }
    for (let q = 0; q < seg; q++) {
      if (vec4 && q >= spec.pad && q < spec.pad + 4) {
        body.push(`    let s${r}_${q} = q${r}.${"xyzw"[q - spec.pad]};`);
        continue;
      }
      const load = `x[u32(rb${r} + clamp(ix0 + ${q}, 0, i32(W) - 1))]`;
      const v = relu ? `max(${load}, 0.0)` : load;
      body.push(`    let s${r}_${q} = select(0.0, ${v}, ok${r} && ix0 + ${q} >= 0 && ix0 + ${q} < i32(W));`);
    }
  }
  for (let i = 0; i < th; i++) {
    for (let p = 0; p < tp; p++) {
      for (let c = 0; c < tc4; c++) {
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const w = `wt[wbase + ${(ky * k + kx) * tc4 + c}u]`;
            body.push(
              `    a_${i}_${p}_${c} = fma(${w}, vec4<f32>(s${i * s + ky}_${p * s + kx}), a_${i}_${p}_${c});`,
            );
          }
        }
      }
    }
  }
  const store: string[] = [];
  for (let c = 0; c < tc4; c++) {
    for (let j = 0; j < 4; j++) {
      store.push(`  {`);
      store.push(`    let co = cob * ${tc4 * 4}u + ${c * 4 + j}u;`);
      store.push(`    if (live && co < COUT) {`);
      for (let i = 0; i < th; i++) {
        store.push(`      if (oy0 + ${i}u < HO) {`);
        store.push(`        let ob = ((n * COUT + co) * HO + oy0 + ${i}u) * WO + ox0;`);
        if (vec4) {
          // The tile row's 4 pixels are 4 aligned outputs inside the row (vec4Loads: stride 1, "same" size):
          // one vec4 store, which llvmpipe writes in one lane loop where 4 scalar stores took four.
          const a = `vec4<f32>(${
            Array.from({ length: tp }, (_, p) => `a_${i}_${p}_${c}.${"xyzw"[j]}`).join(", ")
          })`;
          store.push(`        y[ob / 4u] = ${epilogueValue(epilogue, a, "ob / 4u", "vec4<f32>(0.0)")};`);
        } else {
          for (let p = 0; p < tp; p++) {
            const v = epilogueValue(epilogue, `a_${i}_${p}_${c}.${"xyzw"[j]}`, `ob + ${p}u`, "0.0");
            store.push(`        if (ox0 + ${p}u < WO) { y[ob + ${p}u] = ${v}; }`);
          }
        }
        store.push(`      }`);
      }
      store.push(`    }`);
      store.push(`  }`);
    }
  }
  return { DECL: decl.join("\n"), BODY: body.join("\n"), STORE: store.join("\n") };
}

/**
 * Re-lays PyTorch-layout weights [cout][cin][k][k] as blocks of tc output channels, each block
 * [cin][k][k][tc] starting at a multiple of `weightBlockBytes`, zero-padding channels beyond cout, so that one
 * dispatch binds one block and reads its tc channels as consecutive vec4s.
 */
export function packConvWeights(
  w: Float32Array,
  cout: number,
  cin: number,
  k: number,
  tc: number,
): Float32Array {
  if (w.length !== cout * cin * k * k) {
    throw new RangeError(`packConvWeights: ${w.length} weights, expected ${cout}*${cin}*${k}*${k}`);
  }
  const blocks = Math.ceil(cout / tc);
  const stride = weightBlockBytes(cin, k, tc) / 4;
  const out = new Float32Array(blocks * stride);
  for (let co = 0; co < cout; co++) {
    const b = Math.floor(co / tc);
    const j = co % tc;
    for (let ci = 0; ci < cin; ci++) {
      for (let t = 0; t < k * k; t++) {
        out[b * stride + (ci * k * k + t) * tc + j] = w[(co * cin + ci) * k * k + t]!;
      }
    }
  }
  return out;
}

/**
 * True when the packed weights fit a uniform buffer (64 KiB): llvmpipe gathers uniform-buffer values
 * branch-free where a storage-buffer load loops over the lanes.
 */
export function uniformWeights(spec: ConvSpec, tc: number): boolean {
  return tc * spec.cin * spec.k * spec.k * 4 <= 65536;
}

/** Multiply-accumulates of a convolution (per whole batch). */
export function convMacs(spec: ConvSpec): number {
  const { ho, wo } = convOutSize(spec);
  return spec.n * spec.cout * ho * wo * spec.cin * spec.k * spec.k;
}

/**
 * Records a convolution: one dispatch per block of output channels, each binding its weight slice; `mask` is
 * the mask tensor of epilogue `addMasked`.
 */
export function encodeConv(
  gpu: Gpu,
  rec: Recorder,
  pipeline: GPUComputePipeline,
  spec: ConvSpec,
  blocking: ConvBlocking,
  groups: [number, number],
  x: Binding,
  packedWeights: GPUBuffer,
  y: Binding,
  mask?: Binding,
): void {
  if ((spec.epilogue === "addMasked") !== (mask !== undefined)) {
    throw new RangeError(`encodeConv: epilogue ${spec.epilogue ?? "store"} with${mask ? "" : "out"} a mask`);
  }
  const bytes = weightBlockBytes(spec.cin, spec.k, blocking.tc);
  for (let b = 0; b < groups[1]; b++) {
    rec.dispatch(pipeline, [
      scalarLoads(spec, blocking) ? x : null,
      { buffer: packedWeights, offset: b * bytes, size: bytes },
      y,
      gpu.blockIndex(b),
      mask ?? null,
      ...(blocking.vec4 ? [x] : []),
    ], [
      groups[0],
    ]);
  }
}
