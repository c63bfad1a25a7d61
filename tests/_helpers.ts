/**
 * Test helpers: a shared GPU (or a reason to skip), data paths, seeded arrays and assertions that print
 * the first mismatches and the maximum difference.
 * @module
 */

import { Gpu } from "../shaders/gpu.ts";
import { Rng } from "../spaces/rng.ts";
import { runGradients } from "../proxies/_backward.ts";
import type { NetworkPlan } from "../spaces/plan.ts";
import type { Params } from "../spaces/init.ts";

let shared: Promise<Gpu | null> | null = null;
let skipReason = "";

/** Opens one GPU for the whole test process; null (and a printed reason) when no adapter exists. */
export function testGpu(): Promise<Gpu | null> {
  if (!shared) {
    shared = Gpu.open().catch((e) => {
      skipReason = (e as Error).message;
      console.warn(`GPU tests skipped: ${skipReason}`);
      return null;
    });
  }
  return shared;
}

/** Path of a file in ../shared/data, or null (and a printed reason) when it is absent. */
export function sharedData(rel: string): string | null {
  const url = new URL(`../../shared/data/${rel}`, import.meta.url);
  try {
    Deno.statSync(url);
    return url.pathname;
  } catch {
    console.warn(`skipped: ${url.pathname} is absent (real data lives in ../shared/data)`);
    return null;
  }
}

/** Seeded uniform floats in [lo, hi). */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.uniform(lo, hi);
  return a;
}

/** Throws unless |a - b| <= tol * max(max|b|, 1e-30) everywhere; the message lists the first mismatches. */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} != ${b.length}`);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  scale = Math.max(scale, 1e-30);
  let maxDiff = 0;
  const bad: string[] = [];
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= tol * scale)) {
      if (bad.length < 5) bad.push(`[${i}] got ${a[i]} want ${b[i]}`);
      maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
    }
  }
  if (bad.length > 0) {
    throw new Error(
      `${what}: max relative difference ${(maxDiff / scale).toExponential(3)} > ${tol}; ${bad.join(", ")}`,
    );
  }
}

/** Throws unless the arrays are equal element for element. */
export function assertExact(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} != ${b.length}`);
  const bad: string[] = [];
  for (let i = 0; i < b.length && bad.length < 5; i++) {
    if (a[i] !== b[i]) bad.push(`[${i}] got ${a[i]} want ${b[i]}`);
  }
  if (bad.length > 0) throw new Error(`${what}: not equal; ${bad.join(", ")}`);
}

/**
 * Runs `plan` forward and backward (cross-entropy, every parameter and the input gradient), then again with
 * every ReLU mask and max-pool choice frozen at that run's own tensors, and throws unless the two agree bit for
 * bit (freezing at the network's own values must change nothing).
 */
export async function assertFrozenChangesNothing(
  g: Gpu,
  plan: NetworkPlan,
  params: Params,
  input: GPUBuffer,
  labels: Uint32Array,
  what: string,
): Promise<void> {
  const n = labels.length;
  const names = plan.params.map((p) => p.name);
  const o = { loss: "ce" as const, labels, params: names, inputGrad: true };
  const plain = await runGradients(g, plan, params, input, n, { ...o, keepTensors: true });
  const frozen = await runGradients(g, plan, params, input, n, { ...o, frozen: plain.tensors });
  for (const b of plain.tensors!.values()) g.release(b);
  assertExact(frozen.logits, plain.logits, `${what}: logits`);
  assertExact(frozen.dinput!, plain.dinput!, `${what}: input gradient`);
  for (const k of names) assertExact(frozen.grads.get(k)!, plain.grads.get(k)!, `${what}: ${k}`);
}
