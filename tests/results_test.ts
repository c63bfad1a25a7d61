// Committed results are reproducible: rescoring 2-5 archs of a committed scores file (picked at random) with
// the command recorded in its manifest, on the device recorded there, gives the same rows byte for byte.
// Scores depend on the device's float32 rounding (through which near-zero activations are positive), so the
// test looks for a WebGPU backend whose adapter matches the manifest and skips, saying why, when none does.
import { sharedData, testGpu } from "./_helpers.ts";
import { Rng } from "../spaces/rng.ts";

const gpu = await testGpu();
const root = new URL("..", import.meta.url).pathname;
/** DENO_WEBGPU_BACKEND values to try, and the adapter each gives here ("" = Deno's default choice). */
async function adapters(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const backend of ["", "vulkan", "gl"]) {
    const env: Record<string, string> = backend ? { DENO_WEBGPU_BACKEND: backend } : {};
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", `${root}mod.ts`, "device"],
      env,
      stdout: "piped",
      stderr: "null",
    }).output();
    const line = new TextDecoder().decode(r.stdout).split("\n")[0] ?? "";
    if (r.code === 0 && line.startsWith("adapter: ")) out.set(backend, line.slice("adapter: ".length));
  }
  return out;
}
const found = gpu === null ? new Map<string, string>() : await adapters();

/**
 * The score stage of a result folder: its own, or for a table merged from shards, the stage that wrote the
 * first shard, without its `--shard` (so it scores the picked archs whatever slice they came from).
 */
async function scoreStage(
  dir: string,
): Promise<{ command: string[]; params: Record<string, unknown> } | null> {
  const stages = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)).stages;
  if (stages.score) return stages.score;
  const first: string | undefined = stages.merge?.inputs?.[0]?.path;
  if (first === undefined) return null;
  const shardDir = `${root}${first.slice(0, first.lastIndexOf("/"))}`;
  const shardStages = JSON.parse(await Deno.readTextFile(`${shardDir}/manifest.json`)).stages;
  const stage = Object.values(shardStages).find((st) =>
    // deno-lint-ignore no-explicit-any
    (st as any).command[(st as any).command.indexOf("--out") + 1] === first
  ) as { command: string[]; params: Record<string, unknown> } | undefined;
  if (!stage) return null;
  const at = stage.command.indexOf("--shard");
  return { ...stage, command: stage.command.filter((_, i) => i !== at && i !== at + 1) };
}

/**
 * Result folders, how many archs of each to rescore (fewer for the slow proxies) and, for a file of several
 * proxies, which of them to rescore (its command's proxies otherwise): grad_norm's forward and backward
 * passes cover every backward kernel at a fraction of the compile time of all six proxies.
 */
const RESULTS: [string, number, string?][] = [
  ["results/nb201/cifar10/naswot-all", 5],
  ["results/nb201/cifar10/naswot-1000", 5],
  ["results/nb201/cifar10/naswot-naslib725", 5],
  ["results/nb101/cifar10/naswot-500", 5],
  ["results/darts/cifar10/naswot-naslib20", 5],
  ["results/darts/cifar10/naswot-725", 5],
  // The backward kernels' bits: every gradient proxy (one command), ntk, and synflow through NB101's max pools.
  ["results/nb201/cifar10/proxies-1000", 1, "grad_norm"],
  ["results/nb201/cifar10/ntk-1000", 1],
  ["results/nb101/cifar10/synflow-500-stem16", 2],
  // GenNAS's training loop (100 SGD steps on the GPU) on one NB101 cell, about a minute here.
  ["results/nb101/cifar10/gennas-500", 1],
  // And on one NB201 arch of the 1,000 (40 merged shards), about a minute here.
  ["results/nb201/cifar10/gennas-1000", 1],
];

for (const [rel, count, only] of RESULTS) {
  const dir = `${root}${rel}`;
  const present = await Deno.stat(`${dir}/scores.csv`).then(() => true, () => false);
  const data = sharedData("cifar10/cifar10_test_eembc200.bin");
  const stage = present ? await scoreStage(dir) : null;
  const device = stage?.params.device ?? "";
  const backend = [...found].find(([, d]) => d === device)?.[0];
  if (present && backend === undefined) {
    console.warn(
      `skipped: ${rel} was scored on "${device}"; no WebGPU backend here gives that adapter (found: ${
        [...found.values()].join("; ") || "none"
      }). On Debian, Mesa's lavapipe (apt install mesa-vulkan-drivers) gives the llvmpipe Vulkan adapter.`,
    );
  }
  Deno.test({
    name: `rescoring ${count} archs of ${rel} reproduces their rows (every proxy's) byte for byte`,
    ignore: gpu === null || !present || data === null || (stage !== null && backend === undefined),
    async fn() {
      if (stage === null) {
        throw new Error(`${rel}/manifest.json has no score stage (nor a merge of scored shards)`);
      }
      const cmd = stage!.command;
      const lines = (await Deno.readTextFile(`${dir}/scores.csv`)).trimEnd().split("\n");
      const rows = lines.slice(1);
      const rng = new Rng(Date.now() % 1000);
      const picked = new Set(Array.from({ length: count }, () => rows[rng.int(rows.length)]!.split(",")[0]!));
      // Every row of a picked arch (one per proxy when the file has several).
      const pick = rows.filter((r) => picked.has(r.split(",")[0]!) && (!only || r.split(",")[2] === only));
      const tmp = await Deno.makeTempDir({ prefix: "untrained-rescore-" });
      // The picked rows' records in the space of the records the command scored (a merged folder has no
      // sample stage of its own), with their index and arch string.
      const scored = (await Deno.readTextFile(`${root}${cmd[cmd.indexOf("--in") + 1]}`)).split("\n", 1)[0]!;
      const space = JSON.parse(scored).space ?? "nb201";
      // (A scores file of several proxies has one row per arch and proxy: each arch is rescored once.)
      const archs = new Map(pick.map((r) => [r.split(",")[0]!, r.split(",")[1]!]));
      const records = [...archs].map(([index, arch_str]) =>
        JSON.stringify({ arch_str, index: Number(index), space })
      );
      await Deno.writeTextFile(`${tmp}/archs.jsonl`, records.join("\n") + "\n");
      const run = async (args: string[]) => {
        const r = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-read", "--allow-write", `${root}mod.ts`, ...args],
          cwd: root,
          env: backend ? { DENO_WEBGPU_BACKEND: backend } : {},
          stderr: "piped",
        }).output();
        if (r.code !== 0) throw new Error(`${args[0]} failed: ${new TextDecoder().decode(r.stderr)}`);
      };
      const args = [...cmd];
      args[args.indexOf("--in") + 1] = `${tmp}/archs.jsonl`;
      args[args.indexOf("--out") + 1] = `${tmp}/scores.csv`;
      if (only) args[args.indexOf("--proxy") + 1] = only;
      await run([...args, "--quiet"]);
      const got = (await Deno.readTextFile(`${tmp}/scores.csv`)).trimEnd().split("\n");
      if (got[0] !== lines[0]) throw new Error(`header ${got[0]} != ${lines[0]}`);
      // Rows by (index, proxy).
      const key = (row: string) => `${row.split(",")[0]},${row.split(",")[2]}`;
      const rescored = new Map(got.slice(1).map((row) => [key(row), row]));
      for (const row of pick) {
        if (rescored.get(key(row)) !== row) {
          throw new Error(`rescored row differs:\n  committed ${row}\n  rescored  ${rescored.get(key(row))}`);
        }
      }
      await Deno.remove(tmp, { recursive: true });
    },
  });
}

/** Runs a mod.ts command that needs no GPU from the repository root, without network access. */
async function runNoGpu(args: string[]): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--deny-net", `${root}mod.ts`, ...args],
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
}

// The committed search protocols need no GPU: rerunning the command in each manifest rewrites the same bytes.
// (Those that read the full-space table rescore nothing: every arch they draw has a row in it.)
const SEARCHES = ["rea", "rea-c100", "random-n100", "random-n1000-in16", "area", "rea-proxy-c100"];
for (const rel of SEARCHES.map((s) => `results/nb201/cifar10/search/${s}`)) {
  const bench = sharedData("nasbench201/nb201_tss_accuracies.csv");
  const present = await Deno.stat(`${root}${rel}/manifest.json`).then(() => true, () => false);
  Deno.test({
    name: `${rel} reproduces byte for byte from the command in its manifest`,
    ignore: bench === null || !present,
    async fn() {
      const stages = JSON.parse(await Deno.readTextFile(`${root}${rel}/manifest.json`)).stages;
      const key = Object.keys(stages).find((k) => k.startsWith("search."));
      if (key === undefined) throw new Error(`${rel}/manifest.json has no search stage`);
      const command: string[] = stages[key].command;
      const tmp = await Deno.makeTempDir({ prefix: "untrained-rea-" });
      const args = command.map((a, i) => (command[i - 1] === "--out" ? tmp : a));
      await runNoGpu(args);
      for (const f of ["runs.csv", "summary.json", "trajectory.csv"]) {
        // Random search keeps no trajectory.
        if (
          f === "trajectory.csv" && !(await Deno.stat(`${root}${rel}/${f}`).then(() => true, () => false))
        ) continue;
        const want = await Deno.readTextFile(`${root}${rel}/${f}`);
        const got = await Deno.readTextFile(`${tmp}/${f}`);
        if (got !== want) throw new Error(`${rel}/${f} differs when rerun`);
      }
      await Deno.remove(tmp, { recursive: true });
    },
  });
}

// The DAS sweep needs no GPU: rerunning its rank command rewrites the same ranked.csv.
{
  const rel = "results/nb201/cifar10/das-sweep-1000";
  Deno.test(`${rel} reproduces byte for byte from the rank command in its manifest`, async () => {
    const command: string[] = JSON.parse(await Deno.readTextFile(`${root}${rel}/manifest.json`)).stages.rank
      .command;
    const tmp = await Deno.makeTempDir({ prefix: "untrained-das-" });
    const args = command.map((a, i) => (command[i - 1] === "--out" ? `${tmp}/ranked.csv` : a));
    await runNoGpu(args);
    const want = await Deno.readTextFile(`${root}${rel}/ranked.csv`);
    if (await Deno.readTextFile(`${tmp}/ranked.csv`) !== want) throw new Error(`${rel}/ranked.csv differs`);
    await Deno.remove(tmp, { recursive: true });
  });
}
