/**
 * aiperf-style metrics of a profile run. Names and units follow aiperf's
 * profile_export_aiperf.json so existing dashboards and scripts read them unchanged;
 * throughputs and counts carry only `avg`, as in aiperf.
 */
import { round, summarize } from "../loadgen/common/stats.js";
import type { ProfileRun, RequestRecord } from "./profile.js";

export interface MetricStats {
  unit: string;
  avg: number;
  min?: number;
  max?: number;
  p50?: number;
  p90?: number;
  p95?: number;
  p99?: number;
  std?: number;
}

export type Metrics = Record<string, MetricStats>;

function dist(unit: string, values: number[]): MetricStats | undefined {
  const s = summarize(values);
  if (!s) return undefined;
  return {
    unit,
    avg: round(s.avg, 4),
    min: round(s.min, 4),
    max: round(s.max, 4),
    p50: round(s.p50, 4),
    p90: round(s.p90, 4),
    p95: round(s.p95, 4),
    p99: round(s.p99, 4),
    std: round(s.std, 4),
  };
}

function defined<T>(values: (T | undefined)[]): T[] {
  return values.filter((v): v is T => v !== undefined);
}

export function computeMetrics(run: ProfileRun): Metrics {
  const ok: RequestRecord[] = run.records.filter((r) => r.ok);
  const total = run.records.length;
  const errors = total - ok.length;
  const seconds = run.durationMs / 1000;
  const m: Metrics = {};
  const put = (name: string, v: MetricStats | undefined): void => {
    if (v) m[name] = v;
  };
  put("request_throughput", { unit: "requests/sec", avg: seconds > 0 ? round(ok.length / seconds, 4) : 0 });
  put(
    "request_latency",
    dist(
      "ms",
      ok.map((r) => r.latencyMs),
    ),
  );
  put("time_to_first_token", dist("ms", defined(ok.map((r) => r.ttftMs))));
  put("inter_token_latency", dist("ms", defined(ok.map((r) => r.itlMs))));
  put(
    "inter_chunk_latency",
    dist(
      "ms",
      ok.flatMap((r) => r.chunkGapsMs),
    ),
  );
  put("time_per_output_token", dist("ms", defined(ok.map((r) => r.tpotMs))));
  const outTokens = defined(ok.map((r) => r.outputTokens));
  const inTokens = ok.map((r) => r.inputTokens);
  if (outTokens.length > 0) {
    put("output_token_throughput", {
      unit: "tokens/sec",
      avg: seconds > 0 ? round(outTokens.reduce((a, b) => a + b, 0) / seconds, 4) : 0,
    });
    put(
      "output_token_throughput_per_user",
      dist("tokens/sec/user", defined(ok.map((r) => (r.itlMs ? 1000 / r.itlMs : undefined)))),
    );
  }
  put("input_token_throughput", {
    unit: "tokens/sec",
    avg: seconds > 0 ? round(inTokens.reduce((a, b) => a + b, 0) / seconds, 4) : 0,
  });
  put("output_sequence_length", dist("tokens", outTokens));
  put("input_sequence_length", dist("tokens", inTokens));
  const cachedReported = ok.filter((r) => r.cachedTokens !== undefined);
  if (cachedReported.length > 0) {
    const hits = cachedReported.filter((r) => (r.cachedTokens ?? 0) > 0).length;
    const cached = cachedReported.reduce((a, r) => a + (r.cachedTokens ?? 0), 0);
    const prompt = cachedReported.reduce((a, r) => a + r.inputTokens, 0);
    put("kv_cache_hit_rate", { unit: "%", avg: round((hits / cachedReported.length) * 100, 2) });
    put("kv_cache_token_reuse_rate", { unit: "%", avg: prompt > 0 ? round((cached / prompt) * 100, 2) : 0 });
    put(
      "cached_tokens",
      dist(
        "tokens",
        cachedReported.map((r) => r.cachedTokens ?? 0),
      ),
    );
  }
  put("request_count", { unit: "requests", avg: ok.length });
  put("error_count", { unit: "requests", avg: errors });
  put("error_rate", { unit: "%", avg: total > 0 ? round((errors / total) * 100, 2) : 0 });
  put("benchmark_duration", { unit: "sec", avg: round(seconds, 4) });
  return m;
}

/** Distinct error messages with counts, most frequent first. */
export function errorSummary(run: ProfileRun): { message: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of run.records) if (!r.ok) counts.set(r.error ?? "error", (counts.get(r.error ?? "error") ?? 0) + 1);
  return [...counts.entries()].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count);
}

/** Human labels for the console and Markdown tables, in display order. */
export const METRIC_LABELS: [string, string][] = [
  ["time_to_first_token", "Time to first token"],
  ["inter_token_latency", "Inter-token latency"],
  ["inter_chunk_latency", "Inter-chunk latency"],
  ["time_per_output_token", "Time per output token"],
  ["request_latency", "Request latency"],
  ["output_sequence_length", "Output sequence length"],
  ["input_sequence_length", "Input sequence length"],
  ["output_token_throughput_per_user", "Output token throughput per user"],
  ["cached_tokens", "Cached prompt tokens"],
  ["request_throughput", "Request throughput"],
  ["output_token_throughput", "Output token throughput"],
  ["input_token_throughput", "Input token throughput"],
  ["kv_cache_hit_rate", "KV-cache hit rate"],
  ["kv_cache_token_reuse_rate", "KV-cache token reuse"],
  ["request_count", "Request count"],
  ["error_count", "Error count"],
  ["error_rate", "Error rate"],
  ["benchmark_duration", "Benchmark duration"],
];
