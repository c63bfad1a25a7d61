/**
 * Per-dataset channel normalisation of 0..255 pixels, as used by NASWOT and the NB201 training pipeline
 * (ALGORITHMS.md section 2): value = (pixel - mean[c]) / std[c], computed in float64 and stored as float32.
 *
 * @example
 * ```ts
 * import { NORMALIZATION, normalizePixels } from "./normalize.ts";
 * const x = normalizePixels(new Uint8Array(3 * 4).fill(255), { n: 1, c: 3, h: 2, w: 2 }, NORMALIZATION.cifar10);
 * console.log(x[0]); // (255 - 125.3) / 63.0 = 2.0587...
 * ```
 * @module
 */

import type { DatasetName } from "./types.ts";

/** Per-channel mean and standard deviation of 0..255 pixels, in channel order (R, G, B). */
export interface ChannelStats {
  /** Mean of each channel, on the 0..255 scale. */
  readonly mean: readonly number[];
  /** Standard deviation of each channel, on the 0..255 scale. */
  readonly std: readonly number[];
}

/** The published statistics: CIFAR-10, CIFAR-100, ImageNet16-120 (mean/std of the 0..255 training pixels). */
export const NORMALIZATION: Readonly<Record<DatasetName, ChannelStats>> = Object.freeze({
  cifar10: Object.freeze({
    mean: Object.freeze([125.3, 123.0, 113.9]),
    std: Object.freeze([63.0, 62.1, 66.7]),
  }),
  cifar100: Object.freeze({
    mean: Object.freeze([129.3, 124.1, 112.4]),
    std: Object.freeze([68.2, 65.4, 70.4]),
  }),
  imagenet16: Object.freeze({
    mean: Object.freeze([122.68, 116.66, 104.01]),
    std: Object.freeze([63.22, 61.26, 65.09]),
  }),
});

/** Shape of an NCHW tensor. */
export interface Shape4 {
  /** Batch size. */
  n: number;
  /** Channels. */
  c: number;
  /** Height. */
  h: number;
  /** Width. */
  w: number;
}

/**
 * Normalises planar pixels (n records, each c row-major h*w planes, i.e. NCHW) into a new float32 array:
 * out = f32((pixel - mean[c]) / std[c]) with the arithmetic in float64.
 */
export function normalizePixels(pixels: Uint8Array, shape: Shape4, stats: ChannelStats): Float32Array {
  const { n, c, h, w } = shape;
  const plane = h * w;
  if (pixels.length !== n * c * plane) {
    throw new RangeError(
      `normalizePixels: ${pixels.length} pixels for shape ${n}x${c}x${h}x${w} (${n * c * plane})`,
    );
  }
  if (stats.mean.length !== c || stats.std.length !== c) {
    throw new RangeError(`normalizePixels: statistics for ${stats.mean.length} channels, images have ${c}`);
  }
  // One float64 -> float32 table per channel: identical to computing each value, 256 divisions per channel.
  const table = new Float32Array(c * 256);
  for (let ch = 0; ch < c; ch++) {
    const mean = stats.mean[ch]!;
    const std = stats.std[ch]!;
    for (let v = 0; v < 256; v++) table[ch * 256 + v] = (v - mean) / std;
  }
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < n * c; i++) {
    const t = (i % c) * 256;
    const base = i * plane;
    for (let k = 0; k < plane; k++) out[base + k] = table[t + pixels[base + k]!]!;
  }
  return out;
}
