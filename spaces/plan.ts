/**
 * Network plans: a search-space-independent description of an untrained network as a DAG of tensors, each
 * the sum of terms (convolution with optional batch norm, identity, pooling). Lowering an architecture
 * (spaces/nb201_network.ts) produces a plan; the GPU runtime (proxies/_forward.ts) and the CPU reference
 * (tests/) execute it. Plans are plain JSON-serialisable data.
 * @module
 */

/** ReLU counting convention of the NASWOT score. */
export type ReluCount = "paper" | "wrapper";

/** Channel and spatial size of a tensor (the batch dimension is implicit). */
export interface Shape3 {
  c: number;
  h: number;
  w: number;
}

/** Names of the parameters a term owns (keys into the network's parameter list). */
export interface TermParams {
  /** Convolution weight [cout][cin][k][k]. */
  conv?: string;
  /** Batch-norm weight (gamma) and bias (beta), each [c]. */
  bnWeight?: string;
  bnBias?: string;
}

/**
 * One summand of a tensor:
 * - `conv`: [BN](Conv_k,stride,pad([ReLU](src))); the output size is the tensor's. `pad` -1 reads pixel
 *   (y*stride + 1 + ky, x*stride + 1 + kx): DARTS FactorizedReduce's conv on x[:, :, 1:, 1:] (stride 2, k 1),
 *   whose output (PyTorch: floor((H - 2) / 2) + 1) is then given by the tensor's shape, not the usual formula
 * - `identity`: [BN](src)
 * - `dwconv`: depthwise Conv_k,stride,pad,dilation([ReLU](src)), weights [C][1][k][k] (DARTS sep/dil convs)
 * - `avgpool3s2`: 3x3 average pool, stride 2, pad 1, padding excluded from the divisor (output ceil(H/2))
 * - `maxpool3s2`: 3x3 max pool, stride 2, pad 1, padding ignored (PyTorch MaxPool2d(3, 2, 1); ceil(H/2))
 * - `avgpool3`: 3x3 average pool, stride 1, pad 1, padding excluded from the divisor
 * - `avgpool2`: 2x2 average pool, stride 2
 * - `subsample2`: every second row and column from the first (nearest-neighbour resize to half size)
 * - `relu`: max(src, 0) (NB101 reads the ReLU of a Conv -> BN -> ReLU vertex this way)
 * - `maxpool3`: 3x3 max pool, stride 1, padding ignored (TF "SAME" / PyTorch pad with -inf)
 * - `maxpool2`: 2x2 max pool, stride 2
 * - `slice`: channels [from, from + count) of src, optionally through ReLU, placed at channels
 *   [to, to + count) of this tensor and zero elsewhere (NB101's truncation and concatenation)
 *
 * The BN of `conv` and `identity` terms uses batch statistics; it is affine (weight and bias parameters named
 * in `params`) unless `affine` is false: BatchNorm2d(affine=False), weight 1 and bias 0, no parameters (the
 * BNs inside NASLib's DARTS ops). `affine` is absent from the plans of spaces that only use affine BNs.
 */
export type Term =
  | {
    op: "conv";
    src: number;
    k: number;
    stride: number;
    pad: number;
    relu: boolean;
    bn: boolean;
    affine?: boolean;
    params: TermParams;
  }
  | { op: "identity"; src: number; bn: boolean; affine?: boolean; params: TermParams }
  | {
    op: "dwconv";
    src: number;
    k: number;
    stride: number;
    pad: number;
    dilation: number;
    relu: boolean;
    params: TermParams;
  }
  | { op: "avgpool3s2"; src: number }
  | { op: "maxpool3s2"; src: number }
  | { op: "avgpool3"; src: number }
  | { op: "avgpool2"; src: number }
  | { op: "subsample2"; src: number }
  | { op: "relu"; src: number }
  | { op: "maxpool3"; src: number }
  | { op: "maxpool2"; src: number }
  | { op: "slice"; src: number; from: number; to: number; count: number; relu: boolean };

/** The term ops of NB201-style plans, which every executor (forward, gradients, synflow) runs. */
export const NB201_TERM_OPS: readonly Term["op"][] = [
  "conv",
  "identity",
  "avgpool3",
  "avgpool2",
  "subsample2",
];

/** The term ops the backward pass runs (proxies/_backward.ts): NB201's and NB101's. */
export const GRADIENT_TERM_OPS: readonly Term["op"][] = [
  ...NB201_TERM_OPS,
  "relu",
  "maxpool3",
  "maxpool2",
  "slice",
];

/**
 * Throws when a plan has a term op `who` cannot run (e.g. gradient proxies on an NB101 plan). The forward-only
 * extensions of DARTS plans are refused too: non-affine BNs (`affine: false`) and a head without ReLU.
 */
export function assertTermOps(plan: NetworkPlan, ops: readonly Term["op"][], who: string): void {
  if (plan.head.relu === false) {
    throw new RangeError(
      `${who}: the ${plan.space} plan of ${plan.arch} has a classifier head without ReLU, which ${who} ` +
        `does not support yet`,
    );
  }
  for (const t of plan.tensors) {
    for (const term of t.terms) {
      if ((term.op === "conv" || term.op === "identity") && term.affine === false) {
        throw new RangeError(
          `${who}: the ${plan.space} plan of ${plan.arch} has a non-affine batch norm (tensor ${t.name}), ` +
            `which ${who} does not support yet`,
        );
      }
      if (!ops.includes(term.op)) {
        throw new RangeError(
          `${who}: the ${plan.space} plan of ${plan.arch} has a "${term.op}" term (tensor ${t.name}), which ${who} ` +
            `does not support yet; it runs on ${ops.join(", ")} terms`,
        );
      }
    }
  }
}

/** A tensor of the plan: the sum of its terms. Tensor 0 is the input image batch and has no terms. */
export interface PlanTensor {
  id: number;
  /** Readable name, e.g. `cell1.3.node2`. */
  name: string;
  shape: Shape3;
  terms: Term[];
  /** Number of ReLUs whose input is this tensor (its NASWOT code counts this many times). */
  reluUses: number;
}

/** A parameter tensor of the network, in initialisation order. */
export interface ParamSpec {
  name: string;
  kind: "conv" | "bn_weight" | "bn_bias" | "linear_weight" | "linear_bias";
  shape: number[];
  /** Fan-in used by PyTorch's default initialisation (conv: cin*k*k, linear: in features). */
  fanIn: number;
}

/** One layer of the full network, for reporting (shapes, parameters, multiply-accumulates per image). */
export interface PlanLayer {
  name: string;
  type: string;
  in: Shape3;
  out: Shape3;
  params: number;
  macs: number;
}

/** A lowered network. */
export interface NetworkPlan {
  /** Search space and architecture this plan was lowered from. */
  space: string;
  arch: string;
  input: Shape3;
  classes: number;
  /** Every parameter of the full network (also those on edges whose input is identically zero). */
  params: ParamSpec[];
  /** Total parameter count (classifier included). */
  paramCount: number;
  /** Multiply-accumulates per image of the full network (convolutions and classifier). */
  macs: number;
  layers: PlanLayer[];
  /** Tensors to compute, in topological order; tensors that are identically zero are removed. */
  tensors: PlanTensor[];
  /**
   * The tensor the classifier reads: ReLU -> global average pool -> linear, or without the ReLU when `relu` is
   * false (DARTS networks pool the last cell's output directly). `relu` is absent (true) in other plans.
   */
  head: { src: number; weight: string; bias: string; relu?: boolean };
  /** Regression-head output tensors (GenNAS), one per stage; -1 where the head is identically zero. */
  outputs?: number[];
  /**
   * ReLU units whose input is identically zero for every image (ReLUs reading removed zero tensors):
   * their codes are all 0, so each adds its unit count to every entry of the NASWOT kernel.
   */
  zeroReluUnits: number;
  /**
   * How ReLUs are counted in `reluUses` and `zeroReluUnits`: `paper` counts each ReLU once; `wrapper`
   * counts the ReLU of every ReLU->Conv->BN block twice, as the NASWOT authors' hooks do.
   */
  reluCount: ReluCount;
}

/**
 * Finishes a plan the NB101 and DARTS lowerings build: adds the classifier (global average pool -> Linear to
 * `classes`, reading tensor `src`; ReLU first unless `relu` is false) to `params` and `layers`, and sums the
 * parameter count and the multiply-accumulates.
 */
export function classifierPlan(
  base: Omit<NetworkPlan, "paramCount" | "macs" | "head" | "zeroReluUnits">,
  src: number,
  relu: boolean,
): NetworkPlan {
  const { params, layers, classes } = base;
  const last = base.tensors[src]!.shape;
  params.push({ name: "classifier.weight", kind: "linear_weight", shape: [classes, last.c], fanIn: last.c });
  params.push({ name: "classifier.bias", kind: "linear_bias", shape: [classes], fanIn: last.c });
  const flat = { c: last.c, h: 1, w: 1 };
  layers.push({ name: "gap", type: "global_avg_pool", in: last, out: flat, params: 0, macs: 0 });
  layers.push({
    name: "classifier",
    type: "linear",
    in: flat,
    out: { c: classes, h: 1, w: 1 },
    params: classes * last.c + classes,
    macs: classes * last.c,
  });
  return {
    ...base,
    paramCount: params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0),
    macs: layers.reduce((s, l) => s + l.macs, 0),
    head: { src, weight: "classifier.weight", bias: "classifier.bias", ...(relu ? {} : { relu: false }) },
    zeroReluUnits: 0,
  };
}
