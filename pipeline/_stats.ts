/**
 * Rank statistics used by `evaluate`: average ranks, Kendall tau-b (Knight's O(n log n) algorithm),
 * Spearman rho and top-k retrieval.
 *
 * Conventions: inputs are plain number arrays of equal length; `NaN` is rejected with a `RangeError` (a NaN
 * would silently poison a correlation); `-Infinity` and `+Infinity` are ordinary values that compare below /
 * above every finite value and tie with each other. Results follow `scipy.stats` (`rankdata(method="average")`,
 * `kendalltau(variant="b")`, `spearmanr`): a correlation is `NaN` when fewer than two values are given or when
 * either input is constant.
 *
 * @module
 */

function compare(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function requireNoNaN(values: readonly number[], fn: string, name: string): void {
  const at = values.findIndex((v) => Number.isNaN(v));
  if (at !== -1) throw new RangeError(`${fn}: ${name}[${at}] is NaN`);
}

function requirePair(x: readonly number[], y: readonly number[], fn: string): void {
  if (x.length !== y.length) throw new RangeError(`${fn}: length mismatch (${x.length} vs ${y.length})`);
  requireNoNaN(x, fn, "x");
  requireNoNaN(y, fn, "y");
}

function clampCorrelation(r: number): number {
  return Number.isNaN(r) ? r : Math.min(1, Math.max(-1, r));
}

/**
 * Average ranks, ascending: the smallest value gets rank 1, the largest rank n, and a block of tied values
 * gets the mean of the ranks it spans (e.g. `[10, 20, 20, 30]` -> `[1, 2.5, 2.5, 4]`), like
 * `scipy.stats.rankdata(values, method="average")`. `-Infinity` ranks lowest.
 *
 * @throws {RangeError} when a value is NaN.
 */
export function averageRanks(values: readonly number[]): number[] {
  requireNoNaN(values, "averageRanks", "values");
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i);
  const v = (i: number) => values[i] as number;
  order.sort((a, b) => compare(v(a), v(b)));
  const ranks = new Array<number>(n).fill(0);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && v(order[j] as number) === v(order[i] as number)) j++;
    const rank = (i + 1 + j) / 2; // mean of the 1-based ranks i+1 .. j
    for (let k = i; k < j; k++) ranks[order[k] as number] = rank;
    i = j;
  }
  return ranks;
}

/** Sum over blocks of equal adjacent values of t(t-1)/2 (the number of tied pairs); `sorted` is sorted. */
function tiedPairs(sorted: ArrayLike<number>, from = 0, to = sorted.length): number {
  let pairs = 0;
  let i = from;
  while (i < to) {
    let j = i + 1;
    while (j < to && sorted[j] === sorted[i]) j++;
    const t = j - i;
    pairs += (t * (t - 1)) / 2;
    i = j;
  }
  return pairs;
}

/**
 * Sorts `a` ascending in place (bottom-up merge sort) and returns the number of inversions: pairs i < j
 * with a[i] > a[j] strictly (equal values are not inversions).
 */
function sortCountingInversions(a: Float64Array<ArrayBuffer>): number {
  const n = a.length;
  let src: Float64Array<ArrayBuffer> = a;
  let dst = new Float64Array(n);
  let inversions = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if ((src[j] as number) < (src[i] as number)) {
          dst[k++] = src[j++] as number;
          inversions += mid - i;
        } else {
          dst[k++] = src[i++] as number;
        }
      }
      while (i < mid) dst[k++] = src[i++] as number;
      while (j < hi) dst[k++] = src[j++] as number;
    }
    [src, dst] = [dst, src];
  }
  if (src !== a) a.set(src);
  return inversions;
}

/**
 * Kendall rank correlation tau-b between `x` and `y`, with ties handled as in
 * `scipy.stats.kendalltau(x, y, variant="b")`:
 *
 *   tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2)),  n0 = n(n-1)/2,
 *
 * where C / D count concordant / discordant pairs, n1 the pairs tied in x, n2 the pairs tied in y (a pair
 * tied in both counts in n1 and n2 but in neither C nor D). Computed in O(n log n) with Knight's algorithm:
 * sort by (x, y), count joint ties n3, then count the discordant pairs as the inversions of the y sequence
 * with a merge sort; C - D = n0 - n1 - n2 + n3 - 2 D.
 *
 * @returns a value in [-1, 1]; `NaN` when n < 2 or when x or y is constant.
 * @throws {RangeError} on a length mismatch or a NaN value.
 */
export function kendallTauB(x: readonly number[], y: readonly number[]): number {
  requirePair(x, y, "kendallTauB");
  const n = x.length;
  if (n < 2) return NaN;
  const xi = (i: number) => x[i] as number;
  const yi = (i: number) => y[i] as number;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => compare(xi(a), xi(b)) || compare(yi(a), yi(b)));
  const xs = Float64Array.from(order, xi);
  const ys = Float64Array.from(order, yi);
  // Ties in x (n1) and joint ties in (x, y) (n3): within a block of equal x, y is sorted.
  let n1 = 0;
  let n3 = 0;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && xs[j] === xs[i]) j++;
    const t = j - i;
    n1 += (t * (t - 1)) / 2;
    n3 += tiedPairs(ys, i, j);
    i = j;
  }
  const discordant = sortCountingInversions(ys);
  const n2 = tiedPairs(ys);
  const n0 = (n * (n - 1)) / 2;
  const denominator = Math.sqrt(n0 - n1) * Math.sqrt(n0 - n2);
  if (denominator === 0) return NaN;
  return clampCorrelation((n0 - n1 - n2 + n3 - 2 * discordant) / denominator);
}

/**
 * Pearson correlation coefficient (two-pass, float64).
 *
 * @returns a value in [-1, 1]; `NaN` when n < 2 or when either input has zero variance.
 * @throws {RangeError} on a length mismatch or a NaN value.
 */
export function pearson(x: readonly number[], y: readonly number[]): number {
  requirePair(x, y, "pearson");
  const n = x.length;
  if (n < 2) return NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return clampCorrelation(sxy / Math.sqrt(sxx * syy));
}

/**
 * Spearman rank correlation rho: the Pearson correlation of the average ranks of `x` and of `y` (ties get
 * their mean rank), as `scipy.stats.spearmanr`. `-Infinity` values are the lowest ranks.
 *
 * @returns a value in [-1, 1]; `NaN` when n < 2 or when x or y is constant.
 * @throws {RangeError} on a length mismatch or a NaN value.
 */
export function spearmanRho(x: readonly number[], y: readonly number[]): number {
  requirePair(x, y, "spearmanRho");
  if (x.length < 2) return NaN;
  return pearson(averageRanks(x), averageRanks(y));
}

/** Result of {@linkcode topKRetrieval} for one percentage. */
export interface TopKResult {
  /** The requested percentage, e.g. 5 for the top 5%. */
  percent: number;
  /** Size of both top sets: ceil(n * percent / 100), at least 1 (0 only when n = 0). */
  k: number;
  /** How many of the true top-k (by accuracy) are among the predicted top-k (by score). */
  found: number;
  /** found / k, in [0, 1]; `NaN` when n = 0. */
  fraction: number;
}

/**
 * Top-k retrieval: for each percentage p in `percents` (e.g. `[1, 5, 10]`), with
 * k = max(1, ceil(n * p / 100)), the fraction of the true top-k entries (the k highest `accs`) that are also in
 * the predicted top-k (the k highest `scores`). 1 means the proxy's best k% are exactly the truly best k%.
 *
 * Both top sets are taken by descending value with ties broken by position (the earlier entry wins), so the
 * result is deterministic; pass entries ordered by benchmark index to match `rank`'s tie-break. `-Infinity`
 * scores rank last.
 *
 * @throws {RangeError} on a length mismatch, a NaN score, a non-finite accuracy, or a percentage outside
 *   (0, 100].
 */
export function topKRetrieval(
  scores: readonly number[],
  accs: readonly number[],
  percents: readonly number[],
): TopKResult[] {
  if (scores.length !== accs.length) {
    throw new RangeError(`topKRetrieval: length mismatch (${scores.length} vs ${accs.length})`);
  }
  requireNoNaN(scores, "topKRetrieval", "scores");
  const badAcc = accs.findIndex((a) => !Number.isFinite(a));
  if (badAcc !== -1) throw new RangeError(`topKRetrieval: accs[${badAcc}] is ${accs[badAcc]}`);
  for (const p of percents) {
    if (!(Number.isFinite(p) && p > 0 && p <= 100)) {
      throw new RangeError(`topKRetrieval: percentage must be in (0, 100], got ${p}`);
    }
  }
  const n = scores.length;
  const descending = (values: readonly number[]) =>
    Array.from({ length: n }, (_, i) => i).sort((a, b) =>
      compare(values[b] as number, values[a] as number) || a - b
    );
  const byScore = descending(scores);
  const byAcc = descending(accs);
  return percents.map((percent) => {
    if (n === 0) return { percent, k: 0, found: 0, fraction: NaN };
    // The epsilon keeps e.g. 30 * 0.1 = 3.0000000000000004 from rounding up to 4.
    const k = Math.min(n, Math.max(1, Math.ceil((n * percent) / 100 - 1e-9)));
    const truth = new Set(byAcc.slice(0, k));
    const found = byScore.slice(0, k).filter((i) => truth.has(i)).length;
    return { percent, k, found, fraction: found / k };
  });
}
