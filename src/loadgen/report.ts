/**
 * Results of a loadgen run in the shapes users of MLPerf LoadGen expect: a
 * `mlperf_log_summary.txt`-style text, the same numbers as JSON, and the per-request workload CSV.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { csvRow } from "./common/csv.js";
import { round, summarize } from "./common/stats.js";
import type { LoadgenRun, SampleRecord } from "./run.js";

/** The workload log's columns, in this order; scripts written for LoadGen workload logs parse them by name. */
export const WORKLOAD_LOG_COLUMNS = [
  "timestamp_issued",
  "response_id",
  "sample_index",
  "model",
  "tag",
  "latency_ns",
  "latency_ms",
] as const;

export interface LatencyStats {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p97: number;
  p99: number;
  "p99.9": number;
  max: number;
  std: number;
}

export interface GroupSummary {
  samples_issued: number;
  samples_completed: number;
  errors: number;
  /** Completed samples per second over the run's duration. */
  achieved_qps: number;
  latency_ms: LatencyStats | null;
}

export interface PhaseSummary extends GroupSummary {
  start_s: number;
  end_s: number;
  target_qps: number;
  /** Samples scheduled in the phase per second: the offered load actually generated. */
  scheduled_qps: number;
}

export interface LoadgenSummary {
  tool: "decoy loadgen";
  scenario: string;
  mode: "PerformanceOnly";
  protocol: string;
  url: string;
  result: "VALID" | "INVALID";
  invalid_reasons: string[];
  interrupted: boolean;
  target_qps: number | null;
  scheduled_qps: number | null;
  achieved_qps: number;
  duration_ms: number;
  queries_issued: number;
  samples_issued: number;
  samples_completed: number;
  errors: number;
  error_kinds: Record<string, number>;
  latency_bound_ms: number | null;
  latency_percentile: number | null;
  latency_at_percentile_ms: number | null;
  latency_ms: LatencyStats | null;
  /** MultiStream only: from a query's issue to its last sample's completion. */
  query_latency_ms: LatencyStats | null;
  per_model: Record<string, GroupSummary>;
  phases: PhaseSummary[] | null;
  settings: Record<string, unknown>;
}

function latencyOf(r: SampleRecord): number {
  return r.doneAt - r.scheduledAt;
}

function stats(values: number[]): LatencyStats | null {
  const s = summarize(values);
  if (!s) return null;
  return {
    min: round(s.min),
    mean: round(s.avg),
    p50: round(s.p50),
    p90: round(s.p90),
    p95: round(s.p95),
    p97: round(s.p97),
    p99: round(s.p99),
    "p99.9": round(s.p999),
    max: round(s.max),
    std: round(s.std),
  };
}

function pick(s: LatencyStats, pct: number): number {
  const key =
    pct >= 99.9 ? "p99.9" : pct >= 99 ? "p99" : pct >= 97 ? "p97" : pct >= 95 ? "p95" : pct >= 90 ? "p90" : "p50";
  return s[key];
}

function group(records: SampleRecord[], durationS: number): GroupSummary {
  const done = records.filter((r) => r.status === "ok" || r.status === "error");
  const ok = done.filter((r) => r.status === "ok");
  return {
    samples_issued: records.length,
    samples_completed: ok.length,
    errors: done.length - ok.length,
    achieved_qps: durationS > 0 ? round(ok.length / durationS, 3) : 0,
    latency_ms: stats(ok.map(latencyOf)),
  };
}

export function summarizeRun(run: LoadgenRun): LoadgenSummary {
  const o = run.options;
  const records = run.records;
  const durationMs = Math.max(0, run.endMs);
  const durationS = durationMs / 1000;
  const overall = group(records, durationS);
  const perModel: Record<string, GroupSummary> = {};
  for (const model of run.mix.models)
    perModel[model] = group(
      records.filter((r) => r.model === model),
      durationS,
    );

  const errorKinds: Record<string, number> = {};
  for (const r of records)
    if (r.status === "error") errorKinds[r.error ?? "error"] = (errorKinds[r.error ?? "error"] ?? 0) + 1;

  let phases: PhaseSummary[] | null = null;
  if (run.phases) {
    phases = run.phases.map((p) => {
      const inPhase = records.filter(
        (r) => r.scheduledAt - run.perfStart >= p.startMs && r.scheduledAt - run.perfStart < p.endMs,
      );
      const len = (p.endMs - p.startMs) / 1000;
      return {
        start_s: p.startMs / 1000,
        end_s: p.endMs / 1000,
        target_qps: p.qps,
        scheduled_qps: round(inPhase.length / len, 3),
        ...group(inPhase, len),
      };
    });
  }

  const isServer = o.scenario === "Server";
  const scheduledQps = isServer && run.issueEndMs > 0 ? round(records.length / (run.issueEndMs / 1000), 3) : null;
  const queryLatency =
    o.scenario === "MultiStream" ? stats(run.queries.filter((q) => q.ok).map((q) => q.doneAt - q.issuedAt)) : null;

  const reasons: string[] = [];
  if (run.interrupted) reasons.push("run interrupted before completion");
  if (overall.errors > 0) reasons.push(`${overall.errors} sample(s) failed`);
  if (!run.phases && o.scenario !== "Offline") {
    if (run.issueEndMs < o.durationMs)
      reasons.push(`min duration not met (${Math.round(run.issueEndMs)} < ${o.durationMs} ms)`);
    if (run.queries.length < o.minQueryCount)
      reasons.push(`min query count not met (${run.queries.length} < ${o.minQueryCount})`);
  }
  if (o.scenario === "Offline" && overall.samples_completed < o.totalSamples)
    reasons.push(`${o.totalSamples - overall.samples_completed} of ${o.totalSamples} samples not completed`);
  let atPct: number | null = null;
  const basis = queryLatency ?? overall.latency_ms;
  if (o.latencyBoundMs !== undefined && basis) {
    atPct = pick(basis, o.latencyPercentile);
    if (atPct > o.latencyBoundMs)
      reasons.push(`p${o.latencyPercentile} latency ${atPct} ms exceeds the bound of ${o.latencyBoundMs} ms`);
  }
  if (overall.samples_completed === 0 && !reasons.some((r) => r.includes("failed")))
    reasons.push("no sample completed");

  return {
    tool: "decoy loadgen",
    scenario: o.scenario,
    mode: "PerformanceOnly",
    protocol: o.protocol,
    url: o.url,
    result: reasons.length === 0 ? "VALID" : "INVALID",
    invalid_reasons: reasons,
    interrupted: run.interrupted,
    target_qps: isServer ? (run.phases ? null : o.targetQps) : null,
    scheduled_qps: scheduledQps,
    achieved_qps: overall.achieved_qps,
    duration_ms: round(durationMs, 1),
    queries_issued: run.queries.length,
    samples_issued: overall.samples_issued,
    samples_completed: overall.samples_completed,
    errors: overall.errors,
    error_kinds: errorKinds,
    latency_bound_ms: o.latencyBoundMs ?? null,
    latency_percentile: o.latencyBoundMs !== undefined ? o.latencyPercentile : null,
    latency_at_percentile_ms: atPct,
    latency_ms: overall.latency_ms,
    query_latency_ms: queryLatency,
    per_model: perModel,
    phases,
    settings: {
      scenario: o.scenario,
      protocol: o.protocol,
      url: o.url,
      models: run.mix.models,
      mix: run.mix.weights,
      target_qps: o.schedule ? null : o.targetQps,
      schedule: o.schedule ?? null,
      duration_ms: o.schedule ? null : o.durationMs,
      max_duration_ms: o.maxDurationMs,
      min_query_count: o.minQueryCount,
      total_samples: o.totalSamples,
      samples_per_query: o.samplesPerQuery,
      max_inflight: o.maxInflight,
      timeout_s: o.timeoutS,
      binary_data: o.binaryData,
      seed: o.seed,
    },
  };
}

function ns(ms: number): string {
  return String(Math.round(ms * 1e6));
}

function line(label: string, value: string | number): string {
  return `${label.padEnd(34)}: ${value}\n`;
}

export function formatSummary(s: LoadgenSummary): string {
  const bar = `${"=".repeat(56)}\n`;
  let out = bar + "Decoy LoadGen Results Summary\n" + bar;
  out += line("SUT name", `${s.url} (${s.protocol})`);
  out += line("Scenario", s.scenario);
  out += line("Mode", s.mode);
  if (s.scheduled_qps !== null) out += line("Scheduled samples per second", s.scheduled_qps.toFixed(2));
  out += line("Completed samples per second", s.achieved_qps.toFixed(2));
  out += line("Result is", s.result);
  for (const r of s.invalid_reasons) out += `  * ${r}\n`;
  out += line("  Errors", s.errors);
  if (s.latency_bound_ms !== null)
    out += line(
      "  Latency bound",
      `p${s.latency_percentile} <= ${s.latency_bound_ms} ms (measured ${s.latency_at_percentile_ms ?? "-"} ms)`,
    );
  out += "\n" + bar + "Additional Stats\n" + bar;
  out += line("Queries issued", s.queries_issued);
  out += line("Samples issued", s.samples_issued);
  out += line("Samples completed", s.samples_completed);
  out += line("Duration (ms)", s.duration_ms);
  if (s.target_qps !== null) out += line("Target QPS", s.target_qps);
  const lat = s.latency_ms;
  if (lat) {
    out += "\n";
    out += line("Min latency (ns)", ns(lat.min));
    out += line("Max latency (ns)", ns(lat.max));
    out += line("Mean latency (ns)", ns(lat.mean));
    out += line("50.00 percentile latency (ns)", ns(lat.p50));
    out += line("90.00 percentile latency (ns)", ns(lat.p90));
    out += line("95.00 percentile latency (ns)", ns(lat.p95));
    out += line("97.00 percentile latency (ns)", ns(lat.p97));
    out += line("99.00 percentile latency (ns)", ns(lat.p99));
    out += line("99.90 percentile latency (ns)", ns(lat["p99.9"]));
  }
  if (s.query_latency_ms) {
    out += "\n";
    out += line("Query 50.00 percentile latency (ns)", ns(s.query_latency_ms.p50));
    out += line("Query 99.00 percentile latency (ns)", ns(s.query_latency_ms.p99));
  }
  out += "\n" + bar + "Per model (latency in ms)\n" + bar;
  out += table(
    ["model", "issued", "done", "errors", "qps", "mean", "p50", "p90", "p99", "p99.9"],
    Object.entries(s.per_model).map(([m, g]) => [
      m,
      g.samples_issued,
      g.samples_completed,
      g.errors,
      g.achieved_qps.toFixed(2),
      ...(g.latency_ms
        ? [g.latency_ms.mean, g.latency_ms.p50, g.latency_ms.p90, g.latency_ms.p99, g.latency_ms["p99.9"]].map((v) =>
            v.toFixed(2),
          )
        : ["-", "-", "-", "-", "-"]),
    ]),
  );
  if (s.phases) {
    out += "\n" + bar + "Schedule phases (latency in ms)\n" + bar;
    out += table(
      ["phase", "target", "sched qps", "done qps", "issued", "errors", "p50", "p99"],
      s.phases.map((p) => [
        `${p.start_s}-${p.end_s}s`,
        p.target_qps,
        p.scheduled_qps.toFixed(2),
        p.achieved_qps.toFixed(2),
        p.samples_issued,
        p.errors,
        p.latency_ms ? p.latency_ms.p50.toFixed(2) : "-",
        p.latency_ms ? p.latency_ms.p99.toFixed(2) : "-",
      ]),
    );
  }
  const kinds = Object.entries(s.error_kinds).sort((a, b) => b[1] - a[1]);
  if (kinds.length > 0) {
    out += "\n" + bar + "Errors\n" + bar;
    for (const [k, n] of kinds.slice(0, 10)) out += `${String(n).padStart(8)}  ${k}\n`;
  }
  out += "\n" + bar + "Test Parameters Used\n" + bar;
  for (const [k, v] of Object.entries(s.settings)) out += line(k, Array.isArray(v) ? v.join(",") : String(v));
  return out;
}

function table(head: string[], rows: (string | number)[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? "").length)));
  const fmt = (cells: (string | number)[]): string =>
    `${cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i] ?? 0) : String(c).padStart(widths[i] ?? 0))).join("  ")}\n`;
  return fmt(head) + rows.map(fmt).join("");
}

/** Rows for every sample that got an answer (success or failure), in issue order. */
export function workloadCsv(run: LoadgenRun): string {
  let out = `${WORKLOAD_LOG_COLUMNS.join(",")}\n`;
  const rows = run.records
    .filter((r) => r.status === "ok" || r.status === "error")
    .sort((a, b) => a.responseId - b.responseId);
  for (const r of rows) {
    const latencyMs = latencyOf(r);
    const issued = (run.wallStart + (r.scheduledAt - run.perfStart)) / 1000;
    out += csvRow([
      issued.toFixed(6),
      r.responseId,
      r.sampleIndex,
      r.model,
      r.tag,
      Math.round(latencyMs * 1e6),
      latencyMs.toFixed(6),
    ]);
  }
  return out;
}

export async function writeWorkloadLog(path: string, run: LoadgenRun): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, workloadCsv(run));
}

export interface WrittenFiles {
  summaryTxt: string;
  summaryJson: string;
}

export async function writeOutputDir(dir: string, summary: LoadgenSummary): Promise<WrittenFiles> {
  await mkdir(dir, { recursive: true });
  const summaryTxt = join(dir, "mlperf_log_summary.txt");
  const summaryJson = join(dir, "mlperf_log_summary.json");
  await writeFile(summaryTxt, formatSummary(summary));
  await writeFile(summaryJson, `${JSON.stringify(summary, null, 2)}\n`);
  return { summaryTxt, summaryJson };
}
