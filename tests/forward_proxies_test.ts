// The proxies read off NASWOT's forward pass: das (log|det(K/N_A)| and N_A) and linear_regions (distinct
// activation patterns), against a float64 reference of the codes and through one shared pass in `score`.
import { linearRegions, logdetFromHamming, naswot, normalizedLogdet } from "../proxies/naswot.ts";
import { scoreArchProxies, uploadScoringBatch } from "../pipeline/score.ts";
import { syntheticBatch } from "../datasets/minibatch.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { parseArch } from "../spaces/nb201.ts";
import { initParams } from "../spaces/init.ts";
import { assertClose, randomFloats, testGpu } from "./_helpers.ts";
import { planForwardRef } from "./reference_grad.ts";

const gpu = await testGpu();

Deno.test("linearRegions counts distinct patterns; normalizedLogdet + n log N_A = log|det K|", () => {
  // Images 0 and 2 share a pattern, 1 and 3 differ from everything.
  const n = 4;
  const ham = Uint32Array.from([0, 3, 0, 2, 3, 0, 3, 1, 0, 3, 0, 2, 2, 1, 2, 0]);
  if (linearRegions(ham, n) !== 3) throw new Error(`regions ${linearRegions(ham, n)}`);
  if (linearRegions(new Uint32Array(9), 3) !== 1) throw new Error("all equal should be 1 region");
  const k = Uint32Array.from([0, 2, 1, 2, 0, 3, 1, 3, 0]);
  assertClose([normalizedLogdet(k, 5, 3) + 3 * Math.log(5)], [logdetFromHamming(k, 5, 3)], 1e-15, "split");
  if (normalizedLogdet(ham, 3, n) !== -Infinity) throw new Error("duplicate patterns make K singular");
});

/** Distinct code strings of the images, from the float64 forward (ReLU inputs > 0 of every read tensor). */
function regionsRef(plan: ReturnType<typeof lowerNb201>, x: Float32Array, n: number, size: number): number {
  const params = initParams(plan, 0);
  const tape = planForwardRef(plan, params, { n, c: 1, h: size, w: size, d: Float64Array.from(x) });
  const codes = Array.from({ length: n }, () => [] as string[]);
  for (const t of plan.tensors) {
    if (t.reluUses === 0) continue;
    const v = tape.tensors[t.id]!;
    const per = v.c * v.h * v.w;
    for (let i = 0; i < n; i++) {
      let s = "";
      for (let j = 0; j < per; j++) s += v.d[i * per + j]! > 0 ? "1" : "0";
      codes[i]!.push(s);
    }
  }
  return new Set(codes.map((c) => c.join("|"))).size;
}

Deno.test({
  name: "linear_regions on the GPU equals the distinct codes of the float64 forward (1-channel nets collide)",
  ignore: gpu === null,
  async fn() {
    const g = gpu!;
    const n = 64;
    const size = 4;
    let collided = 0;
    for (
      const [ai, arch] of [
        "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|",
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
        "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_1x1~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
      ].entries()
    ) {
      const plan = lowerNb201(parseArch(arch), {
        input: { c: 1, h: size, w: size },
        classes: 1,
        channels: 1,
        cellsPerStage: 1,
      });
      const x = randomFloats(n * size * size, 40 + ai, -1, 1);
      const input = g.upload(x, "x");
      const r = await naswot(g, plan, input, n, 0);
      const want = regionsRef(plan, x, n, size);
      const got = linearRegions(r.ham, n);
      if (got !== want) throw new Error(`${arch}: GPU ${got} regions, reference ${want}`);
      if (got < n) collided++;
      input.destroy();
    }
    // The all-none cell leaves only the constant final ReLU: one region. Others must collide too, or the
    // test would not tell a count from n.
    if (collided < 2) throw new Error(`only ${collided} archs had colliding patterns`);
  },
});

Deno.test({
  name: "score: naswot, das and linear_regions from one pass equal each proxy scored alone",
  ignore: gpu === null,
  async fn() {
    const g = gpu!;
    const n = 8;
    const batch = syntheticBatch({ batch: n, c: 3, h: 32, w: 32, classes: 10, seed: 3 });
    // A second batch whose last 3 images repeat the first 3: 5 regions and a singular K.
    const dup = { ...batch, data: Float32Array.from(batch.data) };
    const per = 3 * 32 * 32;
    dup.data.copyWithin(5 * per, 0, 3 * per);
    const arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|";
    const o = { dataset: "cifar10", batch: n, seed: 0 };
    const key = { proxy: "", dataset: "synthetic-cifar10", batch: n, seed: 0 };
    const proxies = ["linear_regions", "naswot", "das"];
    for (const [b, regions] of [[batch, n], [dup, 5]] as const) {
      const data = uploadScoringBatch(g, b, "x");
      const rows = (await scoreArchProxies(g, data, 7, arch, o, key, proxies)).map((r) => r.row);
      if (rows.map((r) => r.proxy).join() !== proxies.join()) throw new Error("rows out of order");
      for (const p of proxies) {
        const [alone] = await scoreArchProxies(g, data, 7, arch, o, key, [p]);
        const row = rows.find((r) => r.proxy === p)!;
        if (JSON.stringify(alone!.row) !== JSON.stringify(row)) throw new Error(`${p} alone differs`);
      }
      const [lr, nw, das] = rows;
      if (lr!.score !== regions) throw new Error(`linear_regions ${lr!.score}, want ${regions}`);
      if (das!.n_units !== nw!.n_units || !(nw!.n_units > 0)) throw new Error("das n_units = N_A");
      if (regions === n) assertClose([das!.score + n * Math.log(das!.n_units)], [nw!.score], 1e-12, "das");
      else if (das!.score !== -Infinity || nw!.score !== -Infinity) throw new Error("singular K: -inf");
      data.xb.destroy();
    }
  },
});
