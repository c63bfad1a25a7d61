/**
 * Lowering a NAS-Bench-101 cell into a network plan, as NB101's model builder (Ying et al. 2019) builds it:
 * stem Conv3x3(3 -> stem) -> BN -> ReLU; 3 stacks of 3 cells, a 2x2 max-pool (stride 2) before every stack
 * but the first and the channels doubled by the first cell of each such stack; global average pool; dense.
 *
 * Inside a cell (vertex channels from {@link vertexChannels}): vertex v's input is the sum of its interior
 * predecessors' outputs, each truncated to v's channels (the first channels), plus a Conv1x1 -> BN -> ReLU
 * projection of the cell input when the input feeds v; conv vertices are Conv(k x k) -> BN -> ReLU, max-pool
 * vertices a 3x3 max-pool (stride 1, "same"); the cell output concatenates the vertices that feed it, in
 * vertex order, plus a projection of the cell input to all output channels when the input feeds the output.
 *
 * In the plan a Conv -> BN -> ReLU vertex is the tensor BN(Conv(.)) (whose code NASWOT counts once, for its
 * one ReLU); every reader applies the ReLU on load (`relu` / `slice` terms, or a conv reading with ReLU).
 * Cell outputs are sums of ReLU outputs and pools of them, so they are read as they are. GenNAS's regression
 * heads, when asked for, read the output of each stack.
 * @module
 */

import { type Nb101NetworkOptions, type Nb101Spec, pruneSpec, vertexChannels } from "./nb101.ts";
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
import { appendRegressionHeads, type RegressionHeads } from "./regression_heads.ts";

/** Options of {@link lowerNb101}. */
export interface Nb101LowerOptions extends Nb101NetworkOptions {
  /** Input channels and size (default CIFAR 3x32x32). */
  input?: Shape3;
  /** ReLU counting for NASWOT: NB101 has no ReLU -> Conv blocks, so `wrapper` counts like `paper`. */
  reluCount?: ReluCount;
  /** GenNAS regression heads on the outputs of the 3 stacks (spaces/regression_heads.ts). */
  regressionHeads?: RegressionHeads;
}

/** Lowers an NB101 cell (pruned first) into a network plan labelled with `arch`. */
export function lowerNb101(spec: Nb101Spec, arch: string, opts: Nb101LowerOptions = {}): NetworkPlan {
  const cell = pruneSpec(spec);
  const input = opts.input ?? { c: 3, h: 32, w: 32 };
  const classes = opts.classes ?? 10;
  const stem = opts.stem ?? 128;
  const stacks = opts.stacks ?? 3;
  const perStack = opts.cellsPerStack ?? 3;
  if (input.c !== (opts.inputChannels ?? input.c)) {
    throw new RangeError(`nb101: input has ${input.c} channels, inputChannels says ${opts.inputChannels}`);
  }
  const params: ParamSpec[] = [];
  const layers: PlanLayer[] = [];
  const tensors: PlanTensor[] = [{ id: 0, name: "input", shape: input, terms: [], reluUses: 0 }];
  const units = (s: Shape3) => s.c * s.h * s.w;
  const tensor = (name: string, shape: Shape3, terms: Term[], reluUses = 0): number => {
    const id = tensors.length;
    tensors.push({ id, name, shape, terms, reluUses });
    return id;
  };
  /** Conv(k) -> BN as a tensor (its ReLU counted once), reading `src` through a ReLU when `relu`. */
  const convBn = (name: string, src: number, relu: boolean, cout: number, k: number): number => {
    const inS = tensors[src]!.shape;
    const outS = { c: cout, h: inS.h, w: inS.w };
    params.push({
      name: `${name}.conv.weight`,
      kind: "conv",
      shape: [cout, inS.c, k, k],
      fanIn: inS.c * k * k,
    });
    params.push({ name: `${name}.bn.weight`, kind: "bn_weight", shape: [cout], fanIn: cout });
    params.push({ name: `${name}.bn.bias`, kind: "bn_bias", shape: [cout], fanIn: cout });
    layers.push({
      name,
      type: `conv${k}x${k}_bn_relu`,
      in: inS,
      out: outS,
      params: cout * inS.c * k * k + 2 * cout,
      macs: units(outS) * inS.c * k * k,
    });
    return tensor(name, outS, [{
      op: "conv",
      src,
      k,
      stride: 1,
      pad: (k - 1) / 2,
      relu,
      bn: true,
      params: { conv: `${name}.conv.weight`, bnWeight: `${name}.bn.weight`, bnBias: `${name}.bn.bias` },
    }], 1);
  };

  // Stem: Conv3x3 -> BN -> ReLU; its readers apply the ReLU.
  let cur = convBn("stem", 0, false, stem, 3);
  let curRelu = true;
  let c = stem;
  const n = cell.ops.length;
  const m = cell.matrix;
  let g = 0;
  const stageOuts: { id: number; shape: Shape3 }[] = [];
  for (let s = 0; s < stacks; s++) {
    if (s > 0) {
      const inS = tensors[cur]!.shape;
      const outS = { c: inS.c, h: Math.floor(inS.h / 2), w: Math.floor(inS.w / 2) };
      layers.push({ name: `stack${s}.maxpool`, type: "maxpool2x2", in: inS, out: outS, params: 0, macs: 0 });
      // max(ReLU(x)) = ReLU(max(x)): the pooled tensor is read as its source was.
      cur = tensor(`stack${s}.maxpool`, outS, [{ op: "maxpool2", src: cur }]);
    }
    const cout = s === 0 ? c : 2 * c;
    for (let k = 0; k < perStack; k++, g++) {
      const name = `cells.${g}`;
      const cin = tensors[cur]!.shape.c;
      const ch = vertexChannels(cin, cout, cell);
      const shape = (ci: number) => ({ c: ci, h: tensors[cur]!.shape.h, w: tensors[cur]!.shape.w });
      const vt: number[] = [cur];
      const isConv = (v: number) => cell.ops[v]!.startsWith("conv");
      /** The term reading vertex `src`'s output (through its ReLU for conv vertices) into channels
       * [to, to + count) of a tensor of `width` channels. */
      const read = (src: number, to: number, count: number, width: number): Term => {
        const relu = isConv(src);
        if (to === 0 && count === ch[src] && count === width) {
          return relu
            ? { op: "relu", src: vt[src]! }
            : { op: "identity", src: vt[src]!, bn: false, params: {} };
        }
        return { op: "slice", src: vt[src]!, from: 0, to, count, relu };
      };
      for (let v = 1; v < n - 1; v++) {
        const terms: Term[] = [];
        for (let u = 1; u < v; u++) if (m[u]![v]) terms.push(read(u, 0, ch[v]!, ch[v]!));
        if (m[0]![v]) terms.push({ op: "relu", src: convBn(`${name}.proj${v}`, cur, curRelu, ch[v]!, 1) });
        const op = cell.ops[v]!;
        if (op === "maxpool3x3") {
          layers.push({
            name: `${name}.vertex${v}`,
            type: "maxpool3x3",
            in: shape(ch[v]!),
            out: shape(ch[v]!),
            params: 0,
            macs: 0,
          });
          const sum = tensor(`${name}.vertex${v}.in`, shape(ch[v]!), terms);
          vt.push(tensor(`${name}.vertex${v}`, shape(ch[v]!), [{ op: "maxpool3", src: sum }]));
        } else {
          const k3 = op === "conv3x3-bn-relu" ? 3 : 1;
          // A single ReLU'd input feeds the conv directly (ReLU on load); otherwise the sum is formed first.
          const only = terms.length === 1 ? terms[0]! : null;
          const direct = only && (only.op === "relu" || (only.op === "identity" && !only.bn)) ? only : null;
          const src = direct ? direct.src : tensor(`${name}.vertex${v}.in`, shape(ch[v]!), terms);
          vt.push(convBn(`${name}.vertex${v}`, src, direct?.op === "relu", ch[v]!, k3));
        }
      }
      const outTerms: Term[] = [];
      let off = 0;
      for (let u = 1; u < n - 1; u++) {
        if (!m[u]![n - 1]) continue;
        outTerms.push(read(u, off, ch[u]!, cout));
        off += ch[u]!;
      }
      if (m[0]![n - 1]) outTerms.push({ op: "relu", src: convBn(`${name}.proj_out`, cur, curRelu, cout, 1) });
      cur = tensor(`${name}.out`, shape(cout), outTerms);
      curRelu = false;
    }
    c = cout;
    stageOuts.push({ id: cur, shape: tensors[cur]!.shape });
  }
  const heads = opts.regressionHeads
    ? appendRegressionHeads({ params, layers, tensors }, stageOuts, opts.regressionHeads)
    : null;
  const reluCount = opts.reluCount ?? "paper";
  const plan = classifierPlan(
    { space: "nb101", arch, input, classes, params, layers, tensors, reluCount },
    cur,
    true,
  );
  return heads ? { ...plan, outputs: heads } : plan;
}
