/**
 * The project's seeded pseudo-random numbers: one generator for sampling archs, choosing minibatches,
 * synthetic images and weight initialisation, so that (seed, purpose) gives the same stream on any machine.
 *
 * Generator: xoshiro128** (Blackman and Vigna) on 32-bit integer arithmetic, seeded through splitmix32.
 * Sub-streams are derived by hashing a seed with labels (`deriveSeed`), never by position in a run, so a
 * per-arch stream does not depend on which shard or in which order the arch was processed.
 *
 * @example
 * ```ts
 * import { Rng, deriveSeed } from "./rng.ts";
 * const rng = new Rng(deriveSeed(0, "init", 1234));
 * const u = rng.uniform(-1, 1);
 * ```
 * @module
 */

/** splitmix32 step: returns [output, next state]. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) >>> 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  z = (z ^ (z >>> 16)) >>> 0;
  return [z, s];
}

/** Hashes a seed and a list of labels (strings or non-negative integers) into a 32-bit seed. */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  // FNV-1a over a canonical text form, then one splitmix round to spread the bits.
  const text = [String(seed), ...labels.map(String)].join("\u0000");
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return splitmix32(h)[0];
}

/** A seeded xoshiro128** generator. */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spare: number | null = null;

  /** Creates a generator from a 32-bit (or any safe integer) seed. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    let st = (seed >>> 0) ^ Math.floor(seed / 0x100000000);
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [z, s] = splitmix32(st);
      out.push(z);
      st = s;
    }
    this.#s0 = out[0]!;
    this.#s1 = out[1]!;
    this.#s2 = out[2]!;
    this.#s3 = out[3]!;
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.#s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.#s1 << 9) >>> 0;
    this.#s2 = (this.#s2 ^ this.#s0) >>> 0;
    this.#s3 = (this.#s3 ^ this.#s1) >>> 0;
    this.#s1 = (this.#s1 ^ this.#s2) >>> 0;
    this.#s0 = (this.#s0 ^ this.#s3) >>> 0;
    this.#s2 = (this.#s2 ^ t) >>> 0;
    this.#s3 = rotl(this.#s3, 11);
    return r;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * Fills `out` with `uniform(lo, hi)` draws, in order: the same values and the same generator state after
   * as `out.length` calls of `uniform`, 3-4x faster (the state stays in locals; weight init of a large net
   * draws a million values per arch).
   */
  fillUniform(out: Float32Array | Float64Array, lo: number, hi: number): void {
    let s0 = this.#s0, s1 = this.#s1, s2 = this.#s2, s3 = this.#s3;
    const span = hi - lo;
    // One nextU32 step a pass; every second step completes a value (27 then 26 bits, as next()).
    let hi27 = 0;
    for (let k = 0; k < 2 * out.length; k++) {
      const m = Math.imul(s1, 5) >>> 0;
      const r = Math.imul(((m << 7) | (m >>> 25)) >>> 0, 9) >>> 0;
      const t = (s1 << 9) >>> 0;
      s2 = (s2 ^ s0) >>> 0;
      s3 = (s3 ^ s1) >>> 0;
      s1 = (s1 ^ s2) >>> 0;
      s0 = (s0 ^ s3) >>> 0;
      s2 = (s2 ^ t) >>> 0;
      s3 = ((s3 << 11) | (s3 >>> 21)) >>> 0;
      if ((k & 1) === 0) hi27 = r >>> 5;
      else out[k >> 1] = lo + span * ((hi27 * 67108864 + (r >>> 6)) / 9007199254740992);
    }
    this.#s0 = s0;
    this.#s1 = s1;
    this.#s2 = s2;
    this.#s3 = s3;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) {
      throw new RangeError(`int(n) needs 0 < n <= 2^32, got ${n}`);
    }
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal deviate (Box-Muller, both values used). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
