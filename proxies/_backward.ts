/**
 * Runs a network plan forward and backward on the GPU, for the gradient proxies: the forward keeps every
 * tensor, every conv output that feeds a batch norm and its statistics; the backward walks the tensors in
 * reverse order, accumulating dL/dtensor, and writes the gradient of every parameter. Everything is recorded
 * into one command encoder and read back once. The loss is mean cross-entropy against labels, or the sum of
 * the outputs (jacob_cov).
 * @module
 */

import type { Binding, Gpu, PooledBuffer, Recorder } from "../shaders/gpu.ts";
import { convKernel, convOutSize, defaultBlocking, encodeConv, packConvWeights } from "../shaders/conv2d.ts";
import { encodeNode, nodeKernel, type NodeSpec } from "../shaders/node.ts";
import { bnKernels, headKernels } from "../shaders/kernels.ts";
import {
  BN_APPLY_CHUNK,
  bnBackwardKernels,
  chanDotKernel,
  convBackwardKernels,
  convDwKernel,
  dilateKernel,
  dwBlocking,
  dwImagesPerPart,
  flipTransposed,
  groupsFor,
  headBackwardKernels,
  inputGradConv,
  maskAccKernel,
  maxPoolBackwardKernel,
  maxPoolFrozenKernel,
  pick2BackwardKernel,
  pool2BackwardKernel,
  pool3BackwardKernel,
  sizedDispatch,
  sliceBackwardKernel,
} from "../shaders/backward.ts";
import { gatherKernel, mseKernel, type SgdConfig, sgdKernel } from "../shaders/train.ts";
import { assertTermOps, GRADIENT_TERM_OPS, type NetworkPlan, type Shape3 } from "../spaces/plan.ts";
import type { Params } from "../spaces/init.ts";
import { convSpecOf, encodeBnStats, nodeSpecOf } from "./_forward.ts";
import type { GpuParams } from "./_train.ts";

/** A regression head of the `mse` loss: W * mean((tensor - target)^2). */
export interface MseHead {
  /** Plan tensor the head reads (its output). */
  tensor: number;
  /** Target values, the tensor's layout [N][C][H][W]. */
  target: GPUBuffer;
  weight: number;
  /** Receives the squared errors (read it after the run to get the loss). */
  sq: GPUBuffer;
}

/** What the backward pass computes and brings back. */
export interface GradOptions {
  /**
   * `ce`: mean cross-entropy against `labels`; `sum`: the sum of all outputs; `mse`: the weighted MSE of
   * `heads` (the classifier is not run).
   */
  loss: "ce" | "sum" | "mse";
  /** Loss `mse`: the regression heads. */
  heads?: readonly MseHead[];
  /**
   * Parameters on the GPU (training): weights are arranged by gathers from its flat buffer, so `params` is
   * not read and nothing is uploaded per call.
   */
  gpuParams?: GpuParams;
  /** With `gpuParams`: after the backward, one SGD step on every parameter except the classifier's. */
  sgd?: SgdConfig;
  /**
   * Submit the work and return without reading anything back (training steps); `result.recorder` must be
   * disposed once later work has been read back.
   */
  submitOnly?: boolean;
  /** Class of each image (loss `ce`). */
  labels?: Uint32Array;
  /** Parameters whose gradients are read back (default: none). */
  params?: readonly string[];
  /** Read back dL/dinput ([N][C][H][W]). */
  inputGrad?: boolean;
  /** Time every dispatch on the GPU (benchmarks; needs timestamp-query). */
  profile?: boolean;
  /** For every conv weight: per (image, output channel) sums over the plane of conv output * its gradient. */
  fisher?: boolean;
  /**
   * Loss `sum` only: one backward pass per mask over the same forward, pass r back-propagating the sum of
   * the outputs of the images i with `rowMasks[r][i] != 0` (one image per mask gives the NTK's Jacobian
   * rows). The gradients of pass r land in `passes[r]`; `grads` then holds the last pass's.
   */
  rowMasks?: readonly Uint32Array[];
  /**
   * ReLU masks frozen at other values: tensor id -> a tensor of that shape whose sign (> 0) decides every
   * ReLU reading the tensor (conv inputs, the classifier head, NB101's relu and slice terms) instead of the
   * tensor's own sign, and whose window maxima decide which element each max pool over the tensor passes on.
   * With the masks and choices fixed the network is smooth in its weights, so differences of gradients give
   * Hessian-vector products (grasp) without the jumps of ReLUs that change side or maxima that move.
   */
  frozen?: ReadonlyMap<number, Binding>;
  /** Keep the forward's tensors in `result.tensors` (for a later `frozen`); the caller releases them. */
  keepTensors?: boolean;
}

/** Results of one forward + backward pass. */
export interface GradResult {
  logits: Float32Array;
  /** dL/dparam by name (zeros for parameters on removed, identically zero tensors). */
  grads: Map<string, Float32Array>;
  dinput?: Float32Array;
  dispatches: number;
  /** GPU seconds per kernel name (profile). */
  timings?: Map<string, number>;
  /** Conv weight name -> [N][Cout] sums of conv output * dL/d(conv output) (fisher). */
  fisher?: Map<string, Float32Array>;
  /** dL/dparam by name for every backward pass of `rowMasks`. */
  passes?: Map<string, Float32Array>[];
  /** submitOnly: the recorder of the submitted work, to dispose after a later read-back. */
  recorder?: Recorder;
  /** keepTensors: the forward's tensors by plan tensor id (1..); release each with `gpu.release`. */
  tensors?: Map<number, PooledBuffer>;
}

const floats = (n: number, s: Shape3) => n * s.c * s.h * s.w;

/** Forward and backward of `plan` on an input already on the GPU (n images). */
export async function runGradients(
  gpu: Gpu,
  plan: NetworkPlan,
  params: Params,
  input: GPUBuffer,
  n: number,
  o: GradOptions,
): Promise<GradResult> {
  assertTermOps(plan, GRADIENT_TERM_OPS, "gradient proxies");
  if (o.loss === "ce" && (!o.labels || o.labels.length !== n)) {
    throw new RangeError(`runGradients: loss "ce" needs ${n} labels`);
  }
  if (o.loss === "mse" && !(o.heads && o.heads.length > 0)) {
    throw new RangeError(`runGradients: loss "mse" needs heads`);
  }
  if ((o.sgd || o.submitOnly) && (!o.gpuParams || o.rowMasks)) {
    throw new RangeError("runGradients: sgd and submitOnly need gpuParams and one backward pass");
  }
  const masks = o.rowMasks ?? null;
  if (masks && (o.loss !== "sum" || masks.length === 0 || masks.some((m) => m.length !== n))) {
    throw new RangeError(`runGradients: rowMasks need loss "sum" and masks of ${n} entries`);
  }
  // Buffers of the forward live until the end; each backward pass has its own, freed after its read-back.
  const keepUploads: GPUBuffer[] = [];
  const keepPooled: PooledBuffer[] = [];
  let uploads = keepUploads;
  let pooled = keepPooled;
  const upload = (data: Float32Array | Uint32Array, label: string) => {
    const b = gpu.upload(data, label);
    uploads.push(b);
    return b;
  };
  const acquire = (bytes: number, label: string) => {
    const b = gpu.acquire(Math.max(bytes, 4), label);
    pooled.push(b);
    return b;
  };
  const param = (name: string | undefined): Float32Array => {
    const p = name === undefined ? undefined : params.get(name);
    if (!p) throw new Error(`plan ${plan.arch}: missing parameter ${name}`);
    return p;
  };
  let rec: Recorder = gpu.record(`gradients ${plan.arch}`);
  if (o.profile) rec.profile();
  const dispatch = async (k: Parameters<Gpu["pipeline"]>[0], bindings: (Binding | null)[], items: number) => {
    const { kernel, groups } = sizedDispatch(k, items);
    rec.dispatch(await gpu.pipeline(kernel), bindings, groups);
  };
  const gp = o.gpuParams;
  const arranged = new Map<string, GPUBuffer>();
  /**
   * Parameters `names` arranged by `arrange` (packing, transposing): uploaded from `params`, or gathered on
   * the GPU from `gpuParams` through an index map made by the same `arrange`. Made once per call under `key`
   * (the parameters do not change within a call), so backward passes over one forward share them.
   */
  const weights = async (
    key: string,
    names: (string | undefined)[],
    arrange: (v: Float32Array[]) => Float32Array,
    label: string,
  ): Promise<GPUBuffer> => {
    let b = arranged.get(key);
    if (b) return b;
    if (!gp) {
      b = gpu.upload(arrange(names.map(param)), label);
      keepUploads.push(b);
    } else {
      const m = gp.map(gpu, key, names.map((n) => n ?? ""), arrange);
      const out = gpu.acquire(Math.max(m.count * 4, 4), label);
      keepPooled.push(out);
      await dispatch(gatherKernel(m.count), [gp.buf, m.buf, out], m.count);
      b = out.buffer;
    }
    arranged.set(key, b);
    return b;
  };

  // ---- forward, keeping what the backward needs.
  const value = new Map<number, Binding>([[0, input]]);
  const convOut = new Map<string, PooledBuffer>();
  const stats = new Map<string, PooledBuffer>();
  const key = (t: number, k: number) => `${t}:${k}`;
  /** The sign reference of a ReLU reading tensor `id` (its frozen mask, else the tensor itself). */
  const maskRef = (id: number): Binding => {
    if (!o.frozen) return value.get(id)!;
    const r = o.frozen.get(id);
    if (!r) throw new RangeError(`runGradients: frozen masks lack tensor ${id} of ${plan.arch}`);
    return r;
  };
  /** Frozen masks: tensor id -> the tensor times its frozen mask, made once, read with ReLU off. */
  const masked = new Map<number, PooledBuffer>();
  const maskedInput = async (id: number): Promise<PooledBuffer> => {
    let b = masked.get(id);
    if (b) return b;
    const elems = floats(n, plan.tensors[id]!.shape);
    b = acquire(elems * 4, "masked");
    rec.clear(b);
    await dispatch(maskAccKernel(elems, true), [maskRef(id), value.get(id)!, b], elems);
    masked.set(id, b);
    return b;
  };
  /** A conv term's spec; with frozen masks its ReLU is off (its input is `maskedInput`). */
  const termSpec = (t: NetworkPlan["tensors"][number], i: number) => {
    const spec = convSpecOf(plan, n, t, i);
    return o.frozen && spec.relu ? { ...spec, relu: false } : spec;
  };
  for (const t of plan.tensors.slice(1)) {
    const termBuffers = [];
    for (const [i, term] of t.terms.entries()) {
      let src: Binding = value.get(term.src)!;
      if (term.op === "conv") {
        const spec = termSpec(t, i);
        if (o.frozen && term.relu) src = await maskedInput(term.src);
        const bl = defaultBlocking(spec);
        const { kernel, groups } = convKernel(spec, bl);
        const packed = await weights(
          `${term.params.conv}:pack${bl.tc}`,
          [term.params.conv],
          ([w]) => packConvWeights(w!, spec.cout, spec.cin, spec.k, bl.tc),
          "packed",
        );
        const out = acquire(floats(n, t.shape) * 4, "conv");
        encodeConv(gpu, rec, await gpu.pipeline(kernel), spec, bl, groups, src, packed, out);
        convOut.set(key(t.id, i), out);
        src = out;
      }
      if ((term.op === "conv" || term.op === "identity") && term.bn) {
        const affine = await weights(
          `${term.params.bnWeight}:affine`,
          [term.params.bnWeight, term.params.bnBias],
          ([g, b]) => {
            const a = new Float32Array(g!.length * 2);
            a.set(g!, 0);
            a.set(b!, g!.length);
            return a;
          },
          "affine",
        );
        const scratch: PooledBuffer[] = [];
        await Promise.all(bnKernels(n, t.shape.c, t.shape.h * t.shape.w).map((k) => gpu.pipeline(k)));
        const st = encodeBnStats(gpu, rec, src, affine, n, t.shape, scratch);
        pooled.push(...scratch);
        stats.set(key(t.id, i), st);
        termBuffers.push({ src, stats: st });
      } else if (o.frozen && (term.op === "relu" || (term.op === "slice" && term.relu))) {
        // Frozen masks: the term reads its input times the frozen mask, with its own ReLU off.
        termBuffers.push({ src: await maskedInput(term.src) });
      } else if (o.frozen && (term.op === "maxpool3" || term.op === "maxpool2")) {
        // Frozen choices: each window passes on the element where the frozen tensor has its first maximum.
        const ss = plan.tensors[term.src]!.shape;
        const pooled = acquire(floats(n, t.shape) * 4, "max pool (frozen)");
        await dispatch(
          maxPoolFrozenKernel(term.op, n, ss.c, ss.h, ss.w),
          [maskRef(term.src), src, pooled],
          floats(n, t.shape),
        );
        termBuffers.push({ src: pooled });
      } else termBuffers.push({ src });
    }
    const plain = nodeSpecOf(plan, n, t, false);
    const spec = o.frozen ? frozenNodeSpec(plain) : plain;
    const { kernel, groups } = nodeKernel(spec);
    const out = acquire(floats(n, t.shape) * 4, "tensor");
    encodeNode(rec, await gpu.pipeline(kernel), spec, groups, out, null, termBuffers);
    value.set(t.id, out);
  }
  const cls = plan.classes;
  const logits = acquire(n * cls * 4, "logits");
  const mse = o.loss === "mse";
  const hasHead = plan.head.src >= 0 && !mse;
  // Without a head tensor (identically zero features) the classifier still has its weights: C = len / classes.
  // (The mse loss has no classifier: its weights are neither read nor trained.)
  const hs = hasHead
    ? plan.tensors[plan.head.src]!.shape
    : { c: mse ? 1 : param(plan.head.weight).length / cls, h: 1, w: 1 };
  const wb = new Float32Array(cls * hs.c + cls);
  if (!mse) {
    wb.set(param(plan.head.weight), 0);
    wb.set(param(plan.head.bias), cls * hs.c);
  }
  const wbBuf = mse ? null : upload(wb, "classifier");
  const feat = acquire(n * hs.c * 4, "features");
  if (!hasHead) rec.clear(feat);
  if (mse) rec.clear(logits);
  else if (hasHead) {
    // With frozen masks the head reads its masked input without a ReLU of its own.
    const [gap, lin] = headKernels(n, hs.c, hs.h * hs.w, cls, !o.frozen);
    const x = o.frozen ? await maskedInput(plan.head.src) : value.get(plan.head.src)!;
    await dispatch(gap!, [x, feat], n * hs.c);
    await dispatch(lin!, [feat, wbBuf, logits], n * cls);
  } else {
    // Identically zero features: every image's logits are the bias.
    const b = new Float32Array(n * cls);
    for (let i = 0; i < n; i++) b.set(param(plan.head.bias), i * cls);
    const bias = upload(b, "bias");
    rec.clear(logits);
    rec.dispatch(await gpu.pipeline(maskAccKernel(n * cls, false)), [bias, bias, logits], groupsFor(n * cls));
  }

  // ---- backward: one pass, or one per row mask over the same forward.
  const result: GradResult = { logits: new Float32Array(0), grads: new Map(), dispatches: 0 };
  const want = o.params ?? [];
  const passes = masks ?? [null];
  if (masks) result.passes = [];
  for (const [pass, mask] of passes.entries()) {
    uploads = [];
    pooled = [];
    if (pass > 0) rec = gpu.record(`gradients ${plan.arch} pass ${pass}`);
    await backwardPass(mask);
  }
  if (o.keepTensors) {
    result.tensors = new Map();
    for (const t of plan.tensors.slice(1)) result.tensors.set(t.id, value.get(t.id) as PooledBuffer);
  }
  const kept = new Set<Binding>(result.tensors?.values() ?? []);
  for (const b of keepPooled) if (!kept.has(b)) gpu.release(b);
  // (submitOnly runs upload nothing: their weights are gathered from gpuParams.)
  for (const b of keepUploads) b.destroy();
  return result;

  /** Records one backward pass, submits it, reads back what was asked and frees the pass's buffers. */
  async function backwardPass(mask: Uint32Array | null): Promise<void> {
    const grad = new Map<number, PooledBuffer>();
    for (const t of plan.tensors) {
      if (t.id === 0 && !o.inputGrad) continue;
      const b = acquire(floats(n, t.shape) * 4, "grad");
      rec.clear(b);
      grad.set(t.id, b);
    }
    /** Where each parameter's gradient lands: a buffer and a byte offset. */
    const pgrad = new Map<string, { buf: PooledBuffer; offset: number }>();
    const gradOf = (name: string, length: number) => {
      const b = acquire(length * 4, `grad ${name}`);
      pgrad.set(name, { buf: b, offset: 0 });
      return b;
    };
    const dwb = acquire(wb.length * 4, "classifier grad");
    if (mse) {
      // dL/d(head output) of W * mean((y - t)^2), written into the head tensors' gradients.
      for (const h of o.heads!) {
        const count = floats(n, plan.tensors[h.tensor]!.shape);
        await dispatch(
          mseKernel(count, h.weight),
          [value.get(h.tensor)!, h.target, grad.get(h.tensor)!, h.sq],
          count,
        );
      }
    } else await classifierBackward(dwb);

    const fisherBufs = new Map<string, { buf: PooledBuffer; bytes: number }>();
    const one = rec.uniform(Float32Array.of(1, 0, 0, 0));
    for (let ti = plan.tensors.length - 1; ti >= 1; ti--) {
      const t = plan.tensors[ti]!;
      const dt = grad.get(ti)!;
      for (const [i, term] of t.terms.entries()) {
        const dsrc = grad.get(term.src);
        const srcShape = plan.tensors[term.src]!.shape;
        if (term.op === "conv") {
          let dy: Binding = dt;
          const spec = termSpec(t, i);
          // Frozen masks: the conv read its masked input with ReLU off; the mask goes on dx below.
          const frozenRelu = o.frozen !== undefined && term.relu;
          if (term.bn) {
            dy = acquire(floats(n, t.shape) * 4, "dy");
            const y = convOut.get(key(ti, i))!;
            await encodeBnBackward(
              y,
              dt,
              stats.get(key(ti, i))!,
              dy,
              false,
              term.params.bnWeight!,
              term.params.bnBias!,
              n,
              t.shape,
            );
          }
          if (o.fisher) {
            const f = acquire(n * spec.cout * 4, "fisher");
            const y = convOut.get(key(ti, i))!;
            await dispatch(chanDotKernel(n, spec.cout, t.shape.h * t.shape.w), [y, dy, f], n * spec.cout);
            fisherBufs.set(term.params.conv!, { buf: f, bytes: n * spec.cout * 4 });
          }
          const ks = convBackwardKernels(spec, { dx: true, dw: false });
          const x = frozenRelu ? masked.get(term.src)! : value.get(term.src)!;
          const wlen = spec.cout * spec.cin * spec.k * spec.k;
          const trSpec = inputGradConv(spec);
          if (dsrc && trSpec) {
            // dx = conv(dy, flipped w^T) on the fast forward kernel (for stride 2 on dy with zeros inserted),
            // added into dsrc through the ReLU mask in the conv's epilogue.
            let g: Binding = dy;
            if (spec.stride === 2) {
              const { ho, wo } = convOutSize(spec);
              const items = n * spec.cout * spec.h * spec.w;
              g = acquire(items * 4, "dy dilated");
              await dispatch(dilateKernel(n, spec.cout, spec.h, spec.w, ho, wo), [null, dy, g], items);
            }
            const reluMask = spec.relu || frozenRelu;
            const accSpec = { ...trSpec, epilogue: reluMask ? "addMasked" as const : "add" as const };
            const bl = defaultBlocking(accSpec);
            const { kernel, groups } = convKernel(accSpec, bl);
            const packed = await weights(
              `${term.params.conv}:packT${bl.tc}`,
              [term.params.conv],
              ([w]) => packConvWeights(flipTransposed(spec, w!), trSpec.cout, trSpec.cin, trSpec.k, bl.tc),
              "packed^T",
            );
            const mask = reluMask ? (frozenRelu ? maskRef(term.src) : x) : undefined;
            encodeConv(gpu, rec, await gpu.pipeline(kernel), accSpec, bl, groups, g, packed, dsrc, mask);
          } else if (dsrc) {
            // Raw weights are needed only here: the fast paths above read packed copies.
            const raw = await weights(`${term.params.conv}:raw`, [term.params.conv], ([w]) => w!, "raw");
            if (frozenRelu) {
              const elems = floats(n, srcShape);
              const dxPre = acquire(elems * 4, "dx");
              rec.clear(dxPre);
              await dispatch(ks.dx, [x, raw, dy, dxPre], elems);
              await dispatch(maskAccKernel(elems, true), [maskRef(term.src), dxPre, dsrc], elems);
            } else await dispatch(ks.dx, [x, raw, dy, dsrc], floats(n, srcShape));
          }
          // One partial per image, or per few images where n partials would not fit one binding.
          const g = dwImagesPerPart(spec, gpu.device.limits.maxStorageBufferBindingSize);
          const parts = Math.ceil(n / g);
          const part = acquire(parts * wlen * 4, "dw partial");
          const dwk = convDwKernel(spec, dwBlocking(spec), g);
          await dispatch(dwk.kernel, [x, dy, part], dwk.items);
          const reduce = g === 1
            ? ks.dwReduce
            : { ...ks.dwReduce, constants: { ...ks.dwReduce.constants, N: parts } };
          await dispatch(reduce, [null, null, null, null, part, gradOf(term.params.conv!, wlen)], wlen);
        } else if (term.op === "identity") {
          if (term.bn) {
            if (dsrc) {
              await encodeBnBackward(
                value.get(term.src)!,
                dt,
                stats.get(key(ti, i))!,
                dsrc,
                true,
                term.params.bnWeight!,
                term.params.bnBias!,
                n,
                t.shape,
              );
            }
          } else if (dsrc) {
            await dispatch(maskAccKernel(floats(n, t.shape), false), [dt, dt, dsrc], floats(n, t.shape));
          }
        } else if (term.op === "avgpool3") {
          if (dsrc) {
            await dispatch(
              pool3BackwardKernel(n, t.shape.c, t.shape.h, t.shape.w),
              [dt, dsrc, one],
              floats(n, t.shape),
            );
          }
        } else if (!dsrc) continue;
        else if (term.op === "relu") {
          // (maskRef: the frozen mask or choices when there are some, else the tensor itself.)
          await dispatch(
            maskAccKernel(floats(n, t.shape), true),
            [maskRef(term.src), dt, dsrc],
            floats(n, t.shape),
          );
        } else if (term.op === "slice") {
          const hw = t.shape.h * t.shape.w;
          await dispatch(
            sliceBackwardKernel(n, srcShape.c, t.shape.c, term, hw),
            [maskRef(term.src), dt, dsrc],
            n * term.count * hw,
          );
        } else if (term.op === "maxpool3" || term.op === "maxpool2") {
          await dispatch(
            maxPoolBackwardKernel(term.op, n, srcShape.c, srcShape.h, srcShape.w),
            [maskRef(term.src), dt, dsrc],
            floats(n, srcShape),
          );
        } else {
          const k = term.op === "avgpool2" ? pool2BackwardKernel : pick2BackwardKernel;
          await dispatch(k(n, srcShape.c, srcShape.h, srcShape.w), [dt, dsrc, one], floats(n, srcShape));
        }
      }
    }

    /** The classifier's backward: loss gradient, dL/d(head tensor), the classifier's own gradient. */
    async function classifierBackward(dwb: PooledBuffer): Promise<void> {
      const hb = headBackwardKernels(n, hs.c, hs.h * hs.w, cls, o.loss === "sum", mask !== null);
      const labels = upload(mask ?? o.labels ?? new Uint32Array(n), "labels");
      const dlog = acquire(n * cls * 4, "dlogits");
      await dispatch(hb.loss, [logits, labels, dlog], n);
      if (hasHead) {
        const df = acquire(n * hs.c * 4, "dfeatures");
        await dispatch(hb.featGrad, [null, null, dlog, wbBuf, null, df], n * hs.c);
        const xg = { ...hb.xGrad, constants: { ...hb.xGrad.constants, ACC: 1 } };
        await dispatch(xg, [
          null,
          null,
          null,
          null,
          null,
          df,
          maskRef(plan.head.src),
          grad.get(plan.head.src)!,
        ], n * hs.c * hs.h * hs.w);
      }
      await dispatch(hb.wGrad, [null, null, dlog, null, feat, null, null, null, dwb], cls * (hs.c + 1));
    }

    /**
     * SGD on every parameter but the classifier's, weight decay on conv weights only (GenNAS's parameter
     * groups: kernels decay, batch-norm parameters do not); parameters on removed tensors get gradient 0.
     */
    async function sgdStep(cfg: SgdConfig): Promise<void> {
      for (const p of plan.params) {
        if (p.kind === "linear_weight" || p.kind === "linear_bias") continue;
        const at = pgrad.get(p.name);
        await dispatch(
          sgdKernel(cfg.lr, cfg.momentum, p.kind === "conv" ? cfg.weightDecay : 0, !at),
          [
            gp!.buf,
            gp!.momentum,
            at ? at.buf : gpu.blockIndex(0),
            gp!.slice(gpu, p.name, at ? at.offset / 4 : 0),
          ],
          gp!.at(p.name).length,
        );
      }
    }

    async function encodeBnBackward(
      y: Binding,
      dz: Binding,
      st: Binding,
      out: Binding,
      acc: boolean,
      gammaName: string,
      betaName: string,
      nn: number,
      s: Shape3,
    ): Promise<void> {
      const [bp, bf, ba] = bnBackwardKernels(nn, s.c, s.h * s.w, acc);
      const part = acquire(nn * s.c * 8, "bn grad part");
      const coef = acquire(s.c * 16, "bn grad coef");
      const dparam = acquire(s.c * 8, "bn dparam");
      await dispatch(bp, [y, dz, st, part], nn * s.c);
      await dispatch(bf, [null, null, st, part, coef, dparam], s.c);
      await dispatch(
        ba,
        [y, dz, st, null, coef, null, out],
        nn * s.c * Math.ceil((s.h * s.w) / BN_APPLY_CHUNK),
      );
      pgrad.set(gammaName, { buf: dparam, offset: 0 });
      pgrad.set(betaName, { buf: dparam, offset: s.c * 4 });
    }

    if (o.sgd) await sgdStep(o.sgd);
    if (o.submitOnly) {
      // Training: nothing is read. Buffers go back to the pool now; later work is queued after this one.
      rec.submit();
      result.dispatches += rec.dispatches;
      result.recorder = rec;
      for (const b of pooled) gpu.release(b);
      return;
    }

    // ---- read back.
    rec.submit();
    pgrad.set(plan.head.weight, { buf: dwb, offset: 0 });
    pgrad.set(plan.head.bias, { buf: dwb, offset: cls * hs.c * 4 });
    const reads: { src: Binding; offset?: number; size: number }[] = [{ src: logits, size: n * cls * 4 }];
    const grads = new Map<string, Float32Array>();
    for (const name of want) {
      const len = param(name).length;
      const at = pgrad.get(name);
      // Parameters on removed (identically zero) tensors get no gradient buffer: their gradient is zero.
      if (at) reads.push({ src: at.buf, offset: at.offset, size: len * 4 });
      else grads.set(name, new Float32Array(len));
    }
    if (o.inputGrad) reads.push({ src: grad.get(0)!, size: floats(n, plan.input) * 4 });
    const fisherNames = [...fisherBufs.keys()];
    for (const name of fisherNames) {
      reads.push({ src: fisherBufs.get(name)!.buf, size: fisherBufs.get(name)!.bytes });
    }
    const data = await gpu.read(reads);
    result.logits = new Float32Array(data[0]!);
    result.dispatches += rec.dispatches;
    let k = 1;
    for (const name of want) {
      if (grads.has(name)) continue;
      grads.set(name, new Float32Array(data[k++]!));
    }
    result.grads = grads;
    result.passes?.push(grads);
    if (o.inputGrad) result.dinput = new Float32Array(data[k++]!);
    if (o.fisher) {
      result.fisher = new Map();
      for (const name of fisherNames) result.fisher.set(name, new Float32Array(data[k++]!));
    }
    if (o.profile) result.timings = await rec.timings();
    for (const b of pooled) gpu.release(b);
    for (const b of uploads) b.destroy();
    rec.dispose();
  }
}

/**
 * The node spec of a tensor under frozen masks: relu and max-pool terms read buffers already masked or pooled
 * (so they are plain adds), slice terms read masked input with their ReLU off.
 */
function frozenNodeSpec(spec: NodeSpec): NodeSpec {
  return {
    ...spec,
    terms: spec.terms.map((term) =>
      term.kind === "relu" || term.kind === "max3" || term.kind === "max2"
        ? { kind: "raw" }
        : term.kind === "slice"
        ? { ...term, relu: false }
        : term
    ),
  };
}
