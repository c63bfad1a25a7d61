/**
 * Lowering an NAS-Bench-201 cell into a network plan (ALGORITHMS.md section 1): stem Conv3x3 -> BN; 5 cells
 * at C; ResNet reduction block C -> 2C; 5 cells at 2C; reduction; 5 cells at 4C; BN -> ReLU; global average
 * pool; Linear. Tensors that are identically zero (a node fed only by `none` edges or by zero nodes) are
 * removed, their ReLUs counted in `zeroReluUnits`; tensors no ReLU and no live tensor reads are dropped.
 *
 * The same code lowers any skeleton of NB201 cells and reduction blocks with free widths
 * ({@link lowerCellNetwork}), which is the NATS-Bench size space (spaces/nats_sss.ts): there a cell's input may
 * be narrower or wider than its output, and the edges leaving node 0 change the width as NATS-Bench's
 * `InferCell` does (skip -> Conv1x1 -> BN, pooling after a ReLU -> Conv1x1 -> BN, convolutions cin -> cout).
 * @module
 */

import { archEdges, formatArch, type Nb201Arch, type Nb201Edge } from "./nb201.ts";
import type { NetworkPlan, ParamSpec, PlanLayer, PlanTensor, ReluCount, Shape3, Term } from "./plan.ts";
import { appendRegressionHeads, type RegressionHeads, ZERO_TENSOR } from "./regression_heads.ts";

export type { RegressionHeads } from "./regression_heads.ts";

/** Options of the NB201 macro skeleton. */
export interface Nb201NetworkOptions {
  /** Input channels and size: CIFAR 3x32x32 (default), ImageNet16-120 3x16x16. */
  input?: Shape3;
  /** Classifier outputs (10 for CIFAR-10; NASWOT uses 1, which does not change the score). */
  classes?: number;
  /** Channels of the first stage (16 in NB201). */
  channels?: number;
  /** Cells per stage (5 in NB201). */
  cellsPerStage?: number;
  /** ReLU counting for NASWOT (default `paper`). */
  reluCount?: ReluCount;
  /**
   * GenNAS regression heads on the 3 stage outputs (spaces/regression_heads.ts); their tensors are listed
   * in `plan.outputs`, stage order.
   */
  regressionHeads?: RegressionHeads;
}

/**
 * A macro skeleton: the stem's output channels, then a list of layers, each a cell (stride 1, `c` output
 * channels) or a ResNet basic block with stride 2 (`c` output channels). A stage ends before every block and
 * at the end (the GenNAS heads read stage ends).
 */
export interface Skeleton {
  stem: number;
  layers: readonly { kind: "cell" | "block"; c: number }[];
}

/** The NB201 skeleton: `perStage` cells at C, block 2C, `perStage` cells at 2C, block 4C, `perStage` at 4C. */
export function nb201Skeleton(c: number, perStage: number): Skeleton {
  const cells = (w: number) => Array.from({ length: perStage }, () => ({ kind: "cell" as const, c: w }));
  return {
    stem: c,
    layers: [
      ...cells(c),
      { kind: "block", c: 2 * c },
      ...cells(2 * c),
      { kind: "block", c: 4 * c },
      ...cells(4 * c),
    ],
  };
}

/** Lowers an NB201 architecture into a network plan. */
export function lowerNb201(arch: Nb201Arch, opts: Nb201NetworkOptions = {}): NetworkPlan {
  const skeleton = nb201Skeleton(opts.channels ?? 16, opts.cellsPerStage ?? 5);
  return lowerCellNetwork(archEdges(arch), skeleton, { ...opts, space: "nb201", arch: formatArch(arch) });
}

const ZERO = ZERO_TENSOR;

/**
 * Lowers a cell (its 6 edges) placed in a skeleton of cells and reduction blocks into a network plan; `space`
 * and `arch` label the plan.
 */
export function lowerCellNetwork(
  edges: readonly Nb201Edge[],
  skeleton: Skeleton,
  opts: Omit<Nb201NetworkOptions, "channels" | "cellsPerStage"> & { space: string; arch: string },
): NetworkPlan {
  const input = opts.input ?? { c: 3, h: 32, w: 32 };
  const classes = opts.classes ?? 10;
  const c0 = skeleton.stem;
  const reluCount = opts.reluCount ?? "paper";
  const mult = reluCount === "wrapper" ? 2 : 1;

  const params: ParamSpec[] = [];
  const layers: PlanLayer[] = [];
  const tensors: PlanTensor[] = [{ id: 0, name: "input", shape: input, terms: [], reluUses: 0 }];
  let zeroReluUnits = 0;

  const units = (s: Shape3) => s.c * s.h * s.w;
  const addConv = (name: string, cin: number, cout: number, k: number): string => {
    params.push({ name: `${name}.weight`, kind: "conv", shape: [cout, cin, k, k], fanIn: cin * k * k });
    return `${name}.weight`;
  };
  const addBn = (name: string, c: number): { bnWeight: string; bnBias: string } => {
    params.push({ name: `${name}.weight`, kind: "bn_weight", shape: [c], fanIn: c });
    params.push({ name: `${name}.bias`, kind: "bn_bias", shape: [c], fanIn: c });
    return { bnWeight: `${name}.weight`, bnBias: `${name}.bias` };
  };
  const layer = (name: string, type: string, inS: Shape3, outS: Shape3, p: number, macs: number) =>
    layers.push({ name, type, in: inS, out: outS, params: p, macs });
  const tensor = (name: string, shape: Shape3, terms: Term[]): number => {
    if (terms.length === 0) return ZERO;
    const id = tensors.length;
    tensors.push({ id, name, shape, terms, reluUses: 0 });
    return id;
  };
  /** A ReLU reading `src` (count `m`): its code is counted, or its constant units if src is zero. */
  const reluOn = (src: number, shape: Shape3, m: number) => {
    if (src === ZERO) zeroReluUnits += m * units(shape);
    else tensors[src]!.reluUses += m;
  };
  /** ReLU -> Conv -> BN block as a term (null when its input is zero: the block then outputs zero). */
  const reluConvBn = (
    name: string,
    src: number,
    inS: Shape3,
    cout: number,
    k: number,
    stride: number,
  ): Term | null => {
    const conv = addConv(`${name}.conv`, inS.c, cout, k);
    const bn = addBn(`${name}.bn`, cout);
    const pad = (k - 1) / 2;
    const outS = { c: cout, h: Math.floor((inS.h + 2 * pad - k) / stride) + 1, w: 0 };
    outS.w = Math.floor((inS.w + 2 * pad - k) / stride) + 1;
    layer(
      name,
      `relu_conv${k}x${k}_bn`,
      inS,
      outS,
      cout * inS.c * k * k + 2 * cout,
      units(outS) * inS.c * k * k,
    );
    reluOn(src, inS, mult);
    if (src === ZERO) return null;
    return { op: "conv", src, k, stride, pad, relu: true, bn: true, params: { conv, ...bn } };
  };

  // Stem: Conv3x3 (no bias) -> BN.
  let shape: Shape3 = { c: c0, h: input.h, w: input.w };
  const stemConv = addConv("stem.conv", input.c, c0, 3);
  const stemBn = addBn("stem.bn", c0);
  layer("stem", "conv3x3_bn", input, shape, c0 * input.c * 9 + 2 * c0, units(shape) * input.c * 9);
  let cur = tensor("stem", shape, [{
    op: "conv",
    src: 0,
    k: 3,
    stride: 1,
    pad: 1,
    relu: false,
    bn: true,
    params: { conv: stemConv, ...stemBn },
  }]);

  const stageOut: { id: number; shape: Shape3 }[] = [];
  for (const [g, spec] of skeleton.layers.entries()) {
    const name = `cells.${g}`;
    if (spec.kind === "block") {
      stageOut.push({ id: cur, shape });
      // Reduction (ResNet basic block, stride 2): out = AvgPool2x2 -> Conv1x1 (shortcut) + BN(Conv(ReLU(a))),
      // a = BN(Conv3x3 s2(ReLU(x))).
      const inS = shape;
      const cout = spec.c;
      const outS = { c: cout, h: Math.floor((inS.h - 1) / 2) + 1, w: Math.floor((inS.w - 1) / 2) + 1 };
      const termA = reluConvBn(`${name}.conv_a`, cur, inS, cout, 3, 2);
      const a = tensor(`${name}.a`, outS, termA ? [termA] : []);
      const termB = reluConvBn(`${name}.conv_b`, a, outS, cout, 3, 1);
      const poolS = { c: inS.c, h: Math.floor(inS.h / 2), w: Math.floor(inS.w / 2) };
      layer(`${name}.downsample.pool`, "avgpool2x2", inS, poolS, 0, 0);
      const down = addConv(`${name}.downsample.conv`, inS.c, cout, 1);
      layer(`${name}.downsample.conv`, "conv1x1", poolS, outS, cout * inS.c, units(outS) * inS.c);
      const out: Term[] = termB ? [termB] : [];
      if (cur !== ZERO) {
        const pooled = tensor(`${name}.pool`, poolS, [{ op: "avgpool2", src: cur }]);
        out.push({
          op: "conv",
          src: pooled,
          k: 1,
          stride: 1,
          pad: 0,
          relu: false,
          bn: false,
          params: { conv: down },
        });
      }
      cur = tensor(`${name}.out`, outS, out);
      shape = outS;
      continue;
    }
    // A cell: nodes 1..3, each the sum of its incoming edges; node 0 is the cell input (inS), the other
    // nodes have the cell's width (outS). Edges leaving node 0 change the width when the two differ.
    const inS = shape;
    const outS = { c: spec.c, h: inS.h, w: inS.w };
    const nodes: number[] = [cur];
    for (let i = 1; i <= 3; i++) {
      const terms: Term[] = [];
      for (const e of edges.filter((e) => e.to === i)) {
        const ename = `${name}.edge${e.from}${e.to}`;
        const src = nodes[e.from]!;
        const srcS = e.from === 0 ? inS : outS;
        const widen = srcS.c !== outS.c;
        switch (e.op) {
          case "none":
            layer(ename, "none", srcS, outS, 0, 0);
            break;
          case "skip_connect":
            if (!widen) {
              layer(ename, "skip_connect", srcS, outS, 0, 0);
              if (src !== ZERO) terms.push({ op: "identity", src, bn: false, params: {} });
            } else {
              // NATS-Bench: a width-changing skip is Conv1x1 -> BN (no ReLU).
              const conv = addConv(`${ename}.conv`, srcS.c, outS.c, 1);
              const bn = addBn(`${ename}.bn`, outS.c);
              layer(ename, "conv1x1_bn", srcS, outS, outS.c * srcS.c + 2 * outS.c, units(outS) * srcS.c);
              if (src !== ZERO) {
                terms.push({
                  op: "conv",
                  src,
                  k: 1,
                  stride: 1,
                  pad: 0,
                  relu: false,
                  bn: true,
                  params: { conv, ...bn },
                });
              }
            }
            break;
          case "avg_pool_3x3": {
            // NATS-Bench: pooling a tensor of another width first maps it through ReLU -> Conv1x1 -> BN.
            let p = src;
            if (widen) {
              const t = reluConvBn(`${ename}.pre`, src, srcS, outS.c, 1, 1);
              p = tensor(`${ename}.pre`, outS, t ? [t] : []);
            }
            layer(ename, "avg_pool_3x3", outS, outS, 0, 0);
            if (p !== ZERO) terms.push({ op: "avgpool3", src: p });
            break;
          }
          case "nor_conv_1x1":
          case "nor_conv_3x3": {
            const t = reluConvBn(ename, src, srcS, outS.c, e.op === "nor_conv_1x1" ? 1 : 3, 1);
            if (t) terms.push(t);
            break;
          }
        }
      }
      nodes.push(tensor(`${name}.node${i}`, outS, terms));
    }
    cur = nodes[3]!;
    shape = outS;
  }
  stageOut.push({ id: cur, shape });

  // lastact: BN -> ReLU; then global average pool and the classifier.
  const lastBn = addBn("lastact.bn", shape.c);
  layer("lastact", "bn_relu", shape, shape, 2 * shape.c, 0);
  const last = cur === ZERO
    ? ZERO
    : tensor("lastact", shape, [{ op: "identity", src: cur, bn: true, params: lastBn }]);
  reluOn(last, shape, 1);
  params.push({
    name: "classifier.weight",
    kind: "linear_weight",
    shape: [classes, shape.c],
    fanIn: shape.c,
  });
  params.push({ name: "classifier.bias", kind: "linear_bias", shape: [classes], fanIn: shape.c });
  const flat = { c: shape.c, h: 1, w: 1 };
  layer("gap", "global_avg_pool", shape, flat, 0, 0);
  layer(
    "classifier",
    "linear",
    flat,
    { c: classes, h: 1, w: 1 },
    classes * shape.c + classes,
    classes * shape.c,
  );

  const heads = opts.regressionHeads
    ? appendRegressionHeads({ params, layers, tensors }, stageOut, opts.regressionHeads)
    : [];

  const live = pruneDead(tensors, last, heads);
  return {
    space: opts.space,
    arch: opts.arch,
    input,
    classes,
    params,
    paramCount: params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0),
    macs: layers.reduce((s, l) => s + l.macs, 0),
    layers,
    tensors: live.tensors,
    head: { src: live.remap(last), weight: "classifier.weight", bias: "classifier.bias" },
    ...(opts.regressionHeads ? { outputs: heads.map(live.remap) } : {}),
    zeroReluUnits,
    reluCount,
  };
}

/**
 * Keeps the input, the head's source, the outputs, tensors read by a ReLU, and every tensor a kept tensor reads;
 * renumbers them densely in topological order.
 */
function pruneDead(
  tensors: PlanTensor[],
  head: number,
  outputs: readonly number[] = [],
): { tensors: PlanTensor[]; remap: (id: number) => number } {
  const keep = new Array<boolean>(tensors.length).fill(false);
  keep[0] = true;
  if (head !== ZERO) keep[head] = true;
  for (const o of outputs) if (o !== ZERO) keep[o] = true;
  for (let i = tensors.length - 1; i >= 0; i--) {
    const t = tensors[i]!;
    if (t.reluUses > 0) keep[i] = true;
    if (keep[i]) { for (const term of t.terms) keep[term.src] = true; }
  }
  const ids = new Map<number, number>();
  const out: PlanTensor[] = [];
  tensors.forEach((t, i) => {
    if (!keep[i]) return;
    ids.set(i, out.length);
    out.push({ ...t, id: out.length, terms: t.terms.map((term) => ({ ...term, src: ids.get(term.src)! })) });
  });
  return { tensors: out, remap: (id) => (id === ZERO ? ZERO : ids.get(id)!) };
}
