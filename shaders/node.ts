/**
 * Node kernel generation (pure): a tensor formed as a sum of terms (batch-normalised, raw, ReLU, 3x3 or
 * 2x2 average or max pooled, 3x3 stride-2 pooled, channel slices), written once and optionally bit-packed
 * into its binary code.
 * @module
 */

import { memoize } from "./_memo.ts";
import type { Binding, Kernel, Recorder } from "./gpu.ts";
import { renderWgsl } from "./_template.ts";
import template from "./node.wgsl" with { type: "text" };
import vec4Template from "./node_vec4.wgsl" with { type: "text" };

/**
 * One term of a node sum. `pool2` (2x2 mean) and `pick2` (the top-left element of each 2x2 block) read a
 * source of size sh x sw (output = floor(sh/2) x floor(sw/2)); `pool3s2` (3x3 mean, padding excluded) and
 * `max3s2` (3x3 max, padding ignored), both stride 2 and pad 1, read one of sh x sw (output = ceil(sh/2) x
 * ceil(sw/2)).
 */
export type NodeTerm =
  | { kind: "bn" }
  | { kind: "raw" }
  | { kind: "relu" }
  | { kind: "pool3" }
  | { kind: "pool2"; sh: number; sw: number }
  | { kind: "pick2"; sh: number; sw: number }
  | { kind: "max3" }
  | { kind: "max2"; sh: number; sw: number }
  | { kind: "pool3s2"; sh: number; sw: number }
  | { kind: "max3s2"; sh: number; sw: number }
  | { kind: "slice"; sc: number; from: number; to: number; count: number; relu: boolean };

/** Shape of the node's output and whether to pack its code. */
export interface NodeSpec {
  n: number;
  c: number;
  h: number;
  w: number;
  terms: NodeTerm[];
  pack: boolean;
}

/** Words per image of a packed code of c*h*w units. */
export function codeWords(c: number, h: number, w: number): number {
  return Math.ceil((c * h * w) / 32);
}

/** True when the vec4 path applies: whole code words inside one channel, rows of whole vec4s. */
export function nodeVec4(spec: NodeSpec): boolean {
  return (spec.h * spec.w) % 32 === 0 && spec.w % 4 === 0 &&
    spec.terms.every((t) =>
      (t.kind !== "pool2" || t.sw % 4 === 0) && t.kind !== "pick2" && t.kind !== "max3" &&
      t.kind !== "max2" &&
      t.kind !== "slice" && t.kind !== "pool3s2" && t.kind !== "max3s2"
    );
}

/** The kernel and dispatch size of a node (the vec4 path when `nodeVec4`). Pure. */
export const nodeKernel = memoize(function nodeKernel(spec: NodeSpec): { kernel: Kernel; groups: [number] } {
  if (nodeVec4(spec)) return nodeKernelVec4(spec);
  const bindings: string[] = [];
  const overrides: string[] = [];
  const terms: string[] = [];
  let slot = spec.pack ? 2 : 1;
  spec.terms.forEach((term, t) => {
    bindings.push(`@group(0) @binding(${slot++}) var<storage, read> src${t}: array<f32>;`);
    switch (term.kind) {
      case "bn":
        bindings.push(`@group(0) @binding(${slot++}) var<storage, read> stats${t}: array<vec4<f32>>;`);
        terms.push(`    { let st = stats${t}[c]; v += (src${t}[o] - st.x) * st.y + st.z; }`);
        break;
      case "raw":
        terms.push(`    v += src${t}[o];`);
        break;
      case "relu":
        terms.push(`    v += max(src${t}[o], 0.0);`);
        break;
      case "pool3": {
        const lines = [
          `    {`,
          `      var s = 0.0;`,
          `      var cnt = 0.0;`,
          `      let cb = (n * C + c) * H * W;`,
        ];
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            lines.push(
              `      { let yy = i32(y) + ${dy}; let xx = i32(x) + ${dx}; ` +
                `let in = yy >= 0 && yy < i32(H) && xx >= 0 && xx < i32(W); ` +
                `let q = src${t}[cb + u32(clamp(yy, 0, i32(H) - 1)) * W + u32(clamp(xx, 0, i32(W) - 1))]; ` +
                `s += select(0.0, q, in); cnt += select(0.0, 1.0, in); }`,
            );
          }
        }
        lines.push(`      v += s / cnt;`, `    }`);
        terms.push(lines.join("\n"));
        break;
      }
      case "pool2":
        overrides.push(`override SH${t}: u32;`, `override SW${t}: u32;`);
        terms.push(
          [
            `    {`,
            `      let sb = (n * C + c) * SH${t} * SW${t} + (2u * y) * SW${t} + 2u * x;`,
            `      v += 0.25 * (src${t}[sb] + src${t}[sb + 1u] + src${t}[sb + SW${t}] + src${t}[sb + SW${t} + 1u]);`,
            `    }`,
          ].join("\n"),
        );
        break;
      case "pick2":
        overrides.push(`override SH${t}: u32;`, `override SW${t}: u32;`);
        terms.push(`    v += src${t}[(n * C + c) * SH${t} * SW${t} + (2u * y) * SW${t} + 2u * x];`);
        break;
      case "max3": {
        // The centre is always inside, so out-of-range taps can reuse it (the max ignores the padding).
        const lines = [
          `    {`,
          `      let cb = (n * C + c) * H * W;`,
          `      var m = src${t}[cb + y * W + x];`,
        ];
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            if (dy === 0 && dx === 0) continue;
            lines.push(
              `      { let yy = i32(y) + ${dy}; let xx = i32(x) + ${dx}; ` +
                `let in = yy >= 0 && yy < i32(H) && xx >= 0 && xx < i32(W); ` +
                `let q = src${t}[cb + u32(clamp(yy, 0, i32(H) - 1)) * W + u32(clamp(xx, 0, i32(W) - 1))]; ` +
                `m = select(m, max(m, q), in); }`,
            );
          }
        }
        lines.push(`      v += m;`, `    }`);
        terms.push(lines.join("\n"));
        break;
      }
      case "max2":
        overrides.push(`override SH${t}: u32;`, `override SW${t}: u32;`);
        terms.push(
          [
            `    {`,
            `      let sb = (n * C + c) * SH${t} * SW${t} + (2u * y) * SW${t} + 2u * x;`,
            `      v += max(max(src${t}[sb], src${t}[sb + 1u]), max(src${t}[sb + SW${t}], src${t}[sb + SW${t} + 1u]));`,
            `    }`,
          ].join("\n"),
        );
        break;
      case "pool3s2":
      case "max3s2": {
        // Taps (2y + dy, 2x + dx), dy, dx in -1..1, of an SH x SW source. The centre (2y, 2x) is always
        // inside (y < ceil(SH/2)), so the max starts from it; the mean divides by the taps inside.
        overrides.push(`override SH${t}: u32;`, `override SW${t}: u32;`);
        const max = term.kind === "max3s2";
        const lines = [
          `    {`,
          `      let cb = (n * C + c) * SH${t} * SW${t};`,
          max ? `      var m = src${t}[cb + (2u * y) * SW${t} + 2u * x];` : `      var s = 0.0;`,
        ];
        if (!max) lines.push(`      var cnt = 0.0;`);
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            if (max && dy === 0 && dx === 0) continue;
            const acc = max
              ? `m = select(m, max(m, q), in); }`
              : `s += select(0.0, q, in); cnt += select(0.0, 1.0, in); }`;
            lines.push(
              `      { let yy = i32(2u * y) + ${dy}; let xx = i32(2u * x) + ${dx}; ` +
                `let in = yy >= 0 && yy < i32(SH${t}) && xx >= 0 && xx < i32(SW${t}); ` +
                `let q = src${t}[cb + u32(clamp(yy, 0, i32(SH${t}) - 1)) * SW${t} + ` +
                `u32(clamp(xx, 0, i32(SW${t}) - 1))]; ${acc}`,
            );
          }
        }
        lines.push(max ? `      v += m;` : `      v += s / cnt;`, `    }`);
        terms.push(lines.join("\n"));
        break;
      }
      case "slice": {
        // Channels [to, to + count) of this tensor read channels [from, from + count) of a source of sc
        // channels (index clamped into the source, the value selected only inside the range).
        const cs = `u32(clamp(i32(c) + ${term.from - term.to}, 0, ${term.sc - 1}))`;
        const load = `src${t}[(n * ${term.sc}u + ${cs}) * H * W + y * W + x]`;
        terms.push(
          `    v += select(0.0, ${term.relu ? `max(${load}, 0.0)` : load}, ` +
            `c >= ${term.to}u && c < ${term.to + term.count}u);`,
        );
        break;
      }
    }
  });
  const code = renderWgsl(template, {
    PACK: spec.pack,
    BINDINGS: bindings.join("\n"),
    OVERRIDES: overrides.join("\n"),
    TERMS: terms.join("\n"),
  });
  const constants: Record<string, number> = { N: spec.n, C: spec.c, H: spec.h, W: spec.w };
  spec.terms.forEach((term, t) => {
    if (term.kind === "pool2" || term.kind === "pick2" || term.kind === "max2") {
      if (Math.floor(term.sh / 2) !== spec.h || Math.floor(term.sw / 2) !== spec.w) {
        throw new RangeError(`node: ${term.kind} of ${term.sh}x${term.sw} cannot give ${spec.h}x${spec.w}`);
      }
      constants[`SH${t}`] = term.sh;
      constants[`SW${t}`] = term.sw;
    }
    if (term.kind === "pool3s2" || term.kind === "max3s2") {
      if (Math.ceil(term.sh / 2) !== spec.h || Math.ceil(term.sw / 2) !== spec.w) {
        throw new RangeError(`node: ${term.kind} of ${term.sh}x${term.sw} cannot give ${spec.h}x${spec.w}`);
      }
      constants[`SH${t}`] = term.sh;
      constants[`SW${t}`] = term.sw;
    }
  });
  const kinds = spec.terms.map((t) =>
    t.kind === "slice" ? `slice${t.sc}f${t.from}t${t.to}n${t.count}${t.relu ? "r" : ""}` : t.kind
  );
  const name = `node_${kinds.join("_") || "zero"}${spec.pack ? "_pack" : ""}`;
  const words = codeWords(spec.c, spec.h, spec.w);
  return { kernel: { name, code, constants }, groups: [Math.ceil((spec.n * words) / 64)] };
});

/** Sources of one term: the tensor, plus the (mean, invstd*gamma, beta, 0) statistics for bn terms. */
export interface TermBuffers {
  src: Binding;
  stats?: Binding;
}

/** Records a node dispatch; `codes` is required when the spec packs. */
export function encodeNode(
  rec: Recorder,
  pipeline: GPUComputePipeline,
  spec: NodeSpec,
  groups: [number],
  out: Binding,
  codes: Binding | null,
  terms: TermBuffers[],
): void {
  const b: Binding[] = [out];
  if (spec.pack) {
    if (!codes) throw new Error("encodeNode: packing node needs a codes buffer");
    b.push(codes);
  }
  spec.terms.forEach((t, i) => {
    const tb = terms[i]!;
    b.push(tb.src);
    if (t.kind === "bn") {
      if (!tb.stats) throw new Error(`encodeNode: bn term ${i} needs its statistics buffer`);
      b.push(tb.stats);
    }
  });
  rec.dispatch(pipeline, b, groups);
}

function nodeKernelVec4(spec: NodeSpec): { kernel: Kernel; groups: [number] } {
  const bindings: string[] = [];
  const overrides: string[] = [];
  const setup: string[] = [];
  const terms: string[] = [];
  const constants: Record<string, number> = { N: spec.n, C: spec.c, H: spec.h, W: spec.w };
  let slot = spec.pack ? 2 : 1;
  spec.terms.forEach((term, t) => {
    bindings.push(`@group(0) @binding(${slot++}) var<storage, read> src${t}: array<vec4<f32>>;`);
    switch (term.kind) {
      case "bn":
        bindings.push(`@group(0) @binding(${slot++}) var<storage, read> stats${t}: array<vec4<f32>>;`);
        setup.push(`  let st${t} = stats${t}[c];`);
        terms.push(`    v += (src${t}[o4] - st${t}.x) * st${t}.y + st${t}.z;`);
        break;
      case "raw":
        terms.push(`    v += src${t}[o4];`);
        break;
      case "relu":
        terms.push(`    v += max(src${t}[o4], vec4<f32>(0.0));`);
        break;
      case "pool3": {
        // Rows y-1..y+1 (clamped, masked); in each the vec4 at x and the neighbours x-1 and x+4.
        const lines = [`    {`, `      var s = vec4<f32>(0.0);`, `      var cy = 0.0;`];
        for (let dy = -1; dy <= 1; dy++) {
          lines.push(
            `      {`,
            `        let yy = i32(y) + ${dy};`,
            `        let ok = yy >= 0 && yy < i32(H);`,
            `        let rb = cb + u32(clamp(yy, 0, i32(H) - 1)) * W;`,
            `        let r = src${t}[(rb + x) / 4u];`,
            `        let l = select(0.0, src${t}[(rb + max(x, 4u) - 4u) / 4u].w, x > 0u);`,
            `        let rr = select(0.0, src${t}[(rb + min(x + 4u, W - 4u)) / 4u].x, x + 4u < W);`,
            `        let h3 = vec4<f32>(l + r.x + r.y, r.x + r.y + r.z, r.y + r.z + r.w, r.z + r.w + rr);`,
            `        s += select(vec4<f32>(0.0), h3, ok);`,
            `        cy += select(0.0, 1.0, ok);`,
            `      }`,
          );
        }
        lines.push(
          `      let cx = vec4<f32>(select(3.0, 2.0, x == 0u), 3.0, 3.0, select(3.0, 2.0, x + 4u >= W));`,
          `      v += s / (cx * cy);`,
          `    }`,
        );
        terms.push(lines.join("\n"));
        break;
      }
      case "pool2":
        overrides.push(`override SH${t}: u32;`, `override SW${t}: u32;`);
        constants[`SH${t}`] = term.sh;
        constants[`SW${t}`] = term.sw;
        terms.push(
          [
            `    {`,
            `      let sb = ((n * C + c) * SH${t} * SW${t} + (2u * y) * SW${t} + 2u * x) / 4u;`,
            `      let a = src${t}[sb];`,
            `      let b = src${t}[sb + 1u];`,
            `      let d = src${t}[sb + SW${t} / 4u];`,
            `      let e = src${t}[sb + SW${t} / 4u + 1u];`,
            `      v += 0.25 * vec4<f32>(a.x + a.y + d.x + d.y, a.z + a.w + d.z + d.w, b.x + b.y + e.x + e.y, b.z + b.w + e.z + e.w);`,
            `    }`,
          ].join("\n"),
        );
        break;
    }
  });
  const code = renderWgsl(vec4Template, {
    PACK: spec.pack,
    BINDINGS: bindings.join("\n"),
    OVERRIDES: overrides.join("\n"),
    SETUP: setup.join("\n"),
    TERMS: terms.join("\n"),
  });
  const name = `node4_${spec.terms.map((t) => t.kind).join("_") || "zero"}${spec.pack ? "_pack" : ""}`;
  const words = (spec.c * spec.h * spec.w) / 32;
  return { kernel: { name, code, constants }, groups: [Math.ceil((spec.n * words) / 64)] };
}
