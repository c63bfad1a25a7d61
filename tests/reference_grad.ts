/**
 * Float64 reverse-mode references for the gradient proxies: the backward of every forward op (conv with ReLU
 * on its input, batch norm in training mode, both average pools, NB101's ReLU, max pools and channel slices,
 * the ReLU -> global pool -> linear head, cross-entropy) and a forward/backward of a whole network plan built
 * from them. Checked against central
 * finite differences in tests/grad_test.ts; the GPU kernels are checked against these.
 * @module
 */

import type { NetworkPlan } from "../spaces/plan.ts";
import type { Params } from "../spaces/init.ts";
import {
  avgPool2,
  avgPool3,
  batchNorm,
  bnStats,
  conv2d,
  maxPool2,
  pool3,
  relu,
  type T4,
  zeros,
} from "./reference.ts";

/** y = f(channels [from, from + count) of x) at channels [to, to + count) of a c-channel tensor, 0 elsewhere. */
export function slice(
  x: T4,
  c: number,
  term: { from: number; to: number; count: number; relu: boolean },
): T4 {
  const y = zeros(x.n, c, x.h, x.w);
  const hw = x.h * x.w;
  for (let n = 0; n < x.n; n++) {
    for (let k = 0; k < term.count; k++) {
      for (let p = 0; p < hw; p++) {
        const v = x.d[(n * x.c + term.from + k) * hw + p]!;
        y.d[(n * c + term.to + k) * hw + p] = term.relu ? Math.max(v, 0) : v;
      }
    }
  }
  return y;
}

/** dx of {@link slice} from dy (x gives the ReLU mask). */
export function sliceBackward(
  x: T4,
  dy: T4,
  term: { from: number; to: number; count: number; relu: boolean },
): T4 {
  const dx = zeros(x.n, x.c, x.h, x.w);
  const hw = x.h * x.w;
  for (let n = 0; n < x.n; n++) {
    for (let k = 0; k < term.count; k++) {
      for (let p = 0; p < hw; p++) {
        const i = (n * x.c + term.from + k) * hw + p;
        if (!term.relu || x.d[i]! > 0) dx.d[i] = dy.d[(n * dy.c + term.to + k) * hw + p]!;
      }
    }
  }
  return dx;
}

/**
 * dx of a max pool from dy: each window's gradient goes to its first maximum in row-major order (PyTorch's
 * MaxPool2d). `k3`: 3x3, stride 1, pad 1, padding ignored; else 2x2, stride 2.
 */
export function maxPoolBackward(x: T4, dy: T4, k3: boolean): T4 {
  const dx = zeros(x.n, x.c, x.h, x.w);
  for (let p = 0; p < x.n * x.c; p++) {
    for (let oy = 0; oy < dy.h; oy++) {
      for (let ox = 0; ox < dy.w; ox++) {
        const [y0, y1, x0, x1] = k3
          ? [Math.max(oy - 1, 0), Math.min(oy + 1, x.h - 1), Math.max(ox - 1, 0), Math.min(ox + 1, x.w - 1)]
          : [2 * oy, 2 * oy + 1, 2 * ox, 2 * ox + 1];
        let best = -1;
        let m = -Infinity;
        for (let yy = y0; yy <= y1; yy++) {
          for (let xx = x0; xx <= x1; xx++) {
            const v = x.d[(p * x.h + yy) * x.w + xx]!;
            if (best < 0 || v > m) [best, m] = [(p * x.h + yy) * x.w + xx, v];
          }
        }
        dx.d[best] = dx.d[best]! + dy.d[(p * dy.h + oy) * dy.w + ox]!;
      }
    }
  }
  return dx;
}

const EPS = 1e-5;

/** Gradients of y = conv(f(x), w) (f = ReLU when `relu`): dx (through f) and dw, from dy. */
export function conv2dBackward(
  x: T4,
  w: ArrayLike<number>,
  dy: T4,
  k: number,
  stride: number,
  pad: number,
  relu: boolean,
): { dx: T4; dw: Float64Array } {
  const dx = zeros(x.n, x.c, x.h, x.w);
  const dw = new Float64Array(dy.c * x.c * k * k);
  for (let n = 0; n < x.n; n++) {
    for (let co = 0; co < dy.c; co++) {
      for (let oy = 0; oy < dy.h; oy++) {
        for (let ox = 0; ox < dy.w; ox++) {
          const g = dy.d[((n * dy.c + co) * dy.h + oy) * dy.w + ox]!;
          for (let ci = 0; ci < x.c; ci++) {
            for (let ky = 0; ky < k; ky++) {
              const iy = oy * stride + ky - pad;
              if (iy < 0 || iy >= x.h) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = ox * stride + kx - pad;
                if (ix < 0 || ix >= x.w) continue;
                const xi = ((n * x.c + ci) * x.h + iy) * x.w + ix;
                const wi = ((co * x.c + ci) * k + ky) * k + kx;
                const v = x.d[xi]!;
                const fv = relu && v < 0 ? 0 : v;
                dw[wi] = dw[wi]! + g * fv;
                if (!relu || v > 0) dx.d[xi] = dx.d[xi]! + g * w[wi]!;
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw };
}

/** Gradients of z = BN(y) (training mode: batch mean, biased variance, eps 1e-5) from dz. */
export function batchNormBackward(
  y: T4,
  gamma: ArrayLike<number>,
  dz: T4,
): { dy: T4; dgamma: Float64Array; dbeta: Float64Array } {
  const { mean, variance } = bnStats(y);
  const hw = y.h * y.w;
  const m = y.n * hw;
  const dy = zeros(y.n, y.c, y.h, y.w);
  const dgamma = new Float64Array(y.c);
  const dbeta = new Float64Array(y.c);
  for (let c = 0; c < y.c; c++) {
    const inv = 1 / Math.sqrt(variance[c]! + EPS);
    let sg = 0;
    let sgx = 0;
    for (let n = 0; n < y.n; n++) {
      for (let p = 0; p < hw; p++) {
        const i = (n * y.c + c) * hw + p;
        const xhat = (y.d[i]! - mean[c]!) * inv;
        sg += dz.d[i]!;
        sgx += dz.d[i]! * xhat;
      }
    }
    dgamma[c] = sgx;
    dbeta[c] = sg;
    const g = gamma[c]!;
    for (let n = 0; n < y.n; n++) {
      for (let p = 0; p < hw; p++) {
        const i = (n * y.c + c) * hw + p;
        const xhat = (y.d[i]! - mean[c]!) * inv;
        dy.d[i] = g * inv * (dz.d[i]! - sg / m - xhat * sgx / m);
      }
    }
  }
  return { dy, dgamma, dbeta };
}

/** Gradient of the 3x3 average pool (stride 1, pad 1, padding excluded from the divisor): the transpose. */
export function avgPool3Backward(dy: T4): T4 {
  const dx = zeros(dy.n, dy.c, dy.h, dy.w);
  for (let n = 0; n < dy.n; n++) {
    for (let c = 0; c < dy.c; c++) {
      for (let y = 0; y < dy.h; y++) {
        for (let x = 0; x < dy.w; x++) {
          const y0 = Math.max(0, y - 1), y1 = Math.min(dy.h - 1, y + 1);
          const x0 = Math.max(0, x - 1), x1 = Math.min(dy.w - 1, x + 1);
          const g = dy.d[((n * dy.c + c) * dy.h + y) * dy.w + x]! / ((y1 - y0 + 1) * (x1 - x0 + 1));
          for (let yy = y0; yy <= y1; yy++) {
            for (let xx = x0; xx <= x1; xx++) {
              const i = ((n * dy.c + c) * dy.h + yy) * dy.w + xx;
              dx.d[i] = dx.d[i]! + g;
            }
          }
        }
      }
    }
  }
  return dx;
}

/** Gradient of the 2x2 average pool, stride 2 (input h x w). */
export function avgPool2Backward(dy: T4, h: number, w: number): T4 {
  const dx = zeros(dy.n, dy.c, h, w);
  for (let n = 0; n < dy.n; n++) {
    for (let c = 0; c < dy.c; c++) {
      for (let y = 0; y < dy.h; y++) {
        for (let x = 0; x < dy.w; x++) {
          const g = dy.d[((n * dy.c + c) * dy.h + y) * dy.w + x]! / 4;
          for (let a = 0; a < 2; a++) {
            for (let b = 0; b < 2; b++) {
              const i = ((n * dy.c + c) * h + 2 * y + a) * w + 2 * x + b;
              dx.d[i] = dx.d[i]! + g;
            }
          }
        }
      }
    }
  }
  return dx;
}

/** Nearest resize to half size: element (2y, 2x) of each plane. */
export function pick2(x: T4): T4 {
  const h = Math.floor(x.h / 2), w = Math.floor(x.w / 2);
  const y = zeros(x.n, x.c, h, w);
  for (let p = 0; p < x.n * x.c; p++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) y.d[(p * h + i) * w + j] = x.d[(p * x.h + 2 * i) * x.w + 2 * j]!;
    }
  }
  return y;
}

/** Gradient of {@link pick2} (input h x w). */
export function pick2Backward(dy: T4, h: number, w: number): T4 {
  const dx = zeros(dy.n, dy.c, h, w);
  for (let p = 0; p < dy.n * dy.c; p++) {
    for (let i = 0; i < dy.h; i++) {
      for (let j = 0; j < dy.w; j++) dx.d[(p * h + 2 * i) * w + 2 * j] = dy.d[(p * dy.h + i) * dy.w + j]!;
    }
  }
  return dx;
}

/** Gradients of logits = Linear(GAP(ReLU(x))) from dlogits [n][classes]. */
export function headBackward(
  x: T4,
  weight: ArrayLike<number>,
  dlogits: ArrayLike<number>,
  classes: number,
): { dx: T4; dweight: Float64Array; dbias: Float64Array } {
  const hw = x.h * x.w;
  const dx = zeros(x.n, x.c, x.h, x.w);
  const dweight = new Float64Array(classes * x.c);
  const dbias = new Float64Array(classes);
  for (let n = 0; n < x.n; n++) {
    for (let c = 0; c < x.c; c++) {
      let f = 0;
      for (let p = 0; p < hw; p++) f += Math.max(0, x.d[(n * x.c + c) * hw + p]!);
      f /= hw;
      let df = 0;
      for (let k = 0; k < classes; k++) {
        const g = dlogits[n * classes + k]!;
        dweight[k * x.c + c] = dweight[k * x.c + c]! + g * f;
        df += g * weight[k * x.c + c]!;
      }
      for (let p = 0; p < hw; p++) {
        const i = (n * x.c + c) * hw + p;
        dx.d[i] = x.d[i]! > 0 ? df / hw : 0;
      }
    }
    for (let k = 0; k < classes; k++) dbias[k] = dbias[k]! + dlogits[n * classes + k]!;
  }
  return { dx, dweight, dbias };
}

/** Mean cross-entropy over the batch (PyTorch's default) and its gradient with respect to the logits. */
export function crossEntropy(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): { loss: number; dlogits: Float64Array } {
  const n = labels.length;
  const d = new Float64Array(n * classes);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let k = 0; k < classes; k++) mx = Math.max(mx, logits[i * classes + k]!);
    let s = 0;
    for (let k = 0; k < classes; k++) s += Math.exp(logits[i * classes + k]! - mx);
    const y = labels[i]!;
    loss += -(logits[i * classes + y]! - mx - Math.log(s));
    for (let k = 0; k < classes; k++) {
      d[i * classes + k] = (Math.exp(logits[i * classes + k]! - mx) / s - (k === y ? 1 : 0)) / n;
    }
  }
  return { loss: loss / n, dlogits: d };
}

/** Forward values kept for the backward pass of a plan. */
export interface PlanTape {
  /** Tensor values by plan tensor id (0 = input). */
  tensors: T4[];
  /** Per tensor and term: the conv output before batch norm (conv terms with bn). */
  convOut: (T4 | null)[][];
  logits: Float64Array;
}

/** Options of the plan reference: `noBn` replaces every batch norm by the identity (synflow). */
export interface PlanRefOptions {
  noBn?: boolean;
  /** Called for every conv term in the backward with its weight name, its output and dL/d(output). */
  onConv?: (weight: string, y: T4, dy: T4) => void;
  /** Extra gradients dL/dtensor by plan tensor id (regression heads), added before the backward walk. */
  seeds?: Map<number, ArrayLike<number>>;
}

function param(params: Params | Map<string, ArrayLike<number>>, name: string | undefined): ArrayLike<number> {
  const p = name === undefined ? undefined : params.get(name);
  if (!p) throw new Error(`reference: missing parameter ${name}`);
  return p;
}

/** Forward of a network plan in float64 (training-mode batch norm), keeping what the backward needs. */
export function planForwardRef(
  plan: NetworkPlan,
  params: Params | Map<string, ArrayLike<number>>,
  x: T4,
  o: PlanRefOptions = {},
): PlanTape {
  const tensors: T4[] = [x];
  const convOut: (T4 | null)[][] = [[]];
  for (const t of plan.tensors.slice(1)) {
    let sum = zeros(x.n, t.shape.c, t.shape.h, t.shape.w);
    const outs: (T4 | null)[] = [];
    for (const term of t.terms) {
      const src = tensors[term.src]!;
      let v: T4;
      let pre: T4 | null = null;
      if (term.op === "conv") {
        v = conv2d(src, param(params, term.params.conv), t.shape.c, term.k, term.stride, term.pad, term.relu);
        if (term.bn && !o.noBn) {
          pre = v;
          v = batchNorm(v, param(params, term.params.bnWeight), param(params, term.params.bnBias));
        }
      } else if (term.op === "identity") {
        v = term.bn && !o.noBn
          ? batchNorm(src, param(params, term.params.bnWeight), param(params, term.params.bnBias))
          : src;
      } else if (term.op === "avgpool3") v = avgPool3(src);
      else if (term.op === "avgpool2") v = avgPool2(src);
      else if (term.op === "relu") v = relu(src);
      else if (term.op === "maxpool3") v = pool3(src, 1, true);
      else if (term.op === "maxpool2") v = maxPool2(src);
      else if (term.op === "slice") v = slice(src, t.shape.c, term);
      else if (term.op === "subsample2") v = pick2(src);
      else throw new Error(`reference: no ${term.op} term`);
      outs.push(pre);
      const s = zeros(sum.n, sum.c, sum.h, sum.w);
      for (let i = 0; i < s.d.length; i++) s.d[i] = sum.d[i]! + v.d[i]!;
      sum = s;
    }
    tensors.push(sum);
    convOut.push(outs);
  }
  // A head reading an identically zero tensor (head.src < 0) sees zero features: the logits are the bias.
  const feat = plan.head.src >= 0 ? tensors[plan.head.src]! : zeros(x.n, 0, 1, 1);
  const w = param(params, plan.head.weight);
  const b = param(params, plan.head.bias);
  const logits = new Float64Array(x.n * plan.classes);
  const hw = feat.h * feat.w;
  for (let n = 0; n < x.n; n++) {
    for (let k = 0; k < plan.classes; k++) {
      let s = b[k]!;
      for (let c = 0; c < feat.c; c++) {
        let f = 0;
        for (let p = 0; p < hw; p++) f += Math.max(0, feat.d[(n * feat.c + c) * hw + p]!);
        s += (f / hw) * w[k * feat.c + c]!;
      }
      logits[n * plan.classes + k] = s;
    }
  }
  return { tensors, convOut, logits };
}

/** Gradients of a scalar with respect to every parameter and to the input, given dlogits. */
export function planBackwardRef(
  plan: NetworkPlan,
  params: Params | Map<string, ArrayLike<number>>,
  tape: PlanTape,
  dlogits: ArrayLike<number>,
  o: PlanRefOptions = {},
): { grads: Map<string, Float64Array>; dinput: T4 } {
  const grads = new Map<string, Float64Array>();
  const acc = (name: string | undefined, g: Float64Array) => {
    if (name === undefined) throw new Error("reference: unnamed parameter");
    const prev = grads.get(name);
    if (prev) { for (let i = 0; i < g.length; i++) prev[i] = prev[i]! + g[i]!; }
    else grads.set(name, Float64Array.from(g));
  };
  const d: T4[] = tape.tensors.map((t) => zeros(t.n, t.c, t.h, t.w));
  const addInto = (dst: T4, src: T4) => {
    for (let i = 0; i < dst.d.length; i++) dst.d[i] = dst.d[i]! + src.d[i]!;
  };
  if (plan.head.src >= 0) {
    const h = headBackward(
      tape.tensors[plan.head.src]!,
      param(params, plan.head.weight),
      dlogits,
      plan.classes,
    );
    addInto(d[plan.head.src]!, h.dx);
    acc(plan.head.weight, h.dweight);
    acc(plan.head.bias, h.dbias);
  } else {
    const db = new Float64Array(plan.classes);
    for (let i = 0; i < dlogits.length; i++) db[i % plan.classes] = db[i % plan.classes]! + dlogits[i]!;
    acc(plan.head.bias, db);
  }
  for (const [id, g] of o.seeds ?? []) {
    const dt = d[id]!;
    for (let i = 0; i < dt.d.length; i++) dt.d[i] = dt.d[i]! + g[i]!;
  }
  for (let ti = plan.tensors.length - 1; ti >= 1; ti--) {
    const t = plan.tensors[ti]!;
    const dt = d[ti]!;
    t.terms.forEach((term, k) => {
      const src = tape.tensors[term.src]!;
      if (term.op === "conv") {
        let dy = dt;
        if (term.bn && !o.noBn) {
          const b = batchNormBackward(tape.convOut[ti]![k]!, param(params, term.params.bnWeight), dt);
          dy = b.dy;
          acc(term.params.bnWeight, b.dgamma);
          acc(term.params.bnBias, b.dbeta);
        }
        if (o.onConv) {
          const y = tape.convOut[ti]![k] ??
            conv2d(src, param(params, term.params.conv), t.shape.c, term.k, term.stride, term.pad, term.relu);
          o.onConv(term.params.conv!, y, dy);
        }
        const c = conv2dBackward(
          src,
          param(params, term.params.conv),
          dy,
          term.k,
          term.stride,
          term.pad,
          term.relu,
        );
        acc(term.params.conv, c.dw);
        addInto(d[term.src]!, c.dx);
      } else if (term.op === "identity") {
        if (term.bn && !o.noBn) {
          const b = batchNormBackward(src, param(params, term.params.bnWeight), dt);
          acc(term.params.bnWeight, b.dgamma);
          acc(term.params.bnBias, b.dbeta);
          addInto(d[term.src]!, b.dy);
        } else addInto(d[term.src]!, dt);
      } else if (term.op === "avgpool3") addInto(d[term.src]!, avgPool3Backward(dt));
      else if (term.op === "avgpool2") addInto(d[term.src]!, avgPool2Backward(dt, src.h, src.w));
      else if (term.op === "relu") {
        addInto(d[term.src]!, { ...src, d: src.d.map((v, i) => (v > 0 ? dt.d[i]! : 0)) });
      } else if (term.op === "maxpool3" || term.op === "maxpool2") {
        addInto(d[term.src]!, maxPoolBackward(src, dt, term.op === "maxpool3"));
      } else if (term.op === "slice") addInto(d[term.src]!, sliceBackward(src, dt, term));
      else addInto(d[term.src]!, pick2Backward(dt, src.h, src.w));
    });
  }
  return { grads, dinput: d[0]! };
}

/**
 * Checks planBackwardRef's cross-entropy gradients against central finite differences of the loss (step 1e-6):
 * `perParam` random entries of every parameter and 10 of the input; returns how many were checked.
 */
export function checkPlanGradients(
  plan: NetworkPlan,
  params: Map<string, Float64Array>,
  x: T4,
  labels: number[],
  perParam: number,
  what: string,
  rng: { int(n: number): number },
): number {
  const loss = () => crossEntropy(planForwardRef(plan, params, x).logits, labels, plan.classes).loss;
  const tape = planForwardRef(plan, params, x);
  const { grads, dinput } = planBackwardRef(
    plan,
    params,
    tape,
    crossEntropy(tape.logits, labels, plan.classes).dlogits,
  );
  const h = 1e-6;
  let checked = 0;
  const check = (name: string, get: () => number, set: (v: number) => void, analytic: number) => {
    const v0 = get();
    set(v0 + h);
    const up = loss();
    set(v0 - h);
    const down = loss();
    set(v0);
    const fd = (up - down) / (2 * h);
    if (Math.abs(fd - analytic) > 1e-6 + 1e-4 * Math.abs(fd)) {
      throw new Error(`${what}: d loss / d ${name}: analytic ${analytic}, finite difference ${fd}`);
    }
    checked++;
  };
  for (const [name, g] of grads) {
    const p = params.get(name)!;
    for (let s = 0; s < perParam; s++) {
      const i = rng.int(p.length);
      check(`${name}[${i}]`, () => p[i]!, (v) => (p[i] = v), g[i]!);
    }
  }
  for (let s = 0; s < 10; s++) {
    const i = rng.int(x.d.length);
    check(`input[${i}]`, () => x.d[i]!, (v) => (x.d[i] = v), dinput.d[i]!);
  }
  return checked;
}

/**
 * grasp's float64 reference: H g of the mean cross-entropy in the conv and linear weights, g = dL/dW, as a
 * central difference of gradients along g with a step (1e-7 relative) so small that no ReLU changes side and
 * no max-pool window changes its maximum (autograd's double backward); score = -sum W * H g.
 */
export function graspRef(
  plan: NetworkPlan,
  params: Params,
  x: T4,
  labels: ArrayLike<number>,
): { score: number; hg: Map<string, Float64Array> } {
  const names = plan.params.filter((p) => p.kind === "conv" || p.kind === "linear_weight").map((p) => p.name);
  const p64 = new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));
  const gradAt = (p: Map<string, Float64Array>) => {
    const tape = planForwardRef(plan, p, x);
    return planBackwardRef(plan, p, tape, crossEntropy(tape.logits, labels, plan.classes).dlogits).grads;
  };
  const g0 = gradAt(p64);
  let ww = 0, gg = 0;
  for (const k of names) {
    p64.get(k)!.forEach((v) => (ww += v * v));
    (g0.get(k) ?? []).forEach((v) => (gg += v * v));
  }
  const e = 1e-7 * Math.sqrt(ww / gg);
  const moved = (sign: number) =>
    gradAt(
      new Map([...p64].map(([k, v]) => {
        const gk = g0.get(k);
        return [k, names.includes(k) && gk ? v.map((w, i) => w + sign * e * gk[i]!) : v];
      })),
    );
  const up = moved(1), down = moved(-1);
  let score = 0;
  const hg = new Map<string, Float64Array>();
  for (const k of names) {
    const a = up.get(k), b = down.get(k);
    const h = a && b ? a.map((v, i) => (v - b[i]!) / (2 * e)) : new Float64Array(params.get(k)!.length);
    hg.set(k, h);
    h.forEach((v, i) => (score -= p64.get(k)![i]! * v));
  }
  return { score, hg };
}

/** sqrt(sum (got - want)^2 / sum want^2) over every array of `want` (e.g. grasp's H g), and that denominator. */
export function relativeError(
  got: ReadonlyMap<string, ArrayLike<number>>,
  want: ReadonlyMap<string, ArrayLike<number>>,
): { rel: number; norm: number } {
  let err = 0, norm = 0;
  for (const [k, b] of want) {
    const a = got.get(k)!;
    for (let i = 0; i < b.length; i++) {
      err += (a[i]! - b[i]!) ** 2;
      norm += b[i]! ** 2;
    }
  }
  return { rel: Math.sqrt(err / norm), norm };
}
