/**
 * The main job: sample -> build -> score -> rank -> evaluate in one run folder, with one manifest. With no
 * flags it scores 10 random NB201 architectures on a synthetic CIFAR-10-shaped minibatch.
 * @module
 */

import { UsageError } from "./_errors.ts";
import { writeManifest } from "./_io.ts";
import { runBuild } from "./build.ts";
import { formatEvalSummary, readBenchTable, runEvaluate } from "./evaluate.ts";
import { runRank } from "./rank.ts";
import { runSample } from "./sample.ts";
import { runScore } from "./score.ts";
import type { ReluCount } from "../spaces/plan.ts";
import { VERSION } from "./version.ts";

/** Options of the search command. */
export interface SearchOptions {
  out: string;
  space: string;
  n?: number;
  from?: string;
  replace?: boolean;
  seed: number;
  proxy: string;
  dataset: string;
  data: string;
  batch: number;
  reluCount: ReluCount;
  bench?: string;
  metric: string;
  quiet?: boolean;
  command: string[];
}

/** What search chose. */
export interface SearchResult {
  index: number;
  arch_str: string;
  score: number;
  accuracy?: number | null;
  summary: string;
}

/** The run folder used when `--out` is not given (created with its parents). */
export const DEFAULT_SEARCH_OUT = "runs/search";

/** Runs every stage into `o.out` (created if its parent exists; the default folder always is). */
export async function runSearch(o: SearchOptions): Promise<SearchResult> {
  if (o.proxy.includes(",")) {
    throw new UsageError(
      `--proxy ${o.proxy}: search ranks by one proxy (score several with 'score --proxy a,b')`,
    );
  }
  const parent = o.out.includes("/") ? o.out.slice(0, o.out.lastIndexOf("/")) || "/" : ".";
  if (o.out === DEFAULT_SEARCH_OUT) await Deno.mkdir(parent, { recursive: true });
  try {
    await Deno.stat(parent);
  } catch {
    throw new UsageError(`--out ${o.out}: parent folder ${parent} does not exist`);
  }
  await Deno.mkdir(o.out, { recursive: true });
  if (o.bench) await readBenchTable(o.bench); // fail early on a bad table
  const p = (name: string) => `${o.out}/${name}`;
  const n = o.from === undefined ? o.n ?? 10 : undefined;
  await runSample({
    space: o.space,
    n,
    seed: o.seed,
    replace: o.replace,
    from: o.from,
    outPath: p("archs.jsonl"),
  });
  await runBuild({ inPath: p("archs.jsonl"), outPath: p("plans.jsonl"), dataset: o.dataset });
  const { device } = await runScore({
    inPath: p("plans.jsonl"),
    outPath: p("scores.csv"),
    proxy: o.proxy,
    dataset: o.dataset,
    data: o.data,
    batch: o.batch,
    seed: o.seed,
    reluCount: o.reluCount,
    quiet: o.quiet,
  });
  const ranked = await runRank({ inPath: p("scores.csv"), outPath: p("ranked.csv") });
  const top = ranked[0]!;
  const result: SearchResult = { index: top.index, arch_str: top.arch_str, score: top.score, summary: "" };
  const inputs = [o.from, o.data === "synthetic" ? undefined : o.data, o.bench].filter((x): x is string =>
    !!x
  );
  if (o.bench) {
    const report = await runEvaluate({
      inPath: p("ranked.csv"),
      benchPath: o.bench,
      metric: o.metric,
      outPath: p("eval.json"),
    });
    const g = report.groups[0]!;
    result.accuracy = g.top_arch?.accuracy ?? null;
    result.summary = formatEvalSummary(report.groups);
  }
  await writeManifest(o.out, {
    command: o.command,
    stage: "search",
    versions: { untrained: VERSION, deno: Deno.version.deno },
    seeds: { sample: o.seed, minibatch: o.seed, init: o.seed },
    inputs: inputs.map((path) => ({ path })),
    params: {
      space: o.space,
      n: n ?? null,
      replace: !!o.replace,
      proxy: o.proxy,
      dataset: o.dataset,
      data: o.data,
      batch: o.batch,
      relu_count: o.reluCount,
      metric: o.bench ? o.metric : null,
      device,
    },
  });
  return result;
}
