/**
 * Lowering a DARTS genotype into a network plan, as NASLib's NB301 model builds it (the convention of
 * {@link dartsNetworkCost}'s `"naslib"` variant, whose parameter count reproduces the `params` column of
 * NASLib's NB301 zero-cost table): stem Conv3x3(3 -> 3C) -> BN; `layers` cells, reduction cells at
 * floor(layers/3) and floor(2*layers/3) (channels doubled there); global average pool of the last cell's
 * output (no ReLU) -> Linear(4C -> classes). No auxiliary head.
 *
 * A cell reads s0 and s1, the outputs of the two previous cells (the stem for the first ones): s0 through
 * FactorizedReduce when the previous cell was a reduction cell, else ReLU -> Conv1x1 -> BN, and s1 through
 * ReLU -> Conv1x1 -> BN (affine BNs). Node k = 2..5 sums its two edges; edges from the inputs 0, 1 of a
 * reduction cell have stride 2. Edge ops (NON-affine BNs, as NASLib's):
 * - sep_conv_k: ReLU, depthwise k (stride s, pad k/2), Conv1x1, BN, ReLU, depthwise k (stride 1), Conv1x1, BN
 * - dil_conv_k: ReLU, depthwise k (dilation 2, pad k-1, stride s), Conv1x1, BN
 * - skip_connect: identity (stride 1) or FactorizedReduce (stride 2)
 * - max_pool_3x3 / avg_pool_3x3: 3x3 pool (pad 1, stride s; max ignores padding, average excludes it) -> BN
 * FactorizedReduce(cin -> cout): ReLU, Conv1x1 stride 2 to cout/2 on x and on x[:, :, 1:, 1:], concatenated
 * on channels, BN. The cell output concatenates nodes 2, 3, 4, 5.
 *
 * In the plan (as in spaces/nb101_network.ts) a tensor read through ReLUs is stored before the ReLU, its
 * readers apply the ReLU on load, and `reluUses` counts every ReLU module reading it once (NASWOT hooks every
 * nn.ReLU): cell outputs and the stem are read by the next cells' preprocessing, preprocessed inputs and nodes
 * by the sep/dil convs and stride-2 skips of their cell, and the BN inside a sep_conv by its second ReLU.
 * FactorizedReduce's two convs are tensors of cout/2 channels placed by `slice` terms (its BN is per channel,
 * so BN before the concatenation equals BN after it; with affine BN the concatenation is formed first, so the
 * BN keeps its cout-channel parameters).
 *
 * @example
 * ```ts
 * import { parseDartsAny, formatDartsArch } from "./darts.ts";
 * import { lowerDarts } from "./darts_network.ts";
 * const g = parseDartsAny("[[(0, 3), (1, 4), (0, 5), (1, 6), (0, 2), (1, 0), (0, 1), (1, 3)], " +
 *   "[(0, 2), (1, 0), (0, 1), (1, 3), (2, 4), (0, 5), (3, 6), (1, 2)]]");
 * const plan = lowerDarts(g, formatDartsArch(g));
 * console.log(plan.paramCount, plan.tensors.length);
 * ```
 * @module
 */

import { type DartsGenotype, dartsGenotypeProblem, type DartsOp } from "./darts.ts";
import {
  classifierPlan,
  type NetworkPlan,
  type ParamSpec,
  type PlanLayer,
  type PlanTensor,
  type ReluCount,
  type Shape3,
  type Term,
} from "./plan.ts";

/** Options of {@link lowerDarts}; the defaults are NB301's CIFAR-10 network. */
export interface DartsLowerOptions {
  /** Input channels and size (default 3x32x32); height and width must be divisible by 4. */
  input?: Shape3;
  /** Classifier outputs (default 10). */
  classes?: number;
  /** Initial channels C, even (default 32). */
  channels?: number;
  /** Number of cells, at least 3 (default 8); reduction cells at floor(layers/3) and floor(2*layers/3). */
  layers?: number;
  /**
   * ReLU counting for NASWOT: `paper` counts every nn.ReLU once; `wrapper` also counts the input of every
   * ReLUConvBN module (the cell-input preprocessing), whose class name contains "ReLU", as NASWOT-style hooks
   * on every module named *ReLU* do. Default `paper`.
   */
  reluCount?: ReluCount;
}

/** Lowers a DARTS genotype into a network plan labelled with `arch` (see the module comment). */
export function lowerDarts(g: DartsGenotype, arch: string, opts: DartsLowerOptions = {}): NetworkPlan {
  const problem = dartsGenotypeProblem(g);
  if (problem !== null) throw new TypeError(`lowerDarts: invalid DARTS genotype: ${problem}`);
  const input = opts.input ?? { c: 3, h: 32, w: 32 };
  const classes = opts.classes ?? 10;
  const C = opts.channels ?? 32;
  const numLayers = opts.layers ?? 8;
  const reluCount = opts.reluCount ?? "paper";
  if (!Number.isInteger(C) || C < 2 || C % 2 !== 0) {
    throw new RangeError(`lowerDarts: channels must be an even positive integer, got ${C}`);
  }
  if (!Number.isInteger(numLayers) || numLayers < 3) {
    throw new RangeError(`lowerDarts: layers must be an integer >= 3, got ${numLayers}`);
  }
  if (input.h % 4 !== 0 || input.w % 4 !== 0 || input.h < 4 || input.w < 4) {
    throw new RangeError(`lowerDarts: input ${input.h}x${input.w} must be divisible by 4 (two reductions)`);
  }

  const params: ParamSpec[] = [];
  const layers: PlanLayer[] = [];
  const tensors: PlanTensor[] = [{ id: 0, name: "input", shape: input, terms: [], reluUses: 0 }];
  const shape = (id: number) => tensors[id]!.shape;
  const tensor = (name: string, s: Shape3, terms: Term[], reluUses = 0): number => {
    const id = tensors.length;
    tensors.push({ id, name, shape: s, terms, reluUses });
    return id;
  };
  const reluReads = (id: number, count = 1) => {
    tensors[id]!.reluUses += count;
  };
  /** A conv weight [cout][cin/groups][k][k] and its layer; returns the parameter name. */
  const convParam = (name: string, inS: Shape3, outS: Shape3, k: number, depthwise: boolean): string => {
    const cinPerGroup = depthwise ? 1 : inS.c;
    params.push({
      name: `${name}.weight`,
      kind: "conv",
      shape: [outS.c, cinPerGroup, k, k],
      fanIn: cinPerGroup * k * k,
    });
    const n = outS.c * cinPerGroup * k * k;
    layers.push({
      name,
      type: depthwise ? `dwconv${k}x${k}` : `conv${k}x${k}`,
      in: inS,
      out: outS,
      params: n,
      macs: n * outS.h * outS.w,
    });
    return `${name}.weight`;
  };
  /** An affine BN's parameters and layer. */
  const bnParams = (name: string, s: Shape3): { bnWeight: string; bnBias: string } => {
    params.push({ name: `${name}.weight`, kind: "bn_weight", shape: [s.c], fanIn: s.c });
    params.push({ name: `${name}.bias`, kind: "bn_bias", shape: [s.c], fanIn: s.c });
    layers.push({ name, type: "batchnorm", in: s, out: s, params: 2 * s.c, macs: 0 });
    return { bnWeight: `${name}.weight`, bnBias: `${name}.bias` };
  };
  /** Conv1x1 (stride 1) -> non-affine BN of `src`, as a term. */
  const pointwiseBn = (name: string, src: number, cout: number): Term => {
    const s = shape(src);
    const conv = convParam(name, s, { c: cout, h: s.h, w: s.w }, 1, false);
    return {
      op: "conv",
      src,
      k: 1,
      stride: 1,
      pad: 0,
      relu: false,
      bn: true,
      affine: false,
      params: { conv },
    };
  };
  /** Depthwise conv of `src` (ReLU on load) as a tensor. */
  const depthwise = (name: string, src: number, k: number, stride: number, pad: number, dilation: number) => {
    const s = shape(src);
    const span = dilation * (k - 1) + 1;
    const outS = {
      c: s.c,
      h: Math.floor((s.h + 2 * pad - span) / stride) + 1,
      w: Math.floor((s.w + 2 * pad - span) / stride) + 1,
    };
    const conv = convParam(name, s, outS, k, true);
    return tensor(name, outS, [{
      op: "dwconv",
      src,
      k,
      stride,
      pad,
      dilation,
      relu: true,
      params: { conv },
    }]);
  };
  /** FactorizedReduce(src -> cout): terms that place its output at channels 0..cout of a tensor. */
  const factorizedReduce = (name: string, src: number, cout: number, affine: boolean): Term[] => {
    const s = shape(src);
    if (s.h % 2 !== 0 || s.w % 2 !== 0) {
      throw new RangeError(`lowerDarts: FactorizedReduce ${name} needs an even size, got ${s.h}x${s.w}`);
    }
    reluReads(src);
    const half = cout / 2;
    const outS = { c: half, h: s.h / 2, w: s.w / 2 };
    const bn = affine ? { bn: false } : { bn: true, affine: false };
    // conv_2 reads x[:, :, 1:, 1:]: pixel (2y + 1, 2x + 1), i.e. pad -1 (output size = the tensor's).
    const parts = [0, -1].map((pad, j) => {
      const conv = convParam(`${name}.conv_${j + 1}`, s, outS, 1, false);
      return tensor(`${name}.conv_${j + 1}`, outS, [
        { op: "conv", src, k: 1, stride: 2, pad, relu: true, ...bn, params: { conv } },
      ]);
    });
    const slices: Term[] = parts.map((p, j) => ({
      op: "slice",
      src: p,
      from: 0,
      to: j * half,
      count: half,
      relu: false,
    }));
    if (!affine) return slices;
    const catS = { c: cout, h: outS.h, w: outS.w };
    const cat = tensor(`${name}.cat`, catS, slices);
    return [{ op: "identity", src: cat, bn: true, params: bnParams(`${name}.bn`, catS) }];
  };
  /** ReLU -> Conv1x1 -> affine BN of `src` to `cout` channels, as a tensor. */
  const reluConvBn = (name: string, src: number, cout: number): number => {
    const s = shape(src);
    const outS = { c: cout, h: s.h, w: s.w };
    reluReads(src, reluCount === "wrapper" ? 2 : 1);
    const conv = convParam(`${name}.conv`, s, outS, 1, false);
    return tensor(name, outS, [
      {
        op: "conv",
        src,
        k: 1,
        stride: 1,
        pad: 0,
        relu: true,
        bn: true,
        params: { conv, ...bnParams(`${name}.bn`, outS) },
      },
    ]);
  };
  /** The terms of one edge op applied to `src` with `stride` (channels unchanged). */
  const edge = (name: string, op: DartsOp, src: number, stride: number): Term[] => {
    const s = shape(src);
    switch (op) {
      case "sep_conv_3x3":
      case "sep_conv_5x5": {
        const k = op === "sep_conv_3x3" ? 3 : 5;
        reluReads(src);
        const d1 = depthwise(`${name}.dw1`, src, k, stride, (k - 1) / 2, 1);
        const b1 = tensor(`${name}.bn1`, shape(d1), [pointwiseBn(`${name}.pw1`, d1, s.c)], 1);
        const d2 = depthwise(`${name}.dw2`, b1, k, 1, (k - 1) / 2, 1);
        return [pointwiseBn(`${name}.pw2`, d2, s.c)];
      }
      case "dil_conv_3x3":
      case "dil_conv_5x5": {
        const k = op === "dil_conv_3x3" ? 3 : 5;
        reluReads(src);
        const d = depthwise(`${name}.dw`, src, k, stride, k - 1, 2);
        return [pointwiseBn(`${name}.pw`, d, s.c)];
      }
      case "skip_connect":
        return stride === 1
          ? [{ op: "identity", src, bn: false, params: {} }]
          : factorizedReduce(name, src, s.c, false);
      case "max_pool_3x3":
      case "avg_pool_3x3": {
        const outS = { c: s.c, h: Math.ceil(s.h / stride), w: Math.ceil(s.w / stride) };
        const max = op === "max_pool_3x3";
        layers.push({
          name: `${name}.pool`,
          type: max ? "maxpool3x3" : "avgpool3x3",
          in: s,
          out: outS,
          params: 0,
          macs: 0,
        });
        const pool: Term = stride === 1
          ? { op: max ? "maxpool3" : "avgpool3", src }
          : { op: max ? "maxpool3s2" : "avgpool3s2", src };
        const p = tensor(`${name}.pool`, outS, [pool]);
        return [{ op: "identity", src: p, bn: true, affine: false, params: {} }];
      }
    }
  };

  const stemS = { c: 3 * C, h: input.h, w: input.w };
  const stemConv = convParam("stem.conv", input, stemS, 3, false);
  const stem = tensor("stem", stemS, [
    {
      op: "conv",
      src: 0,
      k: 3,
      stride: 1,
      pad: 1,
      relu: false,
      bn: true,
      params: { conv: stemConv, ...bnParams("stem.bn", stemS) },
    },
  ]);
  let s0 = stem;
  let s1 = stem;
  let c = C;
  let reductionPrev = false;
  const r1 = Math.floor(numLayers / 3);
  const r2 = Math.floor((2 * numLayers) / 3);
  for (let i = 0; i < numLayers; i++) {
    const name = `cells.${i}`;
    const reduction = i === r1 || i === r2;
    if (reduction) c *= 2;
    const h1 = shape(s1);
    const pre0 = reductionPrev
      ? tensor(`${name}.pre0`, { c, h: h1.h, w: h1.w }, factorizedReduce(`${name}.pre0`, s0, c, true))
      : reluConvBn(`${name}.pre0`, s0, c);
    const pre1 = reluConvBn(`${name}.pre1`, s1, c);
    const outS = { c, h: reduction ? h1.h / 2 : h1.h, w: reduction ? h1.w / 2 : h1.w };
    const nodes = [pre0, pre1];
    const cell = reduction ? g.reduce : g.normal;
    for (let k = 2; k < 6; k++) {
      const terms: Term[] = [];
      for (const e of [cell[2 * (k - 2)]!, cell[2 * (k - 2) + 1]!]) {
        const stride = reduction && e.input < 2 ? 2 : 1;
        terms.push(...edge(`${name}.edge${e.input}${k}`, e.op, nodes[e.input]!, stride));
      }
      nodes.push(tensor(`${name}.node${k}`, outS, terms));
    }
    const out = tensor(
      `${name}.out`,
      { c: 4 * c, h: outS.h, w: outS.w },
      nodes.slice(2).map((src, j) => ({ op: "slice", src, from: 0, to: j * c, count: c, relu: false })),
    );
    s0 = s1;
    s1 = out;
    reductionPrev = reduction;
  }
  return classifierPlan(
    { space: "darts", arch, input, classes, params, layers, tensors, reluCount },
    s1,
    false,
  );
}
