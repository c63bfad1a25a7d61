/**
 * Plain float64 TypeScript references of every kernel and of the whole NB201 network, written straight from
 * the published semantics (ALGORITHMS.md) and independent of the plan lowering, for the GPU tests.
 * @module
 */

import { archEdges, type Nb201Arch } from "../spaces/nb201.ts";
import type { Params } from "../spaces/init.ts";

/** A batch of NCHW tensors in float64. */
export interface T4 {
  n: number;
  c: number;
  h: number;
  w: number;
  d: Float64Array;
}

/** Creates a zero tensor. */
export function zeros(n: number, c: number, h: number, w: number): T4 {
  return { n, c, h, w, d: new Float64Array(n * c * h * w) };
}

/** torch.nn.Conv2d(bias=False) with optional ReLU on the input. w: [cout][cin][k][k]. */
export function conv2d(
  x: T4,
  w: ArrayLike<number>,
  cout: number,
  k: number,
  stride: number,
  pad: number,
  relu = false,
): T4 {
  const ho = Math.floor((x.h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((x.w + 2 * pad - k) / stride) + 1;
  const y = zeros(x.n, cout, ho, wo);
  for (let n = 0; n < x.n; n++) {
    for (let co = 0; co < cout; co++) {
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let s = 0;
          for (let ci = 0; ci < x.c; ci++) {
            for (let ky = 0; ky < k; ky++) {
              const iy = oy * stride + ky - pad;
              if (iy < 0 || iy >= x.h) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = ox * stride + kx - pad;
                if (ix < 0 || ix >= x.w) continue;
                let v = x.d[((n * x.c + ci) * x.h + iy) * x.w + ix]!;
                if (relu && v < 0) v = 0;
                s += w[((co * x.c + ci) * k + ky) * k + kx]! * v;
              }
            }
          }
          y.d[((n * cout + co) * ho + oy) * wo + ox] = s;
        }
      }
    }
  }
  return y;
}

/** Batch statistics per channel: mean and biased variance over (n, h, w). */
export function bnStats(x: T4): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(x.c);
  const variance = new Float64Array(x.c);
  const hw = x.h * x.w;
  const m = x.n * hw;
  for (let c = 0; c < x.c; c++) {
    let s = 0;
    for (let n = 0; n < x.n; n++) for (let p = 0; p < hw; p++) s += x.d[(n * x.c + c) * hw + p]!;
    const mu = s / m;
    let q = 0;
    for (let n = 0; n < x.n; n++) {
      for (let p = 0; p < hw; p++) q += (x.d[(n * x.c + c) * hw + p]! - mu) ** 2;
    }
    mean[c] = mu;
    variance[c] = q / m;
  }
  return { mean, variance };
}

/** torch.nn.BatchNorm2d in training mode (batch statistics, eps 1e-5, affine). */
export function batchNorm(x: T4, gamma: ArrayLike<number>, beta: ArrayLike<number>): T4 {
  const { mean, variance } = bnStats(x);
  const y = zeros(x.n, x.c, x.h, x.w);
  const hw = x.h * x.w;
  for (let n = 0; n < x.n; n++) {
    for (let c = 0; c < x.c; c++) {
      const inv = 1 / Math.sqrt(variance[c]! + 1e-5);
      for (let p = 0; p < hw; p++) {
        const i = (n * x.c + c) * hw + p;
        y.d[i] = (x.d[i]! - mean[c]!) * inv * gamma[c]! + beta[c]!;
      }
    }
  }
  return y;
}

/** AvgPool2d(3, stride 1, pad 1, count_include_pad=False). */
export function avgPool3(x: T4): T4 {
  const y = zeros(x.n, x.c, x.h, x.w);
  for (let nc = 0; nc < x.n * x.c; nc++) {
    for (let oy = 0; oy < x.h; oy++) {
      for (let ox = 0; ox < x.w; ox++) {
        let s = 0;
        let cnt = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const iy = oy + dy;
            const ix = ox + dx;
            if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) continue;
            s += x.d[(nc * x.h + iy) * x.w + ix]!;
            cnt++;
          }
        }
        y.d[(nc * x.h + oy) * x.w + ox] = s / cnt;
      }
    }
  }
  return y;
}

/** AvgPool2d(2, stride 2). */
export function avgPool2(x: T4): T4 {
  const ho = Math.floor(x.h / 2);
  const wo = Math.floor(x.w / 2);
  const y = zeros(x.n, x.c, ho, wo);
  for (let nc = 0; nc < x.n * x.c; nc++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const b = (nc * x.h + 2 * oy) * x.w + 2 * ox;
        y.d[(nc * ho + oy) * wo + ox] = 0.25 * (x.d[b]! + x.d[b + 1]! + x.d[b + x.w]! + x.d[b + x.w + 1]!);
      }
    }
  }
  return y;
}

/** Elementwise sum. */
export function add(a: T4, b: T4): T4 {
  const y = zeros(a.n, a.c, a.h, a.w);
  for (let i = 0; i < y.d.length; i++) y.d[i] = a.d[i]! + b.d[i]!;
  return y;
}

/** ReLU -> global average pool -> Linear(weight [cls][c], bias [cls]); returns [n][cls]. */
export function head(
  x: T4,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  classes: number,
): Float64Array {
  const out = new Float64Array(x.n * classes);
  const hw = x.h * x.w;
  for (let n = 0; n < x.n; n++) {
    const f = new Float64Array(x.c);
    for (let c = 0; c < x.c; c++) {
      let s = 0;
      for (let p = 0; p < hw; p++) s += Math.max(0, x.d[(n * x.c + c) * hw + p]!);
      f[c] = s / hw;
    }
    for (let k = 0; k < classes; k++) {
      let s = bias[k]!;
      for (let c = 0; c < x.c; c++) s += f[c]! * weight[k * x.c + c]!;
      out[n * classes + k] = s;
    }
  }
  return out;
}

/** Weighted Hamming matrix: ham[i][j] = sum over codes of weight * popcount(code_i xor code_j). */
export function hammingRef(codes: { bits: Uint8Array[]; weight: number }[], n: number): Float64Array {
  const ham = new Float64Array(n * n);
  for (const { bits, weight } of codes) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const a = bits[i]!;
        const b = bits[j]!;
        let d = 0;
        for (let u = 0; u < a.length; u++) d += a[u]! ^ b[u]!;
        ham[i * n + j]! += weight * d;
      }
    }
  }
  return ham;
}

/** log|det A| for symmetric positive definite A (float64 Cholesky); -inf when a pivot is <= n*eps*max diag. */
export function logdetRef(a: ArrayLike<number>, n: number): number {
  const l = Float64Array.from(a as ArrayLike<number>);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, l[i * n + i]!);
  const tiny = n * 2.3e-16 * scale;
  let s = 0;
  for (let j = 0; j < n; j++) {
    let d = l[j * n + j]!;
    for (let k = 0; k < j; k++) d -= l[j * n + k]! ** 2;
    if (!(d > tiny)) return -Infinity;
    const r = Math.sqrt(d);
    l[j * n + j] = r;
    s += Math.log(d);
    for (let i = j + 1; i < n; i++) {
      let v = l[i * n + j]!;
      for (let k = 0; k < j; k++) v -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = v / r;
    }
  }
  return s;
}

/** Output of the reference NB201 forward. */
export interface RefForward {
  logits: Float64Array;
  /** ReLU inputs by producing tensor name (as named by the plan lowering), with their ReLU counts. */
  reluInputs: Map<string, { t: T4; count: number }>;
}

/**
 * NB201 network forward in float64, literally as ALGORITHMS.md section 1 describes it (no pruning of zero
 * nodes: `none` multiplies by zero). `wrapper` counts conv-block ReLUs twice.
 */
export function nb201ForwardRef(
  arch: Nb201Arch,
  params: Params,
  x: T4,
  opts: {
    classes: number;
    channels?: number;
    cellsPerStage?: number;
    wrapper?: boolean;
    /**
     * NATS-Bench size-space widths [c0..c4]: stem c0, cell c0, block c1, cell c2, block c3, cell c4, with
     * the width-changing node-0 edges of NATS-Bench's InferCell (skip = Conv1x1 -> BN; pool after a
     * ReLU -> Conv1x1 -> BN; convolutions cin -> cout).
     */
    widths?: readonly number[];
  },
): RefForward {
  const c0 = opts.widths ? opts.widths[0]! : opts.channels ?? 16;
  const per = opts.cellsPerStage ?? 5;
  const mult = opts.wrapper ? 2 : 1;
  const p = (name: string) => {
    const v = params.get(name);
    if (!v) throw new Error(`reference: missing parameter ${name}`);
    return v;
  };
  const relus = new Map<string, { t: T4; count: number }>();
  const names = new Map<T4, string>();
  const noteRelu = (t: T4, count: number) => {
    const name = names.get(t)!;
    const e = relus.get(name);
    if (e) e.count += count;
    else relus.set(name, { t, count });
  };
  const named = (t: T4, name: string) => {
    names.set(t, name);
    return t;
  };
  const rcb = (name: string, src: T4, cout: number, k: number, stride: number) => {
    noteRelu(src, mult);
    const y = conv2d(src, p(`${name}.conv.weight`), cout, k, stride, (k - 1) / 2, true);
    return batchNorm(y, p(`${name}.bn.weight`), p(`${name}.bn.bias`));
  };
  let cur = named(
    batchNorm(conv2d(x, p("stem.conv.weight"), c0, 3, 1, 1), p("stem.bn.weight"), p("stem.bn.bias")),
    "stem",
  );
  // The layer list: NB201's 3 stages of `per` cells with doubling blocks, or NATS-SSS's five widths.
  const w = opts.widths;
  const layers: { block: boolean; c: number }[] = w
    ? [[false, w[0]!], [true, w[1]!], [false, w[2]!], [true, w[3]!], [false, w[4]!]].map(([b, c]) => ({
      block: b as boolean,
      c: c as number,
    }))
    : [0, 1, 2].flatMap((stage) => [
      ...(stage > 0 ? [{ block: true, c: c0 << stage }] : []),
      ...Array.from({ length: per }, () => ({ block: false, c: c0 << stage })),
    ]);
  for (const [g, l] of layers.entries()) {
    const name = `cells.${g}`;
    if (l.block) {
      const cout = l.c;
      const a = named(rcb(`${name}.conv_a`, cur, cout, 3, 2), `${name}.a`);
      const b = rcb(`${name}.conv_b`, a, cout, 3, 1);
      const sc = conv2d(avgPool2(cur), p(`${name}.downsample.conv.weight`), cout, 1, 1, 0);
      cur = named(add(sc, b), `${name}.out`);
      continue;
    }
    const cout = l.c;
    const nodes: T4[] = [cur];
    for (let i = 1; i <= 3; i++) {
      let s = zeros(cur.n, cout, cur.h, cur.w);
      for (const e of archEdges(arch).filter((e) => e.to === i)) {
        const src = nodes[e.from]!;
        const ename = `${name}.edge${e.from}${e.to}`;
        const widen = src.c !== cout;
        if (e.op === "skip_connect") {
          s = add(
            s,
            widen
              ? batchNorm(
                conv2d(src, p(`${ename}.conv.weight`), cout, 1, 1, 0),
                p(`${ename}.bn.weight`),
                p(`${ename}.bn.bias`),
              )
              : src,
          );
        } else if (e.op === "avg_pool_3x3") {
          s = add(s, avgPool3(widen ? named(rcb(`${ename}.pre`, src, cout, 1, 1), `${ename}.pre`) : src));
        } else if (e.op === "nor_conv_1x1") s = add(s, rcb(ename, src, cout, 1, 1));
        else if (e.op === "nor_conv_3x3") s = add(s, rcb(ename, src, cout, 3, 1));
      }
      nodes.push(named(s, `${name}.node${i}`));
    }
    cur = nodes[3]!;
  }
  const last = named(batchNorm(cur, p("lastact.bn.weight"), p("lastact.bn.bias")), "lastact");
  noteRelu(last, 1);
  return {
    logits: head(last, p("classifier.weight"), p("classifier.bias"), opts.classes),
    reluInputs: relus,
  };
}

/** Max relative error max|a-b| / max(max|b|, tiny), and the first few mismatching indices. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): { rel: number; worst: number } {
  let maxAbs = 0;
  let maxDiff = 0;
  let worst = -1;
  for (let i = 0; i < b.length; i++) maxAbs = Math.max(maxAbs, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > maxDiff || Number.isNaN(d)) {
      maxDiff = Number.isNaN(d) ? Infinity : d;
      worst = i;
    }
  }
  return { rel: maxDiff / Math.max(maxAbs, 1e-30), worst };
}

/** ReLU of a tensor. */
export function relu(x: T4): T4 {
  return { ...x, d: x.d.map((v) => Math.max(v, 0)) };
}

/**
 * 3x3 pooling with pad 1 and stride 1 or 2, padding ignored: max (MaxPool2d) or mean over the in-bounds taps
 * (AvgPool2d count_include_pad=False).
 */
export function pool3(x: T4, stride: number, max: boolean): T4 {
  const ho = Math.floor((x.h - 1) / stride) + 1;
  const wo = Math.floor((x.w - 1) / stride) + 1;
  const y = zeros(x.n, x.c, ho, wo);
  for (let p = 0; p < x.n * x.c; p++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        let m = -Infinity;
        let s = 0;
        let cnt = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const iy = oy * stride + dy;
            const ix = ox * stride + dx;
            if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) continue;
            const v = x.d[(p * x.h + iy) * x.w + ix]!;
            m = Math.max(m, v);
            s += v;
            cnt++;
          }
        }
        y.d[(p * ho + oy) * wo + ox] = max ? m : s / cnt;
      }
    }
  }
  return y;
}

/** 2x2 max pool, stride 2 (an odd last row or column is dropped). */
export function maxPool2(x: T4): T4 {
  const ho = Math.floor(x.h / 2);
  const wo = Math.floor(x.w / 2);
  const y = zeros(x.n, x.c, ho, wo);
  for (let p = 0; p < x.n * x.c; p++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const at = (dy: number, dx: number) => x.d[(p * x.h + 2 * oy + dy) * x.w + 2 * ox + dx]!;
        y.d[(p * ho + oy) * wo + ox] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
      }
    }
  }
  return y;
}

/** Concatenation along channels. */
export function concat(xs: T4[]): T4 {
  const c = xs.reduce((s, x) => s + x.c, 0);
  const y = zeros(xs[0]!.n, c, xs[0]!.h, xs[0]!.w);
  const hw = y.h * y.w;
  for (let n = 0; n < y.n; n++) {
    let off = 0;
    for (const x of xs) {
      y.d.set(x.d.subarray(n * x.c * hw, (n + 1) * x.c * hw), (n * c + off) * hw);
      off += x.c;
    }
  }
  return y;
}
