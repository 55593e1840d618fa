import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BenchOptions, runBench } from "../../src/bench/bench.js";
import { computeMetrics } from "../../src/bench/metrics.js";
import { REQUESTS_CSV_COLUMNS } from "../../src/bench/report.js";
import { leakVerdict, parseRss, QUICK_PLAN, runSuite, type SuitePlan } from "../../src/bench/suite.js";
import { type FakeServer, startFakeServer } from "./fake-server.js";

let server: FakeServer;
let dir: string;

before(async () => {
  server = await startFakeServer({ latencyMs: 5, ttftMs: 20, itlMs: 2, tokens: 8, failModel: "bad-model" });
  dir = await mkdtemp(join(tmpdir(), "decoy-bench-"));
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function options(over: Partial<BenchOptions>): BenchOptions {
  return {
    url: server.url,
    model: "fake-model",
    endpointType: "chat",
    streaming: true,
    concurrency: [4],
    requestCount: 24,
    warmupRequestCount: 0,
    inputTokensMean: 64,
    inputTokensStddev: 0,
    outputTokensMean: 10,
    outputTokensStddev: 0,
    sharedPrefixRatio: 0,
    numPrefixPrompts: 1,
    headers: {},
    extraInputs: {},
    ignoreEos: true,
    timeoutS: 5,
    seed: 11,
    progress: false,
    ...over,
  };
}

function near(actual: number | undefined, expected: number, tolerance: number, what: string): void {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual}, expected ${expected} ± ${tolerance}`,
  );
}

describe("bench against a fake OpenAI server", () => {
  test("streaming chat: TTFT, ITL and lengths match the server's timing; artifacts written", async () => {
    const out = join(dir, "stream");
    const before = server.openaiBodies.length;
    const gapsBefore = server.tokenGapsMs.length;
    const { runs } = await runBench(options({ outputDir: out }));
    const sent = server.tokenGapsMs.slice(gapsBefore);
    const sentMean = sent.reduce((a, b) => a + b, 0) / sent.length;
    const m = runs[0]?.metrics ?? {};
    assert.equal(m.error_count?.avg, 0);
    assert.equal(m.request_count?.avg, 24);
    near(m.time_to_first_token?.p50, 27, 12, "p50 TTFT");
    assert.ok((m.time_to_first_token?.p50 ?? 0) >= 20);
    // The server's timers (2 ms) run late on a loaded machine; the client must see the gaps
    // the server actually made, give or take scheduling on the way.
    assert.ok((m.inter_token_latency?.avg ?? 0) >= 1.5, "ITL at least the server's configured 2 ms, less timer slack");
    near(m.inter_token_latency?.avg, sentMean, Math.max(0.5, sentMean * 0.25), "ITL vs the gaps the server made");
    assert.equal(m.output_sequence_length?.p50, 10);
    assert.equal(m.input_sequence_length?.avg, 64);
    near(m.request_latency?.p50, 45, 25, "p50 latency");
    for (const k of ["request_latency", "time_to_first_token", "inter_token_latency", "time_per_output_token"]) {
      for (const s of ["avg", "min", "max", "p50", "p90", "p95", "p99", "std"]) {
        assert.equal(typeof (m[k] as unknown as Record<string, unknown>)[s], "number", `${k}.${s}`);
      }
      assert.equal(m[k]?.unit, "ms");
    }
    for (const k of ["request_throughput", "output_token_throughput", "input_token_throughput", "error_rate"])
      assert.ok(m[k], k);
    const body = server.openaiBodies[before] as Record<string, unknown>;
    assert.equal(body.max_tokens, 10);
    assert.equal(body.ignore_eos, true);
    assert.deepEqual(body.stream_options, { include_usage: true });

    const doc = JSON.parse(await readFile(join(out, "profile_export.json"), "utf8"));
    assert.equal(doc.request_latency.unit, "ms");
    assert.equal(doc.input_config.concurrency, 4);
    const csv = (await readFile(join(out, "requests.csv"), "utf8")).trimEnd().split("\n");
    assert.equal(csv[0], REQUESTS_CSV_COLUMNS.join(","));
    assert.equal(csv.length, 25);
    assert.match(await readFile(join(out, "report.md"), "utf8"), /!\[Latency CDF\]\(latency_cdf\.svg\)/);
    assert.match(
      await readFile(join(out, "latency_cdf.svg"), "utf8"),
      /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );
  });

  test("warm-up requests are sent but kept out of the results", async () => {
    const before = server.openaiBodies.length;
    const { runs } = await runBench(options({ warmupRequestCount: 3, requestCount: 10, outputDir: join(dir, "warm") }));
    assert.equal(server.openaiBodies.length - before, 13);
    assert.equal(runs[0]?.run.records.length, 10);
    assert.equal(runs[0]?.run.warmup.length, 3);
  });

  test("a concurrency sweep writes one run per level and the comparison charts", async () => {
    const out = join(dir, "sweep");
    const { runs, report } = await runBench(options({ concurrency: [1, 4], requestCount: 12, outputDir: out }));
    assert.equal(runs.length, 2);
    const [one, four] = runs.map((r) => r.metrics.request_throughput?.avg ?? 0);
    assert.ok((four ?? 0) > 2 * (one ?? 0), `throughput ${one} then ${four}`);
    assert.equal(report, join(out, "report.md"));
    for (const f of [
      "sweep.json",
      "throughput_vs_concurrency.svg",
      "p99_vs_concurrency.svg",
      "latency_cdf.svg",
      "concurrency_4/requests.csv",
    ]) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const sweep = JSON.parse(await readFile(join(out, "sweep.json"), "utf8"));
    assert.deepEqual(
      sweep.points.map((p: { concurrency: number }) => p.concurrency),
      [1, 4],
    );
  });

  test("request-rate mode: Poisson arrivals at the target rate", async () => {
    const { runs } = await runBench(
      options({
        requestRate: 80,
        requestCount: 60,
        concurrency: [64],
        streaming: false,
        outputTokensMean: 2,
        outputDir: join(dir, "rate"),
      }),
    );
    const m = runs[0]?.metrics ?? {};
    near(m.request_throughput?.avg, 80, 24, "request throughput");
    assert.equal(m.time_to_first_token, undefined, "no TTFT without streaming");
    assert.ok(m.time_per_output_token);
  });

  test("completions and embeddings endpoints", async () => {
    const c = await runBench(
      options({ endpointType: "completions", streaming: true, requestCount: 6, outputDir: join(dir, "cmpl") }),
    );
    assert.equal(c.runs[0]?.metrics.error_count?.avg, 0);
    assert.equal(c.runs[0]?.metrics.output_sequence_length?.avg, 10);
    const e = await runBench(
      options({ endpointType: "embeddings", streaming: false, requestCount: 6, outputDir: join(dir, "emb") }),
    );
    const m = e.runs[0]?.metrics ?? {};
    assert.equal(m.error_count?.avg, 0);
    assert.equal(m.output_sequence_length, undefined);
    near(m.request_latency?.p50, 5, 10, "embedding latency");
  });

  test("shared-prefix mode shows KV-cache hits in the metrics", async () => {
    const { runs } = await runBench(
      options({
        sharedPrefixRatio: 0.5,
        inputTokensMean: 128,
        requestCount: 8,
        concurrency: [1],
        outputDir: join(dir, "kv"),
      }),
    );
    const m = runs[0]?.metrics ?? {};
    assert.ok((m.kv_cache_hit_rate?.avg ?? 0) >= 80, `hit rate ${m.kv_cache_hit_rate?.avg}`);
    near(m.kv_cache_token_reuse_rate?.avg, 50 * (7 / 8), 10, "token reuse");
  });

  test("failed requests are counted, with their message", async () => {
    const { runs } = await runBench(options({ model: "bad-model", requestCount: 5, outputDir: join(dir, "bad") }));
    const run = runs[0]?.run;
    assert.ok(run);
    const m = computeMetrics(run);
    assert.equal(m.error_count?.avg, 5);
    assert.equal(m.error_rate?.avg, 100);
    assert.equal(run.records[0]?.error, "HTTP 500 Internal Server Error: boom");
  });

  test("an unreachable server is a one-line error", async () => {
    await assert.rejects(runBench(options({ url: "http://127.0.0.1:9" })), (err: Error) => {
      assert.equal(err.name, "CliError");
      assert.equal(err.message, "cannot reach the server at http://127.0.0.1:9: connection refused");
      return true;
    });
  });
});

describe("bench suite", () => {
  const tiny: SuitePlan = {
    throughput: {
      payloads: [{ name: "small", inputTokens: 16, outputTokens: 4 }],
      streaming: [false, true],
      concurrency: 4,
      requestCount: 8,
    },
    concurrency: { levels: [1, 4], requestsPerLevel: 2, minRequests: 6, inputTokens: 16, outputTokens: 4 },
    kvCache: { requests: 6, inputTokens: 128, outputTokens: 2, prefixRatio: 0.75, concurrency: 1 },
    memory: { ...QUICK_PLAN.memory, durationS: 1.2, requestRate: 10, intervalS: 0.1 },
  };

  test("runs the four scenarios and writes the summary report", async () => {
    const leaky = await startFakeServer({ ttftMs: 20, itlMs: 1, rssSlopeBytesPerSec: 5 * 2 ** 20 });
    try {
      const out = join(dir, "suite");
      const { summary, report } = await runSuite({
        url: leaky.url,
        headers: {},
        endpointType: "chat",
        outputDir: out,
        mode: "quick",
        scenarios: ["throughput", "concurrency", "kv-cache", "memory"],
        seed: 3,
        timeoutS: 5,
        ignoreEos: true,
        progress: false,
        plan: tiny,
      });
      assert.equal(summary.model, "fake-model", "model discovered from /v1/models");
      assert.equal(summary.throughput?.length, 2);
      assert.equal(summary.concurrency?.length, 2);
      const kv = summary.kv_cache;
      assert.ok(kv);
      assert.equal(kv.cold_hit_rate, 0);
      assert.equal(kv.warm_hit_rate, 100);
      assert.ok((kv.ttft_improvement_pct ?? 0) > 30, `TTFT improvement ${kv.ttft_improvement_pct}`);
      const mem = summary.memory;
      assert.ok(mem?.available);
      assert.ok(mem.samples.length >= 5);
      near(mem.slope_mb_per_min ?? undefined, 300, 60, "RSS slope MB/min");
      assert.equal(mem.leak_suspected, true);
      const md = await readFile(report, "utf8");
      for (const h of ["## Throughput", "## Concurrency", "## KV cache", "## Memory"]) assert.ok(md.includes(h), h);
      for (const f of [
        "benchmark_summary.json",
        "concurrency/p99_vs_concurrency.svg",
        "memory/rss.svg",
        "kv_cache/warm/requests.csv",
      ]) {
        assert.ok(existsSync(join(out, f)), f);
      }
    } finally {
      await leaky.close();
    }
  });

  test("leak verdict and RSS parsing", () => {
    const flat = Array.from({ length: 20 }, (_, i) => ({ t_s: i, rss_mb: 100 + (i % 2) * 0.5 }));
    assert.equal(leakVerdict(flat, 1).leak_suspected, false);
    const growing = Array.from({ length: 20 }, (_, i) => ({ t_s: i, rss_mb: 100 + i * 0.1 }));
    const v = leakVerdict(growing, 1);
    assert.equal(v.leak_suspected, true);
    near(v.slope_mb_per_min ?? undefined, 6, 0.01, "slope");
    assert.equal(parseRss("# HELP x\nprocess_resident_memory_bytes 1.5e+08\n"), 1.5e8);
    assert.equal(parseRss('process_resident_memory_bytes{pid="1"} 42\n'), 42);
    assert.equal(parseRss("nothing here"), undefined);
  });
});
