/**
 * synflow (Tanaka et al. 2020, as the zero-cost proxies compute it; ALGORITHMS.md section 3): every parameter
 * made positive (abs), batch norm removed, one all-ones image, R = sum of the outputs; score = sum over conv and
 * linear weights of |W * dR/dW|. Returned as log(synflow): the value reaches 1e30..1e61, beyond float32.
 *
 * Without batch norm and with positive weights and input, every activation is non-negative, so ReLUs pass
 * everything and, by Euler's theorem for the linear map of one layer, the sum of W * dR/dW over a conv equals
 * <y, dR/dy> for its output y. We therefore run one scaled forward and backward on the GPU: tensor t is stored
 * as t / S_t and its gradient as g_t / A_t, with log S and log A chosen on the host from weight norms (an
 * upper bound of each layer's amplification), so nothing overflows float32; the per-layer inner products come
 * back and are combined in log space in float64.
 * @module
 */

import type { Binding, Gpu, PooledBuffer } from "../shaders/gpu.ts";
import { convKernel, defaultBlocking, encodeConv, packConvWeights } from "../shaders/conv2d.ts";
import { headKernels } from "../shaders/kernels.ts";
import {
  chanDotKernel,
  dilateKernel,
  flipTransposed,
  groupsFor,
  inputGradConv,
  maskAccKernel,
  maxPoolBackwardKernel,
  scaledChansKernel,
  scaledKernel,
} from "../shaders/backward.ts";
import { convOutSize } from "../shaders/conv2d.ts";
import { initParams } from "../spaces/init.ts";
import { assertTermOps, NB201_TERM_OPS, type NetworkPlan, type Shape3, type Term } from "../spaces/plan.ts";
import { convSpecOf } from "./_forward.ts";

const size = (s: Shape3) => s.c * s.h * s.w;

/** Largest row sum (per output channel) and column sum (per input channel) of |W| [cout][cin][k][k]. */
function convBounds(w: Float32Array, cout: number, cin: number, kk: number): { row: number; col: number } {
  const rows = new Float64Array(cout);
  const cols = new Float64Array(cin);
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let t = 0; t < kk; t++) {
        const a = Math.abs(w[(co * cin + ci) * kk + t]!);
        rows[co] = rows[co]! + a;
        cols[ci] = cols[ci]! + a;
      }
    }
  }
  return { row: Math.max(...rows, 1e-30), col: Math.max(...cols, 1e-30) };
}

function logSumExp(xs: readonly number[]): number {
  const m = Math.max(...xs);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
}

/**
 * Term kinds synflow runs: NB201's (its resize for GenNAS heads aside) and NB101's. Every activation is
 * positive, so a ReLU (`relu` terms, a slice's or a conv's ReLU on load) passes everything, and max pools
 * commute with the positive scales.
 */
const SYNFLOW_TERM_OPS: readonly Term["op"][] = [
  ...NB201_TERM_OPS.filter((op) => op !== "subsample2"),
  "relu",
  "slice",
  "maxpool3",
  "maxpool2",
];

/** log(synflow) of a plan (lowered with the dataset's classes), weights from `seed`. */
export async function synflowScore(gpu: Gpu, plan: NetworkPlan, seed: number): Promise<number> {
  assertTermOps(plan, SYNFLOW_TERM_OPS, "synflow");
  const params = initParams(plan, seed);
  const abs = (name: string | undefined) => {
    const p = name === undefined ? undefined : params.get(name);
    if (!p) throw new Error(`plan ${plan.arch}: missing parameter ${name}`);
    return p.map(Math.abs);
  };
  const n = 1;
  const T = plan.tensors;
  // Host pre-pass: forward scales log S_t (topological order) and backward scales log A_t (reverse order).
  const bound = new Map<string, { row: number; col: number }>();
  const logS = new Float64Array(T.length);
  for (const t of T.slice(1)) {
    let m = -Infinity;
    t.terms.forEach((term, k) => {
      let b = 1;
      if (term.op === "conv") {
        const spec = convSpecOf(plan, n, t, k);
        const bb = convBounds(abs(term.params.conv), spec.cout, spec.cin, spec.k * spec.k);
        bound.set(`${t.id}:${k}`, bb);
        b = bb.row;
      }
      m = Math.max(m, logS[term.src]! + Math.log(b));
    });
    logS[t.id] = m;
  }
  const cls = plan.classes;
  const hasHead = plan.head.src >= 0;
  if (!hasHead) return -Infinity; // identically zero features: every weight gradient but the bias's is 0
  const hs = T[plan.head.src]!.shape;
  const wHead = abs(plan.head.weight);
  const colsum = new Float64Array(hs.c);
  for (let k = 0; k < cls; k++) for (let c = 0; c < hs.c; c++) colsum[c] = colsum[c]! + wHead[k * hs.c + c]!;
  const hw = hs.h * hs.w;
  const logA = new Float64Array(T.length).fill(-Infinity);
  logA[plan.head.src] = Math.log(Math.max(...colsum) / hw);
  for (let ti = T.length - 1; ti >= 1; ti--) {
    const t = T[ti]!;
    t.terms.forEach((term, k) => {
      // A stride-1 3x3 max pool can route up to 9 windows' gradients to one element.
      const b = term.op === "conv" ? bound.get(`${ti}:${k}`)!.col : term.op === "maxpool3" ? 9 : 1;
      logA[term.src] = Math.max(logA[term.src]!, logA[ti]! + Math.log(b));
    });
  }

  const uploads: GPUBuffer[] = [];
  const pooled: PooledBuffer[] = [];
  const upload = (d: Float32Array) => {
    const b = gpu.upload(d, "synflow");
    uploads.push(b);
    return b;
  };
  const acquire = (bytes: number) => {
    const b = gpu.acquire(Math.max(bytes, 4), "synflow");
    pooled.push(b);
    return b;
  };
  const rec = gpu.record(`synflow ${plan.arch}`);
  const scaledOp = async (
    op: "axpy" | "pool3" | "pool2" | "pool3t" | "pool2t" | "maxpool3" | "maxpool2",
    s: Shape3,
    x: Binding,
    y: Binding,
    a: number,
  ) => {
    const { kernel, items } = scaledKernel(op, n, s.c, s.h, s.w);
    rec.dispatch(
      await gpu.pipeline(kernel),
      [x, y, rec.uniform(Float32Array.of(a, 0, 0, 0))],
      groupsFor(items),
    );
  };
  /** y[:, to .. to + count) += a * x[:, from .. from + count) over hw-element planes (channel blocks). */
  const chans = async (
    hw: number,
    count: number,
    x: Binding,
    xc: { c: number; at: number },
    y: Binding,
    yc: { c: number; at: number },
    a: number,
  ) => {
    const { kernel, items } = scaledChansKernel(n, hw, count, xc, yc);
    rec.dispatch(
      await gpu.pipeline(kernel),
      [x, y, rec.uniform(Float32Array.of(a, 0, 0, 0))],
      groupsFor(items),
    );
  };
  const conv = async (spec: Parameters<typeof convKernel>[0], w: Float32Array, x: Binding, out: Binding) => {
    const bl = defaultBlocking(spec);
    const { kernel, groups } = convKernel(spec, bl);
    const packed = upload(packConvWeights(w, spec.cout, spec.cin, spec.k, bl.tc));
    encodeConv(gpu, rec, await gpu.pipeline(kernel), spec, bl, groups, x, packed, out);
  };

  // Forward: t' = sum_k c_k op_k(src'), c_k = S_src / S_t; conv coefficients are folded into the weights.
  const value = new Map<number, Binding>([[0, upload(new Float32Array(size(plan.input)).fill(1))]]);
  const convOut = new Map<string, PooledBuffer>();
  for (const t of T.slice(1)) {
    const out = acquire(size(t.shape) * 4);
    rec.clear(out);
    for (const [k, term] of t.terms.entries()) {
      const c = Math.exp(logS[term.src]! - logS[t.id]!);
      const src = value.get(term.src)!;
      if (term.op === "conv") {
        const spec = convSpecOf(plan, n, t, k);
        const y = acquire(size(t.shape) * 4);
        await conv(spec, abs(term.params.conv).map((v) => v * c), src, y);
        convOut.set(`${t.id}:${k}`, y);
        await scaledOp("axpy", t.shape, y, out, 1);
      } else if (term.op === "identity" || term.op === "relu") await scaledOp("axpy", t.shape, src, out, c);
      else if (term.op === "avgpool3") await scaledOp("pool3", t.shape, src, out, c);
      else if (term.op === "avgpool2") await scaledOp("pool2", T[term.src]!.shape, src, out, c);
      else if (term.op === "maxpool3") await scaledOp("maxpool3", t.shape, src, out, c);
      else if (term.op === "maxpool2") await scaledOp("maxpool2", T[term.src]!.shape, src, out, c);
      else if (term.op === "slice") {
        const from = { c: T[term.src]!.shape.c, at: term.from };
        await chans(t.shape.h * t.shape.w, term.count, src, from, out, { c: t.shape.c, at: term.to }, c);
      } else {throw new Error(
          `synflow: plan ${plan.arch} has a ${term.op} term (not an NB201 classifier plan)`,
        );}
    }
    value.set(t.id, out);
  }
  const feat = acquire(hs.c * 4);
  const [gap] = headKernels(n, hs.c, hw, cls);
  rec.dispatch(await gpu.pipeline(gap!), [value.get(plan.head.src)!, feat], groupsFor(hs.c));

  // Backward: g'_src += (A_t / A_src) op_k^T(g'_t); the head's gradient is colsum_c / HW where t_head > 0.
  const grad = new Map<number, PooledBuffer>();
  for (const t of T.slice(1)) {
    const b = acquire(size(t.shape) * 4);
    rec.clear(b);
    grad.set(t.id, b);
  }
  const g0 = new Float32Array(size(hs));
  const aHead = Math.exp(logA[plan.head.src]!);
  for (let c = 0; c < hs.c; c++) g0.fill(colsum[c]! / hw / aHead, c * hw, (c + 1) * hw);
  rec.dispatch(
    await gpu.pipeline(maskAccKernel(size(hs), true)),
    [value.get(plan.head.src)!, upload(g0), grad.get(plan.head.src)!],
    groupsFor(size(hs)),
  );
  const dots: { key: string; log: number; buf: PooledBuffer; c: number }[] = [];
  for (let ti = T.length - 1; ti >= 1; ti--) {
    const t = T[ti]!;
    const gt = grad.get(ti)!;
    for (const [k, term] of t.terms.entries()) {
      const d = Math.exp(logA[ti]! - logA[term.src]!);
      const gs = grad.get(term.src);
      const srcShape = T[term.src]!.shape;
      if (term.op === "conv") {
        const spec = convSpecOf(plan, n, t, k);
        const dot = acquire(t.shape.c * 4);
        rec.dispatch(
          await gpu.pipeline(chanDotKernel(n, t.shape.c, t.shape.h * t.shape.w)),
          [convOut.get(`${ti}:${k}`)!, gt, dot],
          groupsFor(t.shape.c),
        );
        dots.push({ key: `${ti}:${k}`, log: logS[ti]! + logA[ti]!, buf: dot, c: t.shape.c });
        if (!gs) continue;
        const w = abs(term.params.conv).map((v) => v * d);
        const trSpec = inputGradConv(spec);
        if (!trSpec) throw new Error(`synflow: unsupported strided conv ${JSON.stringify(spec)}`);
        let g: Binding = gt;
        if (spec.stride === 2) {
          const { ho, wo } = convOutSize(spec);
          const items = spec.cout * spec.h * spec.w;
          g = acquire(items * 4);
          rec.dispatch(
            await gpu.pipeline(dilateKernel(n, spec.cout, spec.h, spec.w, ho, wo)),
            [null, gt, g],
            groupsFor(items),
          );
        }
        const dx = acquire(size(srcShape) * 4);
        await conv(trSpec, flipTransposed(spec, w), g, dx);
        rec.dispatch(
          await gpu.pipeline(maskAccKernel(size(srcShape), spec.relu)),
          [value.get(term.src)!, dx, gs],
          groupsFor(size(srcShape)),
        );
      } else if (!gs) continue;
      else if (term.op === "identity" || term.op === "relu") await scaledOp("axpy", t.shape, gt, gs, d);
      else if (term.op === "avgpool3") await scaledOp("pool3t", t.shape, gt, gs, d);
      else if (term.op === "avgpool2") await scaledOp("pool2t", srcShape, gt, gs, d);
      else if (term.op === "slice") {
        const to = { c: t.shape.c, at: term.to };
        await chans(t.shape.h * t.shape.w, term.count, gt, to, gs, { c: srcShape.c, at: term.from }, d);
      } else if (term.op === "maxpool3" || term.op === "maxpool2") {
        // Each window's gradient goes to its first maximum (ties are common: the input is constant).
        const scaledGt = acquire(size(t.shape) * 4);
        rec.clear(scaledGt);
        await scaledOp("axpy", t.shape, gt, scaledGt, d);
        rec.dispatch(
          await gpu.pipeline(maxPoolBackwardKernel(term.op, n, srcShape.c, srcShape.h, srcShape.w)),
          [value.get(term.src)!, scaledGt, gs],
          groupsFor(size(srcShape)),
        );
      } else throw new Error(`synflow: plan ${plan.arch} has a ${term.op} term`);
    }
  }
  rec.submit();
  const data = await gpu.read([
    { src: feat, size: hs.c * 4 },
    ...dots.map((d) => ({ src: d.buf, size: d.c * 4 })),
  ]);
  rec.dispose();
  for (const b of pooled) gpu.release(b);
  for (const b of uploads) b.destroy();

  const logs: number[] = [];
  const f = new Float32Array(data[0]!);
  let lin = 0;
  for (let c = 0; c < hs.c; c++) lin += colsum[c]! * f[c]!;
  logs.push(logS[plan.head.src]! + Math.log(lin));
  dots.forEach((d, i) => {
    const v = new Float32Array(data[i + 1]!).reduce((a, b) => a + b, 0);
    logs.push(d.log + Math.log(v));
  });
  return logSumExp(logs.filter((x) => !Number.isNaN(x)));
}
