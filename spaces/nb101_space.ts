/**
 * NAS-Bench-101 as a {@link SearchSpace}: arch strings `<n*n adjacency bits>:<ops joined by ;>` (pruned to
 * the canonical cell), seeded sampling as NB101's `random_spec`, and lowering to NB101's network. NB101 has no
 * index order over its 423k cells (its key is the hash), so records carry index -1, or their row number when
 * they come from a benchmark file in the NASLib layout (`adjacency_rowmajor_7x7`, `ops`), such as
 * `nb101_naslib_zc500.csv`.
 *
 * Two variants: `nb101` is the benchmark's network (stem 128 channels), `nb101-stem16` the smaller one the
 * NASWOT authors' repository scored (stem 16; every width divided by 8).
 * @module
 */

import {
  canonicalCell,
  formatCell,
  NB101_ARCH_FORM,
  parseCell,
  parseCellParts,
  sampleSpecs,
} from "./nb101.ts";
import { lowerNb101 } from "./nb101_network.ts";
import type { SearchSpace } from "./space.ts";

function nb101Space(name: string, stem: number): SearchSpace {
  const unindexed = (what: string) => () => {
    throw new RangeError(`${what}: the ${name} space has no benchmark index order`);
  };
  return {
    name,
    title: `NAS-Bench-101 cells (stem ${stem}${
      stem === 128 ? ", the benchmark's network" : ", as the NASWOT repository"
    })`,
    form: NB101_ARCH_FORM,
    size: null,
    canonical: (arch) => canonicalCell(arch),
    parseLine: (line) => canonicalCell(line.trim()),
    indexOf: (arch) => {
      canonicalCell(arch);
      return -1;
    },
    archAt: unindexed("archAt"),
    sample: unindexed("sample"),
    mutate: unindexed("mutate"),
    sampleArchs: (n, seed) => sampleSpecs(n, seed).map(formatCell),
    fromTable(row) {
      const adj = row["adjacency_rowmajor_7x7"];
      const ops = row["ops"];
      if (adj === undefined || ops === undefined) return null;
      return formatCell(parseCellParts(adj, ops));
    },
    lower: (arch, options = {}) => {
      const spec = parseCell(arch);
      return lowerNb101(spec, formatCell(spec), { ...options, stem });
    },
  };
}

/** The NB101 network as benchmarked (stem 128). */
export const nb101: SearchSpace = nb101Space("nb101", 128);
/** The reduced NB101 network of the NASWOT repository (stem 16). */
export const nb101Stem16: SearchSpace = nb101Space("nb101-stem16", 16);
