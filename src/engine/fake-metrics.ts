/**
 * `--fake-metrics` (seed 004): values reported instead of measured ones, so dashboards and
 * autoscalers can be exercised without load. Besides plain numbers a value may follow a curve
 * over time (ramp, oscillate, square wave), in llm-d's string form ("ramp:0:40:60s") or as an
 * object ({"ramp":{"from":0,"to":40,"periodS":60}}). The telemetry side calls `sample(now)` on
 * each scrape; time counts from when the document was set, in steps of the refresh interval.
 */
import { addConfigRule } from "../config/load.js";

export type Curve =
  | { kind: "constant"; value: number }
  | { kind: "ramp"; from: number; to: number; periodMs: number; repeat: boolean }
  | { kind: "oscillate"; min: number; max: number; periodMs: number }
  | { kind: "square"; low: number; high: number; periodMs: number; duty: number };

export interface FakeLoraInfo {
  /** Comma-separated adapters of running requests. */
  running: string;
  /** Comma-separated adapters of waiting requests. */
  waiting: string;
  /** Seconds since the epoch (vllm:lora_requests_info's value). */
  timestamp: number;
}

/** What telemetry's `FakeMetricsSource` consumes (src/telemetry/providers.ts). */
export interface FakeMetricsSample {
  running: number;
  waiting: number;
  /** Fraction 0..1. */
  kvCacheUsage: number;
  /** One `vllm:lora_requests_info` series each. */
  loras: Array<{ running: string[]; waiting: string[]; timestamp: number }>;
}

export interface FakeMetricsDocument {
  running: Curve;
  waiting: Curve;
  kvUsage: Curve;
  loras: FakeLoraInfo[];
  /** Keys this module does not interpret (llm-d's histogram values and counters), for telemetry. */
  extra: Record<string, unknown>;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function num(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${what} must be a number`);
  return v;
}

/** Parse one metric value; throws with a readable message on anything else. */
export function parseCurve(value: unknown, what: string): Curve {
  if (typeof value === "number") return { kind: "constant", value: num(value, what) };
  if (typeof value === "string") {
    const m = /^(ramp|rampreset|oscillate|squarewave):([^:]+):([^:]+):([0-9.]+)(ms|s|m|h)$/.exec(value);
    if (!m) throw new Error(`${what}: expected fun:start:end:period such as "ramp:0:10:30s", got "${value}"`);
    const start = Number(m[2]);
    const end = Number(m[3]);
    const periodMs = Number(m[4]) * (DURATION_UNITS[m[5] as string] as number);
    if (!Number.isFinite(start) || !Number.isFinite(end) || !(periodMs > 0))
      throw new Error(`${what}: bad numbers in "${value}"`);
    switch (m[1]) {
      case "ramp":
        return { kind: "ramp", from: start, to: end, periodMs, repeat: false };
      case "rampreset":
        return { kind: "ramp", from: start, to: end, periodMs, repeat: true };
      case "oscillate":
        return { kind: "oscillate", min: start, max: end, periodMs };
      default:
        return { kind: "square", low: start, high: end, periodMs, duty: 0.5 };
    }
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, Record<string, unknown>>);
    const [name, p] = entries[0] ?? [];
    if (entries.length !== 1 || !p || typeof p !== "object") throw new Error(`${what}: expected one curve`);
    const period = num(p.periodS, `${what}.${name}.periodS`) * 1000;
    if (!(period > 0)) throw new Error(`${what}.${name}.periodS must be > 0`);
    switch (name) {
      case "ramp":
        return {
          kind: "ramp",
          from: num(p.from, `${what}.ramp.from`),
          to: num(p.to, `${what}.ramp.to`),
          periodMs: period,
          repeat: p.repeat === true,
        };
      case "oscillate":
        return {
          kind: "oscillate",
          min: num(p.min, `${what}.oscillate.min`),
          max: num(p.max, `${what}.oscillate.max`),
          periodMs: period,
        };
      case "square": {
        const duty = p.duty === undefined ? 0.5 : num(p.duty, `${what}.square.duty`);
        if (!(duty > 0 && duty < 1)) throw new Error(`${what}.square.duty must be between 0 and 1`);
        return {
          kind: "square",
          low: num(p.low, `${what}.square.low`),
          high: num(p.high, `${what}.square.high`),
          periodMs: period,
          duty,
        };
      }
      default:
        throw new Error(`${what}: unknown curve "${name}" (ramp, oscillate, square)`);
    }
  }
  throw new Error(`${what} must be a number, a curve string or a curve object`);
}

/** Value of a curve `t` ms after it started. */
export function curveAt(c: Curve, t: number): number {
  switch (c.kind) {
    case "constant":
      return c.value;
    case "ramp": {
      const frac = c.repeat ? (t % c.periodMs) / c.periodMs : Math.min(1, t / c.periodMs);
      return c.from + frac * (c.to - c.from);
    }
    case "oscillate": {
      // Starts at the midpoint going up, like llm-d's sine.
      const mid = (c.min + c.max) / 2;
      return mid + ((c.max - c.min) / 2) * Math.sin((2 * Math.PI * t) / c.periodMs);
    }
    case "square":
      return t % c.periodMs < c.periodMs * (1 - c.duty) ? c.low : c.high;
  }
}

function curveRange(c: Curve): [number, number] {
  switch (c.kind) {
    case "constant":
      return [c.value, c.value];
    case "ramp":
      return [Math.min(c.from, c.to), Math.max(c.from, c.to)];
    case "oscillate":
      return [Math.min(c.min, c.max), Math.max(c.min, c.max)];
    case "square":
      return [Math.min(c.low, c.high), Math.max(c.low, c.high)];
  }
}

function list(csv: string): string[] {
  return csv
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

const KNOWN = new Set(["running-requests", "waiting-requests", "kv-cache-usage", "loras"]);

/** Parse and check a fake-metrics document (seed 004 keys); throws Error with the first problem. */
export function parseFakeMetrics(doc: unknown, nowWallMs = Date.now()): FakeMetricsDocument {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error("fake-metrics must be a JSON object");
  const d = doc as Record<string, unknown>;
  const curve = (key: string, max?: number): Curve => {
    const c = parseCurve(d[key] ?? 0, key);
    const [lo, hi] = curveRange(c);
    if (lo < 0) throw new Error(`${key} cannot be negative`);
    if (max !== undefined && hi > max) throw new Error(`${key} must be between 0 and ${max}`);
    return c;
  };
  const loras: FakeLoraInfo[] = [];
  if (d.loras !== undefined) {
    if (!Array.isArray(d.loras)) throw new Error("loras must be a list");
    for (const [i, l] of d.loras.entries()) {
      // llm-d's YAML form lists each entry as a JSON string.
      const e = (typeof l === "string" ? JSON.parse(l) : l) as Record<string, unknown>;
      if (!e || typeof e !== "object") throw new Error(`loras[${i}] must be an object`);
      loras.push({
        running: typeof e.running === "string" ? e.running : "",
        waiting: typeof e.waiting === "string" ? e.waiting : "",
        timestamp: typeof e.timestamp === "number" ? e.timestamp : nowWallMs / 1000,
      });
    }
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) if (!KNOWN.has(k)) extra[k] = v;
  return {
    running: curve("running-requests"),
    waiting: curve("waiting-requests"),
    kvUsage: curve("kv-cache-usage", 1),
    loras,
    extra,
  };
}

/**
 * The live fake-metrics provider. `set(doc)` (from config at startup and on /configure)
 * restarts the curves' time origin; `sample(now)` is null while no fake metrics are set.
 */
export class FakeMetrics {
  private doc: FakeMetricsDocument | undefined;
  private origin = 0;

  constructor(
    private readonly clock: { now(): number; wallNow(): number },
    doc: unknown = null,
    private refreshMs = 100,
  ) {
    this.set(doc);
  }

  get enabled(): boolean {
    return this.doc !== undefined;
  }

  /** The parsed document, e.g. for telemetry that also wants llm-d's histogram keys. */
  get document(): FakeMetricsDocument | undefined {
    return this.doc;
  }

  set(doc: unknown, refreshMs = this.refreshMs): void {
    this.refreshMs = refreshMs > 0 ? refreshMs : 100;
    this.doc = doc === null || doc === undefined ? undefined : parseFakeMetrics(doc, this.clock.wallNow());
    this.origin = this.clock.now();
  }

  /**
   * Values at engine time `now` (ms); running/waiting are whole numbers as llm-d rounds them.
   * Undefined when fake metrics are off, so callers fall back to measured values.
   */
  sample(now = this.clock.now()): FakeMetricsSample | undefined {
    const d = this.doc;
    if (!d) return undefined;
    const elapsed = Math.max(0, now - this.origin);
    const t = Math.floor(elapsed / this.refreshMs) * this.refreshMs;
    return {
      running: Math.trunc(curveAt(d.running, t)),
      waiting: Math.trunc(curveAt(d.waiting, t)),
      kvCacheUsage: Math.min(1, Math.max(0, curveAt(d.kvUsage, t))),
      loras: d.loras.map((l) => ({ running: list(l.running), waiting: list(l.waiting), timestamp: l.timestamp })),
    };
  }
}

// JSON Schema cannot check a curve string's range, so the whole document is parsed as a
// config rule: startup and /configure reject it before anything changes.
addConfigRule((cfg) => {
  if (cfg.fakeMetrics === null || cfg.fakeMetrics === undefined) return undefined;
  try {
    parseFakeMetrics(cfg.fakeMetrics);
    return undefined;
  } catch (err) {
    return `fake-metrics: ${(err as Error).message}`;
  }
});
