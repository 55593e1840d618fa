/** Small statistics helpers shared by the bench clients and the runner. */

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(values as ArrayLike<number>);
  out.sort();
  return out;
}

/** Nearest-rank percentile of an already sorted array (p in 0..100). */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank] as number;
}

export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileSorted(sortedCopy(values), p);
}

export function mean(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < n; i++) s += values[i] as number;
  return s / n;
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

export function range(values: readonly number[]): [number, number] {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return [Number.NaN, Number.NaN];
  return [Math.min(...v), Math.max(...v)];
}

/** Human number: 3 significant digits with k/M suffixes for large values. */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toPrecision(digits)}M`;
  if (a >= 1e4) return `${(x / 1e3).toPrecision(digits)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a === 0) return "0";
  return x.toPrecision(digits);
}
