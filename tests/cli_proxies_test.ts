// `score --proxy ntk,gennas,das,linear_regions` end to end (tiny batch, 2 GenNAS steps): a finite row per arch
// and proxy, the same bytes on a rerun from scratch, a bad task file named in one error line, --deny-net.
import { testGpu } from "./_helpers.ts";

const gpu = await testGpu();
const root = new URL("..", import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--deny-net", `${root}mod.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

Deno.test({
  name: "score --proxy ntk,gennas,das,linear_regions: finite rows, byte-identical reruns, clear task errors",
  ignore: gpu === null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "untrained-proxies-" });
    await Deno.writeTextFile(
      `${dir}/archs.jsonl`,
      '{"arch_str":"|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|","index":3160,"space":"nb201"}\n',
    );
    const args = (out: string) => [
      "score",
      "--in",
      `${dir}/archs.jsonl`,
      "--proxy",
      "ntk,gennas,das,linear_regions",
      "--batch",
      "3",
      "--gennas-iters",
      "2",
      "--quiet",
      "--out",
      out,
    ];
    for (const out of ["a.csv", "b.csv"]) {
      const r = await run(args(`${dir}/${out}`));
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const a = await Deno.readTextFile(`${dir}/a.csv`);
    if (a !== await Deno.readTextFile(`${dir}/b.csv`)) throw new Error("a rerun changed the bytes");
    const rows = a.trimEnd().split("\n").slice(1).map((l) => l.split(","));
    if (rows.map((r) => r[2]).join() !== "ntk,gennas,das,linear_regions") throw new Error(`rows: ${a}`);
    for (const r of rows) {
      if (!Number.isFinite(Number(r[6]))) throw new Error(`${r[2]} score ${r[6]}`);
    }
    if (!(Number(rows[0]![6]) <= -1)) throw new Error(`ntk is minus a condition number >= 1: ${rows[0]![6]}`);
    if (Number(rows[3]![6]) !== 3) throw new Error(`3 distinct images, 3 regions: ${rows[3]![6]}`);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    if (manifest.stages.score.params.gennas_iters !== 2) throw new Error("manifest lacks gennas_iters");

    await Deno.writeTextFile(
      `${dir}/task.json`,
      '{"channels":[8,8,8],"noise":{"type":"uniform","level":0.1},"stages":[[{"type":"sinx","level":1}],[],[]]}',
    );
    const bad = await run([...args(`${dir}/c.csv`), "--gennas-task", `${dir}/task.json`]);
    if (bad.code !== 2 || !bad.stderr.includes(`${dir}/task.json: stages[0][0].type`)) {
      throw new Error(`bad task: code ${bad.code}: ${bad.stderr}`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});
