/**
 * The search spaces the pipeline knows, by `--space` name. Adding a space: implement {@link SearchSpace} in
 * its own file and list it here.
 * @module
 */

import { nb201Space } from "./nb201_space.ts";
import { natsSss } from "./nats_sss.ts";
import { nb101, nb101Stem16 } from "./nb101_space.ts";
import { darts } from "./darts_space.ts";
import type { SearchSpace } from "./space.ts";

/** Every space, by name. */
export const SPACES: ReadonlyMap<string, SearchSpace> = new Map(
  [nb201Space, natsSss, nb101, nb101Stem16, darts].map((s) => [s.name, s]),
);

/** The space called `name`; throws a RangeError listing the known ones. */
export function getSpace(name: string): SearchSpace {
  const s = SPACES.get(name);
  if (!s) throw new RangeError(`unknown search space "${name}"; known: ${[...SPACES.keys()].join(", ")}`);
  return s;
}
