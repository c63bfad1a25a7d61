/**
 * Search protocols as pure cores over benchmark indices (ALGORITHMS.md section 5): the NASWOT random search,
 * regularized evolution (REA, Real et al. 2019, as in NAS-Bench-201's baseline), AREA (REA seeded by a
 * zero-cost score) and REA with a zero-cost proxy as fitness. Scores and benchmark lookups come in as
 * functions, so the same code runs on a score table, on the GPU, or on a toy oracle in tests. Every random
 * choice comes from a seeded {@link Rng}; a run is a function of (seed, run number) only.
 * @module
 */

import { nb201Space } from "../spaces/nb201_space.ts";
import { indexedSize, type SearchSpace } from "../spaces/space.ts";
import { deriveSeed, Rng } from "../spaces/rng.ts";

/** Scores of benchmark indices (a proxy, higher is better; `-Infinity` for degenerate archs). */
export type ScoreFn = (indices: readonly number[]) => Promise<number[]>;

/** What a benchmark says about one architecture when it is "trained". */
export interface Evaluation {
  /** Fitness used by the search (e.g. 12-epoch validation accuracy). */
  fitness: number;
  /** Simulated seconds the training takes. */
  seconds: number;
}

/** Benchmark lookup for REA: fitness and simulated training time of an index. */
export type TrainFn = (index: number) => Evaluation;

/** The draws of one random-search run: N indices of `space` uniformly with replacement, from (seed, run). */
export function randomSearchDraws(
  n: number,
  seed: number,
  run: number,
  space: SearchSpace = nb201Space,
): number[] {
  return space.sample(n, deriveSeed(seed, "random-search", run), { replace: true });
}

/**
 * The index random search chooses among `draws`: the highest score; ties (and an all `-inf` sample) go to
 * the first drawn. NaN scores are never chosen unless every score is NaN.
 */
export function chooseBest(draws: readonly number[], scores: readonly number[]): number {
  if (draws.length === 0 || draws.length !== scores.length) {
    throw new RangeError(`chooseBest: ${draws.length} draws and ${scores.length} scores`);
  }
  let best = 0;
  for (let i = 1; i < draws.length; i++) {
    const s = scores[i]!;
    const b = scores[best]!;
    if (s > b || (Number.isNaN(b) && !Number.isNaN(s))) best = i;
  }
  return draws[best]!;
}

/** One step of an evolution trajectory: after `evaluated` evaluations and `seconds` of simulated time. */
export interface TrajectoryPoint {
  evaluated: number;
  seconds: number;
  /** The best index so far by fitness (ties go to the earlier one). */
  best: number;
  bestFitness: number;
}

/** The result of one evolution run. */
export interface EvolutionResult {
  /** Best index of the history by fitness. */
  chosen: number;
  fitness: number;
  /** Architectures evaluated (trained or scored), the initial population included. */
  evaluated: number;
  /** Simulated seconds spent (training time; 0 for proxy fitness). */
  seconds: number;
  trajectory: TrajectoryPoint[];
}

/** Parameters of regularized evolution. */
export interface ReaParams {
  /** Population size P (10 in the NB201 baseline). */
  population: number;
  /** Tournament size S (3), members drawn with replacement. */
  sample: number;
  /** Budget in simulated seconds (12,000 on NB201); evolution stops before an evaluation would exceed it. */
  budgetSeconds: number;
  /** Budget in evaluations (for proxy fitness, where time is not simulated). */
  budgetEvals: number;
}

/**
 * Regularized evolution over a search space (NB201 by default). `evaluate` gives each architecture's fitness and simulated cost;
 * evolution stops when the next evaluation would exceed either budget. The initial population is `initial`
 * (AREA) or P uniform draws; each step draws S members with replacement, mutates the fittest (`space.mutate`: on
 * NB201 one edge to a different op), adds the child and drops the oldest member.
 */
export async function regularizedEvolution(
  params: ReaParams,
  rng: Rng,
  evaluate: (index: number) => Promise<Evaluation>,
  initial?: readonly number[],
  space: SearchSpace = nb201Space,
): Promise<EvolutionResult> {
  const { population: P, sample: S } = params;
  if (!Number.isInteger(P) || P < 1) throw new RangeError(`population must be a positive integer, got ${P}`);
  if (!Number.isInteger(S) || S < 1) throw new RangeError(`sample size must be a positive integer, got ${S}`);
  const pop: { index: number; fitness: number }[] = [];
  const trajectory: TrajectoryPoint[] = [];
  let seconds = 0;
  let evaluated = 0;
  let best = -1;
  let bestFitness = -Infinity;
  const tryAdd = async (index: number): Promise<boolean> => {
    if (evaluated >= params.budgetEvals) return false;
    const e = await evaluate(index);
    if (seconds + e.seconds > params.budgetSeconds) return false;
    seconds += e.seconds;
    evaluated++;
    pop.push({ index, fitness: e.fitness });
    if (best < 0 || e.fitness > bestFitness) {
      best = index;
      bestFitness = e.fitness;
    }
    trajectory.push({ evaluated, seconds, best, bestFitness });
    return true;
  };
  const start = initial ??
    Array.from({ length: P }, () => rng.int(indexedSize(space, "regularized evolution")));
  for (const index of start.slice(0, P)) {
    if (!(await tryAdd(index))) return finish();
  }
  for (;;) {
    let parent = pop[rng.int(pop.length)]!;
    for (let k = 1; k < S; k++) {
      const c = pop[rng.int(pop.length)]!;
      if (c.fitness > parent.fitness) parent = c;
    }
    const child = space.mutate(parent.index, rng);
    if (!(await tryAdd(child))) return finish();
    pop.shift();
  }
  function finish(): EvolutionResult {
    if (best < 0) throw new RangeError("regularized evolution: the budget allows no evaluation at all");
    return { chosen: best, fitness: bestFitness, evaluated, seconds, trajectory };
  }
}

/** The AREA warm start: `candidates` distinct uniform draws from (seed, run), the best P by score first. */
export async function areaPopulation(
  candidates: number,
  population: number,
  seed: number,
  run: number,
  score: ScoreFn,
  space: SearchSpace = nb201Space,
): Promise<number[]> {
  const draws = space.sample(candidates, deriveSeed(seed, "area", run), { replace: false });
  const scores = await score(draws);
  const order = draws.map((_, i) => i).sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    if (sa === sb) return a - b;
    if (Number.isNaN(sa)) return 1;
    if (Number.isNaN(sb)) return -1;
    return sb - sa;
  });
  return order.slice(0, population).map((i) => draws[i]!);
}

/** The RNG of evolution run `run` of an algorithm. */
export function evolutionRng(algo: string, seed: number, run: number): Rng {
  return new Rng(deriveSeed(seed, algo, run));
}

/** Mean and standard deviation (population form, divided by n, as numpy's default); NaN values skipped. */
export function meanStd(values: readonly number[]): { mean: number; std: number; n: number } {
  const v = values.filter((x) => !Number.isNaN(x));
  const n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const ss = v.reduce((a, b) => a + (b - mean) * (b - mean), 0);
  return { mean, std: Math.sqrt(ss / n), n };
}
