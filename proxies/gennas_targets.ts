/**
 * GenNAS's synthetic regression targets and input noise (Li et al. 2021; the semantics of the authors'
 * `builder_task.py` / `utils/tricks.py`, re-derived here): each stage's target is a sum of parts, each part
 * scaled by its level, every part a [n][channels][8][8] tensor:
 *
 * - `sin1d`: for every frequency beta of `range`, 32 random phases phi_m give 32 channels varying along rows,
 *   sin / cos alternating, of 2 pi beta i + phi_m (i = 1..8), then 32 varying along columns; of all those
 *   candidate channels `channels` are picked at random.
 * - `sin2d`: for every pair (beta1, beta2), 32 channels of 2 pi (beta1 i + beta2 j) + 2 phi_m, sin / cos
 *   alternating, then the same 32 flipped along rows (the other diagonal); `channels` picked at random.
 * - `dot`: round(partial * 64) distinct random pixels of each map set to +-1, the rest 0; `dot_gaussian`
 *   blurs the map with a Gaussian (sigma 1, reflected borders, radius 4) and divides it by its max |value|.
 * - `resize`: the noise-free normalised images subsampled (nearest) to 8x8, mapped by one global min-max to
 *   [-1, 1]; channel c is RGB channel (pick_c mod 3) for random picks shared by all images.
 *
 * `local` parts redraw their phases, picks and dots for every image; other parts share one draw. Targets
 * are fixed for a run (drawn once from the seed). The random streams are this project's (spaces/rng.ts),
 * not PyTorch's, so targets match the authors' in distribution, not value.
 * @module
 */

import { deriveSeed, Rng } from "../spaces/rng.ts";

/** One part of a stage's target. */
export interface TargetPart {
  type: "sin1d" | "sin2d" | "dot" | "dot_gaussian" | "resize";
  level: number;
  /** Frequencies (sin1d, sin2d). */
  range?: number[];
  /** Fraction of the 64 pixels set (dot, dot_gaussian). */
  partial?: number;
  /** Redraw per image. */
  local?: boolean;
}

/** A GenNAS task: head channels and target parts per stage, and the input noise. */
export interface TargetSpec {
  /** Output channels of each stage's head. */
  channels: number[];
  /** Noise added to the images at every step: uniform in +-level, or level * N(0, 1). */
  noise: { type: "uniform" | "gaussian"; level: number };
  stages: TargetPart[][];
}

const HI = [0.375, 0.3875, 0.4, 0.4125, 0.425, 0.4375, 0.45, 0.4625, 0.475, 0.4875];
const LO = [0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.275, 0.3, 0.325, 0.35];

/** The hand-designed task the paper calls "combo" (no input noise, 64 channels per head). */
export const COMBO: TargetSpec = {
  channels: [64, 64, 64],
  noise: { type: "gaussian", level: 0 },
  stages: [
    [
      { type: "sin1d", level: 1, range: HI, local: true },
      { type: "sin2d", level: 1, range: HI, local: true },
      { type: "dot", level: 1, partial: 1, local: true },
    ],
    [
      { type: "sin1d", level: 1, range: HI, local: true },
      { type: "sin2d", level: 1, range: LO, local: true },
      { type: "resize", level: 1 },
    ],
    [
      { type: "sin1d", level: 1, range: HI, local: true },
      { type: "dot", level: 1, partial: 1, local: true },
      { type: "resize", level: 1 },
    ],
  ],
};

const S = 8; // target maps are 8x8

/** Checks a task read from JSON; throws with the path of the first problem. */
export function checkTargetSpec(x: unknown, where: string): TargetSpec {
  const fail = (m: string): never => {
    throw new Error(`${where}: ${m}`);
  };
  const o = x as TargetSpec;
  if (typeof o !== "object" || o === null) fail("expected an object with channels, noise, stages");
  if (
    !Array.isArray(o.channels) || o.channels.length !== 3 ||
    o.channels.some((c) => !(Number.isInteger(c) && c > 0))
  ) {
    fail("channels: expected 3 positive integers");
  }
  if (!o.noise || !["uniform", "gaussian"].includes(o.noise.type) || !(o.noise.level >= 0)) {
    fail('noise: expected {"type": "uniform" | "gaussian", "level": >= 0}');
  }
  if (!Array.isArray(o.stages) || o.stages.length !== 3) fail("stages: expected 3 lists of parts");
  o.stages.forEach((parts, s) => {
    if (!Array.isArray(parts)) fail(`stages[${s}]: expected a list of parts`);
    parts.forEach((p, k) => {
      const at = `stages[${s}][${k}]`;
      if (!["sin1d", "sin2d", "dot", "dot_gaussian", "resize"].includes(p.type)) {
        fail(`${at}.type: unknown "${p.type}"`);
      }
      if (typeof p.level !== "number" || !Number.isFinite(p.level)) fail(`${at}.level: expected a number`);
      if ((p.type === "sin1d" || p.type === "sin2d") && !(Array.isArray(p.range) && p.range.length > 0)) {
        fail(`${at}.range: expected a list of frequencies`);
      }
      if (
        (p.type === "dot" || p.type === "dot_gaussian") &&
        !(typeof p.partial === "number" && p.partial > 0 && p.partial <= 1)
      ) {
        fail(`${at}.partial: expected a number in (0, 1]`);
      }
    });
  });
  return o;
}

/** Picks `k` of `n` indices at random (a prefix of a random permutation). */
function pick(rng: Rng, n: number, k: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < Math.min(k, n); i++) {
    const j = i + rng.int(n - i);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p.slice(0, k);
}

/** The candidate channel `ch` of a sine part (i, j = 1..8). */
function sineValue(part: TargetPart, ch: number, phases: Float64Array, i: number, j: number): number {
  const m = ch % 64;
  const f = Math.floor(ch / 64);
  const trig = (m % 32) % 2 === 0 ? Math.sin : Math.cos;
  const phi = phases[f * 32 + (m % 32)]!;
  const r = part.range!;
  if (part.type === "sin1d") {
    const beta = r[f]!;
    return trig(2 * Math.PI * beta * (m < 32 ? i : j) + phi);
  }
  const b1 = r[Math.floor(f / r.length)]!;
  const b2 = r[f % r.length]!;
  const ii = m < 32 ? i : S + 1 - i;
  return trig(2 * Math.PI * (b1 * ii + b2 * j) + 2 * phi);
}

/** 1-D Gaussian blur of an 8x8 map along both axes (sigma 1, radius 4, reflected borders as scipy). */
function blur(map: Float64Array): Float64Array {
  const w = Array.from({ length: 9 }, (_, k) => Math.exp(-0.5 * (k - 4) ** 2));
  const sum = w.reduce((a, b) => a + b, 0);
  const refl = (x: number) => {
    // scipy 'reflect': (d c b a | a b c d | d c b a)
    let y = x;
    while (y < 0 || y >= S) y = y < 0 ? -y - 1 : 2 * S - y - 1;
    return y;
  };
  const tmp = new Float64Array(S * S);
  const out = new Float64Array(S * S);
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      let s = 0;
      for (let k = 0; k < 9; k++) s += (w[k]! / sum) * map[i * S + refl(j + k - 4)]!;
      tmp[i * S + j] = s;
    }
  }
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      let s = 0;
      for (let k = 0; k < 9; k++) s += (w[k]! / sum) * tmp[refl(i + k - 4) * S + j]!;
      out[i * S + j] = s;
    }
  }
  return out;
}

/**
 * The fixed targets of a task for `n` images ([n][3][h][w], normalised, noise-free): one
 * [n][channels][8][8] array per stage, drawn from `seed`.
 */
export function buildTargets(
  spec: TargetSpec,
  images: Float32Array,
  n: number,
  h: number,
  w: number,
  seed: number,
): Float32Array[] {
  return spec.stages.map((parts, s) => {
    const c = spec.channels[s]!;
    const out = new Float64Array(n * c * S * S);
    parts.forEach((part, k) => {
      const rng = new Rng(deriveSeed(seed, "gennas-target", s, k));
      const add = (img: number, ch: number, i: number, j: number, v: number) => {
        const at = ((img * c + ch) * S + i) * S + j;
        out[at] = out[at]! + part.level * v;
      };
      if (part.type === "sin1d" || part.type === "sin2d") {
        const r = part.range!;
        const freqs = part.type === "sin1d" ? r.length : r.length * r.length;
        let phases = new Float64Array(0);
        let chans: number[] = [];
        for (let img = 0; img < n; img++) {
          if (img === 0 || part.local) {
            phases = Float64Array.from({ length: freqs * 32 }, () => rng.uniform(0, 2 * Math.PI));
            chans = pick(rng, freqs * 64, c);
          }
          chans.forEach((cand, ch) => {
            for (let i = 0; i < S; i++) {
              for (let j = 0; j < S; j++) add(img, ch, i, j, sineValue(part, cand, phases, i + 1, j + 1));
            }
          });
        }
      } else if (part.type === "dot" || part.type === "dot_gaussian") {
        const count = Math.floor(part.partial! * S * S);
        let maps: Float64Array[] = [];
        for (let img = 0; img < n; img++) {
          if (img === 0 || part.local) {
            maps = Array.from({ length: c }, () => {
              const m = new Float64Array(S * S);
              for (const p of pick(rng, S * S, count)) m[p] = rng.next() < 0.5 ? 1 : -1;
              if (part.type === "dot") return m;
              const b = blur(m);
              let mx = 0;
              for (const v of b) mx = Math.max(mx, Math.abs(v));
              return mx > 0 ? b.map((v) => v / mx) : b;
            });
          }
          maps.forEach((m, ch) => {
            for (let p = 0; p < S * S; p++) add(img, ch, Math.floor(p / S), p % S, m[p]!);
          });
        }
      } else {
        // resize: nearest subsampling, one global min-max to [-1, 1], channel picks shared by all images.
        const sy = h / S;
        const sx = w / S;
        let lo = Infinity;
        let hi = -Infinity;
        const sub = (img: number, rgb: number, i: number, j: number) =>
          images[((img * 3 + rgb) * h + Math.floor(i * sy)) * w + Math.floor(j * sx)]!;
        for (let img = 0; img < n; img++) {
          for (let rgb = 0; rgb < 3; rgb++) {
            for (let i = 0; i < S; i++) {
              for (let j = 0; j < S; j++) {
                lo = Math.min(lo, sub(img, rgb, i, j));
                hi = Math.max(hi, sub(img, rgb, i, j));
              }
            }
          }
        }
        const chans = pick(rng, 1000, c).map((p) => p % 3);
        const span = hi > lo ? hi - lo : 1;
        for (let img = 0; img < n; img++) {
          chans.forEach((rgb, ch) => {
            for (let i = 0; i < S; i++) {
              for (let j = 0; j < S; j++) add(img, ch, i, j, (2 * (sub(img, rgb, i, j) - lo)) / span - 1);
            }
          });
        }
      }
    });
    return Float32Array.from(out);
  });
}

/** The input of training step `step`: the images plus fresh seeded noise (the images themselves at level 0). */
export function noisyInput(spec: TargetSpec, images: Float32Array, seed: number, step: number): Float32Array {
  if (spec.noise.level === 0) return images;
  const rng = new Rng(deriveSeed(seed, "gennas-noise", step));
  const l = spec.noise.level;
  return images.map((v) => v + (spec.noise.type === "uniform" ? rng.uniform(-l, l) : l * rng.normal()));
}

/** Nearest upsampling of `planes` h x w planes by an integer factor (each pixel repeated f x f). */
export function upsampleNearest(
  x: Float32Array,
  planes: number,
  h: number,
  w: number,
  f: number,
): Float32Array {
  if (x.length !== planes * h * w) {
    throw new RangeError(`upsampleNearest: ${x.length} values, ${planes}x${h}x${w}`);
  }
  const H = h * f, W = w * f;
  const out = new Float32Array(planes * H * W);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        out[(p * H + i) * W + j] = x[(p * h + Math.floor(i / f)) * w + Math.floor(j / f)]!;
      }
    }
  }
  return out;
}
