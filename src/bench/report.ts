/**
 * Files a bench run leaves behind: aiperf-like JSON, a per-request CSV, SVG charts and a
 * Markdown report that links them; for a concurrency sweep, one folder per level plus a report
 * comparing them.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { csvRow } from "../loadgen/common/csv.js";
import { cdfPoints, round } from "../loadgen/common/stats.js";
import { lineChart } from "../loadgen/common/svg.js";
import { computeMetrics, errorSummary, METRIC_LABELS, type MetricStats, type Metrics } from "./metrics.js";
import type { ProfileOptions, ProfileRun } from "./profile.js";

export const REQUESTS_CSV_COLUMNS = [
  "request_index",
  "scheduled_ms",
  "start_ms",
  "end_ms",
  "send_delay_ms",
  "request_latency_ms",
  "ttft_ms",
  "inter_token_latency_ms",
  "time_per_output_token_ms",
  "input_tokens",
  "output_tokens",
  "cached_tokens",
  "ok",
  "status",
  "error",
] as const;

export interface ProfileDocument {
  [metric: string]: unknown;
  input_config: Record<string, unknown>;
  errors: { message: string; count: number }[];
  interrupted: boolean;
}

export function inputConfig(o: ProfileOptions, path: string): Record<string, unknown> {
  return {
    url: o.url,
    endpoint: path,
    model: o.model,
    endpoint_type: o.endpointType,
    streaming: o.streaming,
    concurrency: o.concurrency,
    request_rate: o.requestRate ?? null,
    request_count: o.requestCount ?? null,
    duration_s: o.durationS ?? null,
    warmup_request_count: o.warmupRequestCount,
    input_tokens_mean: o.inputTokensMean,
    input_tokens_stddev: o.inputTokensStddev,
    output_tokens_mean: o.outputTokensMean ?? null,
    output_tokens_stddev: o.outputTokensStddev,
    shared_prefix_ratio: o.sharedPrefixRatio,
    num_prefix_prompts: o.numPrefixPrompts,
    ignore_eos: o.ignoreEos,
    request_timeout_s: o.timeoutS,
    random_seed: o.seed,
  };
}

export function profileDocument(run: ProfileRun, metrics: Metrics = computeMetrics(run)): ProfileDocument {
  return {
    ...metrics,
    input_config: inputConfig(run.options, run.path),
    errors: errorSummary(run),
    interrupted: run.interrupted,
  };
}

function r3(v: number | undefined): number | undefined {
  return v === undefined ? undefined : round(v, 3);
}

export function requestsCsv(run: ProfileRun): string {
  let out = `${REQUESTS_CSV_COLUMNS.join(",")}\n`;
  for (const r of run.records) {
    out += csvRow([
      r.index,
      r3(r.scheduledMs),
      r3(r.startMs),
      r3(r.endMs),
      r3(Math.max(0, r.startMs - r.scheduledMs)),
      r3(r.latencyMs),
      r3(r.ttftMs),
      r3(r.itlMs),
      r3(r.tpotMs),
      r.inputTokens,
      r.outputTokens,
      r.cachedTokens,
      r.ok,
      r.status,
      r.error,
    ]);
  }
  return out;
}

function cell(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "";
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(2) : v.toFixed(3);
}

/** The metrics as a Markdown table (for reports) or aligned text (for the console). */
export function metricsTable(metrics: Metrics, markdown: boolean): string {
  const head = ["Metric", "Unit", "avg", "min", "max", "p50", "p90", "p95", "p99", "std"];
  const rows: string[][] = [];
  for (const [key, label] of METRIC_LABELS) {
    const s: MetricStats | undefined = metrics[key];
    if (!s) continue;
    rows.push([
      label,
      s.unit,
      cell(s.avg),
      cell(s.min),
      cell(s.max),
      cell(s.p50),
      cell(s.p90),
      cell(s.p95),
      cell(s.p99),
      cell(s.std),
    ]);
  }
  if (markdown) {
    return (
      [
        `| ${head.join(" | ")} |`,
        `|${head.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
        ...rows.map((r) => `| ${r.join(" | ")} |`),
      ].join("\n") + "\n"
    );
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}

function loadLabel(o: ProfileOptions): string {
  return o.requestRate
    ? `request rate ${o.requestRate}/s (max ${o.concurrency} in flight)`
    : `concurrency ${o.concurrency}`;
}

export function cdfChart(title: string, series: { name: string; latencies: number[] }[]): string {
  return lineChart({
    title,
    xLabel: "request latency (ms)",
    yLabel: "fraction of requests (%)",
    step: true,
    yMin: 0,
    yMax: 100,
    xMin: 0,
    series: series.map((s) => ({
      name: s.name,
      points: cdfPoints(s.latencies).map(([x, y]) => [x, y * 100] as const),
    })),
  });
}

export interface ProfileFiles {
  json: string;
  csv: string;
  markdown: string;
  svg: string[];
}

export async function writeProfileArtifacts(
  dir: string,
  run: ProfileRun,
  metrics = computeMetrics(run),
): Promise<ProfileFiles> {
  await mkdir(dir, { recursive: true });
  const o = run.options;
  const doc = profileDocument(run, metrics);
  const json = join(dir, "profile_export.json");
  const csv = join(dir, "requests.csv");
  const markdown = join(dir, "report.md");
  const svg: string[] = [];
  await writeFile(json, `${JSON.stringify(doc, null, 2)}\n`);
  await writeFile(csv, requestsCsv(run));
  const ok = run.records.filter((r) => r.ok);
  const charts: string[] = [];
  if (ok.length > 0) {
    const cdf = join(dir, "latency_cdf.svg");
    const series = [{ name: "request latency", latencies: ok.map((r) => r.latencyMs) }];
    const ttft = ok.map((r) => r.ttftMs).filter((v): v is number => v !== undefined);
    if (ttft.length > 0) series.push({ name: "time to first token", latencies: ttft });
    await writeFile(cdf, cdfChart(`Latency CDF — ${o.model}, ${loadLabel(o)}`, series));
    svg.push(cdf);
    charts.push("## Latency CDF\n\n![Latency CDF](latency_cdf.svg)\n");
  }
  const errors = errorSummary(run);
  const md = [
    `# decoy bench: ${o.model}`,
    "",
    `- Server: ${o.url} (\`POST ${run.path}\`)`,
    `- Endpoint: ${o.endpointType}${o.streaming && o.endpointType !== "embeddings" ? ", streaming" : ""}`,
    `- Load: ${loadLabel(o)}; ${run.records.length} measured requests${run.warmup.length ? ` after ${run.warmup.length} warm-up` : ""}`,
    `- Input tokens: mean ${o.inputTokensMean}, stddev ${o.inputTokensStddev}${o.sharedPrefixRatio > 0 ? `, shared prefix ${Math.round(o.sharedPrefixRatio * 100)}% over ${o.numPrefixPrompts} prefix(es)` : ""}`,
    `- Output tokens: ${o.outputTokensMean !== undefined ? `mean ${o.outputTokensMean}, stddev ${o.outputTokensStddev}` : "server default"}`,
    `- Started: ${new Date(run.wallStart).toISOString()}${run.interrupted ? " — **interrupted**, partial results" : ""}`,
    "",
    "## Metrics",
    "",
    metricsTable(metrics, true),
    ...charts,
    ...(errors.length > 0
      ? [
          "## Errors",
          "",
          "| Count | Error |",
          "|---:|---|",
          ...errors.slice(0, 20).map((e) => `| ${e.count} | ${e.message.replace(/\|/g, "\\|")} |`),
          "",
        ]
      : []),
    "Files: `profile_export.json` (metrics), `requests.csv` (one row per request).",
    "",
  ].join("\n");
  await writeFile(markdown, md);
  return { json, csv, markdown, svg };
}

export interface SweepPoint {
  concurrency: number;
  dir: string;
  metrics: Metrics;
  latencies: number[];
  interrupted: boolean;
}

function v(m: Metrics, key: string, stat: keyof MetricStats = "avg"): number | undefined {
  const s = m[key];
  const x = s?.[stat];
  return typeof x === "number" ? x : undefined;
}

export function sweepRows(points: SweepPoint[]): Record<string, number | null>[] {
  return points.map((p) => ({
    concurrency: p.concurrency,
    request_throughput: v(p.metrics, "request_throughput") ?? null,
    output_token_throughput: v(p.metrics, "output_token_throughput") ?? null,
    request_latency_p50: v(p.metrics, "request_latency", "p50") ?? null,
    request_latency_p99: v(p.metrics, "request_latency", "p99") ?? null,
    time_to_first_token_p50: v(p.metrics, "time_to_first_token", "p50") ?? null,
    time_to_first_token_p99: v(p.metrics, "time_to_first_token", "p99") ?? null,
    error_count: v(p.metrics, "error_count") ?? null,
    error_rate: v(p.metrics, "error_rate") ?? null,
  }));
}

/** Charts and report comparing concurrency levels; returns the report's path. */
export async function writeSweepArtifacts(
  dir: string,
  title: string,
  points: SweepPoint[],
  notes: string[] = [],
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const rows = sweepRows(points);
  await writeFile(join(dir, "sweep.json"), `${JSON.stringify({ points: rows }, null, 2)}\n`);
  const pts = (key: string): [number, number][] =>
    rows.filter((r) => typeof r[key] === "number").map((r) => [r.concurrency as number, r[key] as number]);
  await writeFile(
    join(dir, "throughput_vs_concurrency.svg"),
    lineChart({
      title: "Request throughput vs concurrency",
      xLabel: "concurrency",
      yLabel: "requests / s",
      markers: true,
      xMin: 0,
      series: [{ name: "request throughput", points: pts("request_throughput") }],
    }),
  );
  const latencySeries = [{ name: "p99 request latency", points: pts("request_latency_p99") }];
  if (pts("time_to_first_token_p99").length > 0)
    latencySeries.push({ name: "p99 TTFT", points: pts("time_to_first_token_p99") });
  await writeFile(
    join(dir, "p99_vs_concurrency.svg"),
    lineChart({
      title: "p99 latency vs concurrency",
      xLabel: "concurrency",
      yLabel: "ms",
      markers: true,
      xMin: 0,
      series: latencySeries,
    }),
  );
  await writeFile(
    join(dir, "latency_cdf.svg"),
    cdfChart(
      "Request latency CDF by concurrency",
      points.map((p) => ({ name: `concurrency ${p.concurrency}`, latencies: p.latencies })),
    ),
  );
  const f = (x: number | null): string => (x === null ? "" : cell(x));
  const md = [
    `# ${title}`,
    "",
    ...notes.map((n) => `- ${n}`),
    ...(notes.length ? [""] : []),
    "| Concurrency | Requests/s | Output tokens/s | p50 latency (ms) | p99 latency (ms) | p50 TTFT (ms) | p99 TTFT (ms) | Errors | Details |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...rows.map(
      (r, i) =>
        `| ${r.concurrency} | ${f(r.request_throughput ?? null)} | ${f(r.output_token_throughput ?? null)} | ${f(r.request_latency_p50 ?? null)} | ${f(r.request_latency_p99 ?? null)} | ${f(r.time_to_first_token_p50 ?? null)} | ${f(r.time_to_first_token_p99 ?? null)} | ${r.error_count ?? 0} | [report](${points[i]?.dir}/report.md) |`,
    ),
    "",
    "## Throughput vs concurrency",
    "",
    "![Throughput vs concurrency](throughput_vs_concurrency.svg)",
    "",
    "## p99 latency vs concurrency",
    "",
    "![p99 latency vs concurrency](p99_vs_concurrency.svg)",
    "",
    "## Latency CDF",
    "",
    "![Latency CDF](latency_cdf.svg)",
    "",
  ].join("\n");
  const path = join(dir, "report.md");
  await writeFile(path, md);
  return path;
}
