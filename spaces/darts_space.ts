/**
 * The DARTS space of NAS-Bench-301 as a {@link SearchSpace}: canonical arch strings of spaces/darts.ts
 * (`normal=|op~a|op~b|+...;reduce=|...|`; `--from` lines may also be a DARTS `Genotype(...)` repr or NASLib's
 * compact encoding), seeded sampling as NB301 / NASLib sample the space, and lowering to NASLib's NB301
 * network (C = 32, 8 cells; spaces/darts_network.ts). DARTS has no index order over its ~10^18 genotypes, so
 * records carry index -1, or their row number when they come from a benchmark file with a `genotype` (or
 * `naslib_compact`) column, such as `nb301_naslib_zc725.csv`.
 * @module
 */

import {
  DARTS_ARCH_FORM,
  formatDartsArch,
  parseDartsAny,
  parseDartsGenotypeRepr,
  parseNaslibCompact,
  sampleDartsGenotypes,
} from "./darts.ts";
import { lowerDarts } from "./darts_network.ts";
import type { SearchSpace } from "./space.ts";

const unindexed = (what: string) => () => {
  throw new RangeError(`${what}: the darts space has no benchmark index order`);
};

/** DARTS / NAS-Bench-301 cells on NASLib's NB301 network. */
export const darts: SearchSpace = {
  name: "darts",
  title: "DARTS cells as NAS-Bench-301 (NASLib's network: C=32, 8 cells)",
  form: DARTS_ARCH_FORM,
  size: null,
  canonical: (arch) => formatDartsArch(parseDartsAny(arch)),
  parseLine: (line) => formatDartsArch(parseDartsAny(line.trim())),
  indexOf: (arch) => {
    parseDartsAny(arch);
    return -1;
  },
  archAt: unindexed("archAt"),
  sample: unindexed("sample"),
  mutate: unindexed("mutate"),
  sampleArchs: (n, seed) => sampleDartsGenotypes(n, seed).map(formatDartsArch),
  fromTable(row) {
    const repr = row["genotype"];
    if (repr !== undefined) return formatDartsArch(parseDartsGenotypeRepr(repr));
    const compact = row["naslib_compact"];
    if (compact !== undefined) return formatDartsArch(parseNaslibCompact(compact));
    return null;
  },
  lower: (arch, options = {}) => {
    if (options.regressionHeads) {
      throw new RangeError("darts: GenNAS regression heads are not supported on DARTS networks yet");
    }
    const g = parseDartsAny(arch);
    return lowerDarts(g, formatDartsArch(g), {
      input: options.input,
      classes: options.classes,
      reluCount: options.reluCount,
    });
  },
};
