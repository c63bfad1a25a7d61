// `score --proxy a,b,...`: one row per (arch, proxy) in input order, the cross-entropy proxies sharing a pass,
// byte-identical on rerun and after resuming from a partial file.
import { testGpu } from "./_helpers.ts";
import { formatArch, indexToArch } from "../spaces/nb201.ts";

const gpu = await testGpu();
const root = new URL("..", import.meta.url).pathname;

async function score(dir: string, extra: string[] = []): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--deny-net",
      `${root}mod.ts`,
      "score",
      "--in",
      `${dir}/archs.jsonl`,
      "--proxy",
      "grad_norm,naswot,snip",
      "--dataset",
      "cifar10",
      "--data",
      "synthetic",
      "--batch",
      "4",
      "--quiet",
      "--out",
      `${dir}/scores.csv`,
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
}

Deno.test({
  name: "score --proxy grad_norm,naswot,snip writes a row per arch and proxy, the same bytes after a resume",
  ignore: gpu === null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "untrained-multi-" });
    const archs = [1651, 9];
    await Deno.writeTextFile(
      `${dir}/archs.jsonl`,
      archs.map((i) => JSON.stringify({ arch_str: formatArch(indexToArch(i)), index: i, space: "nb201" }))
        .join("\n") +
        "\n",
    );
    await score(dir);
    const full = await Deno.readTextFile(`${dir}/scores.csv`);
    const lines = full.trim().split("\n");
    const cells = lines.slice(1).map((l) => l.split(","));
    const order = cells.map((c) => `${c[0]}:${c[2]}`);
    const want = archs.flatMap((i) => ["grad_norm", "naswot", "snip"].map((p) => `${i}:${p}`));
    if (JSON.stringify(order) !== JSON.stringify(want)) throw new Error(`row order ${order}`);
    // Resume: keep the header and the first two rows as the partial file of a killed run.
    await Deno.remove(`${dir}/scores.csv`);
    await Deno.writeTextFile(`${dir}/scores.csv.partial`, lines.slice(0, 3).join("\n") + "\n");
    await score(dir);
    if (await Deno.readTextFile(`${dir}/scores.csv`) !== full) throw new Error("resumed run differs");
    await Deno.remove(dir, { recursive: true });
  },
});
