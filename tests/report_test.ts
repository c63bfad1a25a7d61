// The report: figure helpers, the files `report` writes, and a screenshot in headless Chromium (Debian's
// `chromium`) showing that every plot drew.
import { testGpu } from "./_helpers.ts";
import { decodePng } from "./_png.ts";
import { FIGURE_BOX } from "../pipeline/report.ts";
import { meanStepCurve, scatterSpec } from "../pipeline/report_figures.ts";
import { formatArch, indexToArch } from "../spaces/nb201.ts";

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

const root = new URL("..", import.meta.url).pathname;
const gpu = await testGpu();
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
if (!CHROMIUM) {
  console.warn("report_test: no /usr/bin/chromium (apt install chromium): screenshot test skipped");
}

Deno.test("meanStepCurve averages each run's last step at or before every grid time", () => {
  const runs = [
    [{ seconds: 0, value: 1 }, { seconds: 10, value: 3 }],
    [{ seconds: 5, value: 2 }],
  ];
  const got = meanStepCurve(runs, [0, 5, 10, 20]);
  const want = [{ seconds: 0, value: 1 }, { seconds: 5, value: 1.5 }, { seconds: 10, value: 2.5 }, {
    seconds: 20,
    value: 2.5,
  }];
  assert(JSON.stringify(got) === JSON.stringify(want), JSON.stringify(got));
});

Deno.test("scatterSpec draws finite scores only and says how many -inf it left out", () => {
  const spec = scatterSpec(
    [{ score: 1, accuracy: 50 }, { score: -Infinity, accuracy: 10 }, { score: 2, accuracy: 60 }],
    { proxy: "naswot", metric: "acc", tau: 1, excluded: 1 },
  );
  const data = spec.data as { values: unknown[] };
  assert(data.values.length === 2, "two points");
  assert(JSON.stringify(spec.title).includes("1 with score -inf"), JSON.stringify(spec.title));
});

const ARCHS = [0, 9, 9930, 1651, 6111, 857];

async function fixture(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "untrained-report-" });
  const scores = ["index,arch_str,proxy,dataset,batch,seed,score,n_units"];
  const bench = ["index,arch_str,acc_test_200,acc_valid_12"];
  ARCHS.forEach((i, k) => {
    const a = formatArch(indexToArch(i));
    scores.push(`${i},${a},naswot,synthetic-cifar10,8,0,${k === 3 ? "-inf" : (10 + k).toFixed(6)},100`);
    // DAS recombinations as rank writes them: a sweep over W draws the tau-against-W figure.
    for (const w of [0, 8, 64]) {
      scores.push(`${i},${a},das@${w},synthetic-cifar10,8,0,${(((k * 7) % 5) + w * k / 10).toFixed(6)},100`);
    }
    bench.push(`${i},${a},${(60 + 5 * k).toFixed(3)},${(50 + 4 * k).toFixed(3)}`);
  });
  await Deno.writeTextFile(`${dir}/scores.csv`, scores.join("\n") + "\n");
  await Deno.writeTextFile(`${dir}/bench.csv`, bench.join("\n") + "\n");
  for (const [name, n, mean] of [["rs10", 10, 91.5], ["rs100", 100, 92.5]] as const) {
    await Deno.mkdir(`${dir}/${name}`);
    await Deno.writeTextFile(
      `${dir}/${name}/summary.json`,
      JSON.stringify({
        params: { algo: "random", n, runs: 5, metric: "acc_test_200" },
        chosen: { acc_test_200: { mean, std: 1.2, n: 5 } },
      }),
    );
  }
  await Deno.mkdir(`${dir}/rea`);
  await Deno.writeTextFile(
    `${dir}/rea/summary.json`,
    JSON.stringify({
      params: { algo: "rea", runs: 2, metric: "acc_test_200" },
      chosen: { acc_test_200: { mean: 93.9, std: 0.3, n: 2 } },
    }),
  );
  await Deno.writeTextFile(
    `${dir}/rea/trajectory.csv`,
    "run,evaluated,sim_seconds,best_index,best_fitness,acc_test_200\n" +
      "0,1,100.000,5,80.000000,90.000000\n0,5,600.000,7,82.000000,93.000000\n0,9,1100.000,7,82.000000,93.000000\n" +
      "1,1,120.000,6,79.000000,89.000000\n1,9,1150.000,8,83.000000,94.000000\n",
  );
  return dir;
}

async function report(dir: string): Promise<{ code: number; err: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--deny-net",
      `${root}mod.ts`,
      "report",
      "--out",
      `${dir}/out`,
      "--scores",
      `${dir}/scores.csv`,
      "--bench",
      `${dir}/bench.csv`,
      "--metric",
      "acc_test_200",
      "--data",
      "synthetic",
      "--kernel-images",
      "8",
      "--search",
      `${dir}/rs10`,
      "--search",
      `${dir}/rs100`,
      "--search",
      `${dir}/rea`,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  });
  await Deno.mkdir(`${dir}/out`, { recursive: true });
  const r = await cmd.output();
  return { code: r.code, err: new TextDecoder().decode(r.stderr) };
}

const FIGURES = ["scatter", "kernels", "das", "search_n", "trajectories"];

Deno.test({
  name:
    "report writes report.html with every figure inline, report.md and figures/*.svg, the same bytes twice",
  ignore: gpu === null,
  async fn() {
    const dir = await fixture();
    const r = await report(dir);
    if (r.code !== 0) throw new Error(`report exited ${r.code}: ${r.err}`);
    const html = await Deno.readTextFile(`${dir}/out/report.html`);
    const md = await Deno.readTextFile(`${dir}/out/report.md`);
    for (const id of FIGURES) {
      const svg = await Deno.readTextFile(`${dir}/out/figures/${id}.svg`);
      assert(svg.startsWith("<svg") && svg.includes("<path") || svg.includes("<rect"), `${id}.svg has marks`);
      assert(html.includes(`id="${id}"`), `html has ${id}`);
      assert(md.includes(`figures/${id}.svg`), `md links ${id}`);
    }
    assert(!html.includes("<script"), "no scripts: the report is static");
    assert(md.includes("random N=10") && md.includes("93.90 +- 0.30"), "protocol table");
    assert(md.includes("| naswot | 6 |") && md.includes("tau / rho"), "proxy table");
    assert(
      /\| naswot \| 6 \|.*\| tau \.574 \/ \.611 \/ \.549 \(Mellor et al\. 2021\) \|/.test(md),
      "published tau",
    );
    const first = html;
    assert((await report(dir)).code === 0, "rerun");
    assert(first === await Deno.readTextFile(`${dir}/out/report.html`), "byte-identical on rerun");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "report.html renders in headless Chromium with every plot drawn (screenshot)",
  ignore: gpu === null || !CHROMIUM,
  async fn() {
    const dir = await fixture();
    const r = await report(dir);
    if (r.code !== 0) throw new Error(`report exited ${r.code}: ${r.err}`);
    const height = FIGURE_BOX.top + FIGURES.length * FIGURE_BOX.height + 200;
    const shot = `${dir}/shot.png`;
    const profile = await Deno.makeTempDir({ prefix: "untrained-chromium-" });
    const c = await new Deno.Command(CHROMIUM!, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        `--user-data-dir=${profile}`,
        `--window-size=1000,${height}`,
        `--screenshot=${shot}`,
        `file://${dir}/out/report.html`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!c.success) throw new Error(`chromium failed: ${new TextDecoder().decode(c.stderr)}`);
    const img = decodePng(await Deno.readFile(shot));
    assert(img.width === 1000 && img.height === height, `screenshot ${img.width}x${img.height}`);
    // Every figure box must hold coloured pixels (marks, not just axes and text, which are grey).
    FIGURES.forEach((id, k) => {
      const y0 = FIGURE_BOX.top + k * FIGURE_BOX.height;
      let coloured = 0;
      for (let y = y0; y < y0 + FIGURE_BOX.height; y++) {
        for (let x = 0; x < img.width; x++) {
          const i = (y * img.width + x) * 4;
          const r = img.rgba[i]!, g = img.rgba[i + 1]!, b = img.rgba[i + 2]!;
          if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
        }
      }
      assert(coloured > 100, `figure ${id} drew nothing coloured (${coloured} pixels)`);
    });
    // And the page's background between figures is white (the boxes are where the test expects them).
    const i = (FIGURE_BOX.top - 2) * img.width * 4 + 4 * 990;
    assert(img.rgba[i] === 255 && img.rgba[i + 1] === 255 && img.rgba[i + 2] === 255, "white margin");
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(profile, { recursive: true });
  },
});
