// Every WGSL kernel against its float64 TypeScript reference on small random shapes (odd sizes, batch 1,
// C = 1, sizes not divisible by the workgroup) and on exact integer cases.
import {
  type ConvBlocking,
  convKernel,
  type ConvSpec,
  defaultBlocking,
  encodeConv,
  packConvWeights,
  vec4Loads,
  workgroupFor,
} from "../shaders/conv2d.ts";
import { codeWords, encodeNode, nodeKernel, type NodeSpec, nodeVec4 } from "../shaders/node.ts";
import {
  bnKernels,
  encodeLogdet,
  encodePopcount,
  headKernels,
  logdetKernels,
  POPCOUNT_ROWS,
  popcountKernel,
} from "../shaders/kernels.ts";
import { type Binding, type Gpu, type PooledBuffer, withHelpers } from "../shaders/gpu.ts";
import {
  encodeWinograd,
  packWinogradWeights,
  winogradApplies,
  type WinogradBlocking,
  winogradKernel,
} from "../shaders/winograd.ts";
import { Rng } from "../spaces/rng.ts";
import { pick2 } from "./reference_grad.ts";
import { assertClose, assertExact, randomFloats, testGpu } from "./_helpers.ts";
import {
  add,
  avgPool2,
  avgPool3,
  batchNorm,
  bnStats,
  conv2d,
  hammingRef,
  head,
  logdetRef,
  type T4,
} from "./reference.ts";

const gpu = await testGpu();
const ignore = gpu === null;

async function read(g: Gpu, b: Binding, bytes: number): Promise<ArrayBuffer> {
  return (await g.read([{ src: b, size: bytes }]))[0]!;
}

const t4 = (x: Float32Array, n: number, c: number, h: number, w: number): T4 => ({
  n,
  c,
  h,
  w,
  d: Float64Array.from(x),
});

async function runConv(
  g: Gpu,
  spec: ConvSpec,
  x: Float32Array,
  w: Float32Array,
  blocking?: ConvBlocking,
) {
  const { kernel, groups } = convKernel(spec, blocking);
  const bl = blocking ?? defaultBlocking(spec);
  const p = await g.pipeline(kernel);
  const ho = Math.floor((spec.h + 2 * spec.pad - spec.k) / spec.stride) + 1;
  const wo = Math.floor((spec.w + 2 * spec.pad - spec.k) / spec.stride) + 1;
  const xb = g.upload(x, "x");
  const wb = g.upload(packConvWeights(w, spec.cout, spec.cin, spec.k, bl.tc), "w");
  const yb = g.acquire(spec.n * spec.cout * ho * wo * 4);
  const rec = g.record("test");
  encodeConv(g, rec, p, spec, bl, groups, xb, wb, yb);
  rec.submit();
  const y = new Float32Array(await read(g, yb, spec.n * spec.cout * ho * wo * 4));
  g.release(yb);
  xb.destroy();
  wb.destroy();
  return y;
}

const convCases: ConvSpec[] = [
  { n: 1, cin: 1, h: 5, w: 7, cout: 1, k: 3, stride: 1, pad: 1, relu: false },
  { n: 2, cin: 3, h: 9, w: 11, cout: 5, k: 3, stride: 1, pad: 1, relu: true },
  { n: 3, cin: 4, h: 8, w: 8, cout: 20, k: 1, stride: 1, pad: 0, relu: true },
  { n: 2, cin: 6, h: 9, w: 7, cout: 12, k: 3, stride: 2, pad: 1, relu: true },
  { n: 1, cin: 16, h: 13, w: 10, cout: 33, k: 3, stride: 1, pad: 1, relu: false },
  { n: 2, cin: 5, h: 6, w: 6, cout: 7, k: 1, stride: 2, pad: 0, relu: false },
  // Rows of 12: the default blocking reads 4 of each row's 6 inputs as a vec4; 10 rows: a ragged row tile.
  { n: 2, cin: 3, h: 10, w: 12, cout: 9, k: 3, stride: 1, pad: 1, relu: true },
];

async function runWinograd(g: Gpu, spec: ConvSpec, x: Float32Array, w: Float32Array, bl: WinogradBlocking) {
  const { kernel, groups } = winogradKernel(spec, bl);
  const p = await g.pipeline(kernel);
  const xb = g.upload(x, "x");
  const wb = g.upload(packWinogradWeights(w, spec.cout, spec.cin, bl.tc), "w");
  const bytes = spec.n * spec.cout * spec.h * spec.w * 4;
  const yb = g.acquire(bytes);
  const rec = g.record("test");
  encodeWinograd(g, rec, p, spec, bl, groups, xb, wb, yb);
  rec.submit();
  const y = new Float32Array(await read(g, yb, bytes));
  g.release(yb);
  xb.destroy();
  wb.destroy();
  return y;
}

Deno.test({
  name:
    "Winograd F(2x2,3x3) conv3x3 matches the reference and the direct conv within 1e-4 (odd sizes, ragged tiles)",
  ignore,
  async fn() {
    const odd: ConvSpec = { n: 2, cin: 7, h: 11, w: 5, cout: 9, k: 3, stride: 1, pad: 1, relu: true };
    const cases = [...convCases.filter(winogradApplies), odd];
    if (cases.length < 4) throw new Error(`only ${cases.length} Winograd cases`);
    for (const spec of cases) {
      const x = randomFloats(spec.n * spec.cin * spec.h * spec.w, 11);
      const w = randomFloats(spec.cout * spec.cin * 9, 12);
      const want = conv2d(t4(x, spec.n, spec.cin, spec.h, spec.w), w, spec.cout, 3, 1, 1, spec.relu);
      const direct = await runConv(gpu!, spec, x, w);
      for (const bl of [{ tt: 1, th2: 1, tc: 4 }, { tt: 4, th2: 4, tc: 8 }, { tt: 2, th2: 1, tc: 16 }]) {
        const got = await runWinograd(gpu!, spec, x, w, bl);
        const what = `winograd ${JSON.stringify(bl)} ${JSON.stringify(spec)}`;
        assertClose(got, want.d, 1e-5, `${what} vs float64`);
        assertClose(got, direct, 1e-4, `${what} vs direct`);
      }
    }
  },
});

for (const spec of convCases) {
  Deno.test({
    name:
      `conv2d matches the reference when k=${spec.k} s=${spec.stride} n=${spec.n} cin=${spec.cin} ${spec.h}x${spec.w} cout=${spec.cout} relu=${spec.relu}`,
    ignore,
    async fn() {
      const x = randomFloats(spec.n * spec.cin * spec.h * spec.w, 1);
      const w = randomFloats(spec.cout * spec.cin * spec.k * spec.k, 2);
      const want = conv2d(
        t4(x, spec.n, spec.cin, spec.h, spec.w),
        w,
        spec.cout,
        spec.k,
        spec.stride,
        spec.pad,
        spec.relu,
      );
      for (const bl of [undefined, { tp: 2, tc: 4, th: 1 }, { tp: 3, tc: 8, th: 2 }]) {
        const got = await runConv(gpu!, spec, x, w, bl);
        assertClose(got, want.d, 1e-5, `conv2d ${JSON.stringify(bl ?? "default")}`);
      }
    },
  });
}

Deno.test({
  name:
    "conv2d gives the same bits whatever its register blocking and workgroup size (scores never depend on them)",
  ignore,
  async fn() {
    // 16 images of 8x8 (NB201's last stage at GenNAS's batch: 32 tiles, so wg 64 leaves half its lanes
    // idle), ragged in channels. Few blockings: the unrolled 8x4x16 kernel compiles for a minute on GL.
    // The base reads each row's 4 aligned inputs as one vec4, the others scalar by scalar; the 1x1 conv's
    // base has no scalar loads at all.
    const specs: ConvSpec[] = [
      { n: 16, cin: 12, h: 8, w: 8, cout: 20, k: 3, stride: 1, pad: 1, relu: true },
      { n: 4, cin: 8, h: 8, w: 8, cout: 20, k: 1, stride: 1, pad: 0, relu: true },
    ];
    for (const spec of specs) {
      const x = randomFloats(spec.n * spec.cin * spec.h * spec.w, 5);
      const w = randomFloats(spec.cout * spec.cin * spec.k * spec.k, 6);
      const base = await runConv(gpu!, spec, x, w, { tp: 4, tc: 16, th: 8, wg: 64, vec4: true });
      const blockings = [{ tp: 4, tc: 16, th: 8, wg: 8 }, { tp: 3, tc: 4, th: 2, wg: 16 }];
      for (const bl of blockings) {
        assertExact(
          await runConv(gpu!, spec, x, w, bl),
          base,
          `conv2d ${JSON.stringify(bl)} vs th8 tp4 tc16 wg64`,
        );
      }
    }
  },
});

Deno.test("conv2d refuses vec4 loads where a row's 4 inputs are not aligned floats inside it", () => {
  const spec: ConvSpec = { n: 1, cin: 1, h: 8, w: 8, cout: 4, k: 3, stride: 1, pad: 1, relu: false };
  const bl: ConvBlocking = { tp: 4, tc: 4, th: 2, vec4: true };
  if (!vec4Loads(spec, 4) || defaultBlocking(spec).vec4 !== true) {
    throw new Error("8-wide rows take vec4 loads");
  }
  for (const bad of [{ ...spec, w: 10 }, { ...spec, stride: 2 }, { ...spec, pad: 2 }, { ...spec, wo: 7 }]) {
    let threw = false;
    try {
      convKernel(bad, bl);
    } catch (e) {
      threw = e instanceof RangeError && /vec4 loads do not apply/.test(e.message);
    }
    if (!threw || defaultBlocking(bad).vec4) {
      throw new Error(`vec4 loads accepted for ${JSON.stringify(bad)}`);
    }
  }
});

Deno.test({
  name: "conv2d's epilogues add its output into y, or add it where the mask is positive, bit for bit",
  ignore,
  async fn() {
    const g = gpu!;
    // Small register tiles (big unrolled tiles compile slowly on GL): scalar stores, and vec4 loads and
    // stores on rows of 12.
    const cases: [ConvSpec, ConvBlocking][] = [
      [convCases[1]!, { tp: 2, tc: 4, th: 2 }],
      [convCases[6]!, { tp: 4, tc: 4, th: 2, vec4: true }],
    ];
    for (const [base, bl] of cases) {
      const x = randomFloats(base.n * base.cin * base.h * base.w, 7);
      const w = randomFloats(base.cout * base.cin * base.k * base.k, 8);
      const out = await runConv(g, base, x, w, bl);
      const prior = randomFloats(out.length, 9);
      // Half the mask is positive, and some entries are exactly zero (masked off like negatives).
      const mask = Float32Array.from(randomFloats(out.length, 10), (v, i) => i % 7 === 0 ? 0 : v);
      for (const epilogue of ["add", "addMasked"] as const) {
        const spec = { ...base, epilogue };
        const { kernel, groups } = convKernel(spec, bl);
        const xb = g.upload(x, "x");
        const wb = g.upload(packConvWeights(w, spec.cout, spec.cin, spec.k, bl.tc), "w");
        const yb = g.upload(prior, "y");
        const mb = g.upload(mask, "m");
        const rec = g.record("test");
        encodeConv(
          g,
          rec,
          await g.pipeline(kernel),
          spec,
          bl,
          groups,
          xb,
          wb,
          yb,
          epilogue === "add" ? undefined : mb,
        );
        rec.submit();
        const got = new Float32Array(await read(g, yb, out.length * 4));
        const want = prior.map((p, i) => p + (epilogue === "add" || mask[i]! > 0 ? out[i]! : 0));
        assertExact(got, want, `conv2d epilogue ${epilogue} ${JSON.stringify(base)}`);
        for (const b of [xb, wb, yb, mb]) b.destroy();
      }
    }
  },
});

Deno.test("workgroupFor keeps 64 invocations a workgroup unless that leaves under 4 workgroups (never under 8)", () => {
  assertExact([1, 32, 63, 64, 128, 255, 256, 4096].map(workgroupFor), [8, 8, 8, 16, 32, 32, 64, 64], "wg");
  // The default blocking of NB201's last stage: batch 128 keeps 64, batch 16 (GenNAS) and 8 (ntk) go to 8.
  const last = (n: number) =>
    defaultBlocking({ n, cin: 64, h: 8, w: 8, cout: 64, k: 3, stride: 1, pad: 1, relu: true });
  assertExact([128, 16, 8].map((n) => last(n).wg ?? 64), [64, 8, 8], "last stage wg");
});

Deno.test({
  name: "conv2d gives exact integers when the input is a ramp and the weights are all ones",
  ignore,
  async fn() {
    const spec: ConvSpec = { n: 2, cin: 3, h: 7, w: 9, cout: 6, k: 3, stride: 1, pad: 1, relu: false };
    const x = new Float32Array(spec.n * spec.cin * spec.h * spec.w).map((_, i) => i % 17);
    const w = new Float32Array(spec.cout * spec.cin * 9).fill(1);
    const want = conv2d(t4(x, spec.n, spec.cin, spec.h, spec.w), w, spec.cout, 3, 1, 1);
    assertExact(await runConv(gpu!, spec, x, w), want.d, "conv2d ramp");
  },
});

async function runBn(
  g: Gpu,
  x: Float32Array,
  n: number,
  c: number,
  hw: number,
  gamma: Float32Array,
  beta: Float32Array,
) {
  const [partial, finalize] = bnKernels(n, c, hw);
  const [pp, pf] = await Promise.all([g.pipeline(partial), g.pipeline(finalize)]);
  const xb = g.upload(x, "x");
  const ab = g.upload(new Float32Array([...gamma, ...beta]), "affine");
  const part = g.acquire(n * c * 8);
  const stats = g.acquire(c * 16);
  const rec = g.record("test");
  rec.dispatch(pp, [xb, part], [Math.ceil((n * c) / 64)]);
  rec.dispatch(pf, [null, part, stats, ab], [Math.ceil(c / 64)]);
  rec.submit();
  const s = new Float32Array(await read(g, stats, c * 16));
  g.release(part);
  xb.destroy();
  ab.destroy();
  return { s, stats };
}

// Both the scalar path (H*W odd) and the vec4 path (H*W a multiple of 4) of the statistics kernel.

for (const [n, c, h, w] of [[1, 1, 3, 5], [3, 5, 7, 9], [4, 70, 2, 3], [2, 3, 4, 8]] as const) {
  Deno.test({
    name: `batch-norm statistics match the reference when n=${n} c=${c} ${h}x${w}`,
    ignore,
    async fn() {
      const x = randomFloats(n * c * h * w, 3, -2, 5);
      const gamma = randomFloats(c, 4, 0.5, 1.5);
      const beta = randomFloats(c, 5);
      const { s, stats } = await runBn(gpu!, x, n, c, h * w, gamma, beta);
      gpu!.release(stats);
      const { mean, variance } = bnStats(t4(x, n, c, h, w));
      const col = (k: number) => Array.from({ length: c }, (_, i) => s[4 * i + k]!);
      assertClose(col(0), mean, 1e-5, "mean");
      assertClose(
        col(1),
        Array.from(variance, (v, i) => gamma[i]! / Math.sqrt(v + 1e-5)),
        1e-4,
        "gamma * invstd",
      );
      assertExact(col(2), beta, "beta");
    },
  });
}

async function runNode(
  g: Gpu,
  spec: NodeSpec,
  srcs: Float32Array[],
  extras: { stats?: Binding }[],
) {
  const { kernel, groups } = nodeKernel(spec);
  const p = await g.pipeline(kernel);
  const units = spec.c * spec.h * spec.w;
  const out = g.acquire(spec.n * units * 4);
  const words = codeWords(spec.c, spec.h, spec.w);
  const codes = spec.pack ? g.acquire(spec.n * words * 4) : null;
  const owned: GPUBuffer[] = [];
  const terms = srcs.map((s, i) => {
    const src = g.upload(s, "src");
    owned.push(src);
    return { src, stats: extras[i]?.stats };
  });
  const rec = g.record("test");
  encodeNode(rec, p, spec, groups, out, codes, terms);
  rec.submit();
  const reads = [{ src: out, size: spec.n * units * 4 }];
  if (codes) reads.push({ src: codes, size: spec.n * words * 4 });
  const [o, c] = await g.read(reads);
  g.release(out);
  if (codes) g.release(codes);
  for (const b of owned) b.destroy();
  return { out: new Float32Array(o!), codes: c ? new Uint32Array(c) : null };
}

for (const [n, c, h, w] of [[3, 5, 7, 9], [2, 3, 8, 12]] as const) {
  Deno.test({
    name: `node kernel sums bn, raw, relu and pool3 terms and packs the code when n=${n} c=${c} ${h}x${w} (${
      nodeVec4({ n, c, h, w, pack: true, terms: [] }) ? "vec4" : "scalar"
    } path)`,
    ignore,
    async fn() {
      const len = n * c * h * w;
      const a = randomFloats(len, 4, -3, 2);
      const b = randomFloats(len, 5);
      const r = randomFloats(len, 6);
      const p3 = randomFloats(len, 7);
      const gamma = randomFloats(c, 8, 0.5, 1.5);
      const beta = randomFloats(c, 9);
      const { stats } = await runBn(gpu!, a, n, c, h * w, gamma, beta);
      const spec: NodeSpec = {
        n,
        c,
        h,
        w,
        pack: true,
        terms: [{ kind: "bn" }, { kind: "raw" }, { kind: "relu" }, { kind: "pool3" }],
      };
      const got = await runNode(gpu!, spec, [a, b, r, p3], [{ stats }]);
      gpu!.release(stats);
      const ra = batchNorm(t4(a, n, c, h, w), gamma, beta);
      const rr = t4(r, n, c, h, w);
      rr.d.forEach((v, i) => (rr.d[i] = Math.max(v, 0)));
      const want = add(add(add(ra, t4(b, n, c, h, w)), rr), avgPool3(t4(p3, n, c, h, w)));
      assertClose(got.out, want.d, 1e-5, "node sum");
      // Codes: bit b of word k of image i is [out > 0] of unit 32k + b (computed from the GPU's own values).
      const units = c * h * w;
      const words = codeWords(c, h, w);
      const expect = new Uint32Array(n * words);
      for (let i = 0; i < n; i++) {
        for (let u = 0; u < units; u++) {
          if (got.out[i * units + u]! > 0) expect[i * words + (u >> 5)]! |= 1 << (u & 31);
        }
      }
      assertExact(got.codes!, expect, "packed codes");
    },
  });
}

Deno.test({
  name: "node kernel computes 2x2 average pooling and exact integer pools on a ramp",
  ignore,
  async fn() {
    for (const [n, c, sh, sw] of [[2, 3, 9, 6], [2, 3, 8, 16]]) {
      const x = new Float32Array(n! * c! * sh! * sw!).map((_, i) => 4 * (i % 13));
      const spec: NodeSpec = {
        n: n!,
        c: c!,
        h: sh! >> 1,
        w: sw! >> 1,
        pack: false,
        terms: [{ kind: "pool2", sh: sh!, sw: sw! }],
      };
      const got = await runNode(gpu!, spec, [x], []);
      assertExact(got.out, avgPool2(t4(x, n!, c!, sh!, sw!)).d, `avgpool2 ramp ${sh}x${sw}`);
      // The nearest half-size resize (GenNAS heads) picks element (2y, 2x); added to a raw term.
      const r = new Float32Array(n! * c! * (sh! >> 1) * (sw! >> 1)).map((_, i) => i % 7);
      const pick = await runNode(
        gpu!,
        { ...spec, terms: [{ kind: "pick2", sh: sh!, sw: sw! }, { kind: "raw" }] },
        [x, r],
        [],
      );
      const want = pick2(t4(x, n!, c!, sh!, sw!)).d.map((v, i) => v + r[i]!);
      assertExact(pick.out, want, `pick2 ${sh}x${sw}`);
    }
    const ones = new Float32Array(1 * 1 * 5 * 4).fill(1);
    const p = await runNode(
      gpu!,
      { n: 1, c: 1, h: 5, w: 4, pack: false, terms: [{ kind: "pool3" }] },
      [ones],
      [],
    );
    assertExact(p.out, new Float32Array(20).fill(1), "avgpool3 excludes padding from the divisor");
  },
});

Deno.test({
  name:
    "node kernel max-pools (3x3 stride 1 ignoring padding, 2x2 stride 2) and slices channels on odd shapes",
  ignore,
  async fn() {
    // 3x3 max with padding ignored, plus a slice of a 5-channel source (channels 1..3 -> 0..2, ReLU'd) and a
    // raw term, on n=3 c=4 7x9.
    const [n, c, h, w] = [3, 4, 7, 9];
    const x = randomFloats(n * c * h * w, 21, -2, 1);
    const sc = 5;
    const y = randomFloats(n * sc * h * w, 22, -1, 1);
    const r = randomFloats(n * c * h * w, 23);
    const got = await runNode(
      gpu!,
      {
        n,
        c,
        h,
        w,
        pack: false,
        terms: [{ kind: "max3" }, { kind: "slice", sc, from: 1, to: 0, count: 3, relu: true }, {
          kind: "raw",
        }],
      },
      [x, y, r],
      [],
    );
    const want = new Float64Array(n * c * h * w);
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        for (let yy = 0; yy < h; yy++) {
          for (let xx = 0; xx < w; xx++) {
            let m = -Infinity;
            for (let dy = -1; dy <= 1; dy++) {
              for (let dx = -1; dx <= 1; dx++) {
                const a = yy + dy;
                const b = xx + dx;
                if (a >= 0 && a < h && b >= 0 && b < w) m = Math.max(m, x[((i * c + ch) * h + a) * w + b]!);
              }
            }
            const o = ((i * c + ch) * h + yy) * w + xx;
            const sl = ch < 3 ? Math.max(y[((i * sc + ch + 1) * h + yy) * w + xx]!, 0) : 0;
            want[o] = m + sl + r[o]!;
          }
        }
      }
    }
    assertClose(got.out, want, 1e-6, "max3 + slice + raw");
    // 2x2 max of a 9x6 source (the odd last row dropped), exact on a ramp.
    const [sh, sw] = [9, 6];
    const z = new Float32Array(2 * 3 * sh * sw).map((_, i) => (i * 7) % 11);
    const m2 = await runNode(
      gpu!,
      { n: 2, c: 3, h: 4, w: 3, pack: false, terms: [{ kind: "max2", sh, sw }] },
      [z],
      [],
    );
    const want2 = new Float32Array(2 * 3 * 4 * 3);
    for (let p = 0; p < 6; p++) {
      for (let oy = 0; oy < 4; oy++) {
        for (let ox = 0; ox < 3; ox++) {
          const at = (dy: number, dx: number) => z[(p * sh + 2 * oy + dy) * sw + 2 * ox + dx]!;
          want2[(p * 4 + oy) * 3 + ox] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
        }
      }
    }
    assertExact(m2.out, want2, "max2 ramp");
  },
});

for (const [sh, sw] of [[7, 9], [8, 6], [1, 3]] as const) {
  Deno.test({
    name:
      `node kernel 3x3 stride-2 pools (max ignoring padding, mean excluding it) when the source is ${sh}x${sw}`,
    ignore,
    async fn() {
      // PyTorch MaxPool2d(3, 2, 1) / AvgPool2d(3, 2, 1, count_include_pad=False): output ceil(H/2) x ceil(W/2).
      const [n, c] = [3, 5];
      const [h, w] = [Math.ceil(sh / 2), Math.ceil(sw / 2)];
      const x = randomFloats(n * c * sh * sw, 31, -2, 1);
      const r = randomFloats(n * c * h * w, 32);
      const spec = (kind: "pool3s2" | "max3s2"): NodeSpec => ({
        n,
        c,
        h,
        w,
        pack: true,
        terms: [{ kind, sh, sw }, { kind: "raw" }],
      });
      for (const kind of ["pool3s2", "max3s2"] as const) {
        const got = await runNode(gpu!, spec(kind), [x, r], []);
        const want = new Float64Array(n * c * h * w);
        for (let p = 0; p < n * c; p++) {
          for (let oy = 0; oy < h; oy++) {
            for (let ox = 0; ox < w; ox++) {
              let m = -Infinity;
              let s = 0;
              let cnt = 0;
              for (let dy = -1; dy <= 1; dy++) {
                for (let dx = -1; dx <= 1; dx++) {
                  const [iy, ix] = [2 * oy + dy, 2 * ox + dx];
                  if (iy < 0 || iy >= sh || ix < 0 || ix >= sw) continue;
                  const v = x[(p * sh + iy) * sw + ix]!;
                  m = Math.max(m, v);
                  s += v;
                  cnt++;
                }
              }
              const o = (p * h + oy) * w + ox;
              want[o] = (kind === "max3s2" ? m : s / cnt) + r[o]!;
            }
          }
        }
        assertClose(got.out, want, 1e-6, kind);
        const words = codeWords(c, h, w);
        for (let i = 0; i < n; i++) {
          for (let u = 0; u < c * h * w; u++) {
            const bit = (got.codes![i * words + (u >> 5)]! >>> (u & 31)) & 1;
            if (bit !== (got.out[i * c * h * w + u]! > 0 ? 1 : 0)) {
              throw new Error(`${kind} code bit ${i}/${u}`);
            }
          }
        }
      }
      // Exact on a ramp with all-ones inputs: the max is the bottom-right tap inside, the mean of ones is 1.
      const ramp = new Float32Array(n * c * sh * sw).map((_, i) => i);
      const mx = await runNode(
        gpu!,
        { n, c, h, w, pack: false, terms: [{ kind: "max3s2", sh, sw }] },
        [ramp],
        [],
      );
      const wantMax = new Float32Array(n * c * h * w);
      for (let p = 0; p < n * c; p++) {
        for (let oy = 0; oy < h; oy++) {
          for (let ox = 0; ox < w; ox++) {
            wantMax[(p * h + oy) * w + ox] = (p * sh + Math.min(2 * oy + 1, sh - 1)) * sw +
              Math.min(2 * ox + 1, sw - 1);
          }
        }
      }
      assertExact(mx.out, wantMax, "max3s2 ramp");
      const ones = new Float32Array(n * c * sh * sw).fill(1);
      const av = await runNode(gpu!, { n, c, h, w, pack: false, terms: [{ kind: "pool3s2", sh, sw }] }, [
        ones,
      ], []);
      assertExact(
        av.out,
        new Float32Array(n * c * h * w).fill(1),
        "pool3s2 excludes padding from the divisor",
      );
    },
  });
}

Deno.test({
  name:
    "head without ReLU (head.wgsl, RELU false) averages the raw tensor before the linear layer when sizes are odd",
  ignore,
  async fn() {
    const [n, c, h, w, cls] = [3, 7, 3, 5, 11];
    const x = randomFloats(n * c * h * w, 13);
    const wt = randomFloats(cls * c, 14);
    const bias = randomFloats(cls, 15);
    const [gap, lin] = headKernels(n, c, h * w, cls, false);
    const [pg, pl] = await Promise.all([gpu!.pipeline(gap), gpu!.pipeline(lin)]);
    const xb = gpu!.upload(x, "x");
    const wb = gpu!.upload(new Float32Array([...wt, ...bias]), "w");
    const f = gpu!.acquire(n * c * 4);
    const out = gpu!.acquire(n * cls * 4);
    const rec = gpu!.record("test");
    rec.dispatch(pg, [xb, f], [1]);
    rec.dispatch(pl, [f, wb, out], [1]);
    rec.submit();
    const got = new Float32Array(await read(gpu!, out, n * cls * 4));
    // head() applies ReLU; shifting the input by +10 makes it positive, and the shift's mean is added back.
    const shifted = t4(x.map((v) => v + 10), n, c, h, w);
    const want = head(shifted, wt, bias, cls).map((v, i) => {
      let s = 0;
      for (let ch = 0; ch < c; ch++) s += 10 * wt[(i % cls) * c + ch]!;
      return v - s;
    });
    assertClose(got, want, 1e-5, "head without ReLU");
    gpu!.release(f);
    gpu!.release(out);
    xb.destroy();
    wb.destroy();
  },
});

// 77 units: scalar words (one dispatch); 256 / 8,192: vec4 words, one dispatch per row block (1 and 3 blocks;
// with 3, the blocks below the diagonal come from the mirrored sums).
for (const [n, units] of [[13, 77], [13, 256], [37, 8192]] as const) {
  Deno.test({
    name:
      `popcount accumulates weighted Hamming distances bit for bit when n=${n} and ${units} units per code`,
    ignore,
    async fn() {
      const words = codeWords(1, 1, units);
      const rng = new Rng(11);
      const ham = gpu!.acquire(n * n * 4);
      const rec = gpu!.record("test");
      rec.clear(ham);
      const lists: { bits: Uint8Array[]; weight: number }[] = [];
      const owned: PooledBuffer[] = [];
      const p = await gpu!.pipeline(popcountKernel(n, words));
      for (const weight of [1, 3, 2]) {
        const bits = Array.from({ length: n }, () => Uint8Array.from({ length: units }, () => rng.int(2)));
        lists.push({ bits, weight });
        const packed = new Uint32Array(Math.ceil(n / POPCOUNT_ROWS) * POPCOUNT_ROWS * words);
        bits.forEach((b, i) => b.forEach((v, u) => (packed[i * words + (u >> 5)]! |= v << (u & 31))));
        const cb = gpu!.acquire(packed.byteLength);
        gpu!.write(cb, packed);
        owned.push(cb);
        encodePopcount(gpu!, rec, p, n, words, cb, ham, weight);
      }
      rec.submit();
      const got = new Uint32Array(await read(gpu!, ham, n * n * 4));
      rec.dispose();
      gpu!.release(ham);
      owned.forEach((b) => gpu!.release(b));
      assertExact(got, hammingRef(lists, n), "weighted Hamming");
    },
  });
}

async function gpuLogdet(g: Gpu, ham: Uint32Array, n: number, units: number): Promise<number> {
  const p = await Promise.all(logdetKernels(n).map((k) => g.pipeline(k)));
  const hb = g.upload(ham, "ham");
  const a = g.acquire(n * n * 4);
  const out = g.acquire((n + 1) * 4);
  const rec = g.record("test");
  encodeLogdet(
    g,
    rec,
    p as [GPUComputePipeline, GPUComputePipeline, GPUComputePipeline],
    n,
    units,
    hb,
    a,
    out,
  );
  rec.submit();
  const v = new Float32Array(await read(g, out, (n + 1) * 4))[n]!;
  rec.dispose();
  g.release(a);
  g.release(out);
  hb.destroy();
  return v;
}

Deno.test({
  name: "logdet kernel matches float64 Cholesky and is exact on a known determinant",
  ignore,
  async fn() {
    // K = N_A - ham = diag(d) + 1 1^T has det = prod(d) * (1 + sum 1/d).
    const n = 9;
    const d = [2, 3, 4, 5, 6, 7, 8, 9, 10];
    const units = 20;
    const ham = new Uint32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) ham[i * n + j] = units - ((i === j ? d[i]! : 0) + 1);
    }
    const want = d.reduce((s, v) => s + Math.log(v), 0) + Math.log(1 + d.reduce((s, v) => s + 1 / v, 0));
    const got = await gpuLogdet(gpu!, ham, n, units);
    if (Math.abs(got - want) > 1e-4 * Math.abs(want)) throw new Error(`logdet ${got} != ${want}`);
    // Random Hamming matrices from codes (up to batch 128, where a single-invocation factorisation hits
    // llvmpipe's loop cap), with a 90% shared code part so that K is near N_A * 1 1^T as in NASWOT.
    const rng = new Rng(12);
    for (const m of [40, 128]) {
      const shared = Uint8Array.from({ length: 4500 }, () => rng.int(2));
      const bits = Array.from({ length: m }, () => {
        const b = new Uint8Array(5000);
        b.set(shared);
        for (let u = 4500; u < 5000; u++) b[u] = rng.int(2);
        return b;
      });
      const h = hammingRef([{ bits, weight: 1 }], m);
      const ref = logdetRef(h.map((v) => 5000 - v), m);
      const g2 = await gpuLogdet(gpu!, Uint32Array.from(h), m, 5000);
      if (Math.abs(g2 - ref) > 2e-4 * Math.abs(ref)) throw new Error(`logdet n=${m}: ${g2} != ${ref}`);
    }
  },
});

Deno.test({
  name: "logdet kernel returns -inf instead of NaN when two images have equal codes",
  ignore,
  async fn() {
    const n = 5;
    const ham = new Uint32Array(n * n).fill(4);
    for (let i = 0; i < n; i++) ham[i * n + i] = 0;
    ham[0 * n + 1] = 0;
    ham[1 * n + 0] = 0;
    const got = await gpuLogdet(gpu!, ham, n, 10);
    if (got !== -Infinity) throw new Error(`expected -inf, got ${got}`);
    if (logdetRef(Array.from(ham, (v) => 10 - v), n) !== -Infinity) {
      throw new Error("reference should be -inf");
    }
  },
});

Deno.test({
  name: "head applies ReLU, global average pooling and the linear layer when sizes are odd",
  ignore,
  async fn() {
    const [n, c, h, w, cls] = [3, 7, 3, 5, 11];
    const x = randomFloats(n * c * h * w, 13);
    const wt = randomFloats(cls * c, 14);
    const bias = randomFloats(cls, 15);
    const [gap, lin] = headKernels(n, c, h * w, cls);
    const [pg, pl] = await Promise.all([gpu!.pipeline(gap), gpu!.pipeline(lin)]);
    const xb = gpu!.upload(x, "x");
    const wb = gpu!.upload(new Float32Array([...wt, ...bias]), "w");
    const f = gpu!.acquire(n * c * 4);
    const out = gpu!.acquire(n * cls * 4);
    const rec = gpu!.record("test");
    rec.dispatch(pg, [xb, f], [1]);
    rec.dispatch(pl, [f, wb, out], [1]);
    rec.submit();
    const got = new Float32Array(await read(gpu!, out, n * cls * 4));
    assertClose(got, head(t4(x, n, c, h, w), wt, bias, cls), 1e-5, "head");
    gpu!.release(f);
    gpu!.release(out);
    xb.destroy();
    wb.destroy();
  },
});

Deno.test("withHelpers appends a shared WGSL helper once, only to kernels that call it without defining it", () => {
  const calls = "fn main() { let i = flat_id(a, b); }";
  const got = withHelpers(calls);
  if (!got.startsWith(calls) || (got.match(/fn flat_id\(/g) ?? []).length !== 1) {
    throw new Error(`flat_id not appended once:\n${got}`);
  }
  const defines = `${calls}\nfn flat_id(a: vec3<u32>, b: vec3<u32>) -> vec3<u32> { return a; }`;
  if (withHelpers(defines) !== defines) throw new Error("appended to a kernel that defines flat_id");
  const none = "fn main() { let x = my_flat_id(1); }";
  if (withHelpers(none) !== none) throw new Error("appended to a kernel that does not call flat_id");
});
