/**
 * conv3x3 (stride 1, padding 1) by Winograd F(2x2, 3x3): kernel generation (pure) and the weight transform.
 * A variant of the direct convolution (conv2d.ts) with 16 instead of 36 multiplies per 2x2 outputs and input
 * channel, at the cost of input and output transforms; its results differ from the direct kernel's in the
 * last bits, so a score computed with one is not byte-identical to the other's.
 * @module
 */

import { memoize } from "./_memo.ts";
import type { Binding, Gpu, Kernel, Recorder } from "./gpu.ts";
import { renderWgsl } from "./_template.ts";
import { type ConvSpec, weightBlockBytes } from "./conv2d.ts";
import template from "./winograd.wgsl" with { type: "text" };

/** Blocking: TH2 x TT Winograd tiles (2*TH2 x 2*TT output pixels) x TC output channels per invocation. */
export interface WinogradBlocking {
  tt: number;
  th2: number;
  /** Output channels per invocation (a multiple of 4). */
  tc: number;
}

/** True when `spec` is a convolution Winograd F(2x2, 3x3) computes here: 3x3, stride 1, padding 1. */
export function winogradApplies(spec: ConvSpec): boolean {
  return spec.k === 3 && spec.stride === 1 && spec.pad === 1 && spec.ho === undefined &&
    spec.wo === undefined;
}

/** The Winograd kernel and its dispatch size for `spec`. Pure. */
export const winogradKernel = memoize(function winogradKernel(
  spec: ConvSpec,
  bl: WinogradBlocking,
): { kernel: Kernel; groups: [number, number] } {
  if (!winogradApplies(spec)) {
    throw new RangeError(`winograd: not a 3x3 stride-1 pad-1 conv: ${JSON.stringify(spec)}`);
  }
  if (bl.tc % 4 !== 0 || bl.tc < 4) {
    throw new RangeError(`winograd: TC must be a multiple of 4, got ${bl.tc}`);
  }
  const tc4 = bl.tc / 4;
  const code = renderWgsl(template, {
    TT: bl.tt,
    TH2: bl.th2,
    TC4: tc4,
    WUNIFORM: bl.tc * spec.cin * 16 * 4 <= 65536,
    NW4: spec.cin * 16 * tc4,
    ...unrolled(bl.th2, bl.tt, tc4, spec.relu),
  });
  const kernel: Kernel = {
    name: `winograd_f2x3${spec.relu ? "_relu" : ""}_th${bl.th2}tt${bl.tt}tc${bl.tc}`,
    code,
    constants: { N: spec.n, CIN: spec.cin, H: spec.h, W: spec.w, COUT: spec.cout },
  };
  const xblocks = Math.ceil(spec.w / (2 * bl.tt));
  const yblocks = Math.ceil(spec.h / (2 * bl.th2));
  return { kernel, groups: [Math.ceil((spec.n * yblocks * xblocks) / 64), Math.ceil(spec.cout / bl.tc)] };
});

/** The unrolled declarations, per-input-channel body (patch loads, input transform, products) and stores. */
function unrolled(th2: number, tt: number, tc4: number, relu: boolean): {
  DECL: string;
  BODY: string;
  STORE: string;
} {
  const rows = 2 * th2 + 2, cols = 2 * tt + 2;
  const acc = (a: number, b: number, pos: number, c: number) => `a_${a}_${b}_${pos}_${c}`;
  const decl: string[] = [];
  for (let a = 0; a < th2; a++) {
    for (let b = 0; b < tt; b++) {
      for (let pos = 0; pos < 16; pos++) {
        for (let c = 0; c < tc4; c++) decl.push(`  var ${acc(a, b, pos, c)} = vec4<f32>(0.0);`);
      }
    }
  }
  const body: string[] = [];
  for (let r = 0; r < rows; r++) {
    body.push(`    let iy${r} = iy0 + ${r};`);
    body.push(`    let ok${r} = iy${r} >= 0 && iy${r} < i32(H);`);
    body.push(`    let rb${r} = i32(xbase) + clamp(iy${r}, 0, i32(H) - 1) * i32(W);`);
    for (let q = 0; q < cols; q++) {
      const load = `x[u32(rb${r} + clamp(ix0 + ${q}, 0, i32(W) - 1))]`;
      const v = relu ? `max(${load}, 0.0)` : load;
      body.push(`    let p${r}_${q} = select(0.0, ${v}, ok${r} && ix0 + ${q} >= 0 && ix0 + ${q} < i32(W));`);
    }
  }
  for (let a = 0; a < th2; a++) {
    for (let b = 0; b < tt; b++) {
      const d = (i: number, j: number) => `p${2 * a + i}_${2 * b + j}`;
      const t = (i: number, j: number) => `t${a}_${b}_${i}${j}`;
      // t = B^T d (rows), then V = t B (columns).
      for (let j = 0; j < 4; j++) {
        body.push(`    let ${t(0, j)} = ${d(0, j)} - ${d(2, j)};`);
        body.push(`    let ${t(1, j)} = ${d(1, j)} + ${d(2, j)};`);
        body.push(`    let ${t(2, j)} = ${d(2, j)} - ${d(1, j)};`);
        body.push(`    let ${t(3, j)} = ${d(1, j)} - ${d(3, j)};`);
      }
      for (let i = 0; i < 4; i++) {
        const v = [
          `${t(i, 0)} - ${t(i, 2)}`,
          `${t(i, 1)} + ${t(i, 2)}`,
          `${t(i, 2)} - ${t(i, 1)}`,
          `${t(i, 1)} - ${t(i, 3)}`,
        ];
        for (let j = 0; j < 4; j++) {
          const pos = i * 4 + j;
          body.push(`    let v${a}_${b}_${pos} = vec4<f32>(${v[j]});`);
          for (let c = 0; c < tc4; c++) {
            const w = `wt[wbase + ${pos * tc4 + c}u]`;
            body.push(`    ${acc(a, b, pos, c)} = fma(${w}, v${a}_${b}_${pos}, ${acc(a, b, pos, c)});`);
          }
        }
      }
    }
  }
  const store: string[] = [];
  for (let a = 0; a < th2; a++) {
    for (let b = 0; b < tt; b++) {
      for (let c = 0; c < tc4; c++) {
        const m = (i: number, j: number) => acc(a, b, i * 4 + j, c);
        store.push(`  {`);
        // Y = A^T M A: s = A^T M (2 rows), then the 2 columns.
        for (let j = 0; j < 4; j++) {
          store.push(`    let s0${j} = ${m(0, j)} + ${m(1, j)} + ${m(2, j)};`);
          store.push(`    let s1${j} = ${m(1, j)} - ${m(2, j)} - ${m(3, j)};`);
        }
        for (let i = 0; i < 2; i++) {
          store.push(`    let y${i}0 = s${i}0 + s${i}1 + s${i}2;`);
          store.push(`    let y${i}1 = s${i}1 - s${i}2 - s${i}3;`);
        }
        for (let j = 0; j < 4; j++) {
          store.push(`    {`);
          store.push(`      let co = cob * ${tc4 * 4}u + ${c * 4 + j}u;`);
          for (let i = 0; i < 2; i++) {
            for (let k = 0; k < 2; k++) {
              const oy = `oy0 + ${2 * a + i}u`, ox = `ox0 + ${2 * b + k}u`;
              store.push(
                `      if (live && co < COUT && ${oy} < H && ${ox} < W) { y[((n * COUT + co) * H + ${oy}) * W + ${ox}] = y${i}${k}.${
                  "xyzw"[j]
                }; }`,
              );
            }
          }
          store.push(`    }`);
        }
        store.push(`  }`);
      }
    }
  }
  return { DECL: decl.join("\n"), BODY: body.join("\n"), STORE: store.join("\n") };
}

/**
 * U = G g G^T for every (output, input) channel pair of PyTorch-layout 3x3 weights [cout][cin][3][3],
 * G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], computed in float64; laid out as blocks of tc output
 * channels, each [cin][16][tc] starting at a multiple of 256 bytes (channels beyond cout zero).
 */
export function packWinogradWeights(w: Float32Array, cout: number, cin: number, tc: number): Float32Array {
  if (w.length !== cout * cin * 9) {
    throw new RangeError(`packWinogradWeights: ${w.length} weights, expected ${cout}*${cin}*9`);
  }
  const stride = weightBlockBytes(cin, 4, tc) / 4;
  const out = new Float32Array(Math.ceil(cout / tc) * stride);
  const gg = new Float64Array(12);
  for (let co = 0; co < cout; co++) {
    const base = Math.floor(co / tc) * stride;
    for (let ci = 0; ci < cin; ci++) {
      const g = (r: number, c: number) => w[(co * cin + ci) * 9 + r * 3 + c]!;
      for (let c = 0; c < 3; c++) {
        gg[c] = g(0, c);
        gg[3 + c] = (g(0, c) + g(1, c) + g(2, c)) / 2;
        gg[6 + c] = (g(0, c) - g(1, c) + g(2, c)) / 2;
        gg[9 + c] = g(2, c);
      }
      for (let r = 0; r < 4; r++) {
        const [h0, h1, h2] = [gg[r * 3]!, gg[r * 3 + 1]!, gg[r * 3 + 2]!];
        const u = [h0, (h0 + h1 + h2) / 2, (h0 - h1 + h2) / 2, h2];
        for (let j = 0; j < 4; j++) out[base + (ci * 16 + r * 4 + j) * tc + (co % tc)] = u[j]!;
      }
    }
  }
  return out;
}

/** Records a Winograd convolution: one dispatch per block of output channels, each binding its slice of U. */
export function encodeWinograd(
  gpu: Gpu,
  rec: Recorder,
  pipeline: GPUComputePipeline,
  spec: ConvSpec,
  bl: WinogradBlocking,
  groups: [number, number],
  x: Binding,
  packed: GPUBuffer,
  y: Binding,
): void {
  const bytes = weightBlockBytes(spec.cin, 4, bl.tc);
  for (let b = 0; b < groups[1]; b++) {
    rec.dispatch(pipeline, [x, { buffer: packed, offset: b * bytes, size: bytes }, y, gpu.blockIndex(b)], [
      groups[0],
    ]);
  }
}
