/**
 * The command line: `deno run --allow-read --allow-write mod.ts <command> [flags]`. Each command is one
 * stage (or all of them, `search`); bad input prints one `error:` line naming the file, line or flag and
 * exits with code 2, leaving no partial output file behind.
 * @module
 */

import { parseArgs } from "node:util";
import { Gpu, GpuKernelError, NoAdapterError } from "../shaders/gpu.ts";
import { DatasetError } from "../datasets/types.ts";
import { ArchParseError } from "../spaces/nb201.ts";
import { DataError, UsageError } from "./_errors.ts";
import { checkTargetSpec, type TargetSpec } from "../proxies/gennas_targets.ts";
import { writeManifest } from "./_io.ts";
import { runBuild } from "./build.ts";
import { formatEvalSummary, runEvaluate } from "./evaluate.ts";
import { runRank } from "./rank.ts";
import { runSample } from "./sample.ts";
import { parseShard, runMerge, runScore } from "./score.ts";
import { DEFAULT_SEARCH_OUT, runSearch } from "./search.ts";
import { type Algo, runProtocol } from "./search_protocol.ts";
import { VERSION } from "./version.ts";
import type { ReluCount } from "../spaces/plan.ts";

const MAIN_HELP = `untrained ${VERSION}: training-free neural architecture search on WebGPU

usage: deno run --allow-read --allow-write mod.ts <command> [flags]

commands (the pipeline, in order):
  sample    choose architectures            -> archs.jsonl
  build     lower them into network plans   -> plans.jsonl
  score     score each on one minibatch     -> scores.csv   (resumable, shardable)
  rank      order them by score             -> ranked.csv
  evaluate  compare with benchmark accuracy -> eval.json
  search    all of the above into one folder (the main job)
  report    figures and tables of results   -> report.html, report.md, figures/*.svg
  merge     join shard score files in order -> scores.csv
  device    print the WebGPU adapter and its limits

Run 'mod.ts <command> --help' for its flags. Example:
  deno run --allow-read --allow-write mod.ts search --n 100 --dataset cifar10 \\
    --data ../shared/data/cifar10/cifar10_test_eembc200.bin \\
    --bench ../shared/data/nasbench201/nb201_tss_accuracies.csv --out runs/c10
`;

const HELP: Record<string, string> = {
  sample:
    `usage: mod.ts sample --space NAME (--n N --seed S [--replace] | --from FILE | --all) --out archs.jsonl

  --space NAME      search space: nb201 (NAS-Bench-201 topology space, 15,625 cells, arch strings
                    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|), nats-sss (NATS-Bench size space: NB201 cell 9930
                    with 5 widths in 8,16,...,64, 32,768 networks, arch strings c0:c1:c2:c3:c4, e.g.
                    8:16:32:48:64), nb101 / nb101-stem16 (NAS-Bench-101 cells <adjacency bits>:<ops;...> in
                    the stem-128 benchmark network / the stem-16 one of the NASWOT repository) or darts
                    (DARTS genotypes on NASLib's NAS-Bench-301 network); see the README's Search spaces
  --n N             draw N architectures uniformly at random (without replacement unless --replace)
  --seed S          seed of the draw (default 0)
  --replace         draw with replacement (the NASWOT random-search protocol)
  --from FILE       one arch string or benchmark index per line (# comments allowed); for nb101 and darts
                    also a benchmark CSV in NASLib's layout (index = row number)
  --all             every architecture of the space, in benchmark index order (15,625 for nb201)
  --out FILE        output JSONL: {"arch_str", "index", "space"} per line
`,
  build: `usage: mod.ts build --in archs.jsonl --out plans.jsonl [--dataset cifar10]

  --in FILE         archs.jsonl from sample
  --dataset NAME    cifar10 (3x32x32, 10 classes; default), cifar100, imagenet16 (3x16x16, 120 classes)
  --detail          also write each plan's layer_list (name, type, shapes, params, macs) and tensor_list
                    (the tensors computed, their terms and how many ReLUs read each)
  --out FILE        output JSONL: per arch params, macs (per image), layers, tensors, relu_units
`,
  score: `usage: mod.ts score --in plans.jsonl --proxy naswot --dataset cifar10 --data PATH|synthetic
                    --batch 128 --seed S --out scores.csv [--relu-count paper|wrapper] [--shard i/n]

  --in FILE         plans.jsonl (or archs.jsonl)
  --proxy NAME      naswot (log|det K| of the Hamming kernel of binary ReLU codes; Mellor et al. 2021), or a
                    gradient proxy (Abdelfattah et al. 2021; one forward + backward on the GPU, the network with
                    the dataset's classes, labels from the data file): grad_norm, snip, fisher (cross-entropy),
                    jacob_cov (NASWOT v1), synflow (log; abs weights, no BN, one all-ones image), grasp
                    (-W * Hessian-gradient product; two more passes, with the ReLU masks frozen).
                    From NASWOT's forward pass: das (NASWOT decoupled: score log|det(K/N_A)|, n_units N_A;
                    recombine with rank --ensemble das@w), linear_regions (distinct activation patterns
                    among the batch's images; TE-NAS's expressivity).
                    ntk: minus the condition number of the empirical NTK (TE-NAS's trainability), mean of 3
                    inits; costs one backward pass per image, so use a small batch (e.g. --batch 16).
                    gennas: minus the loss after 100 SGD steps of regression onto synthetic targets, trained
                    on the GPU (Li et al. 2021; --batch 16 as the paper; 16x16 images are upsampled).
                    Several, comma-separated (--proxy grad_norm,snip,fisher): one row per arch and proxy;
                    naswot, das and linear_regions share one forward pass, grad_norm, snip, fisher and
                    grasp one forward + backward pass
  --dataset NAME    cifar10 | cifar100 | imagenet16: input shape and normalisation (default cifar10)
  --data PATH       a CIFAR binary file (data_batch_*.bin, test_batch.bin, train.bin, test.bin), a folder
                    holding them, the official cifar-*-binary.tar.gz, or "synthetic" (seeded Gaussian
                    images; the default); for imagenet16 an official pickle (val_data,
                    train_data_batch_N; the ImageNet16-120 subset is kept) or a folder of them
  --split NAME      test (default) or train, for folders and archives
  --batch B         minibatch size, shared by all candidates (default 128)
  --seed S          seed of the minibatch choice and of every candidate's initialisation (default 0)
  --relu-count M    paper (each ReLU once; default) or wrapper (conv-block ReLUs twice, as the authors' code)
  --gennas-task F   GenNAS task file (JSON: head channels, input noise, target parts per stage); default:
                    the paper's "combo" task (see proxies/gennas_targets.ts for the format)
  --gennas-iters N  GenNAS training steps (default 100, as the paper)
  --shard i/n       score only the i-th of n contiguous slices; 'merge' joins the shards in order
  --quiet           no progress on stderr
  --out FILE        output CSV: index,arch_str,proxy,dataset,batch,seed,score,n_units
                    (rows are kept in FILE.partial while running: rerun the same command to resume)
`,
  rank: `usage: mod.ts rank --in scores.csv [--in more.csv ...] [--ensemble SPEC ...] --out ranked.csv

  Orders each (proxy, dataset, batch, seed) group by score, highest first, -inf last, ties by index;
  adds rank (1..n) and rank_avg (ties share their mean rank).
  --in FILE         score files (repeatable; e.g. one per proxy), read in order
  --ensemble SPEC   add an ensemble as a proxy of its own (repeatable), over the archs every component scored:
                    a+b[+...]  rank average, e.g. naswot+synflow (score = minus the mean rank)
                    vote       pairwise majority of synflow, jacob_cov and snip (score = pairs won)
                    tenas      TE-NAS: rank average of ntk and linear_regions
                    das@w      DAS: log|det(K/N_A)| + w log N_A from das rows (w = batch size is NASWOT)
`,
  evaluate: `usage: mod.ts evaluate --in ranked.csv --bench TABLE.csv --metric COLUMN --out eval.json

  --bench FILE      benchmark table: CSV with index, arch_str and accuracy columns, e.g.
                    ../shared/data/nasbench201/nb201_tss_accuracies.csv
  --metric COLUMN   accuracy column (default cifar10valid_valid_200). NB201 keys: cifar10valid_* = trained
                    on 25k training images (valid = the other 25k, test = the test set); cifar10_test_* =
                    trained on all 50k, test accuracy; *_200 / *_12 = 200 / 12 training epochs
  --topk LIST       top-k% retrieval percentages (default 1,5,10)
  Writes Kendall tau-b, Spearman rho (ties handled), top-k% retrieval, the top-ranked arch's accuracy.
`,
  search: `usage: mod.ts search [flags]   (all stages into one folder; no flags = the embedded default)
       mod.ts search --algo random|rea|area|rea-proxy --runs R --bench TABLE [flags]   (search protocols)

  --out DIR         run folder (default runs/search): archs.jsonl plans.jsonl scores.csv ranked.csv
                    [eval.json] manifest.json metrics.jsonl
  --n N / --from FILE / --replace / --space     as in 'sample' (default --n 10)
  --proxy / --dataset / --data / --batch / --seed / --relu-count / --quiet   as in 'score'
                    (default: naswot on a synthetic cifar10-shaped batch of 128, seed 0)
  --bench FILE --metric COLUMN   evaluate against a benchmark table and print the chosen arch's accuracy

Search protocols (ALGORITHMS.md section 5), R seeded runs each, judged by the benchmark table (spaces with a
benchmark index order: nb201, nats-sss with a NATS-Bench size-space table; --space as in 'sample'):
  --algo random     random search: N archs uniformly WITH replacement, the best proxy score wins (--n, default 100)
  --algo rea        regularized evolution, fitness = --fitness column (12-epoch validation accuracy), each
                    evaluation costs its simulated training time, until --budget seconds are spent
  --algo area       REA whose population is the best --population of --candidates archs by proxy score
  --algo rea-proxy  REA with the proxy score as fitness (no training), --budget-evals evaluations
  --runs R          number of runs (default 1); run r draws from (--seed, r) only
  --metric COLUMN   accuracy reported for the chosen arch (default cifar10_test_200); every numeric column
                    of the table is written to runs.csv and summarised in summary.json
  --fitness COLUMN  REA/AREA fitness (default cifar10valid_valid_12)
  --cost-column C   simulated training seconds per arch; without it: 12 epochs * 9.14 s * (0.5 + 0.5 *
                    macs / mean macs), 9.14 s being NB201's mean cifar10-valid epoch time
  --population P / --sample-size S   REA population and tournament size (default 10 / 3)
  --budget SECONDS  REA/AREA simulated time budget (default 12000)
  --budget-evals N  rea-proxy evaluations, the initial population included (default 100)
  --candidates N    AREA: archs scored to seed the population (default 20)
  --scores FILE     score table(s) to reuse (rows of other proxies, datasets, batches or seeds are skipped);
                    only archs found in none of them, nor in DIR/scores.csv, are scored on the GPU
  Writes DIR/runs.csv, DIR/summary.json, DIR/trajectory.csv (evolution: steps of the best-so-far), DIR/scores.csv (the archs scored),
  manifest.json and metrics.jsonl (wall-clock seconds per run).
`,
  report:
    `usage: mod.ts report --out DIR [--scores FILE --bench TABLE [--metric COLUMN] [--data PATH|synthetic]]
                        [--search DIR ...]

  Writes DIR/report.html (self-contained: inline SVG), DIR/report.md and DIR/figures/*.svg, drawn with
  Vega-Lite (headless, no browser):
  --scores FILE     a scores.csv or ranked.csv: score against accuracy (--metric column of --bench, default
                    cifar10valid_valid_200), titled with Kendall tau
  --data PATH       the images the scores were computed on ("synthetic" for a synthetic run): adds the NASWOT
                    kernels K / N_A of the lowest-, median- and highest-accuracy archs, recomputed on the GPU
                    with the scores' batch size and seed (--kernel-images M: the first M images, default 32)
  --search DIR      a 'search --algo' folder (repeatable): random search accuracy against N, evolution
                    trajectories against simulated time, and a table of every protocol's mean +- std
`,
  merge: `usage: mod.ts merge --in shard0.csv --in shard1.csv ... --out scores.csv

  Concatenates shard score files in the order given (the order of i in --shard i/n); the result is byte
  for byte the file one unsharded run writes.
`,
  device: `usage: mod.ts device

  Prints the WebGPU adapter Deno finds and its limits. Force a backend with DENO_WEBGPU_BACKEND=vulkan|gl.
`,
};

const FLAGS = {
  space: { type: "string" },
  n: { type: "string" },
  seed: { type: "string" },
  replace: { type: "boolean" },
  all: { type: "boolean" },
  from: { type: "string" },
  in: { type: "string", multiple: true },
  out: { type: "string" },
  dataset: { type: "string" },
  data: { type: "string" },
  split: { type: "string" },
  proxy: { type: "string" },
  batch: { type: "string" },
  "relu-count": { type: "string" },
  "gennas-task": { type: "string" },
  "gennas-iters": { type: "string" },
  shard: { type: "string" },
  bench: { type: "string" },
  metric: { type: "string" },
  topk: { type: "string" },
  quiet: { type: "boolean" },
  detail: { type: "boolean" },
  algo: { type: "string" },
  runs: { type: "string" },
  fitness: { type: "string" },
  "cost-column": { type: "string" },
  population: { type: "string" },
  "sample-size": { type: "string" },
  budget: { type: "string" },
  "budget-evals": { type: "string" },
  candidates: { type: "string" },
  scores: { type: "string", multiple: true },
  search: { type: "string", multiple: true },
  ensemble: { type: "string", multiple: true },
  "kernel-images": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Flags of `search` that only the search protocols (`--algo`, `--runs`) read. */
const PROTOCOL_FLAGS = [
  "algo",
  "runs",
  "fitness",
  "cost-column",
  "population",
  "sample-size",
  "budget",
  "budget-evals",
  "candidates",
  "scores",
] as const;

const ALLOWED: Record<string, string[]> = {
  sample: ["space", "n", "seed", "replace", "from", "all", "out"],
  build: ["in", "out", "dataset", "detail"],
  score: [
    "in",
    "out",
    "proxy",
    "dataset",
    "data",
    "split",
    "batch",
    "seed",
    "relu-count",
    "gennas-task",
    "gennas-iters",
    "shard",
    "quiet",
  ],
  rank: ["in", "out", "ensemble"],
  evaluate: ["in", "out", "bench", "metric", "topk"],
  search: [
    "out",
    "space",
    "n",
    "from",
    "replace",
    "seed",
    "proxy",
    "dataset",
    "data",
    "split",
    "batch",
    "relu-count",
    "bench",
    "metric",
    "quiet",
    ...PROTOCOL_FLAGS,
  ],
  merge: ["in", "out"],
  report: ["out", "scores", "bench", "metric", "search", "data", "kernel-images"],
  device: [],
};

type Values = {
  [K in keyof typeof FLAGS]?: (typeof FLAGS)[K] extends { multiple: true } ? string[]
    : (typeof FLAGS)[K] extends { type: "boolean" } ? boolean
    : string;
};

function int(v: string | undefined, flag: string, def?: number): number {
  if (v === undefined) {
    if (def === undefined) throw new UsageError(`--${flag} is required`);
    return def;
  }
  if (!/^-?\d+$/.test(v)) throw new UsageError(`--${flag}: expected an integer, got "${v}"`);
  return Number(v);
}

function num(v: string | undefined, flag: string, def: number): number {
  if (v === undefined) return def;
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x)) {
    throw new UsageError(`--${flag}: expected a number, got "${v}"`);
  }
  return x;
}

function need(v: string | undefined, flag: string): string {
  if (v === undefined || v === "") throw new UsageError(`--${flag} is required`);
  return v;
}

function one(v: string[] | undefined, flag: string): string {
  if (!v || v.length !== 1) throw new UsageError(`--${flag} is required once`);
  return v[0]!;
}

/** Reads and checks a GenNAS task file (JSON: channels, noise, stages; see proxies/gennas_targets.ts). */
async function readGennasTask(path: string): Promise<TargetSpec> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new UsageError(`--gennas-task ${path}: cannot read the file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DataError(`${path}: not JSON (${(e as Error).message})`);
  }
  try {
    return checkTargetSpec(json, path);
  } catch (e) {
    throw new DataError((e as Error).message);
  }
}

function reluCount(v: string | undefined): ReluCount {
  if (v === undefined || v === "paper" || v === "wrapper") return v ?? "paper";
  throw new UsageError(`--relu-count: expected paper or wrapper, got "${v}"`);
}

function dirOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
}

async function manifest(
  stage: string,
  out: string,
  argv: string[],
  inputs: (string | undefined)[],
  params: Record<string, unknown>,
  seeds: Record<string, number> = {},
) {
  await writeManifest(dirOf(out), {
    command: argv,
    stage,
    versions: { untrained: VERSION, deno: Deno.version.deno },
    seeds,
    inputs: inputs.filter((p): p is string => !!p && p !== "synthetic").map((path) => ({ path })),
    params,
  });
}

/** Runs one command line; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    console.log(MAIN_HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version") {
    console.log(VERSION);
    return 0;
  }
  try {
    if (!(command in ALLOWED)) throw new UsageError(`unknown command "${command}"; run 'mod.ts --help'`);
    let values: Values;
    try {
      ({ values } = parseArgs({ args: rest, options: FLAGS, strict: true, allowPositionals: false }) as {
        values: Values;
      });
    } catch (e) {
      throw new UsageError(`${command}: ${(e as Error).message}`);
    }
    if (values.help) {
      console.log(HELP[command]);
      return 0;
    }
    for (const k of Object.keys(values)) {
      if (k !== "help" && !ALLOWED[command]!.includes(k)) {
        throw new UsageError(`${command} does not take --${k}; see '${command} --help'`);
      }
    }
    const v = values;
    switch (command) {
      case "device": {
        const gpu = await Gpu.open();
        console.log(`adapter: ${gpu.describe()}`);
        for (const [k, val] of Object.entries(gpu.limits())) console.log(`  ${k}: ${val}`);
        gpu.dispose();
        return 0;
      }
      case "sample": {
        const out = need(v.out, "out");
        const seed = int(v.seed, "seed", 0);
        const n = v.n === undefined ? undefined : int(v.n, "n");
        const recs = await runSample({
          space: need(v.space, "space"),
          n,
          seed,
          replace: v.replace,
          from: v.from,
          all: v.all,
          outPath: out,
        });
        await manifest(
          "sample",
          out,
          argv,
          [v.from],
          { space: v.space, n: n ?? null, replace: !!v.replace, ...(v.all ? { all: true } : {}) },
          { sample: seed },
        );
        console.error(`sample: ${recs.length} architectures -> ${out}`);
        return 0;
      }
      case "build": {
        const out = need(v.out, "out");
        const inPath = one(v.in, "in");
        const plans = await runBuild({
          inPath,
          outPath: out,
          dataset: v.dataset ?? "cifar10",
          detail: v.detail,
        });
        await manifest("build", out, argv, [inPath], { dataset: v.dataset ?? "cifar10", detail: !!v.detail });
        console.error(`build: ${plans.length} plans -> ${out}`);
        return 0;
      }
      case "score": {
        const out = need(v.out, "out");
        const inPath = one(v.in, "in");
        const o = {
          inPath,
          outPath: out,
          proxy: v.proxy ?? "naswot",
          dataset: v.dataset ?? "cifar10",
          data: v.data ?? "synthetic",
          split: (v.split ?? "test") as "train" | "test",
          batch: int(v.batch, "batch", 128),
          seed: int(v.seed, "seed", 0),
          reluCount: reluCount(v["relu-count"]),
          shard: v.shard === undefined ? undefined : parseShard(v.shard),
          quiet: v.quiet,
          gennasTask: v["gennas-task"] === undefined ? undefined : await readGennasTask(v["gennas-task"]),
          gennasIters: int(v["gennas-iters"], "gennas-iters", 100),
        };
        if (o.split !== "train" && o.split !== "test") {
          throw new UsageError(`--split: expected train or test, got "${o.split}"`);
        }
        const { rows, device } = await runScore(o);
        await manifest("score" + (o.shard ? `.${o.shard.index}of${o.shard.count}` : ""), out, argv, [
          inPath,
          o.data,
          ...(v["gennas-task"] ? [v["gennas-task"]] : []),
        ], {
          proxy: o.proxy,
          dataset: o.dataset,
          data: o.data,
          split: o.split,
          batch: o.batch,
          relu_count: o.reluCount,
          ...(o.proxy.split(",").includes("gennas") ? { gennas_iters: o.gennasIters } : {}),
          shard: v.shard ?? null,
          device,
        }, { minibatch: o.seed, init: o.seed });
        console.error(`score: ${rows.length} rows -> ${out}`);
        return 0;
      }
      case "rank": {
        const out = need(v.out, "out");
        if (!v.in || v.in.length === 0) throw new UsageError("--in is required");
        const [inPath, ...morePaths] = v.in as [string, ...string[]];
        const rows = await runRank({ inPath, morePaths, ensembles: v.ensemble ?? [], outPath: out });
        await manifest("rank", out, argv, v.in, v.ensemble ? { ensembles: v.ensemble } : {});
        console.error(`rank: ${rows.length} rows -> ${out}`);
        return 0;
      }
      case "evaluate": {
        const out = need(v.out, "out");
        const inPath = one(v.in, "in");
        const topk = v.topk === undefined ? undefined : v.topk.split(",").map((s) => {
          const x = Number(s);
          if (!(x > 0 && x <= 100)) {
            throw new UsageError(`--topk: expected percentages in (0, 100], got "${s}"`);
          }
          return x;
        });
        const metric = v.metric ?? "cifar10valid_valid_200";
        const report = await runEvaluate({
          inPath,
          benchPath: need(v.bench, "bench"),
          metric,
          outPath: out,
          topk,
        });
        // One stage per report file: a folder may hold several (eval-<metric>.json), each with its command.
        const file = out.slice(out.lastIndexOf("/") + 1);
        const stage = file === "eval.json" ? "evaluate" : `evaluate.${file.replace(/\.json$/, "")}`;
        await manifest(stage, out, argv, [inPath, v.bench], { metric, topk: topk ?? null });
        console.log(formatEvalSummary(report.groups).trimEnd());
        return 0;
      }
      case "merge": {
        const out = need(v.out, "out");
        const rows = await runMerge(v.in ?? [], out);
        await manifest("merge", out, argv, v.in!, { shards: v.in!.length });
        console.error(`merge: ${rows} rows from ${v.in!.length} shards -> ${out}`);
        return 0;
      }
      case "report": {
        const { runReport } = await import("./report.ts");
        if ((v.scores?.length ?? 0) > 1) throw new UsageError("--scores: give one scores file to report");
        const files = await runReport({
          out: need(v.out, "out"),
          scores: v.scores?.[0],
          bench: v.bench,
          metric: v.metric ?? "cifar10valid_valid_200",
          searches: v.search ?? [],
          data: v.data,
          kernelImages: int(v["kernel-images"], "kernel-images", 32),
        });
        console.error(`report: ${files.join(", ")}`);
        return 0;
      }
      case "search": {
        if (v.algo !== undefined || v.runs !== undefined) {
          const protocolOnly = ["from", "replace", "split"] as const;
          for (const k of protocolOnly) {
            if (v[k] !== undefined) throw new UsageError(`--${k} does not apply to --algo/--runs`);
          }
          const r = await runProtocol({
            algo: (v.algo ?? "random") as Algo,
            space: v.space ?? "nb201",
            runs: int(v.runs, "runs", 1),
            out: v.out ?? DEFAULT_SEARCH_OUT,
            seed: int(v.seed, "seed", 0),
            bench: need(v.bench, "bench"),
            metric: v.metric ?? "cifar10_test_200",
            fitness: v.fitness ?? "cifar10valid_valid_12",
            costColumn: v["cost-column"],
            n: int(v.n, "n", 100),
            population: int(v.population, "population", 10),
            sample: int(v["sample-size"], "sample-size", 3),
            budgetSeconds: num(v.budget, "budget", 12000),
            budgetEvals: int(v["budget-evals"], "budget-evals", 100),
            candidates: int(v.candidates, "candidates", 20),
            proxy: v.proxy ?? "naswot",
            dataset: v.dataset ?? "cifar10",
            data: v.data ?? "synthetic",
            batch: int(v.batch, "batch", 128),
            reluCount: reluCount(v["relu-count"]),
            scores: v.scores ?? [],
            quiet: v.quiet,
            command: argv,
          });
          console.log(r.text);
          console.log(`files:  ${v.out ?? DEFAULT_SEARCH_OUT}/`);
          return 0;
        }
        for (const k of PROTOCOL_FLAGS) {
          if (k !== "algo" && k !== "runs" && v[k] !== undefined) {
            throw new UsageError(`--${k} needs --algo (a search protocol)`);
          }
        }
        const r = await runSearch({
          out: v.out ?? DEFAULT_SEARCH_OUT,
          space: v.space ?? "nb201",
          n: v.n === undefined ? undefined : int(v.n, "n"),
          from: v.from,
          replace: v.replace,
          seed: int(v.seed, "seed", 0),
          proxy: v.proxy ?? "naswot",
          dataset: v.dataset ?? "cifar10",
          data: v.data ?? "synthetic",
          batch: int(v.batch, "batch", 128),
          reluCount: reluCount(v["relu-count"]),
          bench: v.bench,
          metric: v.metric ?? "cifar10valid_valid_200",
          quiet: v.quiet,
          command: argv,
        });
        console.log(`chosen: #${r.index} ${r.arch_str}`);
        console.log(`score:  ${r.score}`);
        if (r.accuracy !== undefined) {
          console.log(`${v.metric ?? "cifar10valid_valid_200"}: ${r.accuracy ?? "n/a"}`);
        }
        if (r.summary) console.log(r.summary.trimEnd());
        console.log(`files:  ${v.out ?? DEFAULT_SEARCH_OUT}/`);
        return 0;
      }
    }
    return 2;
  } catch (e) {
    if (
      e instanceof UsageError || e instanceof NoAdapterError || e instanceof DatasetError ||
      e instanceof ArchParseError
    ) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    if (e instanceof GpuKernelError) {
      console.error(`error: GPU: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
