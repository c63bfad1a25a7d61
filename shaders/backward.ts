/**
 * Kernel specs (pure) of the backward passes: batch norm, convolution (input and weight gradients), ReLU and
 * the two average pools, and the classifier head with the loss gradient. Their WGSL files document bindings,
 * shapes and formulas; tests/grad_kernels_test.ts checks each against tests/reference_grad.ts.
 * @module
 */

import { memoize } from "./_memo.ts";
import type { Kernel } from "./gpu.ts";
import { renderWgsl } from "./_template.ts";
import { convOutSize, type ConvSpec, workgroupFor } from "./conv2d.ts";
import bnBackward from "./bn_backward.wgsl" with { type: "text" };
import convBackward from "./conv_backward.wgsl" with { type: "text" };
import gradElementwise from "./grad_elementwise.wgsl" with { type: "text" };
import headBackward from "./head_backward.wgsl" with { type: "text" };
import convDw from "./conv_dw.wgsl" with { type: "text" };
import scaled from "./scaled.wgsl" with { type: "text" };
import maxPool3Backward from "./maxpool3_backward.wgsl" with { type: "text" };

/** Workgroup size of the backward kernels (smaller for small dispatches of those with `override WG`). */
export const GRAD_WG = 64;

/** Workgroups per dispatch dimension (WebGPU's default limit). */
const MAX_GROUPS = 65535;

/**
 * Workgroups of `wg` invocations for `items` invocations: [x], or [x, y] when x would pass the per-dimension
 * limit (NB101's activations at batch 64 have 8M elements). The kernels number invocations
 * gid.x + gid.y * x * 64 (`flat_id`) and skip those past the end, so a split needs workgroups of 64 (smaller
 * ones come only from `workgroupFor`, for dispatches far below the limit).
 */
export function groupsFor(items: number, wg: number = GRAD_WG): [number] | [number, number] {
  const g = Math.ceil(items / wg);
  if (g <= MAX_GROUPS) return [g];
  if (wg !== GRAD_WG) throw new RangeError(`groupsFor: ${items} items in workgroups of ${wg}`);
  const y = Math.ceil(g / MAX_GROUPS);
  return [Math.ceil(g / y), y];
}

/**
 * `k` for a dispatch of `items` invocations: kernels that declare `override WG` (their workgroup size) get
 * the size `workgroupFor` picks, so small dispatches (a batch-16 weight gradient of a thin layer: 32
 * invocations) spread over several workgroups instead of one with most lanes idle. Returns the kernel and
 * its workgroups.
 */
export function sizedDispatch(
  k: Kernel,
  items: number,
): { kernel: Kernel; groups: [number] | [number, number] } {
  const wg = k.code.includes("override WG:") ? workgroupFor(items) : GRAD_WG;
  const kernel = wg === GRAD_WG ? k : { ...k, constants: { ...k.constants, WG: wg } };
  return { kernel, groups: groupsFor(items, wg) };
}

/**
 * Elements of one plane per invocation of the batch-norm backward's `apply` (dispatch over n*c*ceil(hw/16)).
 * Measured on llvmpipe, NB201 mixed cell, GenNAS step: 16 took 22 ms, a whole plane 31 ms, one element 48 ms.
 */
export const BN_APPLY_CHUNK = 16;

/**
 * Batch-norm backward: [partial (y, dz, stats, part), finalize (stats, part, coef, dparam),
 * apply (y, dz, stats, coef, dy)]; `acc` adds into dy instead of overwriting it.
 */
export const bnBackwardKernels = memoize(
  function bnBackwardKernels(n: number, c: number, hw: number, acc: boolean): [Kernel, Kernel, Kernel] {
    const constants = { N: n, C: c, HW: hw, ACC: acc ? 1 : 0, CH: BN_APPLY_CHUNK };
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

/**
 * dx += a * AvgPool3x3(stride 1, pad 1, padding excluded)^T g over n x c planes of h x w: scaled.wgsl's
 * `pool3t`, bindings (g, dx, coef uniform with .x = a).
 */
export function pool3BackwardKernel(n: number, c: number, h: number, w: number): Kernel {
  return scaledKernel("pool3t", n, c, h, w).kernel;
}

/** dx += a * AvgPool2x2(stride 2)^T g; dx planes are h x w, g planes floor(h/2) x floor(w/2); as above. */
export function pool2BackwardKernel(n: number, c: number, h: number, w: number): Kernel {
  return scaledKernel("pool2t", n, c, h, w).kernel;
}

/** dx += Pick2^T(dy) for the nearest half-size resize (bindings dy, dx, coef), over the n*c*h*w input. */
export function pick2BackwardKernel(n: number, c: number, h: number, w: number): Kernel {
  return scaledKernel("pick2t", n, c, h, w).kernel;
}

/**
 * The backward of a `slice` term (NB101): channels [from, from + count) of dx (sc channels) += mask * channels
 * [to, to + count) of g (dc channels), mask = x > 0 when `relu` (bindings x, g, dx; n*count*hw items).
 */
export const sliceBackwardKernel = memoize(function sliceBackwardKernel(
  n: number,
  sc: number,
  dc: number,
  term: { from: number; to: number; count: number; relu: boolean },
  hw: number,
): Kernel {
  return {
    name: `grad.slice${term.relu ? "_relu" : ""}`,
    code: gradElementwise,
    entry: "slice_t",
    constants: {
      N: n,
      C: term.count,
      H: 1,
      W: hw,
      SC: sc,
      DC: dc,
      FROM: term.from,
      TO: term.to,
      MASK: term.relu ? 1 : 0,
    },
  };
});

/**
 * dx += the backward of a max pool over n x c planes of h x w input (bindings x = the pool's input, g, dx; one
 * input element per invocation): `maxpool3` (3x3, stride 1, pad 1) or `maxpool2` (2x2, stride 2). Each window's
 * gradient goes to its first maximum in row-major order, as PyTorch's MaxPool2d.
 */
export const maxPoolBackwardKernel = memoize(function maxPoolBackwardKernel(
  op: "maxpool3" | "maxpool2",
  n: number,
  c: number,
  h: number,
  w: number,
): Kernel {
  if (op === "maxpool2") return maxPoolEntry(op, n, c, h, w, "t", `grad.${op}`);
  return { name: "grad.maxpool3", code: maxPool3BackwardCode(), constants: { N: n, C: c, H: h, W: w } };
});

/**
 * maxpool3_backward.wgsl with its unrolled body (rendered once: the shape is in override constants). The body
 * loads the 5x5 neighbourhood v_r_c (rows yy-2+r, columns xx-2+c, clamped; in_r / in_c say which are inside
 * the plane), then for each window centre (yy-1+a, xx-1+b) inside the plane scans its elements in row-major
 * order for the first maximum, exactly as a plain loop over the window's inside elements would, and adds g at
 * that centre to `acc` when the maximum is (yy, xx). The windows are visited in row-major order of their
 * centres, so the sum's order, and its bits, are the loop's.
 */
const maxPool3BackwardCode = memoize(function maxPool3BackwardCode(): string {
  const out: string[] = [];
  for (let r = 0; r < 5; r++) {
    out.push(`  let y${r} = yy + ${r - 2};`);
    out.push(`  let in_r${r} = y${r} >= 0 && y${r} < i32(H);`);
    out.push(`  let row${r} = base + u32(clamp(y${r}, 0, i32(H) - 1)) * W;`);
  }
  for (let c = 0; c < 5; c++) {
    out.push(`  let x${c} = xx + ${c - 2};`);
    out.push(`  let in_c${c} = x${c} >= 0 && x${c} < i32(W);`);
    out.push(`  let col${c} = u32(clamp(x${c}, 0, i32(W) - 1));`);
  }
  for (let r = 0; r < 5; r++) {
    for (let c = 0; c < 5; c++) {
      out.push(`  let v_${r}_${c} = x[row${r} + col${c}];`);
    }
  }
  out.push(`  var acc = 0.0;`);
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      out.push(`  {`);
      out.push(`    var m = 0.0;`);
      out.push(`    var found = false;`);
      out.push(`    var hit = false;`);
      for (let r = a; r < a + 3; r++) {
        for (let c = b; c < b + 3; c++) {
          // Inside elements only; the first one seen is taken, later ones only when strictly greater.
          out.push(`    {`);
          out.push(`      let take = in_r${r} && in_c${c} && (!found || v_${r}_${c} > m);`);
          out.push(`      m = select(m, v_${r}_${c}, take);`);
          out.push(`      hit = select(hit, ${r === 2 && c === 2}, take);`);
          out.push(`      found = found || (in_r${r} && in_c${c});`);
          out.push(`    }`);
        }
      }
      const cr = a + 1;
      const cc = b + 1;
      out.push(`    let gv = g[row${cr} + col${cc}];`);
      out.push(`    acc = select(acc, acc + gv, hit && in_r${cr} && in_c${cc});`);
      out.push(`  }`);
    }
  }
  return renderWgsl(maxPool3Backward, { BODY: out.join("\n") });
});

/**
 * A max pool whose choices are frozen (grasp's Hessian-vector products): bindings (ref, values, out); every
 * output element is `values` at the first maximum of `ref` in its window (h x w = the input's size; out is h x w
 * for `maxpool3`, floor(h/2) x floor(w/2) for `maxpool2`). Dispatch over the output's elements.
 */
export const maxPoolFrozenKernel = memoize(function maxPoolFrozenKernel(
  op: "maxpool3" | "maxpool2",
  n: number,
  c: number,
  h: number,
  w: number,
): Kernel {
  return maxPoolEntry(op, n, c, h, w, "f", `grad.${op}_frozen`);
});

/** A max-pool entry of grad_elementwise.wgsl (`<op>_t` backward, `<op>_f` frozen) for h x w inputs. */
function maxPoolEntry(
  op: "maxpool3" | "maxpool2",
  n: number,
  c: number,
  h: number,
  w: number,
  suffix: "t" | "f",
  name: string,
): Kernel {
  const two = op === "maxpool2";
  return {
    name,
    code: gradElementwise,
    entry: `${op}_${suffix}`,
    constants: { N: n, C: c, H: h, W: w, ...(two ? { HO: Math.floor(h / 2), WO: Math.floor(w / 2) } : {}) },
  };
}

/** out[n*c + j] = sum over the hw elements of plane j of x * g (bindings x, g, out). */
export const chanDotKernel = memoize(function chanDotKernel(n: number, c: number, hw: number): Kernel {
  return {
    name: "grad.chan_dot",
    code: gradElementwise,
    entry: "chan_dot",
    constants: { N: n, C: c, H: 1, W: hw },
  };
});

/** dx[n,c,y,x] = g[n,c,y/2,x/2] at even (y, x) inside g (ho x wo), else 0; dx is h x w. */
export const dilateKernel = memoize(function dilateKernel(
  n: number,
  c: number,
  h: number,
  w: number,
  ho: number,
  wo: number,
): Kernel {
  return {
    name: "grad.dilate",
    code: gradElementwise,
    entry: "dilate",
    constants: { N: n, C: c, H: h, W: w, HO: ho, WO: wo },
  };
});

/**
 * The input gradient of a convolution as a forward convolution the fast kernel runs: dx = conv(dy', w~) with
 * w~ = `flipTransposed(w)` and padding K-1-PAD, where dy' = dy for stride 1 and, for stride 2, dy zero-inserted
 * to 2*HO x 2*WO (`dilateKernel`; valid when the forward input is exactly 2*HO x 2*WO, as in NB201's reduction
 * blocks). The ReLU mask is applied afterwards. Null when it does not apply (use `convBackwardKernels` dx).
 */
export function inputGradConv(spec: ConvSpec): ConvSpec | null {
  const { ho, wo } = convOutSize(spec);
  const pad = spec.k - 1 - spec.pad;
  const base = { n: spec.n, cin: spec.cout, cout: spec.cin, k: spec.k, stride: 1, pad, relu: false };
  if (spec.stride === 1) return { ...base, h: ho, w: wo };
  if (spec.stride !== 2 || spec.h !== 2 * ho || spec.w !== 2 * wo || pad < 0) return null;
  return { ...base, h: 2 * ho, w: 2 * wo };
}

/** w~[ci][co][ky][kx] = w[co][ci][K-1-ky][K-1-kx]: the weights of `inputGradConv`, PyTorch layout. */
export function flipTransposed(spec: ConvSpec, w: Float32Array): Float32Array {
  const k = spec.k;
  const wt = new Float32Array(w.length);
  for (let co = 0; co < spec.cout; co++) {
    for (let ci = 0; ci < spec.cin; ci++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          wt[((ci * spec.cout + co) * k + (k - 1 - ky)) * k + (k - 1 - kx)] =
            w[((co * spec.cin + ci) * k + ky) * k + kx]!;
        }
      }
    }
  }
  return wt;
}

/**
 * Convolution backward: dx (x, w, dy, dx), the unblocked input gradient for strides the forward kernel cannot
 * take, and dw_reduce (part, dw), the sum over images of `convDwKernel`'s per-image weight gradients.
 */
export const convBackwardKernels = memoize(function convBackwardKernels(
  spec: ConvSpec,
  acc: { dx: boolean; dw: boolean },
): { dx: Kernel; dwReduce: Kernel } {
  const { ho, wo } = convOutSize(spec);
  const code = renderWgsl(convBackward, {
    K: spec.k,
    S: spec.stride,
    PAD: spec.pad,
    RELU: spec.relu ? "true" : "false",
  });
  const base = { N: spec.n, CIN: spec.cin, H: spec.h, W: spec.w, COUT: spec.cout, HO: ho, WO: wo };
  const name = `conv_backward_k${spec.k}s${spec.stride}p${spec.pad}${spec.relu ? "_relu" : ""}`;
  return {
    dx: { name: `${name}.dx`, code, entry: "dx_main", constants: { ...base, ACC: acc.dx ? 1 : 0 } },
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
  masked = false,
): { loss: Kernel; featGrad: Kernel; xGrad: Kernel; wGrad: Kernel } {
  const constants = { N: n, C: c, HW: hw, CLS: classes, ONES: ones ? 1 : 0, MASKED: masked ? 1 : 0 };
  const k = (e: string): Kernel => ({ name: `head_backward.${e}`, code: headBackward, entry: e, constants });
  return { loss: k("loss"), featGrad: k("feat_grad"), xGrad: k("x_grad"), wGrad: k("w_grad") };
});

/**
 * Blocking of the weight-gradient kernel: output x input channels per invocation, and output pixels per
 * inner step (stride 1 only: PX neighbouring pixels share K + PX - 1 loads of each input row instead of
 * K * PX). The pixels of a step are accumulated in raster order, so every blocking sums in the same order
 * and gives the same bits.
 */
export function dwBlocking(spec: ConvSpec): { tc: number; tci: number; px: number } {
  const tc = spec.cout >= 16 ? 16 : spec.cout >= 8 ? 8 : spec.cout;
  // 1x1: each loaded dy value would feed one tap only, so block over input channels too.
  const tci = spec.k === 1 ? Math.min(8, spec.cin) : Math.min(2, spec.cin);
  const { wo } = convOutSize(spec);
  const px = spec.stride === 1 && spec.k > 1 && wo % 2 === 0 ? 2 : 1;
  return { tc, tci, px };
}

/**
 * Images summed into one weight-gradient partial: 1 (the partials are per image) unless N partials of
 * COUT x CIN x K x K floats would exceed `maxBindingBytes`; then the fewest that fit.
 */
export function dwImagesPerPart(spec: ConvSpec, maxBindingBytes: number): number {
  const partBytes = spec.cout * spec.cin * spec.k * spec.k * 4;
  const parts = Math.max(1, Math.floor(maxBindingBytes / partBytes));
  return Math.ceil(spec.n / Math.min(parts, spec.n));
}

/**
 * Per-image weight gradient, TC output x TCI input channels per invocation (conv_dw.wgsl); bindings (x, dy,
 * part), dispatch over ceil(N / imagesPerPart) * ceil(COUT/TC) * ceil(CIN/TCI) invocations. Each partial sums
 * `imagesPerPart` consecutive images (see `dwImagesPerPart`). Reduce with `convBackwardKernels(...).dwReduce`
 * run over ceil(N / imagesPerPart) partials.
 */
export const convDwKernel = memoize(function convDwKernel(
  spec: ConvSpec,
  blocking: { tc: number; tci: number; px: number } = dwBlocking(spec),
  imagesPerPart: number = 1,
): { kernel: Kernel; items: number } {
  const { ho, wo } = convOutSize(spec);
  const { tc, tci, px } = blocking;
  if (px > 1 && (spec.stride !== 1 || wo % px !== 0)) {
    throw new RangeError(`convDwKernel: px ${px} for ${JSON.stringify(spec)}`);
  }
  const kk = spec.k * spec.k;
  const decl: string[] = [];
  for (let c = 0; c < tc; c++) {
    for (let j = 0; j < tci; j++) for (let t = 0; t < kk; t++) decl.push(`  var a_${c}_${j}_${t} = 0.0;`);
  }
  const body: string[] = [];
  // Input columns the step reads: ix0 + q for q < span (stride 1), or ix0 + kx (one pixel, any stride).
  const span = px > 1 ? px + spec.k - 1 : spec.k;
  for (let j = 0; j < tci; j++) {
    body.push(`        let xb${j} = xbase + min(${j}u, CIN - 1u - cib * TCI) * H * W;`);
    for (let ky = 0; ky < spec.k; ky++) {
      body.push(`        let iy${j}_${ky} = yb + ${ky};`);
      body.push(`        let ry${j}_${ky} = xb${j} + u32(clamp(iy${j}_${ky}, 0, i32(H) - 1)) * W;`);
      for (let q = 0; q < span; q++) {
        const load = `x[ry${j}_${ky} + u32(clamp(ix0 + ${q}, 0, i32(W) - 1))]`;
        const v = spec.relu ? `max(${load}, 0.0)` : load;
        body.push(
          `        let v${j}_${ky}_${q} = select(0.0, ${v}, iy${j}_${ky} >= 0 && iy${j}_${ky} < i32(H) && ix0 + ${q} >= 0 && ix0 + ${q} < i32(W));`,
        );
      }
    }
  }
  for (let p = 0; p < px; p++) {
    for (let c = 0; c < tc; c++) {
      body.push(
        `      let g${c}_${p} = dy[((n * COUT + min(cob * TC + ${c}u, COUT - 1u)) * HO + oy) * WO + ox + ${p}u];`,
      );
      for (let j = 0; j < tci; j++) {
        for (let ky = 0; ky < spec.k; ky++) {
          for (let kx = 0; kx < spec.k; kx++) {
            const t = ky * spec.k + kx;
            body.push(`        a_${c}_${j}_${t} = fma(g${c}_${p}, v${j}_${ky}_${p + kx}, a_${c}_${j}_${t});`);
          }
        }
      }
    }
  }
  const store: string[] = [];
  for (let c = 0; c < tc; c++) {
    for (let j = 0; j < tci; j++) {
      store.push(`  {`);
      store.push(`    let co = cob * TC + ${c}u;`);
      store.push(`    let ci = cib * TCI + ${j}u;`);
      store.push(`    let o = ((ng * COUT + min(co, COUT - 1u)) * CIN + min(ci, CIN - 1u)) * ${kk}u;`);
      store.push(`    if (live && co < COUT && ci < CIN) {`);
      for (let t = 0; t < kk; t++) store.push(`      part[o + ${t}u] = a_${c}_${j}_${t};`);
      store.push(`    }`);
      store.push(`  }`);
    }
  }
  const code = renderWgsl(convDw, {
    K: spec.k,
    S: spec.stride,
    PAD: spec.pad,
    TC: tc,
    TCI: tci,
    PX: px,
    DECL: decl.join("\n"),
    BODY: body.join("\n"),
    STORE: store.join("\n"),
  });
  return {
    kernel: {
      name: `conv_dw_k${spec.k}s${spec.stride}p${spec.pad}${spec.relu ? "_relu" : ""}_tc${tc}x${tci}${
        px > 1 ? `p${px}` : ""
      }`,
      code,
      constants: {
        N: spec.n,
        CIN: spec.cin,
        H: spec.h,
        W: spec.w,
        COUT: spec.cout,
        HO: ho,
        WO: wo,
        G: imagesPerPart,
      },
    },
    items: Math.ceil(spec.n / imagesPerPart) * Math.ceil(spec.cout / tc) * Math.ceil(spec.cin / tci),
  };
});

/** Entries of scaled.wgsl: y += a * op(x), a in a uniform (synflow's scaled tensors). */
export type ScaledOp = "axpy" | "pool3" | "pool2" | "pool3t" | "pool2t" | "pick2t" | "maxpool3" | "maxpool2";

/**
 * A scaled accumulation over n x c planes; (h, w) are the planes of the larger side (pool2, maxpool2: x; pool2t: y).
 * Returns the kernel and the number of invocations (elements of y).
 */
export const scaledKernel = memoize(function scaledKernel(
  op: ScaledOp,
  n: number,
  c: number,
  h: number,
  w: number,
): { kernel: Kernel; items: number } {
  const ho = Math.floor(h / 2), wo = Math.floor(w / 2);
  return {
    kernel: {
      name: `scaled.${op}`,
      code: scaled,
      // pick2t is pool2t with PICK (one source element of weight 1 instead of four of 1/4).
      entry: op === "pick2t" ? "pool2t" : op,
      constants: { N: n, C: c, H: h, W: w, HO: ho, WO: wo, ...(op === "pick2t" ? { PICK: 1 } : {}) },
    },
    items: op === "pool2" || op === "maxpool2" ? n * c * ho * wo : n * c * h * w,
  };
});

/**
 * scaled.wgsl's `chans`: y[n, oy + j] += a * x[n, ox + j] for `count` channels j of hw-element planes, x with
 * `cx` channels and y with `cy` (NB101's channel slices, forward and transposed). Bindings (x, y, coef).
 */
export const scaledChansKernel = memoize(function scaledChansKernel(
  n: number,
  hw: number,
  count: number,
  x: { c: number; at: number },
  y: { c: number; at: number },
): { kernel: Kernel; items: number } {
  return {
    kernel: {
      name: "scaled.chans",
      code: scaled,
      entry: "chans",
      constants: { N: n, C: count, H: 1, W: hw, CX: x.c, OX: x.at, CY: y.c, OY: y.at },
    },
    items: n * count * hw,
  };
});
