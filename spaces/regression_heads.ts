/**
 * GenNAS regression heads (ALGORITHMS.md section 4), shared by every lowering that supports them (NB201 and
 * the spaces built on its skeleton, NB101): each stage's output is resized by halving (2x2 steps) down to
 * `size` x `size`, then passed through BN -> Conv1x1 to the head's channels. The heads' tensors become
 * `plan.outputs`, in stage order.
 * @module
 */

import type { ParamSpec, PlanLayer, PlanTensor, Shape3, Term } from "./plan.ts";

/** GenNAS regression heads on the stage outputs of a network. */
export interface RegressionHeads {
  /** Output channels of every head, or one number per stage. */
  channels: number | readonly number[];
  /** Output size (square). */
  size: number;
  /**
   * `nearest` (default, as GenNAS's F.interpolate: rows and columns 0, 2, 4, ...) or `avgpool` (2x2 means).
   */
  resize?: "nearest" | "avgpool";
}

/** Id of a tensor known to be zero everywhere (a stage output of an all-`none` cell): its head is zero too. */
export const ZERO_TENSOR = -1;

/**
 * Appends the heads on `stageOuts` (tensor ids, or {@link ZERO_TENSOR}, with their shapes) to a plan under
 * construction: their parameters (`heads.<s>.bn.*`, `heads.<s>.conv.weight`), layers and tensors. Returns
 * each stage's head tensor (ZERO_TENSOR for a zero stage output, whose BN bias is not propagated).
 */
export function appendRegressionHeads(
  parts: { params: ParamSpec[]; layers: PlanLayer[]; tensors: PlanTensor[] },
  stageOuts: readonly { id: number; shape: Shape3 }[],
  heads: RegressionHeads,
): number[] {
  const { params, layers, tensors } = parts;
  const { size } = heads;
  const tensor = (name: string, shape: Shape3, terms: Term[]): number => {
    const id = tensors.length;
    tensors.push({ id, name, shape, terms, reluUses: 0 });
    return id;
  };
  const layer = (name: string, type: string, inS: Shape3, outS: Shape3, p: number, macs: number) =>
    layers.push({ name, type, in: inS, out: outS, params: p, macs });
  return stageOuts.map((out, s) => {
    const channels = typeof heads.channels === "number" ? heads.channels : heads.channels[s];
    if (channels === undefined) {
      throw new RangeError(`regression heads: ${stageOuts.length} stages, channels for ${heads.channels}`);
    }
    let src = out.id;
    let sh = out.shape;
    for (let k = 0; sh.h > size; k++) {
      if (sh.h % 2 !== 0 || sh.w !== sh.h) {
        throw new RangeError(`regression head: cannot pool ${sh.h}x${sh.w} to ${size}`);
      }
      const next = { c: sh.c, h: sh.h / 2, w: sh.w / 2 };
      const op = (heads.resize ?? "nearest") === "nearest" ? "subsample2" : "avgpool2";
      layer(`heads.${s}.resize${k}`, op === "avgpool2" ? "avgpool2x2" : "nearest2x", sh, next, 0, 0);
      if (src !== ZERO_TENSOR) src = tensor(`heads.${s}.resize${k}`, next, [{ op, src }]);
      sh = next;
    }
    const bnWeight = `heads.${s}.bn.weight`, bnBias = `heads.${s}.bn.bias`, conv = `heads.${s}.conv.weight`;
    params.push({ name: bnWeight, kind: "bn_weight", shape: [sh.c], fanIn: sh.c });
    params.push({ name: bnBias, kind: "bn_bias", shape: [sh.c], fanIn: sh.c });
    params.push({ name: conv, kind: "conv", shape: [channels, sh.c, 1, 1], fanIn: sh.c });
    const outS = { c: channels, h: sh.h, w: sh.w };
    layer(`heads.${s}`, "bn_conv1x1", sh, outS, 2 * sh.c + channels * sh.c, outS.c * outS.h * outS.w * sh.c);
    if (src === ZERO_TENSOR) return ZERO_TENSOR;
    const b = tensor(`heads.${s}.bn`, sh, [{ op: "identity", src, bn: true, params: { bnWeight, bnBias } }]);
    return tensor(`heads.${s}.out`, outS, [{
      op: "conv",
      src: b,
      k: 1,
      stride: 1,
      pad: 0,
      relu: false,
      bn: false,
      params: { conv },
    }]);
  });
}
