// The CLI end to end on a tiny fixture (4 archs, a synthetic batch of 8): every stage, rerun determinism,
// resume after a killed run, shards merged equal one run, bad input (exit 2, one message, no output file),
// and a whole run with --deny-net.
import { testGpu } from "./_helpers.ts";
import { formatArch, indexToArch } from "../spaces/nb201.ts";

const gpu = await testGpu();
const ignore = gpu === null;
const root = new URL("..", import.meta.url).pathname;
const ARCHS = [0, 9, 9930, 1651];
const FAST = ["--batch", "8", "--quiet"];

async function deno(
  args: string[],
  opts: { deny?: boolean } = {},
): Promise<{ code: number; out: string; err: string }> {
  const perms = [
    "--allow-read",
    "--allow-write",
    ...(opts.deny ? ["--deny-net", "--deny-env", "--deny-run"] : []),
  ];
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, `${root}mod.ts`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

async function fixture(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "untrained-cli-" });
  await Deno.writeTextFile(`${dir}/list.txt`, `# four archs\n${ARCHS.map(String).join("\n")}\n`);
  const rows = ARCHS.map((i, k) =>
    `${i},${formatArch(indexToArch(i))},${[80.5, 70.25, 91.0, 10.0][k]},${[60, 50, 70, 5][k]}`
  );
  await Deno.writeTextFile(`${dir}/bench.csv`, `index,arch_str,acc_a,acc_b\n${rows.join("\n")}\n`);
  // One arch as archs.jsonl and as a scores file, for the bad-input cases.
  const arch0 = formatArch(indexToArch(0));
  await Deno.writeTextFile(`${dir}/one.jsonl`, `{"arch_str":"${arch0}","index":0,"space":"nb201"}\n`);
  await Deno.writeTextFile(
    `${dir}/one.csv`,
    `index,arch_str,proxy,dataset,batch,seed,score,n_units\n0,${arch0},naswot,cifar10,8,0,1.5,10\n`,
  );
  return dir;
}

async function bytes(path: string): Promise<string> {
  return await Deno.readTextFile(path);
}

function expectOk(r: { code: number; err: string }, what: string) {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.err}`);
}

Deno.test({
  name: "search runs every stage with --deny-net and gives byte-identical files when rerun from scratch",
  ignore,
  async fn() {
    const dir = await fixture();
    const args = [
      "search",
      "--from",
      `${dir}/list.txt`,
      ...FAST,
      "--bench",
      `${dir}/bench.csv`,
      "--metric",
      "acc_a",
      "--out",
      `${dir}/run`,
    ];
    const r1 = await deno(args, { deny: true });
    expectOk(r1, "search");
    if (!/chosen: #\d+ \|/.test(r1.out) || !/acc_a: /.test(r1.out)) {
      throw new Error(`search output: ${r1.out}`);
    }
    const files = ["archs.jsonl", "plans.jsonl", "scores.csv", "ranked.csv", "eval.json", "manifest.json"];
    const first = await Promise.all(files.map((f) => bytes(`${dir}/run/${f}`)));
    // A fresh folder scores everything again; the files (and the manifest, but for its --out) are equal.
    const args2 = args.map((a) => (a === `${dir}/run` ? `${dir}/run2` : a));
    expectOk(await deno(args2, { deny: true }), "search in a new folder");
    const second = await Promise.all(files.map((f) => bytes(`${dir}/run2/${f}`)));
    files.forEach((f, i) => {
      const a = f === "manifest.json" ? first[i]!.replaceAll(`${dir}/run"`, `${dir}/run2"`) : first[i];
      if (a !== second[i]) throw new Error(`${f} differs between runs`);
    });
    // Rerunning into the same folder reuses the finished scores and rewrites identical files.
    expectOk(await deno(args, { deny: true }), "search again");
    const third = await Promise.all(files.map((f) => bytes(`${dir}/run/${f}`)));
    files.forEach((f, i) => {
      if (first[i] !== third[i]) throw new Error(`${f} differs after a rerun into the same folder`);
    });
    const scores = first[2]!.trim().split("\n");
    if (scores.length !== 5 || scores[0] !== "index,arch_str,proxy,dataset,batch,seed,score,n_units") {
      throw new Error(`scores.csv: ${first[2]}`);
    }
    if (!scores.slice(1).every((l) => /,naswot,synthetic-cifar10,8,0,(-?\d+\.\d{6}|-inf),\d+$/.test(l))) {
      throw new Error(`scores rows: ${scores.join("\n")}`);
    }
    if (/timestamp|seconds/.test(first.join(""))) throw new Error("timings leaked into result files");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "score says once, unless --quiet, that a software adapter compiles its kernels at first use",
  ignore,
  async fn() {
    const dir = await fixture();
    const run = (quiet: boolean, out: string) =>
      deno([
        "score",
        "--in",
        `${dir}/one.jsonl`,
        "--data",
        "synthetic",
        "--batch",
        "8",
        ...(quiet ? ["--quiet"] : []),
        "--out",
        `${dir}/${out}`,
      ]);
    const loud = await run(false, "loud.csv");
    expectOk(loud, "score");
    const quiet = await run(true, "quiet.csv");
    expectOk(quiet, "score --quiet");
    const note = "is a software (CPU) adapter";
    const said = loud.err.split("\n").filter((l) => l.includes(note)).length;
    const software = gpu!.softwareNote() !== null;
    if (said !== (software ? 1 : 0)) {
      throw new Error(`the note came ${said} times on ${gpu!.describe()}:\n${loud.err}`);
    }
    if (quiet.err.includes(note)) throw new Error(`--quiet printed the note:\n${quiet.err}`);
    if ((await bytes(`${dir}/loud.csv`)) !== (await bytes(`${dir}/quiet.csv`))) {
      throw new Error("--quiet changed the scores file");
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "stages run one by one, shards merged equal one run, and a killed score resumes to the same bytes",
  ignore,
  async fn() {
    const dir = await fixture();
    expectOk(
      await deno(["sample", "--space", "nb201", "--from", `${dir}/list.txt`, "--out", `${dir}/archs.jsonl`]),
      "sample",
    );
    expectOk(await deno(["build", "--in", `${dir}/archs.jsonl`, "--out", `${dir}/plans.jsonl`]), "build");
    const score = (out: string, extra: string[] = []) =>
      deno([
        "score",
        "--in",
        `${dir}/plans.jsonl`,
        "--proxy",
        "naswot",
        "--data",
        "synthetic",
        ...FAST,
        "--seed",
        "3",
        "--out",
        out,
        ...extra,
      ]);
    expectOk(await score(`${dir}/full.csv`), "score");
    const full = await bytes(`${dir}/full.csv`);
    expectOk(await score(`${dir}/s0.csv`, ["--shard", "0/3"]), "shard 0");
    expectOk(await score(`${dir}/s1.csv`, ["--shard", "1/3"]), "shard 1");
    expectOk(await score(`${dir}/s2.csv`, ["--shard", "2/3"]), "shard 2");
    expectOk(
      await deno([
        "merge",
        "--in",
        `${dir}/s0.csv`,
        "--in",
        `${dir}/s1.csv`,
        "--in",
        `${dir}/s2.csv`,
        "--out",
        `${dir}/merged.csv`,
      ]),
      "merge",
    );
    if ((await bytes(`${dir}/merged.csv`)) !== full) {
      throw new Error("merged shards differ from the unsharded run");
    }
    // A killed run leaves FILE.partial with some rows and maybe a torn last line; rerunning resumes.
    const lines = full.split("\n");
    await Deno.writeTextFile(
      `${dir}/resumed.csv.partial`,
      `${lines[0]}\n${lines[2]}\n${lines[3]!.slice(0, 20)}`,
    );
    const r = await score(`${dir}/resumed.csv`);
    expectOk(r, "resumed score");
    if ((await bytes(`${dir}/resumed.csv`)) !== full) {
      throw new Error("resumed run differs from the uninterrupted run");
    }
    try {
      await Deno.stat(`${dir}/resumed.csv.partial`);
      throw new Error("partial file left behind");
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    expectOk(await deno(["rank", "--in", `${dir}/full.csv`, "--out", `${dir}/ranked.csv`]), "rank");
    const ev = await deno([
      "evaluate",
      "--in",
      `${dir}/ranked.csv`,
      "--bench",
      `${dir}/bench.csv`,
      "--metric",
      "acc_b",
      "--out",
      `${dir}/eval.json`,
    ]);
    expectOk(ev, "evaluate");
    const report = JSON.parse(await bytes(`${dir}/eval.json`));
    if (report.groups[0].n !== 4 || typeof report.groups[0].kendall_tau_b !== "number") {
      throw new Error(JSON.stringify(report));
    }
    // A second report file in the same folder keeps its own stage (and command) beside the first.
    expectOk(
      await deno([
        "evaluate",
        "--in",
        `${dir}/ranked.csv`,
        "--bench",
        `${dir}/bench.csv`,
        "--metric",
        "acc_a",
        "--out",
        `${dir}/eval-acc_a.json`,
      ]),
      "second evaluate",
    );
    const manifest = JSON.parse(await bytes(`${dir}/manifest.json`));
    for (const s of ["sample", "build", "score", "rank", "evaluate", "evaluate.eval-acc_a"]) {
      if (!manifest.stages[s]) throw new Error(`manifest lacks stage ${s}`);
    }
    if (!manifest.stages["evaluate.eval-acc_a"].command.includes("acc_a")) throw new Error("stage command");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a killed score process resumes where it stopped and ends with the uninterrupted run's bytes",
  ignore,
  async fn() {
    const dir = await fixture();
    const args = [
      "run",
      "--allow-read",
      "--allow-write",
      `${root}mod.ts`,
      "search",
      "--from",
      `${dir}/list.txt`,
      ...FAST,
      "--out",
      `${dir}/a`,
    ];
    expectOk(await deno(args.slice(4)), "uninterrupted");
    const args2 = args.map((a) => (a === `${dir}/a` ? `${dir}/b` : a));
    const child = new Deno.Command(Deno.execPath(), {
      args: args2,
      cwd: root,
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Kill it once the first row has been written.
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const t = await Deno.readTextFile(`${dir}/b/scores.csv.partial`).catch(() => "");
      if (t.split("\n").length >= 3) break;
    }
    child.kill("SIGKILL");
    await child.status;
    expectOk(await deno(args2.slice(4)), "resumed");
    for (const f of ["scores.csv", "ranked.csv"]) {
      if ((await bytes(`${dir}/a/${f}`)) !== (await bytes(`${dir}/b/${f}`))) {
        throw new Error(`${f} differs after resume`);
      }
    }
    await Deno.remove(dir, { recursive: true });
  },
});

const BAD: [string, (dir: string) => string[] | Promise<string[]>, RegExp, string][] = [
  [
    "a malformed arch string",
    async (d) => {
      await Deno.writeTextFile(`${d}/bad.txt`, "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|conv~2|\n");
      return ["sample", "--space", "nb201", "--from", `${d}/bad.txt`, "--out", `${d}/out.jsonl`];
    },
    /bad\.txt:1: .*"conv"/,
    "out.jsonl",
  ],
  [
    "an unknown proxy",
    (d) => {
      return ["score", "--in", `${d}/one.jsonl`, "--proxy", "magic", "--out", `${d}/out.csv`];
    },
    /--proxy: unknown proxy "magic"/,
    "out.csv",
  ],
  [
    "an unknown metric",
    (d) => {
      return [
        "evaluate",
        "--in",
        `${d}/one.csv`,
        "--bench",
        `${d}/bench.csv`,
        "--metric",
        "nope",
        "--out",
        `${d}/out.json`,
      ];
    },
    /nope.*bench\.csv|bench\.csv.*nope/,
    "out.json",
  ],
  [
    "a table without the metric column",
    async (d) => {
      await Deno.writeTextFile(`${d}/t.csv`, `index,acc_a\n0,50\n`);
      return [
        "evaluate",
        "--in",
        `${d}/one.csv`,
        "--bench",
        `${d}/t.csv`,
        "--metric",
        "acc_a",
        "--out",
        `${d}/out.json`,
      ];
    },
    /t\.csv.*arch_str/,
    "out.json",
  ],
  [
    "a truncated image file",
    async (d) => {
      await Deno.writeFile(`${d}/img.bin`, new Uint8Array(3073 * 2 + 100));
      return [
        "score",
        "--in",
        `${d}/one.jsonl`,
        "--data",
        `${d}/img.bin`,
        "--batch",
        "2",
        "--out",
        `${d}/out.csv`,
      ];
    },
    /img\.bin.*offset 6146/,
    "out.csv",
  ],
  [
    "an --out in a missing folder",
    (d) => ["sample", "--space", "nb201", "--n", "3", "--out", `${d}/missing/archs.jsonl`],
    /missing/,
    "missing/archs.jsonl",
  ],
  [
    "the same shard twice to merge",
    (d) => ["merge", "--in", `${d}/one.csv`, "--in", `${d}/one.csv`, "--out", `${d}/out.csv`],
    /one\.csv:2: arch 0 \(naswot\) is already in .*one\.csv/,
    "out.csv",
  ],
  [
    "an unknown flag",
    (d) => ["rank", "--in", `${d}/x.csv`, "--out", `${d}/out.csv`, "--fast"],
    /fast/,
    "out.csv",
  ],
];

for (const [what, setup, pattern, output] of BAD) {
  Deno.test({
    name: `the CLI exits 2 with one clear message and no output file when given ${what}`,
    async fn() {
      const dir = await fixture();
      const r = await deno(await setup(dir));
      const errLines = r.err.split("\n").filter((l) => l.startsWith("error:"));
      if (r.code !== 2 || errLines.length !== 1 || !pattern.test(errLines[0]!)) {
        throw new Error(`exit ${r.code}, stderr: ${r.err}`);
      }
      if (/^\s+at /m.test(r.err)) throw new Error(`stack trace printed: ${r.err}`);
      for (const f of [output, `${output}.partial`]) {
        const exists = await Deno.stat(`${dir}/${f}`).then(() => true, () => false);
        if (exists) throw new Error(`${f} was left behind`);
      }
      await Deno.remove(dir, { recursive: true });
    },
  });
}

Deno.test("the CLI says how to get a WebGPU adapter and exits 2 when none exists", async () => {
  // Deno has no D3D12 backend on Linux or macOS, so forcing it leaves no adapter.
  if (Deno.build.os === "windows") return;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", `${root}mod.ts`, "device"],
    env: { DENO_WEBGPU_BACKEND: "dx12" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  if (
    r.code !== 2 || !/^error: no WebGPU adapter found.*mesa-vulkan-drivers/m.test(err) || /^\s+at /m.test(err)
  ) {
    throw new Error(`exit ${r.code}: ${err}`);
  }
});
