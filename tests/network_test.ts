// The whole NB201 forward pass on the GPU against the float64 CPU forward of the same network and weights.
import { parseArch } from "../spaces/nb201.ts";
import { NATS_SSS_CELL, natsSss } from "../spaces/nats_sss.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { initParams } from "../spaces/init.ts";
import { runForward } from "../proxies/_forward.ts";
import { assertClose, randomFloats, testGpu } from "./_helpers.ts";
import { assertReluInputs } from "./_relu_inputs.ts";
import { nb201ForwardRef } from "./reference.ts";

const gpu = await testGpu();

const ARCHS = {
  none: "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
  conv3: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
  mixed: "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
  zeroNode1: "|none~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|",
  deadCell: "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|none~1|none~2|",
};

Deno.test("parameter counts are 73,306 (all none) and 1,531,546 (all nor_conv_3x3) with a 10-class head", () => {
  const none = lowerNb201(parseArch(ARCHS.none), { classes: 10 }).paramCount;
  const conv = lowerNb201(parseArch(ARCHS.conv3), { classes: 10 }).paramCount;
  if (none !== 73306) throw new Error(`all-none: ${none}`);
  if (conv !== 1531546) throw new Error(`all-conv3x3: ${conv}`);
});

Deno.test("lowering removes zero nodes and counts the ReLUs that read them", () => {
  const plan = lowerNb201(parseArch(ARCHS.zeroNode1));
  // node1 is zero in every cell: its 3x3 conv ReLU sees zeros (16*32*32 units per stage-1 cell, etc.).
  const perCell = [16 * 32 * 32, 32 * 16 * 16, 64 * 8 * 8];
  const want = perCell.reduce((s, u) => s + 5 * u, 0);
  if (plan.zeroReluUnits !== want) throw new Error(`zeroReluUnits ${plan.zeroReluUnits} != ${want}`);
  if (plan.tensors.some((t) => /node1$/.test(t.name))) throw new Error("zero node1 was kept");
  const wrap = lowerNb201(parseArch(ARCHS.zeroNode1), { reluCount: "wrapper" });
  if (wrap.zeroReluUnits !== 2 * want) throw new Error("wrapper mode counts conv ReLUs twice");
});

const cases: [keyof typeof ARCHS, number][] = [
  ["none", 32],
  ["conv3", 32],
  ["mixed", 32],
  ["zeroNode1", 32],
  ["deadCell", 32],
  ["mixed", 16],
  ["conv3", 16],
];

for (const [name, size] of cases) {
  Deno.test({
    name: `GPU forward matches the CPU forward for the ${name} cell on ${size}x${size} inputs at batch 4`,
    ignore: gpu === null,
    async fn() {
      const arch = parseArch(ARCHS[name]);
      const classes = size === 16 ? 120 : 10;
      const input = { c: 3, h: size, w: size };
      const plan = lowerNb201(arch, { classes, input });
      const params = initParams(plan, 7);
      const n = 4;
      const x = randomFloats(n * 3 * size * size, 3, -2, 2);
      const xb = gpu!.upload(x, "x");
      const r = await runForward(gpu!, plan, params, xb, n, {
        naswot: true,
        logits: true,
        keepTensors: true,
      });
      xb.destroy();
      const ref = nb201ForwardRef(arch, params, { n, c: 3, h: size, w: size, d: Float64Array.from(x) }, {
        classes,
      });
      assertClose(r.logits!, ref.logits, 1e-3, "logits");
      // Every ReLU input: the GPU tensors read by ReLUs equal the reference's, with the same counts; the
      // reference's other ReLU inputs are identically zero and counted in zeroReluUnits. K is integer valued:
      // the GPU's Hamming matrix equals the one from its own tensors' codes exactly.
      assertReluInputs(plan, r, ref.reluInputs, n, 1e-3, true);
    },
  });
}

// NATS-Bench size space: the fixed cell in five free widths; cells whose input is narrower or wider than
// their output change the width on the edges leaving node 0.
const NATS_CASES: [string, number][] = [["8:16:24:16:8", 32], ["24:8:40:32:16", 16], ["16:16:16:16:16", 32]];
for (const [widths, size] of NATS_CASES) {
  Deno.test({
    name: `GPU forward matches the CPU forward for nats-sss ${widths} on ${size}x${size} inputs at batch 4`,
    ignore: gpu === null,
    async fn() {
      const classes = size === 16 ? 120 : 10;
      const input = { c: 3, h: size, w: size };
      const plan = natsSss.lower(widths, { classes, input });
      const params = initParams(plan, 11);
      const n = 4;
      const x = randomFloats(n * 3 * size * size, 5, -2, 2);
      const xb = gpu!.upload(x, "x");
      const r = await runForward(gpu!, plan, params, xb, n, {
        naswot: true,
        logits: true,
        keepTensors: true,
      });
      xb.destroy();
      const ref = nb201ForwardRef(parseArch(NATS_SSS_CELL), params, {
        n,
        c: 3,
        h: size,
        w: size,
        d: Float64Array.from(x),
      }, {
        classes,
        widths: widths.split(":").map(Number),
      });
      assertClose(r.logits!, ref.logits, 1e-3, "logits");
      assertReluInputs(plan, r, ref.reluInputs, n, 1e-3);
    },
  });
}
