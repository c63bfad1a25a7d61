/**
 * Stage 1, sample: which architectures to score. Pure core `sampleArchs` (seeded uniform sampling, or an
 * explicit list of arch strings / benchmark indices) and the file shell `runSample` writing archs.jsonl.
 * @module
 */

import { getSpace, SPACES as SPACE_TABLE } from "../spaces/registry.ts";
import { ArchParseError, type SearchSpace } from "../spaces/space.ts";
import { UsageError } from "./_errors.ts";
import { readTextInput, toJsonl, writeFileAtomic } from "./_io.ts";

/** One line of archs.jsonl. */
export interface ArchRecord {
  space: string;
  /** Benchmark index (the space's official order). */
  index: number;
  arch_str: string;
}

/** Search spaces the pipeline knows (`--space` values). */
export const SPACES: readonly string[] = [...SPACE_TABLE.keys()];

/** The space of a `--space` value; an unknown name is a usage error listing the known ones. */
export function spaceOf(space: string): SearchSpace {
  if (!SPACE_TABLE.has(space)) {
    throw new UsageError(`--space: unknown search space "${space}"; known: ${SPACES.join(", ")}`);
  }
  return getSpace(space);
}

/** Checks a `--space` value. */
export function checkSpace(space: string): void {
  spaceOf(space);
}

/** Draws n architectures of a space uniformly (without replacement unless `replace`), in draw order. */
export function sampleArchs(n: number, seed: number, replace = false, space = "nb201"): ArchRecord[] {
  const sp = spaceOf(space);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--n must be a positive integer, got ${n}`);
  if (!replace && n > sp.size) {
    throw new UsageError(
      `--n ${n} exceeds the ${sp.size} ${space} architectures; add --replace to draw with replacement`,
    );
  }
  return sp.sample(n, seed, { replace }).map((index) => ({ space, index, arch_str: sp.archAt(index) }));
}

/** Every architecture of a space, in benchmark index order (0 .. size-1). */
export function allArchs(space = "nb201"): ArchRecord[] {
  const sp = spaceOf(space);
  return Array.from({ length: sp.size }, (_, index) => ({ space, index, arch_str: sp.archAt(index) }));
}

/** Parses a `--from` file: one arch string or benchmark index per line; blank lines and `#` comments skipped. */
export function parseArchList(path: string, text: string, space = "nb201"): ArchRecord[] {
  const sp = spaceOf(space);
  const out: ArchRecord[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    try {
      const arch_str = sp.parseLine(line);
      out.push({ space, index: sp.indexOf(arch_str), arch_str });
    } catch (e) {
      if (e instanceof ArchParseError) throw new UsageError(`${path}:${i + 1}: ${e.message}`);
      throw e;
    }
  });
  if (out.length === 0) {
    throw new UsageError(`${path}: no architectures (one arch string or benchmark index per line)`);
  }
  return out;
}

/** Options of the sample stage. */
export interface SampleOptions {
  space: string;
  n?: number;
  seed: number;
  replace?: boolean;
  from?: string;
  /** Every architecture of the space, in benchmark index order. */
  all?: boolean;
  outPath: string;
}

/** Writes archs.jsonl (sorted keys, one record per line) and returns the records. */
export async function runSample(o: SampleOptions): Promise<ArchRecord[]> {
  checkSpace(o.space);
  const given = [o.n !== undefined, o.from !== undefined, !!o.all].filter(Boolean).length;
  if (given !== 1) throw new UsageError("sample needs exactly one of --n N, --from FILE or --all");
  const records = o.all
    ? allArchs(o.space)
    : o.from !== undefined
    ? parseArchList(o.from, await readTextInput(o.from, "--from file"), o.space)
    : sampleArchs(o.n!, o.seed, o.replace, o.space);
  await writeFileAtomic(o.outPath, toJsonl(records));
  return records;
}
