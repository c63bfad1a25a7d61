// The depthwise convolution kernel against its float64 reference (tests/reference_dw.ts): every
// (k, dilation, stride, relu) DARTS uses on small random shapes (batch 1 and 3, C = 1, 5, 17, odd sizes),
// exact integer cases, DARTS-sized shapes, a two-dimensional dispatch, and a timing print (not an assertion).
import {
  type DwConvBlocking,
  dwConvKernel,
  dwConvMacs,
  dwConvOutSize,
  type DwConvSpec,
  encodeDwConv,
} from "../shaders/dwconv.ts";
import type { Gpu } from "../shaders/gpu.ts";
import { assertClose, assertExact, randomFloats, testGpu } from "./_helpers.ts";
import type { T4 } from "./reference.ts";
import { dwConv2d } from "./reference_dw.ts";

const gpu = await testGpu();
const ignore = gpu === null;

const t4 = (x: Float32Array, n: number, c: number, h: number, w: number): T4 => ({
  n,
  c,
  h,
  w,
  d: Float64Array.from(x),
});

/** DARTS padding: sep_conv kxk pads (k-1)/2 at dilation 1, dil_conv kxk pads k-1 at dilation 2. */
const dartsPad = (k: number, d: number) => (d === 1 ? (k - 1) / 2 : k - 1);

function refOf(spec: DwConvSpec, x: Float32Array, w: Float32Array): Float64Array {
  return dwConv2d(
    t4(x, spec.n, spec.c, spec.h, spec.w),
    w,
    spec.k,
    spec.stride,
    spec.pad,
    spec.dilation,
    spec.relu,
  )
    .d;
}

async function runDw(
  g: Gpu,
  spec: DwConvSpec,
  x: Float32Array,
  w: Float32Array,
  blocking?: DwConvBlocking,
): Promise<Float32Array> {
  const { kernel, groups } = dwConvKernel(spec, blocking);
  const p = await g.pipeline(kernel);
  const { ho, wo } = dwConvOutSize(spec);
  const bytes = spec.n * spec.c * ho * wo * 4;
  const xb = g.upload(x, "dwconv_test.x");
  const wb = g.upload(w, "dwconv_test.w");
  const yb = g.acquire(bytes, "dwconv_test.y");
  const rec = g.record("dwconv_test");
  rec.clear(yb); // stale pooled contents must not pass for outputs the kernel skipped
  encodeDwConv(rec, p, groups, xb, wb, yb);
  rec.submit();
  const [y] = await g.read([{ src: yb, size: bytes }]);
  g.release(yb);
  xb.destroy();
  wb.destroy();
  return new Float32Array(y!);
}

Deno.test("dwConvOutSize follows PyTorch's formula for the DARTS depthwise ops", () => {
  for (
    const [k, d, s, h, want] of [
      [3, 1, 1, 32, 32],
      [5, 1, 1, 32, 32],
      [3, 2, 1, 32, 32],
      [5, 2, 1, 32, 32],
      [3, 1, 2, 32, 16],
      [5, 2, 2, 32, 16],
      [3, 2, 2, 7, 4],
      [5, 1, 2, 9, 5],
    ] as const
  ) {
    const spec: DwConvSpec = {
      n: 1,
      c: 1,
      h,
      w: h,
      k,
      stride: s,
      pad: dartsPad(k, d),
      dilation: d,
      relu: false,
    };
    const { ho } = dwConvOutSize(spec);
    if (ho !== want) throw new Error(`k=${k} d=${d} s=${s} h=${h}: ho ${ho} != ${want}`);
  }
});

Deno.test("dwConvKernel emits straight-line WGSL with no return and loads only the columns taps read", () => {
  const spec: DwConvSpec = { n: 2, c: 3, h: 9, w: 9, k: 3, stride: 2, pad: 2, dilation: 2, relu: true };
  const { kernel, groups } = dwConvKernel(spec, { tp: 2, th: 2 });
  const code = kernel.code.replace(/\/\/.*$/gm, "");
  if (/\breturn\b/.test(code)) throw new Error("kernel has a return");
  // s = d = 2: pixels 0,1 x taps 0,1,2 read columns 0,2,4,6 only.
  const loaded = [...code.matchAll(/let v(\d+) =/g)].map((m) => Number(m[1]));
  assertExact([...new Set(loaded)].sort((a, b) => a - b), [0, 2, 4, 6], "loaded columns");
  if (dwConvKernel(spec, { tp: 2, th: 2 }) !== dwConvKernel(spec, { tp: 2, th: 2 })) {
    throw new Error("not memoised");
  }
  // 2*3 planes x 3x3 tiles of a 5x5 output = 54 tiles: one workgroup.
  assertExact(groups, [1, 1], "groups");
});

Deno.test("dwConvMacs counts N*C*HO*WO*k*k", () => {
  const spec: DwConvSpec = { n: 4, c: 32, h: 32, w: 32, k: 5, stride: 2, pad: 4, dilation: 2, relu: true };
  assertExact([dwConvMacs(spec)], [4 * 32 * 16 * 16 * 25], "macs");
});

Deno.test("dwConv2d reference sums the dilated taps and pads with zeros", () => {
  // 1x1x3x3 input 1..9, weights 1..9 (k=3, d=1, p=1): the centre output is sum i*i, the corner sums 4 taps.
  const x = Float32Array.from({ length: 9 }, (_, i) => i + 1);
  const w = Float32Array.from({ length: 9 }, (_, i) => i + 1);
  const y = dwConv2d(t4(x, 1, 1, 3, 3), w, 3, 1, 1, 1).d;
  assertExact([y[4]!, y[0]!], [285, 5 * 1 + 6 * 2 + 8 * 4 + 9 * 5], "centre and corner");
  // d=2, p=2 on 3x3: output (0,0) reads x at (-2..2 step 2), only (0,0) inside: w centre * x[0].
  const yd = dwConv2d(t4(x, 1, 1, 3, 3), w, 3, 1, 2, 2).d;
  assertExact([yd[0]!], [5 * 1 + 6 * 3 + 8 * 7 + 9 * 9], "dilated corner");
});

const combos: { k: number; d: number; s: number; relu: boolean }[] = [];
for (const k of [3, 5]) {
  for (const d of [1, 2]) {
    for (const s of [1, 2]) for (const relu of [false, true]) combos.push({ k, d, s, relu });
  }
}

/** [n, c, h, w]: batch 1 and 3, C = 1, 5, 17, sizes 7, 8, 9, 16, one non-square. */
const shapes: [number, number, number, number][] = [
  [1, 1, 7, 7],
  [3, 5, 8, 8],
  [1, 17, 9, 9],
  [3, 17, 16, 16],
  [3, 1, 9, 7],
];

for (const { k, d, s, relu } of combos) {
  Deno.test({
    name: `dwconv matches the reference when k=${k} d=${d} s=${s} relu=${relu} on small shapes`,
    ignore,
    async fn() {
      for (const [n, c, h, w] of shapes) {
        const spec: DwConvSpec = { n, c, h, w, k, stride: s, pad: dartsPad(k, d), dilation: d, relu };
        const x = randomFloats(n * c * h * w, 11 + h);
        const wt = randomFloats(c * k * k, 12 + c);
        const want = refOf(spec, x, wt);
        // Default blocking everywhere; odd tiles (partial in both directions) on the 9x9 shape.
        const blockings = h === 9 && w === 9 ? [undefined, { tp: 1, th: 1 }, { tp: 3, th: 2 }] : [undefined];
        for (const bl of blockings) {
          const got = await runDw(gpu!, spec, x, wt, bl);
          assertClose(got, want, 1e-5, `dwconv ${JSON.stringify(spec)} ${JSON.stringify(bl ?? "default")}`);
        }
      }
    },
  });
}

Deno.test({
  name: "dwconv gives exact integers when the input is a ramp and the weights are all ones",
  ignore,
  async fn() {
    for (const { k, d, s, relu } of combos) {
      const spec: DwConvSpec = {
        n: 2,
        c: 3,
        h: 9,
        w: 11,
        k,
        stride: s,
        pad: dartsPad(k, d),
        dilation: d,
        relu,
      };
      // With relu the ramp is shifted to straddle zero, so the ReLU on load matters.
      const x = new Float32Array(spec.n * spec.c * spec.h * spec.w).map((_, i) => (i % 17) - (relu ? 8 : 0));
      const w = new Float32Array(spec.c * k * k).fill(1);
      assertExact(await runDw(gpu!, spec, x, w), refOf(spec, x, w), `dwconv ramp ${JSON.stringify(spec)}`);
    }
  },
});

Deno.test({
  name: "dwconv matches the reference on DARTS-sized shapes (batch 4, C=32, 32x32)",
  ignore,
  async fn() {
    for (const [k, d] of [[3, 1], [5, 1], [3, 2], [5, 2]] as const) {
      for (const s of [1, 2]) {
        const spec: DwConvSpec = {
          n: 4,
          c: 32,
          h: 32,
          w: 32,
          k,
          stride: s,
          pad: dartsPad(k, d),
          dilation: d,
          relu: true,
        };
        const x = randomFloats(spec.n * spec.c * spec.h * spec.w, 21);
        const w = randomFloats(spec.c * k * k, 22);
        assertClose(await runDw(gpu!, spec, x, w), refOf(spec, x, w), 1e-5, `dwconv ${JSON.stringify(spec)}`);
      }
    }
  },
});

Deno.test({
  name: "dwconv covers every tile when the dispatch needs a second dimension (over 65535 workgroups)",
  ignore,
  async fn() {
    const spec: DwConvSpec = {
      n: 64,
      c: 64,
      h: 32,
      w: 32,
      k: 3,
      stride: 1,
      pad: 1,
      dilation: 1,
      relu: false,
    };
    const bl = { tp: 1, th: 1 };
    const { groups } = dwConvKernel(spec, bl);
    if (groups[1] < 2) throw new Error(`expected a 2-D dispatch, got ${groups}`);
    const x = randomFloats(spec.n * spec.c * spec.h * spec.w, 31);
    const w = randomFloats(spec.c * 9, 32);
    assertClose(await runDw(gpu!, spec, x, w, bl), refOf(spec, x, w), 1e-5, "dwconv 2-D dispatch");
  },
});

Deno.test({
  name: "dwconv timing for batch 128, C=32, 32x32 (printed, not asserted)",
  ignore,
  async fn() {
    const g = gpu!;
    for (const k of [3, 5]) {
      const spec: DwConvSpec = {
        n: 128,
        c: 32,
        h: 32,
        w: 32,
        k,
        stride: 1,
        pad: (k - 1) / 2,
        dilation: 1,
        relu: true,
      };
      const { kernel, groups } = dwConvKernel(spec);
      const p = await g.pipeline(kernel);
      const { ho, wo } = dwConvOutSize(spec);
      const xb = g.upload(randomFloats(spec.n * spec.c * spec.h * spec.w, 41), "dwconv_test.x");
      const wb = g.upload(randomFloats(spec.c * k * k, 42), "dwconv_test.w");
      const yb = g.acquire(spec.n * spec.c * ho * wo * 4, "dwconv_test.y");
      let best = Infinity;
      for (let rep = 0; rep < 4; rep++) {
        const t0 = performance.now();
        const rec = g.record("dwconv_test.timing");
        encodeDwConv(rec, p, groups, xb, wb, yb);
        rec.submit();
        await g.device.queue.onSubmittedWorkDone();
        if (rep > 0) best = Math.min(best, (performance.now() - t0) / 1000); // rep 0 warms up
      }
      const gflops = (2 * dwConvMacs(spec)) / best / 1e9;
      console.log(
        `dwconv ${kernel.name} n=128 c=32 32x32: ${(best * 1000).toFixed(1)} ms, ${
          gflops.toFixed(2)
        } GFLOP/s ` +
          `(${g.describe()})`,
      );
      g.release(yb);
      xb.destroy();
      wb.destroy();
    }
  },
});
