import type { Family, Sample } from "./exposition.js";

/**
 * Counters and histograms updated on the request path (per request, per token), kept out of
 * prom-client: its labelled `inc`/`observe` validate and hash a label object on every call and
 * allocate while doing it. Here a surface looks a series up once (per model, say), keeps the
 * child, and an update is an addition or a binary search into a Float64Array of bounds.
 * At scrape time each family turns into the same `Family` shape prom-client's
 * `getMetricsAsJSON()` returns, so exposition.ts prints both alike.
 */

type LabelValues = Readonly<Record<string, string>>;

function childKey(labelNames: readonly string[], labels: LabelValues): string {
  let key = "";
  for (const n of labelNames) key += `${labels[n] ?? ""}\u0000`;
  return key;
}

function checkLabels(family: string, labelNames: readonly string[], labels: LabelValues): void {
  for (const n of Object.keys(labels)) {
    if (!labelNames.includes(n)) throw new Error(`${family}: unknown label ${n}`);
  }
}

export class CounterChild {
  value = 0;
  constructor(readonly labels: LabelValues) {}

  inc(amount = 1): void {
    // counters never decrease: a negative or NaN amount is a caller's bug, not a reset
    if (amount > 0) this.value += amount;
  }
}

export class CounterFamily {
  private readonly children = new Map<string, CounterChild>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The series with these labels, created at zero on first use. Keep it: lookups hash. */
  child(labels: LabelValues): CounterChild {
    const key = childKey(this.labelNames, labels);
    let c = this.children.get(key);
    if (!c) {
      checkLabels(this.name, this.labelNames, labels);
      c = new CounterChild({ ...labels });
      this.children.set(key, c);
    }
    return c;
  }

  family(): Family {
    const values: Sample[] = [];
    for (const c of this.children.values()) values.push({ value: c.value, labels: { ...c.labels } });
    return { name: this.name, help: this.help, type: "counter", values };
  }
}

export class HistogramChild {
  /** Observations per bucket (not cumulative); the +Inf bucket is `count`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: LabelValues,
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  /** Index of the first bucket whose upper bound (`le`) is ≥ v; bounds.length for +Inf only. */
  private bucket(v: number): number {
    const b = this.bounds;
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v <= (b[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  observe(v: number): void {
    const i = this.bucket(v);
    if (i < this.counts.length) this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += v;
    this.count++;
  }

  /** `n` observations of the same value (tokens that arrived together). */
  observeMany(v: number, n: number): void {
    if (n <= 0) return;
    const i = this.bucket(v);
    if (i < this.counts.length) this.counts[i] = (this.counts[i] as number) + n;
    this.sum += v * n;
    this.count += n;
  }
}

export class HistogramFamily {
  private readonly children = new Map<string, HistogramChild>();
  private readonly bounds: Float64Array;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    const sorted = [...buckets].sort((a, b) => a - b);
    this.bounds = Float64Array.from(sorted);
  }

  child(labels: LabelValues): HistogramChild {
    const key = childKey(this.labelNames, labels);
    let c = this.children.get(key);
    if (!c) {
      checkLabels(this.name, this.labelNames, labels);
      c = new HistogramChild({ ...labels }, this.bounds);
      this.children.set(key, c);
    }
    return c;
  }

  family(): Family {
    const values: Sample[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const c of this.children.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += c.counts[i] as number;
        values.push({ value: acc, labels: { ...c.labels, le: this.bounds[i] as number }, metricName: bucketName });
      }
      values.push({ value: c.count, labels: { ...c.labels, le: "+Inf" }, metricName: bucketName });
      values.push({ value: c.sum, labels: { ...c.labels }, metricName: `${this.name}_sum` });
      values.push({ value: c.count, labels: { ...c.labels }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: "histogram", values };
  }
}
