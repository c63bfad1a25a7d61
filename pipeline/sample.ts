/**
 * Stage 1, sample: which architectures to score. Pure core `sampleArchs` (seeded uniform sampling, or an
 * explicit list of arch strings / benchmark indices) and the file shell `runSample` writing archs.jsonl.
 * @module
 */

import { getSpace, SPACES as SPACE_TABLE } from "../spaces/registry.ts";
import { ArchParseError, type SearchSpace } from "../spaces/space.ts";
// @ts-types="@types/papaparse"
import Papa from "papaparse";
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
  if (sp.size === null) {
    if (!sp.sampleArchs) throw new UsageError(`--n: the ${space} space cannot be sampled; use --from FILE`);
    return sp.sampleArchs(n, seed).map((arch_str) => ({ space, index: -1, arch_str }));
  }
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
  if (sp.size === null) {
    throw new UsageError(`--all: the ${space} space has no enumeration here; use --n N or --from FILE`);
  }
  return Array.from({ length: sp.size }, (_, index) => ({ space, index, arch_str: sp.archAt(index) }));
}

/**
 * Parses a `--from` file: one arch string or benchmark index per line, blank lines and `#` comments skipped;
 * or, for spaces that read a benchmark layout (`fromTable`), a CSV file in that layout (e.g. NB101's
 * `adjacency_rowmajor_7x7,ops,...`), each row's index being its 0-based row number in the file.
 */
export function parseArchList(path: string, text: string, space = "nb201"): ArchRecord[] {
  const sp = spaceOf(space);
  const first = text.split(/\r?\n/).find((l) => l.trim() !== "" && !l.trim().startsWith("#")) ?? "";
  if (sp.fromTable && first.includes(",")) return parseArchTable(path, text, sp);
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

function parseArchTable(path: string, text: string, sp: SearchSpace): ArchRecord[] {
  const parsed = Papa.parse<Record<string, string>>(text.trim(), { header: true, skipEmptyLines: true });
  if (parsed.errors.length > 0) {
    const e = parsed.errors[0]!;
    throw new UsageError(`${path}: row ${(e.row ?? 0) + 2}: ${e.message}`);
  }
  return parsed.data.map((row, i) => {
    let arch_str: string | null;
    try {
      arch_str = sp.fromTable!(row);
    } catch (e) {
      if (e instanceof ArchParseError) throw new UsageError(`${path}:${i + 2}: ${e.message}`);
      throw e;
    }
    if (arch_str === null) {
      throw new UsageError(
        `${path}: not a ${sp.name} table (columns ${
          parsed.meta.fields?.join(", ")
        }); expected one arch string ` +
          `per line or the benchmark's CSV layout`,
      );
    }
    return { space: sp.name, index: i, arch_str };
  });
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
