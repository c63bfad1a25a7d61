/**
 * The report's figures as pure functions: data in, a Vega-Lite spec out (rendered to SVG by
 * `pipeline/report.ts`). Kept apart from rendering so the specs can be checked without a renderer.
 * @module
 */

/** A Vega-Lite spec (plain JSON). */
export type VlSpec = Record<string, unknown>;

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const WIDTH = 520;
const HEIGHT = 300;

/** One architecture of the score-vs-accuracy scatter. */
export interface ScatterPoint {
  score: number;
  accuracy: number;
}

/** Proxy score against benchmark accuracy, titled with Kendall's tau. `-inf` scores are left out (counted). */
export function scatterSpec(
  points: readonly ScatterPoint[],
  o: { proxy: string; metric: string; tau: number; excluded: number },
): VlSpec {
  const values = points.filter((p) => Number.isFinite(p.score) && Number.isFinite(p.accuracy));
  return {
    $schema: SCHEMA,
    title: {
      text: `${o.proxy} score vs ${o.metric}`,
      subtitle: `${values.length} archs, Kendall tau ${o.tau.toFixed(3)}` +
        (o.excluded > 0 ? ` (${o.excluded} with score -inf not drawn)` : ""),
    },
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: values.length > 300
      ? { type: "circle", size: 12, opacity: 0.45 }
      : { type: "circle", size: 60, opacity: 0.8 },
    encoding: {
      x: { field: "score", type: "quantitative", title: `${o.proxy} score`, scale: { zero: false } },
      y: { field: "accuracy", type: "quantitative", title: `${o.metric} (%)`, scale: { zero: false } },
    },
  };
}

/** One kernel matrix of the K figure: K / N_A for one architecture on the minibatch. */
export interface KernelPanel {
  label: string;
  accuracy: number;
  /** Row-major n x n, values in [0, 1]. */
  k: ArrayLike<number>;
  n: number;
}

/**
 * Normalised NASWOT kernels K / N_A of several architectures side by side, ordered by accuracy (lowest
 * first), as in the NASWOT paper's Figure 1: better networks have less similar binary codes, so their K is
 * closer to diagonal.
 */
export function kernelSpec(panels: readonly KernelPanel[]): VlSpec {
  const sorted = [...panels].sort((a, b) => a.accuracy - b.accuracy);
  return {
    $schema: SCHEMA,
    title: { text: "NASWOT kernel K / N_A on the minibatch", subtitle: "ordered by accuracy, lowest first" },
    hconcat: sorted.map((p) => {
      const values: { i: number; j: number; k: number }[] = [];
      for (let i = 0; i < p.n; i++) {
        for (let j = 0; j < p.n; j++) values.push({ i, j, k: Math.round(p.k[i * p.n + j]! * 1e4) / 1e4 });
      }
      return {
        title: { text: p.label, fontSize: 11 },
        width: 150,
        height: 150,
        data: { values },
        mark: { type: "rect" },
        encoding: {
          x: { field: "j", type: "ordinal", axis: null },
          y: { field: "i", type: "ordinal", axis: null },
          color: {
            field: "k",
            type: "quantitative",
            scale: { domain: [0, 1], scheme: "viridis" },
            legend: { title: "K/N_A" },
          },
        },
      };
    }),
  };
}

/** Mean and std of the chosen accuracy for one search setting (e.g. random search with N archs). */
export interface SearchPoint {
  n: number;
  mean: number;
  std: number;
  metric: string;
}

/** Random-search accuracy (mean +- std over runs) against the number of sampled archs N. */
export function searchVsNSpec(points: readonly SearchPoint[]): VlSpec {
  const values = points.map((p) => ({ ...p, lo: p.mean - p.std, hi: p.mean + p.std }));
  const x = { field: "n", type: "quantitative", scale: { type: "log" }, title: "N (archs sampled per run)" };
  return {
    $schema: SCHEMA,
    title: { text: "Random search: accuracy of the chosen arch", subtitle: "mean +- std over runs" },
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    encoding: { x, color: { field: "metric", type: "nominal", title: "metric" } },
    layer: [
      {
        mark: { type: "errorbar" },
        encoding: { y: { field: "lo", type: "quantitative", title: "accuracy (%)" }, y2: { field: "hi" } },
      },
      {
        mark: { type: "line", point: true },
        encoding: {
          y: { field: "mean", type: "quantitative", title: "accuracy (%)", scale: { zero: false } },
        },
      },
    ],
  };
}

/** Kendall tau of DAS's recombination log|det(K/N_A)| + W log N_A against one accuracy column. */
export interface DasPoint {
  w: number;
  metric: string;
  tau: number;
}

/** Kendall tau against W (symmetric-log axis, so W = 0 fits), one line per accuracy column. */
export function dasSweepSpec(points: readonly DasPoint[]): VlSpec {
  return {
    $schema: SCHEMA,
    title: { text: "DAS: rank correlation against the weight W", subtitle: "log|det(K/N_A)| + W log N_A" },
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p, tau: Math.round(p.tau * 1e4) / 1e4 })) },
    mark: { type: "line", point: true },
    encoding: {
      x: {
        field: "w",
        type: "quantitative",
        scale: { type: "symlog" },
        axis: {
          values: [...new Set(points.map((p) => p.w))].sort((a, b) => a - b),
          format: ",.0f",
          labelAngle: -45,
        },
        title: "W",
      },
      y: { field: "tau", type: "quantitative", scale: { zero: false }, title: "Kendall tau" },
      color: { field: "metric", type: "nominal", title: "accuracy" },
    },
  };
}

/** Mean best-so-far accuracy of an evolution protocol at a simulated time. */
export interface TrajectoryPoint {
  algo: string;
  seconds: number;
  accuracy: number;
}

/** Best-so-far accuracy against simulated training time, one line per protocol (mean over runs). */
export function trajectorySpec(points: readonly TrajectoryPoint[]): VlSpec {
  return {
    $schema: SCHEMA,
    title: { text: "Evolution: accuracy of the best arch so far", subtitle: "mean over runs" },
    width: WIDTH,
    height: HEIGHT,
    data: { values: points },
    mark: { type: "line", interpolate: "step-after" },
    encoding: {
      x: { field: "seconds", type: "quantitative", title: "simulated training time (s)" },
      y: { field: "accuracy", type: "quantitative", title: "accuracy (%)", scale: { zero: false } },
      color: {
        field: "algo",
        type: "nominal",
        title: "protocol: reported metric",
        legend: { orient: "bottom", columns: 1, labelLimit: 480, titleLimit: 480 },
      },
    },
  };
}

/**
 * Mean over runs of a step function sampled on a time grid: each run's value at time t is its last step at
 * or before t (runs with no step yet are left out of that point).
 */
export function meanStepCurve(
  runs: readonly { seconds: number; value: number }[][],
  grid: readonly number[],
): { seconds: number; value: number }[] {
  const out: { seconds: number; value: number }[] = [];
  for (const t of grid) {
    let sum = 0;
    let n = 0;
    for (const steps of runs) {
      let v: number | null = null;
      for (const s of steps) {
        if (s.seconds <= t) v = s.value;
        else break;
      }
      if (v !== null) {
        sum += v;
        n++;
      }
    }
    if (n > 0) out.push({ seconds: t, value: sum / n });
  }
  return out;
}
