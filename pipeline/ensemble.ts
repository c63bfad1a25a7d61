/**
 * Ensembles of proxies, as rows of a new "proxy" that rank and evaluate treat like any other:
 *
 * - `a+b+...`: the rank average (Abdelfattah et al. 2021; the NASWOT/synflow seed study): each arch's mean over
 *   the components of its average rank (1 = best, ties share the mean rank); score = minus that mean, so higher
 *   is better as for every proxy.
 * - `vote`: for every pair of archs the majority of synflow, jacob_cov and snip decides (an arch wins a pair when
 *   at least two of the three score it strictly higher); score = number of pairs won.
 * - `tenas`: TE-NAS's ranking, the rank average of ntk (minus the NTK condition number) and linear_regions.
 * - `das@w`: DAS's recombination of decoupled NASWOT, score = log|det(K/N_A)| + w * log N_A from the `das` rows,
 *   or from `naswot` rows when there are none (log|det(K/N_A)| = score - batch * log N_A); w = batch size gives
 *   NASWOT back. Sweep w to see how the ranking depends on it.
 *
 * Only archs scored by every component take part. Components must be single runs (one dataset, batch and seed
 * per proxy among the inputs).
 * @module
 */

import { UsageError } from "./_errors.ts";
import { averageRanks } from "./_stats.ts";
import { groupByRun, runLabel, type ScoreRow } from "./_schema.ts";

/** The proxies `vote` combines. */
export const VOTE_PROXIES = ["synflow", "jacob_cov", "snip"] as const;

/** The proxies `tenas` combines. */
export const TENAS_PROXIES = ["ntk", "linear_regions"] as const;

/** The weight w of a `das@w` spec, or null for another spec. */
export function dasWeight(spec: string): number | null {
  if (!spec.startsWith("das@")) return null;
  const text = spec.slice(4);
  const w = Number(text);
  if (text.trim() === "" || !Number.isFinite(w)) {
    throw new UsageError(`--ensemble ${spec}: expected das@w with a finite number w (e.g. das@0.5)`);
  }
  return w;
}

/** Parses an ensemble name into its components (`vote` -> synflow, jacob_cov, snip). */
export function ensembleComponents(spec: string): string[] {
  if (spec === "vote") return [...VOTE_PROXIES];
  if (spec === "tenas") return [...TENAS_PROXIES];
  if (dasWeight(spec) !== null) return ["das"];
  const parts = spec.split("+").map((s) => s.trim());
  if (parts.length < 2 || parts.some((p) => p === "")) {
    throw new UsageError(`--ensemble: expected a+b[+...] or vote, got "${spec}"`);
  }
  if (new Set(parts).size !== parts.length) throw new UsageError(`--ensemble ${spec}: a proxy appears twice`);
  return parts;
}

/** The rows of the ensemble `spec` computed from score rows of its components (in index order). */
export function ensembleRows(rows: readonly ScoreRow[], spec: string): ScoreRow[] {
  const w = dasWeight(spec);
  if (w !== null && !rows.some((r) => r.proxy === "das") && rows.some((r) => r.proxy === "naswot")) {
    // NASWOT rows hold the same information: log|det(K/N_A)| = log|det K| - batch * log N_A.
    const das = rows.filter((r) => r.proxy === "naswot").map((r) => ({
      ...r,
      proxy: "das",
      score: r.score - r.batch * Math.log(r.n_units),
    }));
    return ensembleRows(das, spec);
  }
  const names = ensembleComponents(spec);
  const runs = groupByRun(rows);
  const comps = names.map((name) => {
    const matching = runs.filter((g) => g.key.proxy === name);
    if (matching.length === 0) {
      throw new UsageError(`--ensemble ${spec}: no scores of proxy "${name}" in the input`);
    }
    if (matching.length > 1) {
      throw new UsageError(
        `--ensemble ${spec}: proxy "${name}" has several runs (${
          matching.map((g) => runLabel(g.key)).join(", ")
        })`,
      );
    }
    const byIndex = new Map<number, ScoreRow>();
    for (const r of matching[0]!.rows) byIndex.set(r.index, r);
    return { key: matching[0]!.key, byIndex };
  });
  const common = [...comps[0]!.byIndex.keys()].filter((i) => comps.every((c) => c.byIndex.has(i)))
    .sort((a, b) => a - b);
  if (common.length === 0) throw new UsageError(`--ensemble ${spec}: no arch is scored by every component`);
  if (w !== null) {
    // log|det(K/N_A)| + w log N_A; -inf (a singular K) stays -inf.
    return common.map((i) => {
      const r = comps[0]!.byIndex.get(i)!;
      return { ...r, proxy: spec, score: r.score + w * Math.log(r.n_units) };
    });
  }
  const scores = comps.map((c) => common.map((i) => c.byIndex.get(i)!.score));
  const first = comps[0]!.key;
  const row = (k: number, score: number): ScoreRow => ({
    index: common[k]!,
    arch_str: comps[0]!.byIndex.get(common[k]!)!.arch_str,
    proxy: spec,
    dataset: first.dataset,
    batch: first.batch,
    seed: first.seed,
    score,
    n_units: 0,
  });
  if (spec === "vote") {
    const n = common.length;
    const wins = new Float64Array(n);
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        let va = 0;
        let vb = 0;
        for (const s of scores) {
          if (s[a]! > s[b]!) va++;
          else if (s[b]! > s[a]!) vb++;
        }
        if (va >= 2) wins[a]!++;
        else if (vb >= 2) wins[b]!++;
      }
    }
    return common.map((_, k) => row(k, wins[k]!));
  }
  // averageRanks ranks ascending (1 = smallest); negate the scores so that rank 1 = best.
  const ranks = scores.map((s) => averageRanks(s.map((v) => -v)));
  return common.map((_, k) => row(k, -ranks.reduce((a, r) => a + r[k]!, 0) / ranks.length));
}
