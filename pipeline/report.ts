/**
 * `report`: one self-contained `report.html` (inline SVG) and a `report.md` for git (with the same figures as
 * `figures/*.svg`), from result files: a scores table against a benchmark table (scatter with Kendall tau),
 * the NASWOT kernels of archs spread over the accuracy range (recomputed on the GPU from the same minibatch
 * and seed), random-search accuracy against N, and evolution trajectories. Figures are Vega-Lite specs
 * rendered headless by Vega; no browser is needed to write the report.
 * @module
 */

import * as vega from "vega";
import * as vl from "vega-lite";
import { Gpu } from "../shaders/gpu.ts";
import { formatArch, indexToArch, parseArch } from "../spaces/nb201.ts";
import { lowerNb201 } from "../spaces/nb201_network.ts";
import { naswot } from "../proxies/naswot.ts";
import { UsageError } from "./_errors.ts";
import { readCsv, readTextInput, writeFileAtomic } from "./_io.ts";
import { groupByRun, readScores, runLabel, type ScoreRow } from "./_schema.ts";
import { kendallTauB, spearmanRho } from "./_stats.ts";
import { datasetShape } from "./build.ts";
import { readBenchTable } from "./evaluate.ts";
import {
  type DasPoint,
  dasSweepSpec,
  type KernelPanel,
  kernelSpec,
  meanStepCurve,
  scatterSpec,
  type SearchPoint,
  searchVsNSpec,
  trajectorySpec,
  type VlSpec,
} from "./report_figures.ts";
import { loadScoringBatch } from "./score.ts";

/**
 * Published rank correlations on NB201 (ALGORITHMS.md sections 2 and 3), shown beside ours: NASWOT's Kendall tau
 * over ~1,000 random archs (Mellor et al. 2021), the zero-cost proxies' |Spearman| over all of NB201
 * (Abdelfattah et al. 2021).
 */
const PUBLISHED_PROXY: Record<string, string> = {
  naswot: "tau .574 / .611 / .549 (Mellor et al. 2021)",
  synflow: "rho .737 / .763 / .751 (Abdelfattah et al. 2021)",
  jacob_cov: "rho .731 / .704 / .701 (Abdelfattah et al. 2021)",
  snip: "rho .596 / .637 / .578 (Abdelfattah et al. 2021)",
  grad_norm: "rho .594 / .637 / .578 (Abdelfattah et al. 2021)",
  grasp: "rho .514 / .547 / .549 (Abdelfattah et al. 2021)",
  fisher: "rho .360 / .385 / .327 (Abdelfattah et al. 2021)",
};

/** NASWOT random search, test accuracy mean +- std over 500 runs, by N and metric (Mellor et al. 2021). */
const PUBLISHED_RANDOM: Record<number, Record<string, string>> = {
  10: {
    cifar10_test_200: "92.44 +- 1.13",
    cifar100_test_200: "68.62 +- 2.04",
    imagenet16_test_200: "41.31 +- 4.11",
  },
  100: {
    cifar10_test_200: "92.81 +- 0.99",
    cifar100_test_200: "69.48 +- 1.70",
    imagenet16_test_200: "43.10 +- 3.16",
  },
  1000: {
    cifar10_test_200: "92.96 +- 0.81",
    cifar100_test_200: "69.98 +- 1.22",
    imagenet16_test_200: "44.44 +- 2.10",
  },
};

/** Options of the report command. */
export interface ReportOptions {
  out: string;
  /** scores.csv or ranked.csv (one run). */
  scores?: string;
  bench?: string;
  metric: string;
  /** Search protocol folders (`search --algo ... --out DIR`). */
  searches: readonly string[];
  /** Images for the kernel figure ("synthetic" or a file); omitted: no kernel figure. */
  data?: string;
  /** Images of the kernel figure (the first ones of the minibatch). */
  kernelImages: number;
}

/** A rendered figure. */
interface Figure {
  id: string;
  title: string;
  caption: string;
  svg: string;
}

/** Renders a Vega-Lite spec to SVG text (headless, no browser). */
export async function renderSvg(spec: VlSpec): Promise<string> {
  // deno-lint-ignore no-explicit-any
  const compiled = vl.compile(spec as any).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function f(x: number, d = 2): string {
  return Number.isFinite(x) ? x.toFixed(d) : String(x);
}

function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Writes the report; returns the paths written. */
export async function runReport(o: ReportOptions): Promise<string[]> {
  try {
    if (!(await Deno.stat(o.out)).isDirectory) throw new Error();
  } catch {
    throw new UsageError(`--out ${o.out}: no such folder`);
  }
  if (o.scores && !o.bench) throw new UsageError("--scores needs --bench TABLE to compare with");
  if (!o.scores && o.searches.length === 0) {
    throw new UsageError("nothing to report: give --scores FILE --bench TABLE and/or --search DIR");
  }
  const figures: Figure[] = [];
  const tables: string[] = [];

  if (o.scores && o.bench) {
    const { rows } = await readScores(o.scores);
    const bench = await readBenchTable(o.bench);
    if (!bench.metrics.includes(o.metric)) {
      throw new UsageError(
        `${o.bench}: no column "${o.metric}" (--metric); columns: ${bench.metrics.join(", ")}`,
      );
    }
    const groups = groupByRun(rows);
    const main = groups.find((g) => g.key.proxy === "naswot") ?? groups[0]!;
    const withAcc = (metric: string, rs: readonly ScoreRow[]) =>
      rs.flatMap((r) => {
        const text = bench.rows.get(r.index)?.values[metric] ?? "";
        const accuracy = Number(text);
        return text.trim() === "" || !Number.isFinite(accuracy) ? [] : [{ ...r, accuracy }];
      });
    const pts = withAcc(o.metric, main.rows);
    if (pts.length < 2) throw new UsageError(`${o.scores}: fewer than 2 archs found in ${o.bench}`);
    const tau = kendallTauB(pts.map((p) => p.score), pts.map((p) => p.accuracy));
    const proxy = main.key.proxy;
    figures.push({
      id: "scatter",
      title: "Score against accuracy",
      caption: `${pts.length} archs of ${o.scores} (${
        runLabel(main.key)
      }); accuracy \`${o.metric}\` from ${o.bench}.`,
      svg: await renderSvg(
        scatterSpec(pts, {
          proxy,
          metric: o.metric,
          tau,
          excluded: pts.filter((p) => !Number.isFinite(p.score)).length,
        }),
      ),
    });
    // Every proxy (and ensemble) of the file against every accuracy the paper tables use.
    const metrics = [...new Set([o.metric, "cifar10_test_200", "cifar100_test_200", "imagenet16_test_200"])]
      .filter((m) => bench.metrics.includes(m));
    // DAS recombinations (das@W) sort by W among themselves; every other group keeps its place.
    const dasW = (p: string) => (p.startsWith("das@") ? Number(p.slice(4)) : NaN);
    const ordered = [...groups].sort((a, b) => {
      const wa = dasW(a.key.proxy), wb = dasW(b.key.proxy);
      return Number.isNaN(wa) || Number.isNaN(wb) ? 0 : wa - wb;
    });
    const dasPoints: DasPoint[] = [];
    const lines = ordered.map((g) => {
      const cells = metrics.map((m) => {
        const q = withAcc(m, g.rows);
        const x = q.map((p) => p.score);
        const y = q.map((p) => p.accuracy);
        if (q.length < 2) return "n/a";
        const t = kendallTauB(x, y);
        if (!Number.isNaN(dasW(g.key.proxy))) dasPoints.push({ w: dasW(g.key.proxy), metric: m, tau: t });
        return `${f(t, 3)} / ${f(spearmanRho(x, y), 3)}`;
      });
      return `| ${g.key.proxy} | ${g.rows.length} | ${g.key.dataset} | ${g.key.batch} | ${g.key.seed} | ${
        cells.join(" | ")
      } | ${PUBLISHED_PROXY[g.key.proxy] ?? ""} |`;
    });
    tables.push(
      `| proxy | archs | dataset | batch | seed | ${
        metrics.map((m) => `\`${m}\` tau / rho`).join(" | ")
      } | published (C10 / C100 / IN16) |\n` +
        `|${"---|".repeat(6 + metrics.length)}\n${lines.join("\n")}`,
    );
    if (o.data !== undefined && proxy === "naswot") {
      figures.push(await kernelFigure(pts, o));
    }
    if (new Set(dasPoints.map((p) => p.w)).size >= 2) {
      figures.push({
        id: "das",
        title: "DAS: Kendall tau against the weight W",
        caption: `log|det(K/N_A)| + W log N_A (\`rank --ensemble das@W\`), each W a proxy of ${o.scores}; ` +
          `W = batch size is NASWOT.`,
        svg: await renderSvg(dasSweepSpec(dasPoints)),
      });
    }
  }

  // Search protocols.
  const searchPoints: SearchPoint[] = [];
  const traj: { algo: string; seconds: number; accuracy: number }[] = [];
  const rowsMd: string[] = [];
  for (const dir of o.searches) {
    const summary = JSON.parse(await readTextInput(`${dir}/summary.json`, "search summary"));
    const params = summary.params ?? {};
    const algo = String(params.algo);
    const metric = String(params.metric);
    const chosen = summary.chosen ?? {};
    const cols = Object.keys(chosen).filter((k) => /_(test|valid)_200$/.test(k));
    const label = algo === "random"
      ? `random N=${params.n}`
      : algo === "rea" || algo === "area"
      ? `${algo}, fitness ${params.fitness}`
      : algo;
    const paper = algo === "random" ? PUBLISHED_RANDOM[Number(params.n)] ?? {} : {};
    rowsMd.push(
      `| ${label} | ${params.runs} | ${
        cols.map((c) => `${c}: ${f(chosen[c].mean)} +- ${f(chosen[c].std)}`).join("<br>")
      } | ${
        Object.entries(paper).map(([c, v]) => `${c}: ${v}`).join("<br>") +
        (Object.keys(paper).length > 0 ? "<br>(Mellor et al. 2021)" : "")
      } | ${dir} |`,
    );
    if (algo === "random") {
      // Every run records every accuracy column: plot the paper's three (and the run's own metric).
      for (const c of new Set([metric, ...Object.keys(PUBLISHED_RANDOM[10]!)])) {
        // (Folders that differ only in their headline metric hold the same runs: one point each.)
        if (chosen[c] && !searchPoints.some((p) => p.n === Number(params.n) && p.metric === c)) {
          searchPoints.push({ n: Number(params.n), mean: chosen[c].mean, std: chosen[c].std, metric: c });
        }
      }
    } else {
      let table;
      try {
        table = await readCsv(`${dir}/trajectory.csv`, ["run", "sim_seconds", metric]);
      } catch {
        continue;
      }
      const byRun = new Map<string, { seconds: number; value: number }[]>();
      for (const r of table.rows) {
        const list = byRun.get(r.run!) ?? [];
        list.push({ seconds: Number(r.sim_seconds), value: Number(r[metric]) });
        byRun.set(r.run!, list);
      }
      const runs = [...byRun.values()];
      const tmax = Math.max(...runs.flatMap((r) => r.map((s) => s.seconds)));
      const grid = Array.from({ length: 61 }, (_, k) => Math.round((tmax * k) / 60));
      const simulated = tmax > 0;
      for (const p of meanStepCurve(runs, simulated ? grid : [0])) {
        traj.push({
          algo: `${label}: ${metric}`,
          seconds: p.seconds,
          accuracy: Math.round(p.value * 1e4) / 1e4,
        });
      }
    }
  }
  if (searchPoints.length > 0) {
    searchPoints.sort((a, b) => a.n - b.n);
    figures.push({
      id: "search_n",
      title: "Random search against N",
      caption: "Accuracy of the arch with the best score among N uniform draws (with replacement).",
      svg: await renderSvg(searchVsNSpec(searchPoints)),
    });
  }
  if (traj.length > 0) {
    figures.push({
      id: "trajectories",
      title: "Evolution trajectories",
      caption: "Best-so-far accuracy (by the protocol's fitness) against simulated training time.",
      svg: await renderSvg(trajectorySpec(traj)),
    });
  }
  if (rowsMd.length > 0) {
    tables.push(
      `| protocol | runs | chosen arch's accuracy (mean +- std) | published | folder |\n|---|---|---|---|---|\n${
        rowsMd.join("\n")
      }`,
    );
  }

  // Write figures, markdown and HTML.
  await Deno.mkdir(`${o.out}/figures`, { recursive: true });
  const written: string[] = [];
  for (const fig of figures) {
    const path = `${o.out}/figures/${fig.id}.svg`;
    await writeFileAtomic(path, fig.svg + "\n");
    written.push(path);
  }
  const md = [
    "# untrained report",
    "",
    "Generated by `mod.ts report` from the result files named below.",
    "",
    ...figures.flatMap((
      fig,
    ) => [`## ${fig.title}`, "", `![${fig.title}](figures/${fig.id}.svg)`, "", fig.caption, ""]),
    ...(tables.length > 0 ? ["## Tables", "", ...tables.flatMap((t) => [t, ""])] : []),
  ].join("\n");
  await writeFileAtomic(`${o.out}/report.md`, md);
  written.push(`${o.out}/report.md`);
  await writeFileAtomic(`${o.out}/report.html`, html(figures, tables));
  written.push(`${o.out}/report.html`);
  return written;
}

/** Kernels K / N_A of archs at the 0, 50 and 100% accuracy quantiles of the scored archs. */
async function kernelFigure(
  pts: readonly {
    index: number;
    arch_str: string;
    dataset: string;
    batch: number;
    seed: number;
    score: number;
    accuracy: number;
  }[],
  o: ReportOptions,
): Promise<Figure> {
  const first = pts[0]!;
  const dataset = first.dataset.replace(/^synthetic-/, "");
  const data = first.dataset.startsWith("synthetic-") ? "synthetic" : o.data!;
  // Degenerate archs (score -inf, K all ones) are left out: the figure compares working networks.
  const byAcc = pts.filter((p) => Number.isFinite(p.score)).sort((a, b) =>
    a.accuracy - b.accuracy || a.index - b.index
  );
  if (byAcc.length === 0) {
    throw new UsageError(`${o.scores}: no arch with a finite score for the kernel figure`);
  }
  const picks = [0, 0.5, 1].map((q) => byAcc[Math.round(q * (byAcc.length - 1))]!);
  const batch = await loadScoringBatch({ dataset, data, batch: first.batch, seed: first.seed });
  const gpu = await Gpu.open();
  const xb = gpu.upload(batch.data, "report.batch");
  const panels: KernelPanel[] = [];
  const m = Math.min(o.kernelImages, first.batch);
  try {
    const { input } = datasetShape(dataset);
    for (const p of picks) {
      const plan = lowerNb201(parseArch(p.arch_str), { input, classes: 1 });
      const r = await naswot(gpu, plan, xb, first.batch, first.seed);
      const k = new Float64Array(m * m);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          k[i * m + j] = r.units > 0 ? (r.units - r.ham[i * first.batch + j]!) / r.units : 0;
        }
      }
      panels.push({ label: `#${p.index}: ${f(p.accuracy)}%`, accuracy: p.accuracy, k, n: m });
    }
  } finally {
    xb.destroy();
    gpu.dispose();
  }
  return {
    id: "kernels",
    title: "NASWOT kernels",
    caption: `K / N_A of the lowest-, median- and highest-accuracy archs with a finite score (${
      picks.map((p) => `#${p.index} \`${formatArch(indexToArch(p.index))}\``).join(", ")
    }), first ${m} images of the minibatch (${data}, batch ${first.batch}, seed ${first.seed}).`,
    svg: await renderSvg(kernelSpec(panels)),
  };
}

/** Each figure sits in a box of fixed height, so a screenshot test knows where every plot is. */
export const FIGURE_BOX = { top: 96, height: 560 } as const;

function html(figures: readonly Figure[], tables: readonly string[]): string {
  const tableHtml = tables.map((t) => {
    const lines = t.split("\n").filter((l) => !/^\|[-|]+\|$/.test(l));
    const cells = (l: string) => l.slice(1, -1).split("|").map((c) => c.trim());
    const [head, ...body] = lines;
    return `<table><tr>${cells(head!).map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr>${
      body.map((l) =>
        `<tr>${
          cells(l).map((c) => `<td>${escapeHtml(c).replaceAll("&lt;br&gt;", "<br>")}</td>`).join("")
        }</tr>`
      )
        .join("")
    }</table>`;
  }).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>untrained report</title>
<style>
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #222; background: #fff; }
header { height: ${FIGURE_BOX.top}px; box-sizing: border-box; padding: 16px 24px; }
header h1 { margin: 0; font-size: 22px; }
section.figure { height: ${FIGURE_BOX.height}px; box-sizing: border-box; padding: 8px 24px; overflow: hidden; }
section.figure h2 { margin: 0 0 4px; font-size: 16px; }
section.figure svg { max-width: 100%; max-height: 440px; height: auto; }
section.figure p { margin: 4px 0; font-size: 12px; color: #555; }
table { border-collapse: collapse; margin: 16px 24px; } td, th { border: 1px solid #ccc; padding: 4px 8px; }
</style></head><body>
<header><h1>untrained report</h1><p>Training-free NAS results: ${figures.length} figures, generated by <code>mod.ts report</code>.</p></header>
${
    figures.map((fig) =>
      `<section class="figure" id="${fig.id}"><h2>${escapeHtml(fig.title)}</h2>\n${fig.svg}\n<p>${
        escapeHtml(fig.caption)
      }</p></section>`
    ).join("\n")
  }
${tableHtml}
</body></html>
`;
}
