/**
 * A strict parser for the Prometheus text exposition format 0.0.4, for tests. It rejects what
 * Prometheus' own parser rejects (bad names, bad escapes, unparseable values, a TYPE after the
 * family's samples, a family split in two) and, beyond that, what the issue asks of every
 * endpoint: no duplicate series, samples named after their family, histograms whose buckets are
 * sorted, cumulative and end in +Inf == _count, and no negative counters.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  /** Label names in the order printed. */
  labelOrder: string[];
  value: number;
  /** The value as printed. */
  raw: string;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string | undefined;
  samples: Sample[];
}

export interface Exposition {
  families: Map<string, MetricFamily>;
  /** Family names in the order they appear. */
  order: string[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

export class ExpositionError extends Error {}

function fail(lineNo: number, line: string, why: string): never {
  throw new ExpositionError(`line ${lineNo}: ${why}: ${line}`);
}

/** Go's strconv.ParseFloat as Prometheus uses it (NaN and Inf in any case). */
export function parseValue(raw: string): number | undefined {
  const l = raw.toLowerCase();
  if (l === "nan") return Number.NaN;
  if (l === "+inf" || l === "inf") return Number.POSITIVE_INFINITY;
  if (l === "-inf") return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return undefined;
  return Number(raw);
}

function parseLabels(body: string, lineNo: number, line: string): [Record<string, string>, string[]] {
  const labels: Record<string, string> = {};
  const order: string[] = [];
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf("=", i);
    if (eq < 0) fail(lineNo, line, "label without '='");
    const name = body.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) fail(lineNo, line, `bad label name "${name}"`);
    if (body[eq + 1] !== '"') fail(lineNo, line, "label value must be quoted");
    let j = eq + 2;
    let value = "";
    for (;;) {
      const c = body[j];
      if (c === undefined) fail(lineNo, line, "unterminated label value");
      if (c === "\\") {
        const n = body[j + 1];
        if (n === "\\") value += "\\";
        else if (n === '"') value += '"';
        else if (n === "n") value += "\n";
        else fail(lineNo, line, `bad escape \\${n ?? ""}`);
        j += 2;
        continue;
      }
      if (c === '"') break;
      if (c === "\n") fail(lineNo, line, "newline in label value");
      value += c;
      j++;
    }
    if (name in labels) fail(lineNo, line, `duplicate label "${name}"`);
    labels[name] = value;
    order.push(name);
    i = j + 1;
    if (body[i] === ",") i++;
    else if (i < body.length) fail(lineNo, line, "expected ',' between labels");
  }
  return [labels, order];
}

/** The family a sample belongs to, given the families declared so far. */
function familyOf(name: string, declared: Map<string, MetricFamily>): MetricFamily | undefined {
  const direct = declared.get(name);
  if (direct) return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const f = declared.get(name.slice(0, -suffix.length));
    if (f && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket"))) return f;
  }
  return undefined;
}

export function seriesId(s: Sample): string {
  return `${s.name}{${Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
    .join(",")}}`;
}

export function parseExposition(text: string): Exposition {
  const families = new Map<string, MetricFamily>();
  const order: string[] = [];
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: MetricFamily | undefined;
  if (text.length > 0 && !text.endsWith("\n")) throw new ExpositionError("exposition must end with a newline");
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const declare = (name: string, lineNo: number, line: string): MetricFamily => {
    if (!METRIC_NAME.test(name)) fail(lineNo, line, `bad metric name "${name}"`);
    let f = families.get(name);
    if (!f) {
      if (closed.has(name)) fail(lineNo, line, "family declared twice");
      f = { name, type: "untyped", help: undefined, samples: [] };
      families.set(name, f);
      order.push(name);
    }
    if (current && current !== f) closed.add(current.name);
    current = f;
    return f;
  };
  lines.forEach((line, idx) => {
    const lineNo = idx + 1;
    if (line.trim() === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string | undefined];
      const f = declare(name, lineNo, line);
      if (kind === "HELP") {
        if (f.help !== undefined) fail(lineNo, line, "second HELP");
        f.help = (rest ?? "").replace(/\\n/g, "\n").replace(/\\\\/g, "\\");
      } else {
        const type = (rest ?? "").trim();
        if (!TYPES.has(type)) fail(lineNo, line, `unknown type "${type}"`);
        if (f.samples.length > 0) fail(lineNo, line, "TYPE after samples");
        if (f.type !== "untyped" && f.type !== type) fail(lineNo, line, "second TYPE");
        f.type = type;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$/.exec(line);
    if (!m) fail(lineNo, line, "not a sample line");
    const [, name, body, raw] = m as unknown as [string, string, string | undefined, string];
    const value = parseValue(raw);
    if (value === undefined) fail(lineNo, line, `bad value "${raw}"`);
    const [labels, labelOrder] = body ? parseLabels(body, lineNo, line) : [{}, []];
    let f = familyOf(name, families);
    if (!f) f = declare(name, lineNo, line);
    if (f !== current) {
      if (closed.has(f.name)) fail(lineNo, line, `family ${f.name} is split`);
      if (current) closed.add(current.name);
      current = f;
    }
    const sample: Sample = { name, labels, labelOrder, value, raw };
    const id = seriesId(sample);
    if (seen.has(id)) fail(lineNo, line, "duplicate series");
    seen.add(id);
    if (f.type === "histogram" && name === `${f.name}_bucket` && !("le" in labels))
      fail(lineNo, line, "bucket without le");
    if (f.type === "counter" && !(value >= 0)) fail(lineNo, line, "negative or NaN counter");
    f.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return { families, order };
}

function childKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .filter((k) => k !== "le")
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

function checkHistogram(f: MetricFamily): void {
  const children = new Map<string, { buckets: Sample[]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const key = childKey(s.labels);
    const c = children.get(key) ?? { buckets: [] };
    children.set(key, c);
    if (s.name === `${f.name}_bucket`) c.buckets.push(s);
    else if (s.name === `${f.name}_count`) c.count = s.value;
    else if (s.name === `${f.name}_sum`) c.sum = s.value;
    else throw new ExpositionError(`${f.name}: unexpected sample ${s.name}`);
  }
  for (const [key, c] of children) {
    const where = `${f.name}{${key}}`;
    if (c.count === undefined || c.sum === undefined) throw new ExpositionError(`${where}: missing _count or _sum`);
    let prevLe = Number.NEGATIVE_INFINITY;
    let prev = 0;
    for (const b of c.buckets) {
      const le = parseValue(b.labels.le as string);
      if (le === undefined || !(le > prevLe))
        throw new ExpositionError(`${where}: buckets not ascending at le=${b.labels.le}`);
      if (b.value < prev) throw new ExpositionError(`${where}: bucket counts not cumulative at le=${b.labels.le}`);
      prevLe = le;
      prev = b.value;
    }
    const last = c.buckets[c.buckets.length - 1];
    if (last?.labels.le !== "+Inf") throw new ExpositionError(`${where}: no +Inf bucket`);
    if (last.value !== c.count) throw new ExpositionError(`${where}: +Inf bucket ${last.value} != _count ${c.count}`);
  }
}

export function family(e: Exposition, name: string): MetricFamily {
  const f = e.families.get(name);
  if (!f) throw new ExpositionError(`family ${name} missing`);
  return f;
}

/** The value of the one sample of `name` whose labels include `match`. */
export function sampleValue(e: Exposition, name: string, match: Record<string, string> = {}): number {
  for (const f of e.families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  throw new ExpositionError(`no sample ${name} matching ${JSON.stringify(match)}`);
}

export function samplesOf(e: Exposition, name: string): Sample[] {
  const out: Sample[] = [];
  for (const f of e.families.values()) for (const s of f.samples) if (s.name === name) out.push(s);
  return out;
}

/** `le` values of one histogram child, as printed. */
export function bucketBounds(f: MetricFamily, match: Record<string, string> = {}): string[] {
  return f.samples
    .filter((s) => s.name === `${f.name}_bucket` && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .map((s) => s.labels.le as string);
}

/**
 * Lint findings promtool prints for the systems Decoy imitates too: vLLM's colons, DCGM's
 * camelCase labels and unsuffixed counters, Triton's `_us` names, `_count` gauge and unsuffixed counter,
 * prom-client's `_total` gauges. Anything else, or any parse error, is a failure.
 */
const ACCEPTED_LINT = [
  /metric names should not contain ':'$/,
  /label names should be written in 'snake_case' not 'camelCase'$/,
  /counter metrics should have "_total" suffix$/,
  /non-counter metrics should not have "_total" suffix$/,
  /non-histogram and non-summary metrics should not have "_count" suffix$/,
  /metric name should not include type 'counter'$/,
  /metric names should not contain abbreviated units$/,
];

export const PROMTOOL = "/usr/bin/promtool";

export function promtoolAvailable(): boolean {
  return existsSync(PROMTOOL);
}

/** Run `promtool check metrics`; returns the findings it reports that are not accepted lint. */
export function promtoolProblems(text: string): string[] {
  const r = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
  if (r.error) throw r.error;
  const lines = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => l.trim() !== "");
  // Exit status 1 is a parse error; 3 means lint findings only.
  const problems = lines.filter((l) => !ACCEPTED_LINT.some((re) => re.test(l)));
  if (r.status !== 0 && r.status !== 3) problems.push(`promtool exited with ${r.status}`);
  return problems;
}
