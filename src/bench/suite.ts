/**
 * `decoy bench suite`: four scenarios — throughput by payload
 * size and streaming mode, a concurrency sweep, KV-cache reuse with shared prefixes, and server
 * memory under load — with one summary report linking every run's artifacts.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CliError, joinPath, sleep } from "../loadgen/common/cli.js";
import { linearRegression, round, summarize } from "../loadgen/common/stats.js";
import { lineChart } from "../loadgen/common/svg.js";
import { resolveModel } from "./bench.js";
import { computeMetrics, type Metrics } from "./metrics.js";
import { connect, type ProfileOptions, type ProfileRun, runProfile } from "./profile.js";
import { type SweepPoint, sweepRows, writeProfileArtifacts, writeSweepArtifacts } from "./report.js";

export const SUITE_SCENARIOS = ["throughput", "concurrency", "kv-cache", "memory"] as const;
export type SuiteScenario = (typeof SUITE_SCENARIOS)[number];

export interface SuitePlan {
  throughput: {
    payloads: { name: string; inputTokens: number; outputTokens: number }[];
    streaming: boolean[];
    concurrency: number;
    requestCount: number;
  };
  concurrency: {
    levels: number[];
    requestsPerLevel: number;
    minRequests: number;
    inputTokens: number;
    outputTokens: number;
  };
  kvCache: { requests: number; inputTokens: number; outputTokens: number; prefixRatio: number; concurrency: number };
  memory: {
    durationS: number;
    requestRate: number;
    intervalS: number;
    inputTokens: number;
    outputTokens: number;
    /** Growth above which (with a good linear fit) a leak is suspected. */
    leakThresholdMbPerMin: number;
  };
}

export const QUICK_PLAN: SuitePlan = {
  throughput: {
    payloads: [
      { name: "small", inputTokens: 32, outputTokens: 16 },
      { name: "medium", inputTokens: 256, outputTokens: 64 },
    ],
    streaming: [false, true],
    concurrency: 8,
    requestCount: 32,
  },
  concurrency: { levels: [1, 4, 16], requestsPerLevel: 2, minRequests: 16, inputTokens: 128, outputTokens: 32 },
  kvCache: { requests: 12, inputTokens: 256, outputTokens: 8, prefixRatio: 0.75, concurrency: 1 },
  memory: {
    durationS: 10,
    requestRate: 5,
    intervalS: 0.5,
    inputTokens: 128,
    outputTokens: 32,
    leakThresholdMbPerMin: 1,
  },
};

export const FULL_PLAN: SuitePlan = {
  throughput: {
    payloads: [
      { name: "small", inputTokens: 32, outputTokens: 16 },
      { name: "medium", inputTokens: 256, outputTokens: 128 },
      { name: "large", inputTokens: 1024, outputTokens: 256 },
    ],
    streaming: [false, true],
    concurrency: 32,
    requestCount: 200,
  },
  concurrency: {
    levels: [10, 50, 100, 200],
    requestsPerLevel: 5,
    minRequests: 100,
    inputTokens: 256,
    outputTokens: 64,
  },
  kvCache: { requests: 50, inputTokens: 1024, outputTokens: 16, prefixRatio: 0.8, concurrency: 1 },
  memory: {
    durationS: 120,
    requestRate: 20,
    intervalS: 2,
    inputTokens: 256,
    outputTokens: 64,
    leakThresholdMbPerMin: 1,
  },
};

export interface SuiteOptions {
  url: string;
  model?: string | undefined;
  apiKey?: string | undefined;
  headers: Record<string, string>;
  endpointType: "chat" | "completions";
  outputDir: string;
  mode: "quick" | "full";
  scenarios: readonly SuiteScenario[];
  seed: number | string;
  timeoutS: number;
  ignoreEos: boolean;
  signal?: AbortSignal | undefined;
  progress?: boolean | undefined;
  print?: boolean | undefined;
  /** Overrides the mode's plan (tests use a tiny one). */
  plan?: SuitePlan | undefined;
}

export interface RunRow {
  name: string;
  dir: string;
  streaming: boolean;
  concurrency: number;
  request_throughput: number | null;
  output_token_throughput: number | null;
  request_latency_p50: number | null;
  request_latency_p99: number | null;
  time_to_first_token_p50: number | null;
  error_rate: number | null;
}

export interface KvCacheResult {
  requests: number;
  prefix_ratio: number;
  cached_tokens_reported: boolean;
  cold_hit_rate: number | null;
  warm_hit_rate: number | null;
  warm_token_reuse_rate: number | null;
  cold_ttft_p50_ms: number | null;
  warm_ttft_p50_ms: number | null;
  cold_ttft_mean_ms: number | null;
  warm_ttft_mean_ms: number | null;
  ttft_improvement_pct: number | null;
}

export interface MemoryResult {
  available: boolean;
  reason?: string;
  duration_s: number;
  request_rate: number;
  requests: number;
  samples: { t_s: number; rss_mb: number }[];
  start_mb: number | null;
  end_mb: number | null;
  peak_mb: number | null;
  growth_mb: number | null;
  slope_mb_per_min: number | null;
  r2: number | null;
  per_request_kb: number | null;
  leak_threshold_mb_per_min: number;
  leak_suspected: boolean | null;
  verdict: string;
}

export interface SuiteSummary {
  tool: "decoy bench suite";
  url: string;
  model: string;
  mode: string;
  endpoint_type: string;
  started: string;
  interrupted: boolean;
  throughput: RunRow[] | null;
  concurrency: Record<string, number | null>[] | null;
  kv_cache: KvCacheResult | null;
  memory: MemoryResult | null;
}

export interface SuiteResult {
  outputDir: string;
  summary: SuiteSummary;
  report: string;
}

function stat(m: Metrics, key: string, s: "avg" | "p50" | "p99" = "avg"): number | null {
  const v = m[key]?.[s];
  return typeof v === "number" ? v : null;
}

/** process_resident_memory_bytes from a Prometheus text page; undefined when absent. */
export function parseRss(text: string): number | undefined {
  const m = /^process_resident_memory_bytes(?:\{[^}]*\})?\s+([0-9.eE+-]+)/m.exec(text);
  const v = m ? Number(m[1]) : Number.NaN;
  return Number.isFinite(v) ? v : undefined;
}

export function leakVerdict(
  samples: { t_s: number; rss_mb: number }[],
  thresholdMbPerMin: number,
): Pick<MemoryResult, "slope_mb_per_min" | "r2" | "leak_suspected" | "verdict"> {
  const fit = linearRegression(
    samples.map((s) => s.t_s),
    samples.map((s) => s.rss_mb),
  );
  if (!fit || samples.length < 3)
    return { slope_mb_per_min: null, r2: null, leak_suspected: null, verdict: "not enough RSS samples for a verdict" };
  const slope = fit.slope * 60;
  // A steady climb (good linear fit) above the threshold; GC saw-teeth fit poorly and are not flagged.
  const leak = slope > thresholdMbPerMin && fit.r2 >= 0.5;
  return {
    slope_mb_per_min: round(slope, 3),
    r2: round(fit.r2, 3),
    leak_suspected: leak,
    verdict: leak
      ? `possible leak: RSS grows ${slope.toFixed(2)} MB/min (R² ${fit.r2.toFixed(2)})`
      : `no leak detected (${slope.toFixed(2)} MB/min, threshold ${thresholdMbPerMin} MB/min)`,
  };
}

export async function runSuite(o: SuiteOptions): Promise<SuiteResult> {
  const plan = o.plan ?? (o.mode === "full" ? FULL_PLAN : QUICK_PLAN);
  const model = await resolveModel(o);
  await mkdir(o.outputDir, { recursive: true });
  const aborted = (): boolean => o.signal?.aborted === true;
  const summary: SuiteSummary = {
    tool: "decoy bench suite",
    url: o.url,
    model,
    mode: o.plan ? "custom" : o.mode,
    endpoint_type: o.endpointType,
    started: new Date().toISOString(),
    interrupted: false,
    throughput: null,
    concurrency: null,
    kv_cache: null,
    memory: null,
  };
  const base = (over: Partial<ProfileOptions>): ProfileOptions => ({
    url: o.url,
    model,
    endpointType: o.endpointType,
    streaming: false,
    concurrency: 1,
    warmupRequestCount: 0,
    inputTokensMean: 128,
    inputTokensStddev: 0,
    outputTokensStddev: 0,
    sharedPrefixRatio: 0,
    numPrefixPrompts: 1,
    apiKey: o.apiKey,
    headers: o.headers,
    extraInputs: {},
    ignoreEos: o.ignoreEos,
    timeoutS: o.timeoutS,
    seed: o.seed,
    signal: o.signal,
    progress: o.progress,
    ...over,
  });
  const say = (line: string): void => {
    if (o.print) process.stdout.write(`${line}\n`);
  };
  const row = (name: string, dir: string, run: ProfileRun, m: Metrics): RunRow => ({
    name,
    dir,
    streaming: run.options.streaming,
    concurrency: run.options.concurrency,
    request_throughput: stat(m, "request_throughput"),
    output_token_throughput: stat(m, "output_token_throughput"),
    request_latency_p50: stat(m, "request_latency", "p50"),
    request_latency_p99: stat(m, "request_latency", "p99"),
    time_to_first_token_p50: stat(m, "time_to_first_token", "p50"),
    error_rate: stat(m, "error_rate"),
  });

  if (o.scenarios.includes("throughput") && !aborted()) {
    const rows: RunRow[] = [];
    const t = plan.throughput;
    for (const p of t.payloads) {
      for (const streaming of t.streaming) {
        if (aborted()) break;
        const name = `${p.name}-${streaming ? "streaming" : "non-streaming"}`;
        const dir = join("throughput", name);
        const run = await runProfile(
          base({
            streaming,
            concurrency: t.concurrency,
            requestCount: t.requestCount,
            inputTokensMean: p.inputTokens,
            outputTokensMean: p.outputTokens,
            // Distinct prompts per run, so no run profits from another's prefix-cache entries.
            seed: `${o.seed}:throughput:${name}`,
            label: `throughput ${name}`,
          }),
        );
        const m = computeMetrics(run);
        await writeProfileArtifacts(join(o.outputDir, dir), run, m);
        rows.push(row(name, dir, run, m));
        say(
          `throughput ${name}: ${n(stat(m, "request_throughput"), 1)} req/s, p99 ${n(stat(m, "request_latency", "p99"), 1)} ms`,
        );
      }
    }
    summary.throughput = rows;
  }

  if (o.scenarios.includes("concurrency") && !aborted()) {
    const c = plan.concurrency;
    const points: SweepPoint[] = [];
    for (const level of c.levels) {
      if (aborted()) break;
      const run = await runProfile(
        base({
          streaming: true,
          concurrency: level,
          requestCount: Math.max(c.minRequests, level * c.requestsPerLevel),
          inputTokensMean: c.inputTokens,
          outputTokensMean: c.outputTokens,
          seed: `${o.seed}:concurrency:${level}`,
          label: `concurrency ${level}`,
        }),
      );
      const m = computeMetrics(run);
      const dir = `concurrency_${level}`;
      await writeProfileArtifacts(join(o.outputDir, "concurrency", dir), run, m);
      points.push({
        concurrency: level,
        dir,
        metrics: m,
        latencies: run.records.filter((r) => r.ok).map((r) => r.latencyMs),
        interrupted: run.interrupted,
      });
      say(
        `concurrency ${level}: ${n(stat(m, "request_throughput"), 1)} req/s, p99 ${n(stat(m, "request_latency", "p99"), 1)} ms`,
      );
    }
    if (points.length > 0) {
      await writeSweepArtifacts(join(o.outputDir, "concurrency"), `Concurrency sweep: ${model}`, points, [
        `Streaming ${o.endpointType}, ${c.inputTokens} input / ${c.outputTokens} output tokens`,
      ]);
      summary.concurrency = sweepRows(points);
    }
  }

  if (o.scenarios.includes("kv-cache") && !aborted()) {
    const k = plan.kvCache;
    const common = {
      streaming: true,
      concurrency: k.concurrency,
      requestCount: k.requests,
      inputTokensMean: k.inputTokens,
      outputTokensMean: k.outputTokens,
    };
    // Cold: every prompt distinct. Warm: one shared prefix, primed by a warm-up request.
    const cold = await runProfile(base({ ...common, seed: `${o.seed}:kv-cold`, label: "kv-cache cold" }));
    const warm = aborted()
      ? undefined
      : await runProfile(
          base({
            ...common,
            seed: `${o.seed}:kv-warm`,
            sharedPrefixRatio: k.prefixRatio,
            numPrefixPrompts: 1,
            warmupRequestCount: 1,
            label: "kv-cache warm",
          }),
        );
    const cm = computeMetrics(cold);
    await writeProfileArtifacts(join(o.outputDir, "kv_cache", "cold"), cold, cm);
    const wm = warm ? computeMetrics(warm) : undefined;
    if (warm && wm) await writeProfileArtifacts(join(o.outputDir, "kv_cache", "warm"), warm, wm);
    const ttft = (run: ProfileRun | undefined) =>
      summarize((run?.records ?? []).filter((r) => r.ok && r.ttftMs !== undefined).map((r) => r.ttftMs as number));
    const c50 = ttft(cold);
    const w50 = ttft(warm);
    const reported = [...cold.records, ...(warm?.records ?? [])].some((r) => r.cachedTokens !== undefined);
    summary.kv_cache = {
      requests: k.requests,
      prefix_ratio: k.prefixRatio,
      cached_tokens_reported: reported,
      cold_hit_rate: stat(cm, "kv_cache_hit_rate"),
      warm_hit_rate: wm ? stat(wm, "kv_cache_hit_rate") : null,
      warm_token_reuse_rate: wm ? stat(wm, "kv_cache_token_reuse_rate") : null,
      cold_ttft_p50_ms: c50 ? round(c50.p50) : null,
      warm_ttft_p50_ms: w50 ? round(w50.p50) : null,
      cold_ttft_mean_ms: c50 ? round(c50.avg) : null,
      warm_ttft_mean_ms: w50 ? round(w50.avg) : null,
      ttft_improvement_pct: c50 && w50 && c50.p50 > 0 ? round(((c50.p50 - w50.p50) / c50.p50) * 100, 2) : null,
    };
    await writeFile(
      join(o.outputDir, "kv_cache", "kv_cache_results.json"),
      `${JSON.stringify(summary.kv_cache, null, 2)}\n`,
    );
    say(
      `kv-cache: hit rate ${summary.kv_cache.warm_hit_rate ?? "n/a"}%, TTFT improvement ${summary.kv_cache.ttft_improvement_pct ?? "n/a"}%`,
    );
  }

  if (o.scenarios.includes("memory") && !aborted()) {
    summary.memory = await memoryScenario(o, plan, base({ seed: `${o.seed}:memory` }), join(o.outputDir, "memory"));
    say(`memory: ${summary.memory.verdict}`);
  }

  summary.interrupted = aborted();
  await writeFile(join(o.outputDir, "benchmark_summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  const report = join(o.outputDir, "BENCHMARK_SUMMARY.md");
  await writeFile(report, summaryMarkdown(summary));
  say(`\nReport: ${report}`);
  return { outputDir: o.outputDir, summary, report };
}

async function memoryScenario(
  o: SuiteOptions,
  plan: SuitePlan,
  profile: ProfileOptions,
  dir: string,
): Promise<MemoryResult> {
  const mp = plan.memory;
  const result: MemoryResult = {
    available: false,
    duration_s: mp.durationS,
    request_rate: mp.requestRate,
    requests: 0,
    samples: [],
    start_mb: null,
    end_mb: null,
    peak_mb: null,
    growth_mb: null,
    slope_mb_per_min: null,
    r2: null,
    per_request_kb: null,
    leak_threshold_mb_per_min: mp.leakThresholdMbPerMin,
    leak_suspected: null,
    verdict: "",
  };
  await mkdir(dir, { recursive: true });
  const { client, base } = await connect(o.url, { apiKey: o.apiKey, headers: o.headers, maxSockets: 2 });
  const path = joinPath(base, "/metrics");
  const probe = async (): Promise<number | undefined> => {
    try {
      const res = await client.request({ path, timeoutMs: 5000 });
      return res.status === 200 ? parseRss(res.body.toString("utf8")) : undefined;
    } catch {
      return undefined;
    }
  };
  try {
    if ((await probe()) === undefined) {
      result.reason = `GET ${path} has no process_resident_memory_bytes`;
      result.verdict = `skipped: ${result.reason}`;
      return result;
    }
    result.available = true;
    const t0 = performance.now();
    let done = false;
    const sampler = (async () => {
      // Bounded: the load stops after durationS (plus request timeouts) and sets `done`.
      const deadline = t0 + (mp.durationS + o.timeoutS + 5) * 1000;
      while (!done && performance.now() < deadline && !o.signal?.aborted) {
        const rss = await probe();
        if (rss !== undefined)
          result.samples.push({ t_s: round((performance.now() - t0) / 1000, 3), rss_mb: round(rss / 2 ** 20, 3) });
        await sleep(mp.intervalS * 1000, o.signal);
      }
    })();
    const run = await runProfile({
      ...profile,
      streaming: true,
      concurrency: Math.max(4, Math.ceil(mp.requestRate * 2)),
      requestRate: mp.requestRate,
      durationS: mp.durationS,
      requestCount: undefined,
      inputTokensMean: mp.inputTokens,
      outputTokensMean: mp.outputTokens,
      label: "memory",
    });
    done = true;
    await sampler;
    const last = await probe();
    if (last !== undefined)
      result.samples.push({ t_s: round((performance.now() - t0) / 1000, 3), rss_mb: round(last / 2 ** 20, 3) });
    await writeProfileArtifacts(join(dir, "load"), run);
    result.requests = run.records.length;
    const rss = result.samples.map((s) => s.rss_mb);
    const first = rss[0];
    const end = rss[rss.length - 1];
    if (first !== undefined && end !== undefined) {
      result.start_mb = first;
      result.end_mb = end;
      result.peak_mb = Math.max(...rss);
      result.growth_mb = round(end - first, 3);
      result.per_request_kb = result.requests > 0 ? round(((end - first) * 1024) / result.requests, 3) : null;
    }
    Object.assign(result, leakVerdict(result.samples, mp.leakThresholdMbPerMin));
    await writeFile(
      join(dir, "rss.svg"),
      lineChart({
        title: "Server RSS during load",
        xLabel: "time (s)",
        yLabel: "RSS (MB)",
        markers: result.samples.length < 40,
        yMin: Math.max(0, Math.floor(Math.min(...rss) * 0.95)),
        xMin: 0,
        series: [
          { name: "process_resident_memory_bytes", points: result.samples.map((s) => [s.t_s, s.rss_mb] as const) },
        ],
      }),
    );
    return result;
  } finally {
    client.close();
    await writeFile(join(dir, "memory_results.json"), `${JSON.stringify(result, null, 2)}\n`);
  }
}

function n(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined ? "n/a" : v.toFixed(digits);
}

export function summaryMarkdown(s: SuiteSummary): string {
  const out: string[] = [
    "# decoy bench suite — summary",
    "",
    `- Server: ${s.url}`,
    `- Model: ${s.model} (${s.endpoint_type})`,
    `- Mode: ${s.mode}`,
    `- Started: ${s.started}${s.interrupted ? " — **interrupted**, partial results" : ""}`,
    "",
  ];
  if (s.throughput) {
    out.push(
      "## Throughput",
      "",
      "| Run | Concurrency | Requests/s | Output tokens/s | p50 latency (ms) | p99 latency (ms) | p50 TTFT (ms) | Error rate (%) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...s.throughput.map(
        (r) =>
          `| [${r.name}](${r.dir}/report.md) | ${r.concurrency} | ${n(r.request_throughput)} | ${n(r.output_token_throughput)} | ${n(r.request_latency_p50)} | ${n(r.request_latency_p99)} | ${n(r.time_to_first_token_p50)} | ${n(r.error_rate)} |`,
      ),
      "",
    );
  }
  if (s.concurrency) {
    out.push(
      "## Concurrency",
      "",
      "| Concurrency | Requests/s | p50 latency (ms) | p99 latency (ms) | p99 TTFT (ms) | Error rate (%) |",
      "|---:|---:|---:|---:|---:|---:|",
      ...s.concurrency.map(
        (r) =>
          `| ${r.concurrency} | ${n(r.request_throughput)} | ${n(r.request_latency_p50)} | ${n(r.request_latency_p99)} | ${n(r.time_to_first_token_p99)} | ${n(r.error_rate)} |`,
      ),
      "",
      "![Throughput vs concurrency](concurrency/throughput_vs_concurrency.svg)",
      "",
      "![p99 latency vs concurrency](concurrency/p99_vs_concurrency.svg)",
      "",
      "Details: [concurrency/report.md](concurrency/report.md)",
      "",
    );
  }
  if (s.kv_cache) {
    const k = s.kv_cache;
    out.push(
      "## KV cache",
      "",
      `Cold requests have distinct prompts; warm requests share a ${Math.round(k.prefix_ratio * 100)}% prefix (primed by one excluded request).`,
      "",
      "| Metric | Cold | Warm |",
      "|---|---:|---:|",
      `| Hit rate (% of requests with cached tokens) | ${n(k.cold_hit_rate)} | ${n(k.warm_hit_rate)} |`,
      `| Token reuse (% of prompt tokens cached) | | ${n(k.warm_token_reuse_rate)} |`,
      `| p50 TTFT (ms) | ${n(k.cold_ttft_p50_ms)} | ${n(k.warm_ttft_p50_ms)} |`,
      `| mean TTFT (ms) | ${n(k.cold_ttft_mean_ms)} | ${n(k.warm_ttft_mean_ms)} |`,
      "",
      `TTFT improvement (p50): **${n(k.ttft_improvement_pct)}%**${k.cached_tokens_reported ? "" : " — the server reports no usage.prompt_tokens_details.cached_tokens, so hit rates are unknown"}`,
      "",
    );
  }
  if (s.memory) {
    const m = s.memory;
    out.push("## Memory", "");
    if (!m.available) out.push(`Skipped: ${m.reason ?? "no data"}.`, "");
    else
      out.push(
        `${m.requests} streaming requests at ${m.request_rate}/s for ${m.duration_s} s; RSS from \`process_resident_memory_bytes\`.`,
        "",
        "| Start (MB) | End (MB) | Peak (MB) | Growth (MB) | Slope (MB/min) | R² | Per request (KB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        `| ${n(m.start_mb)} | ${n(m.end_mb)} | ${n(m.peak_mb)} | ${n(m.growth_mb)} | ${n(m.slope_mb_per_min, 3)} | ${n(m.r2, 3)} | ${n(m.per_request_kb)} |`,
        "",
        `Verdict: **${m.verdict}**`,
        "",
        "![Server RSS](memory/rss.svg)",
        "",
      );
  }
  return out.join("\n");
}

export function parseScenarios(list: string): SuiteScenario[] {
  const names = list
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const name of names) {
    if (!(SUITE_SCENARIOS as readonly string[]).includes(name))
      throw new CliError(`unknown suite scenario "${name}": expected ${SUITE_SCENARIOS.join(", ")}`);
  }
  return names as SuiteScenario[];
}
