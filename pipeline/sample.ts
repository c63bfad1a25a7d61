/**
 * Stage 1, sample: which architectures to score. Pure core `sampleArchs` (seeded uniform sampling, or an
 * explicit list of arch strings / benchmark indices) and the file shell `runSample` writing archs.jsonl.
 * @module
 */

import {
  ArchParseError,
  archToIndex,
  formatArch,
  indexToArch,
  NB201_SIZE,
  parseArchOrIndex,
  sampleIndices,
} from "../spaces/nb201.ts";
import { UsageError } from "./_errors.ts";
import { readTextInput, toJsonl, writeFileAtomic } from "./_io.ts";

/** One line of archs.jsonl. */
export interface ArchRecord {
  space: string;
  /** Benchmark index (NB201 official order). */
  index: number;
  arch_str: string;
}

/** Search spaces the pipeline knows. */
export const SPACES = ["nb201"] as const;

/** Checks a `--space` value. */
export function checkSpace(space: string): void {
  if (!(SPACES as readonly string[]).includes(space)) {
    throw new UsageError(`--space: unknown search space "${space}"; known: ${SPACES.join(", ")}`);
  }
}

/** Draws n architectures uniformly (without replacement unless `replace`), in draw order. */
export function sampleArchs(n: number, seed: number, replace = false): ArchRecord[] {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--n must be a positive integer, got ${n}`);
  if (!replace && n > NB201_SIZE) {
    throw new UsageError(
      `--n ${n} exceeds the ${NB201_SIZE} NB201 architectures; add --replace to draw with replacement`,
    );
  }
  return sampleIndices(n, seed, { replace }).map((index) => ({
    space: "nb201",
    index,
    arch_str: formatArch(indexToArch(index)),
  }));
}

/** Every NB201 architecture, in benchmark index order (0 .. 15,624). */
export function allArchs(): ArchRecord[] {
  return Array.from({ length: NB201_SIZE }, (_, index) => ({
    space: "nb201",
    index,
    arch_str: formatArch(indexToArch(index)),
  }));
}

/** Parses a `--from` file: one arch string or benchmark index per line; blank lines and `#` comments skipped. */
export function parseArchList(path: string, text: string): ArchRecord[] {
  const out: ArchRecord[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    try {
      const arch = parseArchOrIndex(line);
      out.push({ space: "nb201", index: archToIndex(arch), arch_str: formatArch(arch) });
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
    ? allArchs()
    : o.from !== undefined
    ? parseArchList(o.from, await readTextInput(o.from, "--from file"))
    : sampleArchs(o.n!, o.seed, o.replace);
  await writeFileAtomic(o.outPath, toJsonl(records));
  return records;
}
