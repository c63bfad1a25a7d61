// Every backward WGSL kernel against its float64 reference (tests/reference_grad.ts) on small random shapes:
// odd sizes, batch 1, C = 1, stride 2, sizes not divisible by the workgroup, accumulate and overwrite modes.
import assert from "node:assert/strict";
import {
  BN_APPLY_CHUNK,
  bnBackwardKernels,
  convBackwardKernels,
  convDwKernel,
  dwBlocking,
  dwImagesPerPart,
  groupsFor,
  headBackwardKernels,
  maskAccKernel,
  maxPoolBackwardKernel,
  maxPoolFrozenKernel,
  pick2BackwardKernel,
  pool2BackwardKernel,
  pool3BackwardKernel,
  sliceBackwardKernel,
} from "../shaders/backward.ts";
import { bnKernels } from "../shaders/kernels.ts";
import type { ConvSpec } from "../shaders/conv2d.ts";
import { convOutSize } from "../shaders/conv2d.ts";
import type { Binding, Gpu, Kernel } from "../shaders/gpu.ts";
import { assertClose, assertExact, randomFloats, testGpu } from "./_helpers.ts";
import type { T4 } from "./reference.ts";
import {
  avgPool2Backward,
  avgPool3Backward,
  batchNormBackward,
  conv2dBackward,
  crossEntropy,
  headBackward,
  maxPoolBackward,
  pick2Backward,
  sliceBackward,
} from "./reference_grad.ts";

const gpu = await testGpu();
const ignore = gpu === null;

const t4 = (x: ArrayLike<number>, n: number, c: number, h: number, w: number): T4 => ({
  n,
  c,
  h,
  w,
  d: Float64Array.from(x),
});

/** Runs kernels in order (one submit) and reads back the given buffers. */
async function run(
  g: Gpu,
  steps: { kernel: Kernel; bindings: (Binding | null)[]; items: number }[],
  reads: { buf: GPUBuffer; floats: number }[],
): Promise<Float32Array[]> {
  const rec = g.record("test");
  for (const s of steps) rec.dispatch(await g.pipeline(s.kernel), s.bindings, groupsFor(s.items));
  rec.submit();
  const out = await g.read(reads.map((r) => ({ src: r.buf, size: r.floats * 4 })));
  rec.dispose();
  return out.map((b) => new Float32Array(b));
}

function up(g: Gpu, data: Float32Array | Uint32Array, label = "t"): GPUBuffer {
  return g.upload(data.length > 0 ? data : new Float32Array(1), label);
}

Deno.test("dwImagesPerPart keeps per-image partials unless they would exceed the binding limit", () => {
  const spec: ConvSpec = { n: 16, cin: 512, h: 8, w: 8, cout: 512, k: 3, stride: 1, pad: 1, relu: true };
  const one = 512 * 512 * 9 * 4; // bytes of one partial
  assert.equal(dwImagesPerPart(spec, 16 * one), 1);
  assert.equal(dwImagesPerPart(spec, 128 * 1024 * 1024), 2); // NB101's widest conv at stem 128: 14 fit
  assert.equal(dwImagesPerPart(spec, 5 * one), 4); // 5 partials fit: 4 of 4 images
  assert.equal(dwImagesPerPart(spec, one - 1), 16); // not even one fits: a single partial
  assert.equal(dwImagesPerPart({ ...spec, n: 1 }, 1), 1);
});

Deno.test({
  name: "conv backward kernels (dx through ReLU, dw) match the float64 reference, strides 1 and 2",
  ignore,
  async fn() {
    const g = gpu!;
    const cases: ConvSpec[] = [
      { n: 2, cin: 3, h: 7, w: 5, cout: 4, k: 3, stride: 1, pad: 1, relu: true },
      { n: 1, cin: 1, h: 6, w: 6, cout: 2, k: 3, stride: 2, pad: 1, relu: true },
      { n: 3, cin: 5, h: 9, w: 8, cout: 6, k: 3, stride: 2, pad: 1, relu: false },
      { n: 2, cin: 4, h: 5, w: 7, cout: 3, k: 1, stride: 1, pad: 0, relu: true },
      { n: 2, cin: 11, h: 4, w: 3, cout: 20, k: 1, stride: 1, pad: 0, relu: true },
      { n: 1, cin: 3, h: 6, w: 5, cout: 17, k: 3, stride: 1, pad: 1, relu: false },
    ];
    for (const [ci, spec] of cases.entries()) {
      const { ho, wo } = convOutSize(spec);
      const x = randomFloats(spec.n * spec.cin * spec.h * spec.w, 10 + ci);
      const w = randomFloats(spec.cout * spec.cin * spec.k * spec.k, 20 + ci);
      const dy = randomFloats(spec.n * spec.cout * ho * wo, 30 + ci);
      const want = conv2dBackward(
        t4(x, spec.n, spec.cin, spec.h, spec.w),
        w,
        t4(dy, spec.n, spec.cout, ho, wo),
        spec.k,
        spec.stride,
        spec.pad,
        spec.relu,
      );
      for (const acc of [false, true]) {
        const ks = convBackwardKernels(spec, { dx: acc, dw: acc });
        const prevDx = randomFloats(x.length, 40);
        const prevDw = randomFloats(w.length, 41);
        const bx = up(g, x), bw = up(g, w), bdy = up(g, dy);
        const bdx = up(g, acc ? prevDx : new Float32Array(x.length));
        const bdw = up(g, acc ? prevDw : new Float32Array(w.length));
        // The register-blocked weight gradient, per image, or (acc runs) two images per partial as used
        // when per-image partials would not fit one binding; n = 3 leaves a last partial of one image.
        const perPart = acc ? Math.min(2, spec.n) : 1;
        const parts = Math.ceil(spec.n / perPart);
        const part = up(g, new Float32Array(parts * w.length));
        const dwk = convDwKernel(spec, dwBlocking(spec), perPart);
        const reduce = { ...ks.dwReduce, constants: { ...ks.dwReduce.constants, N: parts } };
        const [dx, dw] = await run(g, [
          { kernel: ks.dx, bindings: [bx, bw, bdy, bdx], items: x.length },
          { kernel: dwk.kernel, bindings: [bx, bdy, part], items: dwk.items },
          { kernel: reduce, bindings: [null, null, null, null, part, bdw], items: w.length },
        ], [{ buf: bdx, floats: x.length }, { buf: bdw, floats: w.length }]);
        const wantDx = Float64Array.from(want.dx.d, (v, i) => v + (acc ? prevDx[i]! : 0));
        const wantDw = Float64Array.from(want.dw, (v, i) => v + (acc ? prevDw[i]! : 0));
        assertClose(dx!, wantDx, 1e-5, `conv dx case ${ci} acc ${acc}`);
        assertClose(dw!, wantDw, 1e-5, `conv dw case ${ci} acc ${acc} images per partial ${perPart}`);
        for (const b of [bx, bw, bdy, bdx, bdw, part]) b.destroy();
      }
    }
  },
});

Deno.test({
  name: "batch-norm backward kernels give dy, dgamma and dbeta of the float64 reference",
  ignore,
  async fn() {
    const g = gpu!;
    for (const [n, c, h, w] of [[3, 5, 7, 3], [1, 1, 4, 4], [4, 2, 3, 5]] as const) {
      const hw = h * w;
      const y = randomFloats(n * c * hw, 50 + c, -2, 3);
      const dz = randomFloats(n * c * hw, 60 + c);
      const gamma = randomFloats(c, 70, 0.5, 1.5);
      const beta = randomFloats(c, 71);
      const want = batchNormBackward(t4(y, n, c, h, w), gamma, t4(dz, n, c, h, w));
      const affine = new Float32Array(2 * c);
      affine.set(gamma, 0);
      affine.set(beta, c);
      for (const acc of [false, true]) {
        const [sp, sf] = bnKernels(n, c, hw);
        const [bp, bf, ba] = bnBackwardKernels(n, c, hw, acc);
        const prev = randomFloats(y.length, 80);
        const by = up(g, y), bdz = up(g, dz), baff = up(g, affine);
        const stats = up(g, new Float32Array(4 * c)), spart = up(g, new Float32Array(2 * n * c));
        const part = up(g, new Float32Array(2 * n * c)), coef = up(g, new Float32Array(4 * c));
        const dparam = up(g, new Float32Array(2 * c));
        const bdy = up(g, acc ? prev : new Float32Array(y.length));
        const [dy, dp] = await run(g, [
          { kernel: sp!, bindings: [by, spart], items: n * c },
          { kernel: sf!, bindings: [null, spart, stats, baff], items: c },
          { kernel: bp, bindings: [by, bdz, stats, part], items: n * c },
          { kernel: bf, bindings: [null, null, stats, part, coef, dparam], items: c },
          {
            kernel: ba,
            bindings: [by, bdz, stats, null, coef, null, bdy],
            items: n * c * Math.ceil(hw / BN_APPLY_CHUNK),
          },
        ], [{ buf: bdy, floats: y.length }, { buf: dparam, floats: 2 * c }]);
        assertClose(
          dy!,
          Float64Array.from(want.dy.d, (v, i) => v + (acc ? prev[i]! : 0)),
          2e-5,
          `bn dy acc ${acc}`,
        );
        assertClose(dp!.subarray(0, c), want.dgamma, 2e-5, "dgamma");
        assertClose(dp!.subarray(c), want.dbeta, 2e-5, "dbeta");
        for (const b of [by, bdz, baff, stats, spart, part, coef, dparam, bdy]) b.destroy();
      }
    }
  },
});

Deno.test({
  name: "ReLU-mask and pooling backward kernels add (a times) the float64 reference into dx",
  ignore,
  async fn() {
    const g = gpu!;
    for (const [n, c, h, w] of [[2, 3, 5, 7], [1, 1, 1, 1], [3, 2, 8, 6], [1, 2, 7, 5]] as const) {
      const size = n * c * h * w;
      const x = randomFloats(size, 90);
      const gr = randomFloats(size, 91);
      const prev = randomFloats(size, 92);
      const bx = up(g, x), bg = up(g, gr);
      const half = up(g, Float32Array.of(0.5, 0, 0, 0)); // the coefficient a of dx += a * pool^T(g)
      // mask (ReLU) and plain add
      for (const relu of [true, false]) {
        const bdx = up(g, prev);
        const [dx] = await run(g, [{
          kernel: maskAccKernel(size, relu),
          bindings: [bx, bg, bdx],
          items: size,
        }], [{
          buf: bdx,
          floats: size,
        }]);
        assertClose(
          dx!,
          Float64Array.from(prev, (p, i) => p + (relu && x[i]! <= 0 ? 0 : gr[i]!)),
          1e-6,
          "mask",
        );
        bdx.destroy();
      }
      // pool3
      {
        const bdx = up(g, prev);
        const [dx] = await run(g, [{
          kernel: pool3BackwardKernel(n, c, h, w),
          bindings: [bg, bdx, half],
          items: size,
        }], [
          { buf: bdx, floats: size },
        ]);
        const want = avgPool3Backward(t4(gr, n, c, h, w));
        assertClose(
          dx!,
          Float64Array.from(want.d, (v, i) => 0.5 * v + prev[i]!),
          1e-5,
          `pool3 ${n}x${c}x${h}x${w}`,
        );
        bdx.destroy();
      }
      // pool2 (floor for odd sizes)
      if (h >= 2 && w >= 2) {
        const ho = Math.floor(h / 2), wo = Math.floor(w / 2);
        const g2 = randomFloats(n * c * ho * wo, 93);
        const bg2 = up(g, g2);
        const bdx = up(g, prev);
        const [dx] = await run(g, [{
          kernel: pool2BackwardKernel(n, c, h, w),
          bindings: [bg2, bdx, half],
          items: size,
        }], [
          { buf: bdx, floats: size },
        ]);
        const want = avgPool2Backward(t4(g2, n, c, ho, wo), h, w);
        assertClose(
          dx!,
          Float64Array.from(want.d, (v, i) => 0.5 * v + prev[i]!),
          1e-6,
          `pool2 ${n}x${c}x${h}x${w}`,
        );
        bdx.destroy();
        const bdp = up(g, prev);
        const [dp] = await run(g, [{
          kernel: pick2BackwardKernel(n, c, h, w),
          bindings: [bg2, bdp, half],
          items: size,
        }], [{ buf: bdp, floats: size }]);
        const wantPick = pick2Backward(t4(g2, n, c, ho, wo), h, w);
        assertClose(
          dp!,
          Float64Array.from(wantPick.d, (v, i) => 0.5 * v + prev[i]!),
          1e-6,
          `pick2 ${h}x${w}`,
        );
        bdp.destroy();
        bg2.destroy();
      }
      bx.destroy();
      half.destroy();
      bg.destroy();
    }
  },
});

Deno.test({
  name:
    "head backward kernels give the cross-entropy gradient, the input gradient and the classifier gradient",
  ignore,
  async fn() {
    const g = gpu!;
    for (const [n, c, h, w, cls] of [[3, 5, 2, 3, 4], [1, 1, 1, 1, 2], [5, 7, 3, 3, 10]] as const) {
      const hw = h * w;
      const x = randomFloats(n * c * hw, 100);
      const wb = randomFloats(cls * c + cls, 101);
      const logits = randomFloats(n * cls, 102, -3, 3);
      const labels = Uint32Array.from({ length: n }, (_, i) => (i * 7 + 1) % cls);
      const feat = new Float32Array(n * c);
      for (let i = 0; i < n * c; i++) {
        let s = 0;
        for (let p = 0; p < hw; p++) s += Math.max(0, x[i * hw + p]!);
        feat[i] = s / hw;
      }
      for (const ones of [false, true]) {
        const ks = headBackwardKernels(n, c, hw, cls, ones);
        const bl = up(g, logits), blab = up(g, labels), bdlog = up(g, new Float32Array(n * cls));
        const bwb = up(g, wb), bfeat = up(g, feat), bdf = up(g, new Float32Array(n * c));
        const bx = up(g, x),
          bdx = up(g, new Float32Array(x.length)),
          bdwb = up(g, new Float32Array(wb.length));
        const [dlog, dx, dwb] = await run(g, [
          { kernel: ks.loss, bindings: [bl, blab, bdlog], items: n },
          { kernel: ks.featGrad, bindings: [null, null, bdlog, bwb, null, bdf], items: n * c },
          { kernel: ks.xGrad, bindings: [null, null, null, null, null, bdf, bx, bdx], items: n * c * hw },
          {
            kernel: ks.wGrad,
            bindings: [null, null, bdlog, null, bfeat, null, null, null, bdwb],
            items: cls * (c + 1),
          },
        ], [{ buf: bdlog, floats: n * cls }, { buf: bdx, floats: x.length }, {
          buf: bdwb,
          floats: wb.length,
        }]);
        const wantDlog = ones ? new Float64Array(n * cls).fill(1) : crossEntropy(logits, labels, cls).dlogits;
        assertClose(dlog!, wantDlog, 1e-5, `dlogits ones=${ones}`);
        const want = headBackward(t4(x, n, c, h, w), wb.subarray(0, cls * c), wantDlog, cls);
        assertClose(dx!, want.dx.d, 1e-5, "head dx");
        const wantWb = new Float64Array(wb.length);
        wantWb.set(want.dweight, 0);
        wantWb.set(want.dbias, cls * c);
        assertClose(dwb!, wantWb, 1e-5, "head dW, db");
        for (const b of [bl, blab, bdlog, bwb, bfeat, bdf, bx, bdx, bdwb]) b.destroy();
      }
    }
  },
});

Deno.test({
  name:
    "NB101's slice and max-pool backward kernels match the float64 reference (ties to the first maximum), and so does the max pool with frozen choices",
  ignore,
  async fn() {
    const g = gpu!;
    // The 3x3 backward on thin planes too (windows cut by both borders).
    const thin: [number, number, number, number][] = [[1, 2, 1, 6], [1, 3, 4, 1], [2, 1, 2, 2]];
    for (const [n, c, h, w] of thin) {
      const x = Float32Array.from(randomFloats(n * c * h * w, 67, -2, 2), (v) => Math.round(v));
      const dy = randomFloats(n * c * h * w, 68);
      const prior = randomFloats(n * c * h * w, 69);
      const dx = up(g, prior);
      const [got] = await run(g, [{
        kernel: maxPoolBackwardKernel("maxpool3", n, c, h, w),
        bindings: [up(g, x), up(g, dy), dx],
        items: n * c * h * w,
      }], [{ buf: dx, floats: n * c * h * w }]);
      assertExact(got!, maxPool3BackwardF32(x, dy, prior, n * c, h, w), `maxpool3 backward ${h}x${w}`);
    }
    const [n, c, h, w] = [2, 3, 5, 7];
    // Few distinct values, so windows have ties (PyTorch routes a tie to the first maximum).
    const x = Float32Array.from(randomFloats(n * c * h * w, 61, -2, 2), (v) => Math.round(v * 2) / 2);
    const xb = up(g, x);
    for (const op of ["maxpool3", "maxpool2"] as const) {
      const [ho, wo] = op === "maxpool3" ? [h, w] : [Math.floor(h / 2), Math.floor(w / 2)];
      const dy = randomFloats(n * c * ho * wo, 62);
      const prior = randomFloats(n * c * h * w, 63);
      const dx = up(g, prior);
      const [got] = await run(g, [{
        kernel: maxPoolBackwardKernel(op, n, c, h, w),
        bindings: [xb, up(g, dy), dx],
        items: n * c * h * w,
      }], [{ buf: dx, floats: n * c * h * w }]);
      const want = maxPoolBackward(t4(x, n, c, h, w), t4(dy, n, c, ho, wo), op === "maxpool3");
      assertClose(got!, want.d.map((v, i) => v + prior[i]!), 1e-6, `${op} backward`);
      if (op === "maxpool3") {
        assertExact(got!, maxPool3BackwardF32(x, dy, prior, n * c, h, w), "maxpool3 backward, f32 bits");
      }
      // Frozen choices (grasp): each window passes on the values' element where x has its first maximum.
      const vals = randomFloats(n * c * h * w, 66);
      const out = g.acquire(n * c * ho * wo * 4, "pooled");
      const [pooled] = await run(g, [{
        kernel: maxPoolFrozenKernel(op, n, c, h, w),
        bindings: [xb, up(g, vals), out.buffer],
        items: n * c * ho * wo,
      }], [{ buf: out.buffer, floats: n * c * ho * wo }]);
      g.release(out);
      const expect = new Float32Array(n * c * ho * wo);
      for (let p = 0; p < n * c; p++) {
        for (let oy = 0; oy < ho; oy++) {
          for (let ox = 0; ox < wo; ox++) {
            const [y0, y1, x0, x1] = op === "maxpool3"
              ? [Math.max(oy - 1, 0), Math.min(oy + 1, h - 1), Math.max(ox - 1, 0), Math.min(ox + 1, w - 1)]
              : [2 * oy, 2 * oy + 1, 2 * ox, 2 * ox + 1];
            let best = p * h * w + y0 * w + x0;
            for (let yy = y0; yy <= y1; yy++) {
              for (let xx = x0; xx <= x1; xx++) {
                if (x[p * h * w + yy * w + xx]! > x[best]!) best = p * h * w + yy * w + xx;
              }
            }
            expect[(p * ho + oy) * wo + ox] = vals[best]!;
          }
        }
      }
      assert(pooled!.every((v, i) => v === expect[i]), `${op} with frozen choices`);
    }
    // slice: channels [1, 3) of a 3-channel x to channels [2, 4) of a 5-channel y, through ReLU and without.
    for (const relu of [true, false]) {
      const term = { from: 1, to: 2, count: 2, relu };
      const dy = randomFloats(n * 5 * h * w, 64);
      const prior = randomFloats(n * c * h * w, 65);
      const dx = up(g, prior);
      const [got] = await run(g, [{
        kernel: sliceBackwardKernel(n, c, 5, term, h * w),
        bindings: [xb, up(g, dy), dx],
        items: n * term.count * h * w,
      }], [{ buf: dx, floats: n * c * h * w }]);
      const want = sliceBackward(t4(x, n, c, h, w), t4(dy, n, 5, h, w), term);
      assertClose(got!, want.d.map((v, i) => v + prior[i]!), 1e-6, `slice backward (relu ${relu})`);
    }
  },
});

/**
 * The 3x3 max pool's backward (stride 1, pad 1, padding ignored) in float32 with the kernel's order: each input
 * element sums, starting from 0, the gradients of the windows whose first maximum it is, windows in row-major
 * order of their centres; then adds the sum to `prior`. Bit for bit what the GPU must give.
 */
function maxPool3BackwardF32(
  x: Float32Array,
  dy: Float32Array,
  prior: Float32Array,
  planes: number,
  h: number,
  w: number,
): Float32Array {
  const out = new Float32Array(prior.length);
  const f = Math.fround;
  for (let p = 0; p < planes; p++) {
    const at = (y: number, xx: number) => p * h * w + y * w + xx;
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let acc = 0;
        for (let oy = Math.max(y - 1, 0); oy <= Math.min(y + 1, h - 1); oy++) {
          for (let ox = Math.max(xx - 1, 0); ox <= Math.min(xx + 1, w - 1); ox++) {
            let best = at(Math.max(oy - 1, 0), Math.max(ox - 1, 0));
            for (let wy = Math.max(oy - 1, 0); wy <= Math.min(oy + 1, h - 1); wy++) {
              for (let wx = Math.max(ox - 1, 0); wx <= Math.min(ox + 1, w - 1); wx++) {
                if (x[at(wy, wx)]! > x[best]!) best = at(wy, wx);
              }
            }
            if (best === at(y, xx)) acc = f(acc + dy[at(oy, ox)]!);
          }
        }
        out[at(y, xx)] = f(prior[at(y, xx)]! + acc);
      }
    }
  }
  return out;
}
