/**
 * `decoy loadgen` and `decoy bench` against a real, in-process Decoy (not the fakes the other
 * client tests use): the clients' numbers must agree with the latencies Decoy was configured
 * with, and their files must be written. Tolerances are generous because CI machines are shared;
 * each bound still fails if a client measured the wrong thing (e.g. from the wrong origin).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BenchOptions, runBench } from "../../src/bench/bench.js";
import type { Metrics } from "../../src/bench/metrics.js";
import { runSuite, type SuitePlan } from "../../src/bench/suite.js";
import type { LoadgenSummary } from "../../src/loadgen/report.js";
import { type LoadgenOptions, runLoadgen } from "../../src/loadgen/run.js";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";

const HEADER = "timestamp_issued,response_id,sample_index,model,tag,latency_ns,latency_ms";

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "decoy-e2e-"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Row {
  timestamp_issued: number;
  response_id: number;
  sample_index: number;
  model: string;
  tag: number;
  latency_ns: number;
  latency_ms: number;
}

async function readLog(path: string): Promise<{ header: string; rows: Row[] }> {
  const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
  const rows = lines.slice(1).map((l) => {
    const [ts, id, idx, model, tag, ns, ms] = l.split(",");
    return {
      timestamp_issued: Number(ts),
      response_id: Number(id),
      sample_index: Number(idx),
      model: model as string,
      tag: Number(tag),
      latency_ns: Number(ns),
      latency_ms: Number(ms),
    };
  });
  return { header: lines[0] ?? "", rows };
}

function within(actual: number | null | undefined, lo: number, hi: number, what: string): void {
  assert.ok(
    typeof actual === "number" && actual >= lo && actual <= hi,
    `${what}: ${String(actual)}, expected within [${lo}, ${hi}]`,
  );
}

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) out[key(it)] = (out[key(it)] ?? 0) + 1;
  return out;
}

/** Every CSV row is well formed and the log has one row per issued sample. */
function checkLog(log: { header: string; rows: Row[] }, summary: LoadgenSummary, models: string[]): void {
  assert.equal(log.header, HEADER);
  assert.equal(log.rows.length, summary.samples_issued);
  assert.deepEqual(
    log.rows.map((r) => r.response_id),
    log.rows.map((_, i) => i + 1),
  );
  for (const r of log.rows) {
    assert.ok(models.includes(r.model), `model ${r.model}`);
    assert.ok(r.tag >= 1 && r.tag <= 3 && Number.isInteger(r.tag), `tag ${r.tag}`);
    assert.ok(r.latency_ms > 0 && Math.abs(r.latency_ns / 1e6 - r.latency_ms) < 1e-3, `latency ${r.latency_ns}`);
    assert.ok(Number.isInteger(r.sample_index) && r.sample_index >= 0);
  }
}

type Diagnose = { diagnostic(message: string): void };

/** Measured numbers in the TAP output, so a CI failure shows what the machine did. */
function noteLoadgen(t: Diagnose, s: LoadgenSummary): void {
  const perModel = Object.entries(s.per_model)
    .map(([m, g]) => `${m} ${g.samples_issued} p50 ${g.latency_ms?.p50 ?? "-"}`)
    .join(", ");
  t.diagnostic(
    `issued ${s.samples_issued}, scheduled ${s.scheduled_qps ?? "-"}/s, achieved ${s.achieved_qps}/s, latency ms min ${s.latency_ms?.min} p50 ${s.latency_ms?.p50} p99 ${s.latency_ms?.p99}; ${perModel}`,
  );
}

function noteBench(t: Diagnose, m: Metrics): void {
  const f = (k: string, stat: "avg" | "p50" = "p50"): string => String(m[k]?.[stat] ?? "-");
  t.diagnostic(
    `requests ${f("request_count", "avg")}, errors ${f("error_count", "avg")}, ${f("request_throughput", "avg")}/s, p50 ms: TTFT ${f("time_to_first_token")} ITL ${f("inter_token_latency")} latency ${f("request_latency")}`,
  );
}

describe("decoy loadgen against a real Decoy", () => {
  const MODEL_MS = 8;
  /** Decoy's scheduler fires deadlines up to 0.25 ms early. */
  const SLACK_MS = 0.3;
  let server: DecoyServer;

  before(async () => {
    server = await startTestServer({
      modelLatencyMs: MODEL_MS,
      modelPerItemLatencyMs: 0,
      modelLatencyStdDevMs: 0,
      sleep: 0.005,
    });
    // A few unmeasured requests per path first: the first ones compile validators and code paths,
    // which would otherwise show up in the measured percentiles.
    const warm = { scenario: "SingleStream", durationMs: 1, minQueryCount: 6, latencyBoundMs: undefined } as const;
    await runLoadgen(options(warm));
    await runLoadgen(options({ ...warm, binaryData: false, mix: "1,0,1", minQueryCount: 4 }));
    await runLoadgen(options({ ...warm, url: server.grpcAddress, protocol: "grpc" }));
  });

  after(async () => {
    await server.close();
  });

  function options(over: Partial<LoadgenOptions>): LoadgenOptions {
    return {
      url: server.httpUrl,
      protocol: "rest",
      scenario: "Server",
      models: ["resnet", "yolo", "bert"],
      mix: "1,1,1",
      targetQps: 40,
      durationMs: 1500,
      maxDurationMs: 0,
      minQueryCount: 1,
      totalSamples: 1024,
      samplesPerQuery: 4,
      maxInflight: 64,
      timeoutS: 10,
      seed: 42,
      latencyBoundMs: 500,
      latencyPercentile: 99,
      binaryData: true,
      progress: false,
      ...over,
    };
  }

  test("Server over KServe v2 REST (binary tensors): QPS and p50 follow Decoy's model latency; log and summaries written", async (t) => {
    const out = join(dir, "server-rest-binary");
    const workloadLog = join(out, "workload.csv");
    // yolo moves 4.9 MB in and 2.8 MB out per request through the one thread client and server
    // share; a lighter share of it keeps a busy CI machine from measuring its own CPU contention.
    const { summary, files, run } = await runLoadgen(options({ mix: "2,1,2", outputDir: out, workloadLog }));

    noteLoadgen(t, summary);
    assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
    assert.equal(summary.samples_completed, summary.samples_issued);
    // Poisson at 40/s for 1.5 s: ~60 arrivals (the seed fixes how many).
    within(summary.samples_issued, 40, 80, "samples issued");
    within(summary.scheduled_qps, 40 * 0.75, 40 * 1.25, "scheduled QPS");
    within(summary.achieved_qps, 40 * 0.75, 40 * 1.25, "achieved QPS");
    // Nothing can answer faster than the model runs; loopback and the tensors add a little.
    // Latency counts from the scheduled arrival, or from the send when a timer woke early.
    for (const r of run.records)
      assert.ok(r.scheduledAt <= r.sentAt, `sample ${r.responseId} timed from after its send`);
    within(summary.latency_ms?.min, MODEL_MS - SLACK_MS, MODEL_MS + 15, "min latency (ms)");
    within(summary.latency_ms?.p50, MODEL_MS - SLACK_MS, MODEL_MS + 30, "p50 latency (ms)");
    within(summary.per_model.bert?.latency_ms?.p50, MODEL_MS - SLACK_MS, MODEL_MS + 20, "bert p50 latency (ms)");
    within(summary.per_model.resnet?.latency_ms?.p50, MODEL_MS - SLACK_MS, MODEL_MS + 20, "resnet p50 latency (ms)");
    within(summary.per_model.yolo?.latency_ms?.p50, MODEL_MS - SLACK_MS, MODEL_MS + 80, "yolo p50 latency (ms)");
    assert.equal(summary.result, "VALID", summary.invalid_reasons.join("; "));

    const log = await readLog(workloadLog);
    checkLog(log, summary, ["resnet", "yolo", "bert"]);
    assert.deepEqual(new Set(log.rows.map((r) => r.model)), new Set(["resnet", "yolo", "bert"]));
    assert.deepEqual(new Set(log.rows.map((r) => r.tag)), new Set([1, 2, 3]));

    const txtPath = join(out, "mlperf_log_summary.txt");
    const jsonPath = join(out, "mlperf_log_summary.json");
    assert.deepEqual(files, [workloadLog, txtPath, jsonPath]);
    const txt = await readFile(txtPath, "utf8");
    assert.match(txt, /Scenario\s+: Server/);
    assert.match(txt, /Result is\s+: VALID/);
    assert.match(txt, /50\.00 percentile latency \(ns\)\s+: \d+/);
    const json = JSON.parse(await readFile(jsonPath, "utf8")) as LoadgenSummary;
    assert.equal(json.result, "VALID");
    assert.equal(json.samples_issued, log.rows.length);
    assert.equal(json.target_qps, 40);
    assert.deepEqual(Object.keys(json.per_model).sort(), ["bert", "resnet", "yolo"]);
  });

  test("Server over KServe v2 REST (JSON tensors): every sample answered, p50 near the model latency", async (t) => {
    const out = join(dir, "server-rest-json");
    // JSON tensors are costly to build and parse (a resnet image is 150 528 numbers), so yolo
    // (1.2 M numbers, ~0.5 s of JSON work per request) stays out of this run.
    const { summary } = await runLoadgen(
      options({ binaryData: false, mix: "1,0,3", targetQps: 20, durationMs: 1000, outputDir: out }),
    );
    noteLoadgen(t, summary);
    assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
    assert.equal(summary.result, "VALID", summary.invalid_reasons.join("; "));
    within(summary.achieved_qps, 20 * 0.75, 20 * 1.25, "achieved QPS");
    within(summary.per_model.bert?.latency_ms?.p50, MODEL_MS - SLACK_MS, MODEL_MS + 20, "bert p50 latency (ms)");
    within(summary.per_model.resnet?.latency_ms?.min, MODEL_MS - SLACK_MS, MODEL_MS + 150, "resnet min latency (ms)");
    const log = await readLog(join(out, "workload.csv"));
    checkLog(log, summary, ["resnet", "bert"]);
    const counts = countBy(log.rows, (r) => r.model);
    assert.equal(counts.yolo, undefined);
    within((counts.bert ?? 0) / log.rows.length, 0.5, 0.95, "bert share (mix 1:0:3)");
  });

  test("Offline over KServe v2 gRPC: every sample completes, the 2:1:1 mix holds, the in-flight window is used", async (t) => {
    const out = join(dir, "offline-grpc");
    const { summary } = await runLoadgen(
      options({
        url: server.grpcAddress,
        protocol: "grpc",
        scenario: "Offline",
        mix: "2,1,1",
        totalSamples: 80,
        maxInflight: 8,
        latencyBoundMs: undefined,
        outputDir: out,
      }),
    );
    noteLoadgen(t, summary);
    assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
    assert.equal(summary.samples_issued, 80);
    assert.equal(summary.samples_completed, 80);
    assert.equal(summary.queries_issued, 1);
    assert.equal(summary.result, "VALID", summary.invalid_reasons.join("; "));
    within(summary.latency_ms?.min, MODEL_MS - SLACK_MS, MODEL_MS + 25, "min latency (ms)");
    // Little's law: throughput × mean latency = mean requests in flight, which the window caps at 8.
    const inFlight = (summary.achieved_qps * (summary.latency_ms?.mean ?? 0)) / 1000;
    within(inFlight, 2, 8.2, "mean requests in flight");

    const log = await readLog(join(out, "workload.csv"));
    checkLog(log, summary, ["resnet", "yolo", "bert"]);
    const counts = countBy(log.rows, (r) => r.model);
    // Samples are drawn at random from a 2:1:1 library: resnet ~40, the others ~20 each.
    within(counts.resnet, 28, 54, "resnet samples");
    within(counts.yolo, 9, 32, "yolo samples");
    within(counts.bert, 9, 32, "bert samples");
    assert.equal(summary.per_model.resnet?.samples_completed, counts.resnet);
  });

  test("MultiStream over KServe v2 gRPC: queries of 4 samples, query latency from issue to the last answer", async (t) => {
    const out = join(dir, "multistream-grpc");
    const { summary } = await runLoadgen(
      options({
        url: server.grpcAddress,
        protocol: "grpc",
        scenario: "MultiStream",
        mix: "1,0,1",
        samplesPerQuery: 4,
        durationMs: 400,
        minQueryCount: 8,
        latencyBoundMs: undefined,
        outputDir: out,
      }),
    );
    noteLoadgen(t, summary);
    assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
    assert.equal(summary.result, "VALID", summary.invalid_reasons.join("; "));
    assert.ok(summary.queries_issued >= 8);
    assert.equal(summary.samples_issued, summary.queries_issued * 4);
    within(summary.query_latency_ms?.p50, MODEL_MS - SLACK_MS, MODEL_MS + 40, "query p50 latency (ms)");
    assert.ok((summary.query_latency_ms?.p50 ?? 0) >= (summary.latency_ms?.p50 ?? 0));
    const log = await readLog(join(out, "workload.csv"));
    checkLog(log, summary, ["resnet", "bert"]);
  });

  test("SingleStream over the legacy routes: one at a time at --sleep pace, the 1:0:1 mix holds", async (t) => {
    const out = join(dir, "singlestream-legacy");
    const { summary } = await runLoadgen(
      options({
        protocol: "legacy",
        scenario: "SingleStream",
        mix: "1,0,1",
        durationMs: 600,
        minQueryCount: 20,
        latencyBoundMs: undefined,
        latencyPercentile: 90,
        outputDir: out,
      }),
    );
    noteLoadgen(t, summary);
    assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
    assert.equal(summary.result, "VALID", summary.invalid_reasons.join("; "));
    // --sleep 0.005: each sample takes ≥ 5 ms and the next waits for it, so ≤ ~200/s.
    within(summary.latency_ms?.p50, 5 - SLACK_MS, 5 + 12, "p50 latency (ms)");
    within(summary.samples_issued, 20, 600 / (5 - SLACK_MS) + 1, "samples issued");
    assert.equal(summary.queries_issued, summary.samples_issued);

    const log = await readLog(join(out, "workload.csv"));
    checkLog(log, summary, ["resnet", "bert"]);
    const counts = countBy(log.rows, (r) => r.model);
    assert.equal(counts.yolo, undefined);
    const share = (counts.resnet ?? 0) / log.rows.length;
    within(share, 0.25, 0.75, "resnet share");
    // Closed loop: each sample is issued after the previous one completed.
    for (let i = 1; i < log.rows.length; i++) {
      const prev = log.rows[i - 1] as Row;
      const cur = log.rows[i] as Row;
      assert.ok(cur.timestamp_issued * 1000 >= prev.timestamp_issued * 1000 + prev.latency_ms - 0.01);
    }
  });

  test("Server with --schedule 0-1:5,1-2:20: the two phases are visible in the workload log", async (t) => {
    const out = join(dir, "schedule");
    const { summary, run } = await runLoadgen(
      options({ schedule: "0-1:5,1-2:20", mix: "1,1,1", outputDir: out, latencyBoundMs: undefined }),
    );
    noteLoadgen(t, summary);
    assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
    assert.equal(summary.result, "VALID", summary.invalid_reasons.join("; "));
    const log = await readLog(join(out, "workload.csv"));
    checkLog(log, summary, ["resnet", "yolo", "bert"]);

    const startS = run.wallStart / 1000;
    const offsets = log.rows.map((r) => r.timestamp_issued - startS);
    for (const t of offsets) within(t, -0.001, 2, "issue offset (s)");
    const first = offsets.filter((t) => t < 1).length;
    const second = offsets.filter((t) => t >= 1).length;
    // Poisson counts: 5 and 20 expected; the seed fixes them, the bounds allow any seed.
    within(first, 1, 12, "samples in phase 0-1 s");
    within(second, 10, 32, "samples in phase 1-2 s");
    assert.ok(second > first * 1.5, `phase 2 (${second}) should carry clearly more than phase 1 (${first})`);

    const phases = summary.phases ?? [];
    assert.equal(phases.length, 2);
    assert.equal(phases[0]?.samples_issued, first);
    assert.equal(phases[1]?.samples_issued, second);
    assert.equal(phases[0]?.target_qps, 5);
    assert.equal(phases[1]?.target_qps, 20);
    const txt = await readFile(join(out, "mlperf_log_summary.txt"), "utf8");
    assert.match(txt, /Schedule phases/);
    assert.match(txt, /0-1s\s+5/);
    assert.match(txt, /1-2s\s+20/);
  });
});

describe("decoy bench against a real Decoy", () => {
  const TTFT = 30;
  const ITL = 3;
  const N = 16;
  let server: DecoyServer;

  before(async () => {
    server = await startTestServer({ ttft: TTFT, itl: ITL, ttftStdDev: 0, itlStdDev: 0 });
  });

  after(async () => {
    await server.close();
  });

  function options(over: Partial<BenchOptions>): BenchOptions {
    return {
      url: server.httpUrl,
      endpointType: "chat",
      streaming: true,
      concurrency: [4],
      requestCount: 24,
      warmupRequestCount: 2,
      inputTokensMean: 32,
      inputTokensStddev: 0,
      outputTokensMean: N,
      outputTokensStddev: 0,
      sharedPrefixRatio: 0,
      numPrefixPrompts: 1,
      headers: {},
      extraInputs: {},
      ignoreEos: true,
      timeoutS: 10,
      seed: 3,
      progress: false,
      ...over,
    };
  }

  test("streaming chat: p50 TTFT ≈ --ttft, ITL ≈ --itl, N output tokens; JSON, CSV, Markdown and SVG written", async (t) => {
    const out = join(dir, "bench-stream");
    const result = await runBench(options({ outputDir: out }));
    assert.equal(result.runs.length, 1);
    const run = result.runs[0];
    assert.ok(run);
    const m = run.metrics;
    noteBench(t, m);
    assert.equal(run.run.options.model, "decoy-llm", "model resolved from GET /v1/models");
    assert.equal(m.error_count?.avg, 0, JSON.stringify(run.run.records.find((r) => !r.ok)?.error));
    assert.equal(m.request_count?.avg, 24);
    assert.equal(run.run.warmup.length, 2);
    within(m.time_to_first_token?.p50, TTFT, TTFT + 15, "p50 TTFT (ms)");
    within(m.inter_token_latency?.p50, ITL * 0.8, ITL + 2, "p50 inter-token latency (ms)");
    assert.equal(m.output_sequence_length?.p50, N);
    assert.equal(m.output_sequence_length?.min, N);
    assert.equal(m.output_sequence_length?.max, N);
    within(m.input_sequence_length?.avg, 16, 64, "input tokens per server usage");
    within(m.request_latency?.p50, TTFT + (N - 1) * ITL, TTFT + (N - 1) * ITL + 25, "p50 request latency (ms)");

    const doc = JSON.parse(await readFile(join(out, "profile_export.json"), "utf8")) as Record<
      string,
      { unit: string; avg: number; p50?: number; p99?: number }
    >;
    for (const name of [
      "request_throughput",
      "request_latency",
      "time_to_first_token",
      "inter_token_latency",
      "output_token_throughput",
    ]) {
      assert.ok(doc[name], `${name} in profile_export.json`);
      assert.equal(typeof doc[name]?.unit, "string");
      assert.equal(typeof doc[name]?.avg, "number");
    }
    assert.equal(doc.time_to_first_token?.unit, "ms");
    assert.equal(typeof doc.request_latency?.p99, "number");
    const csv = (await readFile(join(out, "requests.csv"), "utf8")).trimEnd().split("\n");
    assert.equal(csv.length, 1 + 24);
    const md = await readFile(join(out, "report.md"), "utf8");
    assert.match(md, /Time to first token/);
    assert.match(md, /latency_cdf\.svg/);
    assert.match(await readFile(join(out, "latency_cdf.svg"), "utf8"), /^<svg/);
    assert.equal(result.report, join(out, "report.md"));
  });

  test("concurrency sweep 1,4: per-level results and a comparison report", async (t) => {
    const out = join(dir, "bench-sweep");
    const result = await runBench(
      options({ outputDir: out, concurrency: [1, 4], requestCount: 8, warmupRequestCount: 0 }),
    );
    assert.deepEqual(
      result.runs.map((r) => r.concurrency),
      [1, 4],
    );
    for (const r of result.runs) {
      noteBench(t, r.metrics);
      assert.equal(r.dir, join(out, `concurrency_${r.concurrency}`));
      assert.equal(r.metrics.error_count?.avg, 0);
      assert.equal(r.metrics.request_count?.avg, 8);
      within(r.metrics.time_to_first_token?.p50, TTFT, TTFT + 15, `p50 TTFT at concurrency ${r.concurrency}`);
      assert.equal(r.metrics.output_sequence_length?.p50, N);
      for (const f of ["profile_export.json", "requests.csv", "report.md", "latency_cdf.svg"])
        assert.ok(existsSync(join(r.dir, f)), `${r.dir}/${f}`);
    }
    // Four streams overlap; one at a time cannot: throughput must grow with concurrency.
    const [one, four] = result.runs.map((r) => r.metrics.request_throughput?.avg ?? 0);
    assert.ok((four ?? 0) > (one ?? 0) * 1.8, `throughput at 4 (${four}) vs 1 (${one})`);

    assert.equal(result.report, join(out, "report.md"));
    const sweep = JSON.parse(await readFile(join(out, "sweep.json"), "utf8")) as {
      points: { concurrency: number; request_throughput: number }[];
    };
    assert.deepEqual(
      sweep.points.map((p) => p.concurrency),
      [1, 4],
    );
    for (const f of ["throughput_vs_concurrency.svg", "p99_vs_concurrency.svg", "latency_cdf.svg"])
      assert.match(await readFile(join(out, f), "utf8"), /^<svg/);
    const md = await readFile(join(out, "report.md"), "utf8");
    assert.match(md, /concurrency_1\/report\.md/);
    assert.match(md, /concurrency_4\/report\.md/);
  });

  test("request rate (Poisson), non-streaming completions: throughput ≈ rate, latency = TTFT + (N−1) × ITL", async (t) => {
    const out = join(dir, "bench-rate");
    const result = await runBench(
      options({
        outputDir: out,
        endpointType: "completions",
        streaming: false,
        requestRate: 40,
        concurrency: [16],
        requestCount: 40,
        warmupRequestCount: 0,
      }),
    );
    const r = result.runs[0];
    assert.ok(r);
    noteBench(t, r.metrics);
    assert.equal(r.run.path, "/v1/completions");
    assert.equal(r.metrics.error_count?.avg, 0, JSON.stringify(r.run.records.find((x) => !x.ok)?.error));
    assert.equal(r.metrics.request_count?.avg, 40);
    for (const x of r.run.records)
      assert.ok(x.scheduledMs <= x.startMs, `request ${x.index} timed from after its send`);
    // Open loop: ~1 s of arrivals; the measured window also holds the last request's latency.
    within(r.metrics.request_throughput?.avg, 40 * 0.7, 40 * 1.25, "request throughput (/s)");
    const expected = TTFT + (N - 1) * ITL;
    within(r.metrics.request_latency?.p50, expected, expected + 25, "p50 request latency (ms)");
    assert.equal(r.metrics.output_sequence_length?.p50, N);
    assert.equal(r.metrics.time_to_first_token, undefined, "no TTFT without streaming");
  });

  test("streaming responses endpoint: TTFT ≈ --ttft and N output tokens from Responses API events and usage", async (t) => {
    const out = join(dir, "bench-responses");
    const result = await runBench(options({ outputDir: out, endpointType: "responses", requestCount: 12 }));
    const r = result.runs[0];
    assert.ok(r);
    noteBench(t, r.metrics);
    assert.equal(r.run.path, "/v1/responses");
    assert.equal(r.metrics.error_count?.avg, 0, JSON.stringify(r.run.records.find((x) => !x.ok)?.error));
    assert.equal(r.metrics.request_count?.avg, 12);
    within(r.metrics.time_to_first_token?.p50, TTFT, TTFT + 15, "p50 TTFT (ms)");
    within(r.metrics.inter_token_latency?.p50, ITL * 0.8, ITL + 2, "p50 inter-token latency (ms)");
    assert.equal(r.metrics.output_sequence_length?.min, N);
    assert.equal(r.metrics.output_sequence_length?.max, N);
    within(r.metrics.input_sequence_length?.avg, 16, 64, "input tokens per server usage");
  });

  test("streaming Anthropic messages endpoint: TTFT ≈ --ttft and N output tokens from content_block_delta events and usage", async (t) => {
    const out = join(dir, "bench-messages");
    const result = await runBench(options({ outputDir: out, endpointType: "messages", requestCount: 12 }));
    const r = result.runs[0];
    assert.ok(r);
    noteBench(t, r.metrics);
    assert.equal(r.run.path, "/v1/messages");
    assert.equal(r.metrics.error_count?.avg, 0, JSON.stringify(r.run.records.find((x) => !x.ok)?.error));
    within(r.metrics.time_to_first_token?.p50, TTFT, TTFT + 15, "p50 TTFT (ms)");
    assert.equal(r.metrics.output_sequence_length?.min, N);
    assert.equal(r.metrics.output_sequence_length?.max, N);
    within(r.metrics.input_sequence_length?.avg, 16, 64, "input tokens per server usage");
  });

  test("embeddings endpoint: every request succeeds, no token timings, artifacts written", async (t) => {
    const out = join(dir, "bench-embeddings");
    const result = await runBench(
      options({
        outputDir: out,
        model: "decoy-embedding",
        endpointType: "embeddings",
        streaming: false,
        outputTokensMean: undefined,
        requestCount: 12,
        warmupRequestCount: 0,
      }),
    );
    const r = result.runs[0];
    assert.ok(r);
    noteBench(t, r.metrics);
    assert.equal(r.metrics.error_count?.avg, 0, JSON.stringify(r.run.records.find((x) => !x.ok)?.error));
    assert.equal(r.metrics.request_count?.avg, 12);
    assert.equal(r.run.path, "/v1/embeddings");
    assert.equal(r.metrics.time_to_first_token, undefined);
    assert.equal(r.metrics.output_sequence_length, undefined);
    // --embedding-base-latency 10 + 2 per input (the defaults): never faster; the upper bound
    // leaves room for a loaded 2-core machine running other test files alongside.
    within(r.metrics.request_latency?.p50, 12, 12 + 100, "p50 embedding latency (ms)");
    within(r.metrics.input_sequence_length?.avg, 16, 64, "input tokens per server usage");
    assert.ok(existsSync(join(out, "profile_export.json")));
    assert.ok(existsSync(join(out, "requests.csv")));
  });
});

describe("decoy bench KV-cache scenario against Decoy with --enable-kvcache", () => {
  let server: DecoyServer;

  before(async () => {
    server = await startTestServer({
      enableKvcache: true,
      latencyCalculator: "per-token",
      prefillOverhead: 5,
      prefillTimePerToken: 0.25,
      itl: 1,
    });
  });

  after(async () => {
    await server.close();
  });

  test("shared prefixes hit the cache (usage.cached_tokens) and cut TTFT", async (t) => {
    const out = join(dir, "suite-kv");
    const plan: SuitePlan = {
      throughput: { payloads: [], streaming: [], concurrency: 1, requestCount: 1 },
      concurrency: { levels: [], requestsPerLevel: 1, minRequests: 1, inputTokens: 1, outputTokens: 1 },
      kvCache: { requests: 8, inputTokens: 256, outputTokens: 4, prefixRatio: 0.75, concurrency: 1 },
      memory: {
        durationS: 1,
        requestRate: 1,
        intervalS: 1,
        inputTokens: 1,
        outputTokens: 1,
        leakThresholdMbPerMin: 1,
      },
    };
    const { summary, report } = await runSuite({
      url: server.httpUrl,
      headers: {},
      endpointType: "chat",
      outputDir: out,
      mode: "quick",
      scenarios: ["kv-cache"],
      seed: 5,
      timeoutS: 10,
      ignoreEos: true,
      progress: false,
      plan,
    });
    const k = summary.kv_cache;
    assert.ok(k);
    t.diagnostic(JSON.stringify(k));
    assert.equal(k.cached_tokens_reported, true);
    assert.equal(k.cold_hit_rate, 0);
    assert.equal(k.warm_hit_rate, 100);
    within(k.warm_token_reuse_rate, 50, 80, "warm token reuse (%)");
    // TTFT = 5 ms + 0.25 ms per uncached prompt token, with the token counts Decoy reported.
    const exported = async (run: string): Promise<Metrics> =>
      JSON.parse(await readFile(join(out, "kv_cache", run, "profile_export.json"), "utf8")) as Metrics;
    const cold = await exported("cold");
    const warm = await exported("warm");
    const coldTokens = cold.input_sequence_length?.avg ?? 0;
    const warmUncached = (warm.input_sequence_length?.avg ?? 0) - (warm.cached_tokens?.avg ?? 0);
    assert.equal(cold.cached_tokens?.max, 0);
    within(coldTokens, 200, 400, "cold prompt tokens");
    within(warmUncached, 1, coldTokens / 2, "warm uncached prompt tokens");
    const coldExpected = 5 + 0.25 * coldTokens;
    const warmExpected = 5 + 0.25 * warmUncached;
    within(k.cold_ttft_p50_ms, coldExpected - 0.5, coldExpected + 20, "cold p50 TTFT (ms)");
    within(k.warm_ttft_p50_ms, warmExpected - 0.5, warmExpected + 20, "warm p50 TTFT (ms)");
    assert.ok((k.ttft_improvement_pct ?? 0) > 30, `TTFT improvement ${k.ttft_improvement_pct}%`);
    assert.ok(existsSync(join(out, "kv_cache", "kv_cache_results.json")));
    assert.ok(existsSync(join(out, "kv_cache", "warm", "profile_export.json")));
    assert.match(await readFile(report, "utf8"), /## KV cache/);
  });
});
