/** Result records, target checks, the printed table and `--compare`. */
import { fmt, median, range } from "./stats.js";

export type Target =
  /** decoy / baseline ≥ value */
  | { kind: "ratio-min"; value: number }
  /** decoy / baseline ≤ value */
  | { kind: "ratio-max"; value: number }
  /** decoy ≤ value */
  | { kind: "abs-max"; value: number }
  /** |decoy − center| ≤ tol */
  | { kind: "abs-within"; center: number; tol: number };

export interface MetricSpec {
  id: string;
  label: string;
  unit: string;
  target?: Target | undefined;
}

export interface MetricRecord extends MetricSpec {
  decoy: (number | null)[];
  baseline: (number | null)[];
}

export interface ScenarioResult {
  name: string;
  title: string;
  baselineName: string;
  metrics: MetricRecord[];
  notes: string[];
  /** Why the Decoy side could not run (the baseline figures are still reported). */
  decoySkipped?: string | undefined;
  /** Why the whole scenario could not run. */
  error?: string;
  seconds: number;
}

export interface ResultsFile {
  version: 1;
  startedAt: string;
  node: string;
  cpus: string;
  pinned: boolean;
  options: Record<string, unknown>;
  scenarios: ScenarioResult[];
}

export class Recorder {
  private readonly byId = new Map<string, MetricRecord>();
  readonly notes: string[] = [];

  metric(spec: MetricSpec): void {
    if (!this.byId.has(spec.id)) this.byId.set(spec.id, { ...spec, decoy: [], baseline: [] });
  }

  add(id: string, side: "decoy" | "baseline", value: number | null | undefined): void {
    const m = this.byId.get(id);
    if (!m) throw new Error(`unknown metric ${id}`);
    m[side].push(value === undefined || value === null || !Number.isFinite(value) ? null : value);
  }

  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }

  get metrics(): MetricRecord[] {
    return [...this.byId.values()];
  }
}

function nums(v: (number | null)[]): number[] {
  return v.filter((x): x is number => x !== null);
}

/** Per-run ratios (both sides measured in the same run). */
export function ratios(m: MetricRecord): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(m.decoy.length, m.baseline.length); i++) {
    const d = m.decoy[i];
    const b = m.baseline[i];
    if (d !== null && d !== undefined && b !== null && b !== undefined && b !== 0) out.push(d / b);
  }
  return out;
}

export function targetText(t: Target | undefined, unit: string): string {
  if (!t) return "";
  switch (t.kind) {
    case "ratio-min":
      return `ratio ≥ ${t.value}`;
    case "ratio-max":
      return `ratio ≤ ${t.value}`;
    case "abs-max":
      return `≤ ${t.value} ${unit}`;
    case "abs-within":
      return `${t.center}±${t.tol} ${unit}`;
  }
}

export type Verdict = "PASS" | "FAIL" | "n/a" | "";

export function verdict(m: MetricRecord): Verdict {
  const t = m.target;
  if (!t) return "";
  const d = median(nums(m.decoy));
  if (!Number.isFinite(d)) return "n/a";
  switch (t.kind) {
    case "ratio-min": {
      const r = median(ratios(m));
      return Number.isFinite(r) ? (r >= t.value ? "PASS" : "FAIL") : "n/a";
    }
    case "ratio-max": {
      const r = median(ratios(m));
      return Number.isFinite(r) ? (r <= t.value ? "PASS" : "FAIL") : "n/a";
    }
    case "abs-max":
      return d <= t.value ? "PASS" : "FAIL";
    case "abs-within":
      return Math.abs(d - t.center) <= t.tol ? "PASS" : "FAIL";
  }
}

function cell(values: number[], runs: number): string {
  if (!values.length) return "n/a";
  const m = fmt(median(values));
  if (runs < 2 || values.length < 2) return m;
  const [lo, hi] = range(values);
  return `${m} [${fmt(lo)}–${fmt(hi)}]`;
}

export interface Row {
  scenario: string;
  metric: string;
  decoy: string;
  baseline: string;
  ratio: string;
  target: string;
  status: string;
}

export function rows(results: ScenarioResult[]): Row[] {
  const out: Row[] = [];
  for (const s of results) {
    if (s.error) {
      out.push({
        scenario: s.name,
        metric: `ERROR: ${s.error.split("\n")[0]}`,
        decoy: "",
        baseline: "",
        ratio: "",
        target: "",
        status: "",
      });
      continue;
    }
    for (const m of s.metrics) {
      const d = nums(m.decoy);
      const b = nums(m.baseline);
      const runs = Math.max(m.decoy.length, m.baseline.length);
      const r = ratios(m);
      out.push({
        scenario: s.name,
        metric: `${m.label}${m.unit ? ` (${m.unit})` : ""}`,
        decoy: cell(d, runs),
        baseline: cell(b, runs),
        ratio: r.length ? cell(r, runs) : "",
        target: targetText(m.target, m.unit),
        status: verdict(m),
      });
    }
  }
  return out;
}

const HEAD: Row = {
  scenario: "scenario",
  metric: "metric",
  decoy: "Decoy",
  baseline: "baseline",
  ratio: "ratio D/B",
  target: "target",
  status: "status",
};
const KEYS = Object.keys(HEAD) as (keyof Row)[];

export function textTable(results: ScenarioResult[]): string {
  const all = [HEAD, ...rows(results)];
  const width = KEYS.map((k) => Math.max(...all.map((r) => r[k].length)));
  const line = (r: Row) =>
    KEYS.map((k, i) => r[k].padEnd(width[i] as number))
      .join("  ")
      .trimEnd();
  const sep = width.map((w) => "-".repeat(w)).join("  ");
  return [line(HEAD), sep, ...all.slice(1).map(line)].join("\n");
}

export function markdownTable(results: ScenarioResult[]): string {
  const all = rows(results);
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [
    `| ${KEYS.map((k) => HEAD[k]).join(" | ")} |`,
    `|${KEYS.map(() => "---").join("|")}|`,
    ...all.map((r) => `| ${KEYS.map((k) => esc(r[k])).join(" | ")} |`),
  ].join("\n");
}

/** Decoy medians and ratios of this run against an earlier results file. */
export function compareTable(old: ResultsFile, now: ScenarioResult[]): string {
  const prev = new Map<string, MetricRecord>();
  for (const s of old.scenarios) for (const m of s.metrics) prev.set(`${s.name}/${m.id}`, m);
  const head = ["scenario", "metric", "Decoy old", "Decoy new", "change", "ratio old", "ratio new"];
  const body: string[][] = [];
  for (const s of now) {
    for (const m of s.metrics) {
      const o = prev.get(`${s.name}/${m.id}`);
      if (!o) continue;
      const dOld = median(nums(o.decoy));
      const dNew = median(nums(m.decoy));
      const change =
        Number.isFinite(dOld) && Number.isFinite(dNew) && dOld !== 0 ? (dNew / dOld - 1) * 100 : Number.NaN;
      body.push([
        s.name,
        m.label,
        fmt(dOld),
        fmt(dNew),
        Number.isFinite(change) ? `${change >= 0 ? "+" : ""}${change.toFixed(1)}%` : "n/a",
        fmt(median(ratios(o))),
        fmt(median(ratios(m))),
      ]);
    }
  }
  const width = head.map((_, i) => Math.max(...[head, ...body].map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(width[i] as number))
      .join("  ")
      .trimEnd();
  return [`compared with ${old.startedAt}`, line(head), ...body.map(line)].join("\n");
}
