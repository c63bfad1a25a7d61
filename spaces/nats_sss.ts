/**
 * NATS-Bench size search space (NATS-SSS, Dong et al. 2021; ALGORITHMS.md section 6): one fixed cell (NB201
 * index 9930, `|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|`)
 * in a skeleton of five layers whose widths are searched: stem Conv3x3 3->c0 -> BN; cell c0 -> c0; ResNet
 * block c0 -> c1 (stride 2); cell c1 -> c2; block c2 -> c3 (stride 2); cell c3 -> c4; BN -> ReLU; global pool;
 * Linear. Each width is one of 8, 16, ..., 64, so the space has 8^5 = 32,768 networks.
 *
 * Arch strings are the widths joined by colons, `c0:c1:c2:c3:c4` (NATS-Bench's own form, e.g. `8:8:8:16:40`);
 * the benchmark index reads them as base-8 digits (width / 8 - 1), c0 most significant, so `8:8:8:16:40` is
 * index 12 and `64:64:64:64:64` is 32,767. A cell whose input and output widths differ changes the width on
 * the edges leaving its node 0, as NATS-Bench's `InferCell` does (see spaces/nb201_network.ts).
 *
 * @example
 * ```ts
 * import { natsSss } from "./nats_sss.ts";
 * console.log(natsSss.indexOf("8:8:8:16:40"), natsSss.archAt(32767)); // 12 64:64:64:64:64
 * console.log(natsSss.lower("8:8:8:16:40").paramCount); // 67378
 * ```
 * @module
 */

import { archEdges, parseArch } from "./nb201.ts";
import { lowerCellNetwork, type Skeleton } from "./nb201_network.ts";
import type { NetworkPlan } from "./plan.ts";
import type { Rng } from "./rng.ts";
import {
  ArchParseError,
  type LowerOptions,
  quoteInput,
  sampleIndicesOf,
  type SampleOptions,
  type SearchSpace,
} from "./space.ts";

/** The widths a slot may take. */
export const NATS_SSS_WIDTHS = [8, 16, 24, 32, 40, 48, 56, 64] as const;
/** Number of width slots. */
export const NATS_SSS_SLOTS = 5;
/** Number of architectures (8^5). */
export const NATS_SSS_SIZE = 32768;
/** The fixed cell of the size space (NB201 index 9930). */
export const NATS_SSS_CELL =
  "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";
/** The arch string form. */
export const NATS_SSS_FORM = "c0:c1:c2:c3:c4";

const CELL_EDGES = archEdges(parseArch(NATS_SSS_CELL));
const WIDTHS_LIST = NATS_SSS_WIDTHS.join(", ");

/** The five widths of an arch string, validated. Throws {@link ArchParseError} naming the bad token. */
export function parseWidths(s: string): number[] {
  const lead = s.length - s.trimStart().length;
  const t = s.trim();
  const fail = (what: string, token: string, pos: number, expected: string): never => {
    throw new ArchParseError(
      `${what} ${JSON.stringify(token)} at position ${pos} of ${quoteInput(s)}; expected ${expected} ` +
        `(form ${NATS_SSS_FORM}, e.g. 8:16:32:48:64)`,
      s,
      token,
      pos,
    );
  };
  if (t === "") fail("empty arch string", s, 1, `${NATS_SSS_SLOTS} widths`);
  const parts = t.split(":");
  let at = lead;
  const out: number[] = [];
  for (const [i, p] of parts.entries()) {
    if (i >= NATS_SSS_SLOTS) fail("too many widths: unexpected", p, at + 1, `${NATS_SSS_SLOTS} widths`);
    const w = /^[0-9]+$/.test(p) ? Number(p) : NaN;
    if (!(NATS_SSS_WIDTHS as readonly number[]).includes(w) || String(w) !== p) {
      fail(`bad width ${i + 1}:`, p, at + 1, `one of ${WIDTHS_LIST}`);
    }
    out.push(w);
    at += p.length + 1;
  }
  if (out.length < NATS_SSS_SLOTS) {
    fail(
      `too few widths (found ${out.length}): missing width ${out.length + 1} after`,
      parts[parts.length - 1]!,
      lead + t.length + 1,
      `${NATS_SSS_SLOTS} widths separated by ":"`,
    );
  }
  return out;
}

function checkIndex(i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= NATS_SSS_SIZE) {
    throw new RangeError(`nats-sss: index ${i} is out of range; expected an integer 0..${NATS_SSS_SIZE - 1}`);
  }
}

function widthsToIndex(ws: readonly number[]): number {
  return ws.reduce((acc, w) => acc * 8 + (w / 8 - 1), 0);
}

function indexToWidths(i: number): number[] {
  checkIndex(i);
  const out = new Array<number>(NATS_SSS_SLOTS);
  for (let s = NATS_SSS_SLOTS - 1; s >= 0; s--, i = Math.floor(i / 8)) out[s] = ((i % 8) + 1) * 8;
  return out;
}

/** The NATS-SSS skeleton of widths `ws` (c0..c4). */
export function natsSkeleton(ws: readonly number[]): Skeleton {
  const [c0, c1, c2, c3, c4] = ws as [number, number, number, number, number];
  return {
    stem: c0,
    layers: [
      { kind: "cell", c: c0 },
      { kind: "block", c: c1 },
      { kind: "cell", c: c2 },
      { kind: "block", c: c3 },
      { kind: "cell", c: c4 },
    ],
  };
}

/** The NATS-Bench size space. */
export const natsSss: SearchSpace = {
  name: "nats-sss",
  title: "NATS-Bench size space (fixed cell, 5 widths in 8..64, 32,768 networks)",
  form: NATS_SSS_FORM,
  size: NATS_SSS_SIZE,
  canonical: (arch: string) => parseWidths(arch).join(":"),
  parseLine(line: string): string {
    const t = line.trim();
    if (/^[0-9]+$/.test(t)) {
      const i = Number(t);
      if (i >= NATS_SSS_SIZE) {
        throw new ArchParseError(
          `benchmark index ${JSON.stringify(t)} is out of range; expected a width list ${NATS_SSS_FORM} or ` +
            `a decimal index 0..${NATS_SSS_SIZE - 1}`,
          line,
          t,
          line.length - line.trimStart().length + 1,
        );
      }
      return indexToWidths(i).join(":");
    }
    return parseWidths(line).join(":");
  },
  indexOf: (arch: string) => widthsToIndex(parseWidths(arch)),
  archAt: (index: number) => indexToWidths(index).join(":"),
  sample: (n: number, seed: number, options: SampleOptions) =>
    sampleIndicesOf(NATS_SSS_SIZE, n, seed, "nats-sss.sample", options),
  mutate(index: number, rng: Rng): number {
    const ws = indexToWidths(index);
    const slot = rng.int(NATS_SSS_SLOTS);
    const cur = ws[slot]! / 8 - 1;
    ws[slot] = ((cur + 1 + rng.int(NATS_SSS_WIDTHS.length - 1)) % NATS_SSS_WIDTHS.length + 1) * 8;
    return widthsToIndex(ws);
  },
  lower(arch: string, options: LowerOptions = {}): NetworkPlan {
    const ws = parseWidths(arch);
    return lowerCellNetwork(CELL_EDGES, natsSkeleton(ws), {
      ...options,
      space: "nats-sss",
      arch: ws.join(":"),
    });
  },
};
