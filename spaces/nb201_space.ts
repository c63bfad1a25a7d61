/**
 * NAS-Bench-201 as a {@link SearchSpace}: the functions of spaces/nb201.ts and spaces/nb201_network.ts
 * behind the common interface (arch strings `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, the official index order).
 * @module
 */

import {
  archToIndex,
  formatArch,
  indexToArch,
  mutateArch,
  NB201_ARCH_FORM,
  NB201_SIZE,
  parseArch,
  parseArchOrIndex,
  sampleIndices,
} from "./nb201.ts";
import { lowerNb201 } from "./nb201_network.ts";
import type { SearchSpace } from "./space.ts";

/** The NB201 topology space. */
export const nb201Space: SearchSpace = {
  name: "nb201",
  title: "NAS-Bench-201 topology space (6 edges x 5 ops, 15,625 cells)",
  form: NB201_ARCH_FORM,
  size: NB201_SIZE,
  canonical: (arch) => formatArch(parseArch(arch)),
  parseLine: (line) => formatArch(parseArchOrIndex(line)),
  indexOf: (arch) => archToIndex(parseArch(arch)),
  archAt: (index) => formatArch(indexToArch(index)),
  sample: (n, seed, options) => sampleIndices(n, seed, options),
  mutate: (index, rng) => archToIndex(mutateArch(indexToArch(index), rng)),
  lower: (arch, options = {}) => lowerNb201(parseArch(arch), options),
};
