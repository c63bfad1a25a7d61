/**
 * Runs a network plan forward on the GPU: convolutions, batch-norm statistics, fused node passes that also
 * bit-pack NASWOT codes, the weighted popcount into the B x B Hamming matrix, the Cholesky log-determinant and
 * the classifier head, all recorded into one command encoder and read back once.
 * @module
 */

import type { Binding, Gpu, PooledBuffer, Recorder } from "../shaders/gpu.ts";
import {
  convKernel,
  convOutSize,
  type ConvSpec,
  defaultBlocking,
  encodeConv,
  packConvWeights,
} from "../shaders/conv2d.ts";
import { dwConvKernel, type DwConvSpec, encodeDwConv } from "../shaders/dwconv.ts";
import {
  codeWords,
  encodeNode,
  nodeKernel,
  type NodeSpec,
  type NodeTerm,
  type TermBuffers,
} from "../shaders/node.ts";
import {
  bnKernels,
  encodeLogdet,
  encodePopcount,
  headKernels,
  logdetKernels,
  POPCOUNT_ROWS,
  popcountKernel,
} from "../shaders/kernels.ts";
import type { NetworkPlan, PlanTensor, Shape3 } from "../spaces/plan.ts";
import type { Params } from "../spaces/init.ts";

/** What to compute and bring back. */
export interface ForwardOptions {
  /** Accumulate the NASWOT Hamming matrix and its log-determinant. */
  naswot?: boolean;
  /** Compute the classifier logits. */
  logits?: boolean;
  /** Read back every computed tensor (tests only: costs memory and a large read-back). */
  keepTensors?: boolean;
  /** Time every dispatch on the GPU (benchmarks; needs timestamp-query). */
  profile?: boolean;
}

/** Results of one forward pass. */
export interface ForwardResult {
  /** Weighted Hamming distances [N][N] (naswot). */
  ham?: Uint32Array;
  /** N_A: ReLU units, counted with multiplicity (naswot). */
  units?: number;
  /** log|det K| from the f32 Cholesky kernel (naswot). */
  logdetGpu?: number;
  /** [N][classes] (logits). */
  logits?: Float32Array;
  /** Tensor values by plan tensor id (keepTensors). */
  tensors?: Map<number, Float32Array>;
  /** Dispatches recorded. */
  dispatches: number;
  /** GPU seconds per kernel name (profile). */
  timings?: Map<string, number>;
}

type Step =
  | { kind: "conv"; spec: ConvSpec; tensor: number; term: number }
  | { kind: "node"; tensor: number };

/**
 * Conv spec of a conv term of a tensor. The output size is the tensor's: when it differs from the formula's
 * (DARTS FactorizedReduce's shifted conv, pad -1) it is given explicitly; otherwise the spec is as before.
 */
export function convSpecOf(plan: NetworkPlan, n: number, t: PlanTensor, termIndex: number): ConvSpec {
  const term = t.terms[termIndex]!;
  if (term.op !== "conv") throw new Error("not a conv term");
  const src = plan.tensors[term.src]!.shape;
  const spec: ConvSpec = {
    n,
    cin: src.c,
    h: src.h,
    w: src.w,
    cout: t.shape.c,
    k: term.k,
    stride: term.stride,
    pad: term.pad,
    relu: term.relu,
  };
  const { ho, wo } = convOutSize(spec);
  if (ho !== t.shape.h || wo !== t.shape.w) {
    if (term.pad >= 0) {
      throw new RangeError(
        `plan ${plan.arch}: conv term of ${t.name} gives ${ho}x${wo}, the tensor is ${t.shape.h}x${t.shape.w}`,
      );
    }
    spec.ho = t.shape.h;
    spec.wo = t.shape.w;
  }
  return spec;
}

/** Depthwise conv spec of a dwconv term of a tensor (its output size must be the tensor's). */
export function dwConvSpecOf(plan: NetworkPlan, n: number, t: PlanTensor, termIndex: number): DwConvSpec {
  const term = t.terms[termIndex]!;
  if (term.op !== "dwconv") throw new Error("not a dwconv term");
  const src = plan.tensors[term.src]!.shape;
  const span = term.dilation * (term.k - 1) + 1;
  const ho = Math.floor((src.h + 2 * term.pad - span) / term.stride) + 1;
  const wo = Math.floor((src.w + 2 * term.pad - span) / term.stride) + 1;
  if (src.c !== t.shape.c || ho !== t.shape.h || wo !== t.shape.w) {
    throw new RangeError(
      `plan ${plan.arch}: dwconv term of ${t.name} gives ${src.c}x${ho}x${wo}, the tensor is ` +
        `${t.shape.c}x${t.shape.h}x${t.shape.w}`,
    );
  }
  return {
    n,
    c: src.c,
    h: src.h,
    w: src.w,
    k: term.k,
    stride: term.stride,
    pad: term.pad,
    dilation: term.dilation,
    relu: term.relu,
  };
}

/** True when a tensor is one dwconv term and needs no code: the convolution writes the tensor directly. */
function directDwConv(t: PlanTensor, pack: boolean): boolean {
  return !pack && t.terms.length === 1 && t.terms[0]!.op === "dwconv";
}

/** Node spec of a tensor: one node term per plan term (conv and dwconv terms are read from their outputs). */
export function nodeSpecOf(plan: NetworkPlan, n: number, t: PlanTensor, pack: boolean): NodeSpec {
  const terms: NodeTerm[] = t.terms.map((term): NodeTerm => {
    switch (term.op) {
      case "conv":
        return { kind: term.bn ? "bn" : "raw" };
      case "dwconv":
        return { kind: "raw" };
      case "identity":
        return { kind: term.bn ? "bn" : "raw" };
      case "avgpool3":
        return { kind: "pool3" };
      case "avgpool2": {
        const s = plan.tensors[term.src]!.shape;
        return { kind: "pool2", sh: s.h, sw: s.w };
      }
      case "subsample2": {
        const s = plan.tensors[term.src]!.shape;
        return { kind: "pick2", sh: s.h, sw: s.w };
      }
      case "relu":
        return { kind: "relu" };
      case "maxpool3":
        return { kind: "max3" };
      case "maxpool2": {
        const s = plan.tensors[term.src]!.shape;
        return { kind: "max2", sh: s.h, sw: s.w };
      }
      case "avgpool3s2": {
        const s = plan.tensors[term.src]!.shape;
        return { kind: "pool3s2", sh: s.h, sw: s.w };
      }
      case "maxpool3s2": {
        const s = plan.tensors[term.src]!.shape;
        return { kind: "max3s2", sh: s.h, sw: s.w };
      }
      case "slice": {
        const s = plan.tensors[term.src]!.shape;
        return { kind: "slice", sc: s.c, from: term.from, to: term.to, count: term.count, relu: term.relu };
      }
    }
  });
  return { n, c: t.shape.c, h: t.shape.h, w: t.shape.w, terms, pack };
}

const floats = (n: number, s: Shape3) => n * s.c * s.h * s.w;

/** Compiles every pipeline a plan needs at batch size n (cached by the runtime). */
export async function preparePlan(
  gpu: Gpu,
  plan: NetworkPlan,
  n: number,
  opts: ForwardOptions,
): Promise<void> {
  const kernels = [];
  for (const t of plan.tensors.slice(1)) {
    t.terms.forEach((term, i) => {
      if (term.op === "conv") kernels.push(convKernel(convSpecOf(plan, n, t, i)).kernel);
      if (term.op === "dwconv") kernels.push(dwConvKernel(dwConvSpecOf(plan, n, t, i)).kernel);
    });
    const pack = !!opts.naswot && t.reluUses > 0;
    if (!directDwConv(t, pack)) kernels.push(nodeKernel(nodeSpecOf(plan, n, t, pack)).kernel);
    kernels.push(...bnKernels(n, t.shape.c, t.shape.h * t.shape.w));
    if (opts.naswot && t.reluUses > 0) {
      kernels.push(popcountKernel(n, codeWords(t.shape.c, t.shape.h, t.shape.w)));
    }
  }
  if (opts.naswot) kernels.push(...logdetKernels(n));
  if (opts.logits && plan.head.src >= 0) {
    const s = plan.tensors[plan.head.src]!.shape;
    kernels.push(...headKernels(n, s.c, s.h * s.w, plan.classes, plan.head.relu ?? true));
  }
  await Promise.all(kernels.map((k) => gpu.pipeline(k)));
}

/**
 * Runs the plan on an input batch already on the GPU (NCHW float32, n images of plan.input shape).
 * Parameters are uploaded for this call and destroyed after it.
 */
export async function runForward(
  gpu: Gpu,
  plan: NetworkPlan,
  params: Params,
  input: GPUBuffer,
  n: number,
  opts: ForwardOptions,
): Promise<ForwardResult> {
  await preparePlan(gpu, plan, n, opts);
  const uploads: GPUBuffer[] = [];
  const upload = (data: Float32Array, label: string) => {
    const b = gpu.upload(data, label);
    uploads.push(b);
    return b;
  };
  const param = (name: string | undefined): Float32Array => {
    const p = name === undefined ? undefined : params.get(name);
    if (!p) throw new Error(`plan ${plan.arch}: missing parameter ${name}`);
    return p;
  };
  const affine = (w: string | undefined, b: string | undefined, label: string) => {
    const g = param(w);
    const be = param(b);
    const a = new Float32Array(g.length * 2);
    a.set(g, 0);
    a.set(be, g.length);
    return upload(a, label);
  };
  // BatchNorm2d(affine=False): weight 1 and bias 0, one upload per channel count.
  const unitAffine = new Map<number, GPUBuffer>();
  const noAffine = (c: number) => {
    let b = unitAffine.get(c);
    if (!b) {
      const a = new Float32Array(2 * c);
      a.fill(1, 0, c);
      b = upload(a, `bn.unit${c}`);
      unitAffine.set(c, b);
    }
    return b;
  };

  // Last reader of each tensor, to return buffers to the pool as early as possible.
  const lastUse = new Array<number>(plan.tensors.length).fill(-1);
  for (const t of plan.tensors) {
    for (const term of t.terms) lastUse[term.src] = Math.max(lastUse[term.src]!, t.id);
  }
  if (plan.head.src >= 0) lastUse[plan.head.src] = plan.tensors.length;

  const rec: Recorder = gpu.record(`forward ${plan.arch}`);
  if (opts.profile) rec.profile();
  const buffers = new Map<number, Binding>([[0, input]]);
  const held: PooledBuffer[] = [];
  const ham = opts.naswot ? gpu.acquire(n * n * 4, "ham") : null;
  if (ham) rec.clear(ham);
  let units = plan.zeroReluUnits;

  for (const t of plan.tensors.slice(1)) {
    const scratch: PooledBuffer[] = [];
    const termBuffers: TermBuffers[] = [];
    const pack = !!opts.naswot && t.reluUses > 0;
    const direct = directDwConv(t, pack);
    t.terms.forEach((term, i) => {
      let src: Binding = buffers.get(term.src)!;
      if (term.op === "dwconv") {
        const spec = dwConvSpecOf(plan, n, t, i);
        const { kernel, groups } = dwConvKernel(spec);
        const out = gpu.acquire(floats(n, t.shape) * 4, direct ? "tensor" : "dwconv");
        if (direct) {
          held.push(out);
          buffers.set(t.id, out);
        } else scratch.push(out);
        encodeDwConv(
          rec,
          gpu.compiled(kernel)!,
          groups,
          src,
          upload(param(term.params.conv), term.params.conv!),
          out,
        );
        src = out;
      }
      if (term.op === "conv") {
        const spec = convSpecOf(plan, n, t, i);
        const { kernel, groups } = convKernel(spec);
        const w = packConvWeights(
          param(term.params.conv),
          spec.cout,
          spec.cin,
          spec.k,
          defaultBlocking(spec).tc,
        );
        const out = gpu.acquire(floats(n, t.shape) * 4, "conv");
        scratch.push(out);
        encodeConv(
          gpu,
          rec,
          gpu.compiled(kernel)!,
          spec,
          defaultBlocking(spec),
          groups,
          src,
          upload(w, term.params.conv!),
          out,
        );
        src = out;
      }
      if ((term.op === "conv" || term.op === "identity") && term.bn) {
        const af = term.affine === false
          ? noAffine(t.shape.c)
          : affine(term.params.bnWeight, term.params.bnBias, term.params.bnWeight!);
        termBuffers.push({ src, stats: encodeBnStats(gpu, rec, src, af, n, t.shape, scratch) });
      } else termBuffers.push({ src });
    });
    const words = codeWords(t.shape.c, t.shape.h, t.shape.w);
    const codes = pack
      ? gpu.acquire(Math.ceil(n / POPCOUNT_ROWS) * POPCOUNT_ROWS * words * 4, "codes")
      : null;
    if (!direct) {
      const spec = nodeSpecOf(plan, n, t, pack);
      const { kernel, groups } = nodeKernel(spec);
      const out = gpu.acquire(floats(n, t.shape) * 4, "tensor");
      held.push(out);
      buffers.set(t.id, out);
      encodeNode(rec, gpu.compiled(kernel)!, spec, groups, out, codes, termBuffers);
    }
    if (codes && ham) {
      const pk = popcountKernel(n, words);
      encodePopcount(gpu, rec, gpu.compiled(pk)!, n, words, codes, ham, t.reluUses);
      units += t.reluUses * t.shape.c * t.shape.h * t.shape.w;
      gpu.release(codes);
    }
    for (const s of scratch) gpu.release(s);
    if (!opts.keepTensors) {
      for (const term of t.terms) {
        if (lastUse[term.src] === t.id && term.src !== 0) {
          const b = buffers.get(term.src) as PooledBuffer;
          gpu.release(b);
          held.splice(held.indexOf(b), 1);
          buffers.delete(term.src);
        }
      }
    }
  }

  const reads: { src: Binding; offset?: number; size: number }[] = [];
  let logdetBuf: PooledBuffer | null = null;
  let aBuf: PooledBuffer | null = null;
  if (ham) {
    if (units >= 2 ** 53) throw new Error(`plan ${plan.arch}: ${units} ReLU units overflow`);
    logdetBuf = gpu.acquire((n + 1) * 4, "logdet");
    aBuf = gpu.acquire(n * n * 4, "cholesky");
    const pipelines = logdetKernels(n).map((k) => gpu.compiled(k)!) as [
      GPUComputePipeline,
      GPUComputePipeline,
      GPUComputePipeline,
    ];
    encodeLogdet(gpu, rec, pipelines, n, units, ham, aBuf, logdetBuf);
    reads.push({ src: ham, size: n * n * 4 }, { src: logdetBuf, offset: n * 4, size: 4 });
  }
  let logitsBuf: PooledBuffer | null = null;
  const feat: PooledBuffer[] = [];
  if (opts.logits && plan.head.src >= 0) {
    const s = plan.tensors[plan.head.src]!.shape;
    const [gap, lin] = headKernels(n, s.c, s.h * s.w, plan.classes, plan.head.relu ?? true);
    const f = gpu.acquire(n * s.c * 4, "features");
    feat.push(f);
    logitsBuf = gpu.acquire(n * plan.classes * 4, "logits");
    const wb = new Float32Array(plan.classes * s.c + plan.classes);
    wb.set(param(plan.head.weight), 0);
    wb.set(param(plan.head.bias), plan.classes * s.c);
    rec.dispatch(gpu.compiled(gap!)!, [buffers.get(plan.head.src)!, f], [Math.ceil((n * s.c) / 64)]);
    rec.dispatch(gpu.compiled(lin!)!, [f, upload(wb, "classifier"), logitsBuf], [
      Math.ceil((n * plan.classes) / 64),
    ]);
    reads.push({ src: logitsBuf, size: n * plan.classes * 4 });
  }
  const kept: number[] = [];
  if (opts.keepTensors) {
    for (const [id, b] of buffers) {
      if (id === 0) continue;
      kept.push(id);
      reads.push({ src: b, size: floats(n, plan.tensors[id]!.shape) * 4 });
    }
  }
  rec.submit();
  const dispatches = rec.dispatches;
  const data = reads.length > 0 ? await gpu.read(reads) : [];

  const result: ForwardResult = { dispatches };
  if (opts.profile) result.timings = await rec.timings();
  let k = 0;
  if (ham) {
    result.ham = new Uint32Array(data[k++]!);
    result.logdetGpu = new Float32Array(data[k++]!)[0]!;
    result.units = units;
  }
  if (opts.logits) {
    if (logitsBuf) result.logits = new Float32Array(data[k++]!);
    else {
      // Identically zero features: the logits are the classifier bias for every image.
      const bias = param(plan.head.bias);
      result.logits = new Float32Array(n * plan.classes);
      for (let i = 0; i < n; i++) result.logits.set(bias, i * plan.classes);
    }
  }
  if (opts.keepTensors) {
    result.tensors = new Map();
    for (const id of kept) result.tensors.set(id, new Float32Array(data[k++]!));
  }
  for (const b of [...held, ...feat]) gpu.release(b);
  for (const b of [ham, logdetBuf, aBuf, logitsBuf]) if (b) gpu.release(b);
  for (const b of uploads) b.destroy();
  rec.dispose();
  return result;
}

/** Records the two batch-norm statistics passes over `src`; returns the (mean, invstd*gamma, beta) buffer. */
export function encodeBnStats(
  gpu: Gpu,
  rec: Recorder,
  src: Binding,
  affine: Binding,
  n: number,
  s: Shape3,
  scratch: PooledBuffer[],
): PooledBuffer {
  const [partial, finalize] = bnKernels(n, s.c, s.h * s.w);
  const part = gpu.acquire(n * s.c * 8, "bn.part");
  const stats = gpu.acquire(s.c * 16, "bn.stats");
  scratch.push(part, stats);
  rec.dispatch(gpu.compiled(partial!)!, [src, part], [Math.ceil((n * s.c) / 64)]);
  rec.dispatch(gpu.compiled(finalize!)!, [null, part, stats, affine], [Math.ceil(s.c / 64)]);
  return stats;
}
