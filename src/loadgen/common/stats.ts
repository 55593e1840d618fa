/**
 * Statistics shared by `decoy loadgen` and `decoy bench`. Percentiles interpolate linearly
 * between closest ranks (numpy's default), so numbers match what users get from
 * `numpy.percentile` on the per-request CSVs; the standard deviation is the population one.
 */

export interface Summary {
  count: number;
  avg: number;
  min: number;
  max: number;
  std: number;
  p50: number;
  p90: number;
  p95: number;
  p97: number;
  p99: number;
  p999: number;
}

/** Percentile `p` (0..100) of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return sorted[0] as number;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function sortAscending(values: readonly number[]): number[] {
  // A typed-array sort is numeric and several times faster than Array#sort with a comparator.
  return Array.from(Float64Array.from(values).sort());
}

/** Summary of finite values; undefined when there are none. */
export function summarize(values: readonly number[]): Summary | undefined {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return undefined;
  const arr = sortAscending(finite);
  let sum = 0;
  for (const v of arr) sum += v;
  const avg = sum / arr.length;
  let sq = 0;
  for (const v of arr) sq += (v - avg) * (v - avg);
  return {
    count: arr.length,
    avg,
    min: arr[0] as number,
    max: arr[arr.length - 1] as number,
    std: Math.sqrt(sq / arr.length),
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p95: percentile(arr, 95),
    p97: percentile(arr, 97),
    p99: percentile(arr, 99),
    p999: percentile(arr, 99.9),
  };
}

export interface Regression {
  slope: number;
  intercept: number;
  /** Coefficient of determination; 0 when y does not vary. */
  r2: number;
  n: number;
}

/** Ordinary least squares fit y = slope·x + intercept; undefined with fewer than 2 distinct x. */
export function linearRegression(xs: readonly number[], ys: readonly number[]): Regression | undefined {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return undefined;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i] as number;
    sy += ys[i] as number;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  const r2 = syy === 0 ? 0 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept: my - slope * mx, r2, n };
}

/** Empirical CDF as [value, fraction ≤ value] points, thinned to at most `maxPoints`. */
export function cdfPoints(values: readonly number[], maxPoints = 200): [number, number][] {
  const sorted = sortAscending(values.filter((v) => Number.isFinite(v)));
  const n = sorted.length;
  if (n === 0) return [];
  const points: [number, number][] = [];
  const step = Math.max(1, Math.floor(n / maxPoints));
  for (let i = 0; i < n; i += step) points.push([sorted[i] as number, (i + 1) / n]);
  const last = points[points.length - 1];
  if (last?.[1] !== 1) points.push([sorted[n - 1] as number, 1]);
  return points;
}

/** Rounds for JSON output without pretending to more precision than a timer gives. */
export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
