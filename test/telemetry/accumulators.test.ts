import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LlmRequestRecord, TensorInferRecord } from "../../src/engine/events.js";
import { CounterFamily, HistogramFamily } from "../../src/telemetry/accumulators.js";
import { renderFamilies } from "../../src/telemetry/exposition.js";
import { LoadTracker } from "../../src/telemetry/load-tracker.js";
import { TOKEN_LATENCY_BUCKETS, VllmMetrics } from "../../src/telemetry/vllm-metrics.js";
import { parseExposition, sampleValue } from "./prom-text.js";

/**
 * The request-path counters and histograms Decoy keeps instead of prom-client's labelled ones:
 * same bucket rule as Prometheus clients (an observation lands in every bucket whose `le` is ≥
 * it), cumulative buckets ending in +Inf = _count, counters that never decrease.
 */

describe("request-path accumulators", () => {
  it("histogram buckets are cumulative, le is inclusive, +Inf equals _count", () => {
    const h = new HistogramFamily("x:latency_seconds", "Latency.", ["model_name"], [0.5, 0.1, 1]);
    const c = h.child({ model_name: "m" });
    for (const v of [0.1, 0.05, 0.3, 1, 7]) c.observe(v);
    c.observeMany(0, 3);
    const text = renderFamilies([h.family()], { dialect: "python" });
    const e = parseExposition(text);
    const le = (b: string) => sampleValue(e, "x:latency_seconds_bucket", { model_name: "m", le: b });
    assert.deepEqual(["0.1", "0.5", "1.0", "+Inf"].map(le), [5, 6, 7, 8]);
    assert.equal(sampleValue(e, "x:latency_seconds_count", { model_name: "m" }), 8);
    assert.ok(Math.abs(sampleValue(e, "x:latency_seconds_sum", { model_name: "m" }) - 8.45) < 1e-9);
  });

  it("a child is created once per label set and keeps its place; unknown labels are refused", () => {
    const f = new CounterFamily("x:requests_total", "Requests.", ["model_name", "reason"]);
    const a = f.child({ model_name: "m", reason: "stop" });
    assert.equal(f.child({ reason: "stop", model_name: "m" }), a);
    a.inc();
    a.inc(2);
    a.inc(-5);
    a.inc(Number.NaN);
    f.child({ model_name: "m", reason: "length" });
    assert.deepEqual(
      f.family().values.map((s) => [s.labels.reason, s.value]),
      [
        ["stop", 3],
        ["length", 0],
      ],
    );
    assert.throws(() => f.child({ model_name: "m", nope: "x" }), /unknown label nope/);
  });
});

describe("vLLM metrics from engine events", () => {
  const record = (over: Partial<LlmRequestRecord> = {}): LlmRequestRecord => ({
    model: "m",
    finishedReason: "length",
    promptTokens: 12,
    cachedTokens: 0,
    generationTokens: 4,
    maxTokens: 4,
    n: 1,
    queuedMs: 0,
    ttftMs: 20,
    prefillMs: 20,
    decodeMs: 15,
    inferenceMs: 35,
    e2eMs: 35,
    ...over,
  });
  const state = {
    models: () => ["m"],
    running: () => 0,
    waiting: () => 0,
    kvCacheUsage: () => 0,
    loraSeries: () => undefined,
    cacheConfig: () => ({ block_size: "16" }),
  };

  async function scrape(v: VllmMetrics) {
    return parseExposition(
      renderFamilies(await v.families(), { dialect: "python", created: (f, l) => v.createdAt(f, l) }),
    );
  }

  it("one inter-token latency per token after the first, tokens emitted together counting gap 0", async () => {
    const v = new VllmMetrics({ maxModelLen: 1024, state, wallNow: () => 1.7e12 });
    const l = { model_name: "m", engine: "0" };
    v.tokens("m", 3, 20, true); // TTFT firing: 3 tokens at once → 2 gaps of 0
    v.tokens("m", 1, 30, false); // one token 30 ms later
    v.tokens("m", 2, 7, false); // a late firing: 7 ms, then 0
    const e = await scrape(v);
    assert.equal(sampleValue(e, "vllm:generation_tokens_total", l), 6);
    assert.equal(sampleValue(e, "vllm:inter_token_latency_seconds_count", l), 5);
    assert.ok(Math.abs(sampleValue(e, "vllm:inter_token_latency_seconds_sum", l) - 0.037) < 1e-12);
    assert.equal(sampleValue(e, "vllm:inter_token_latency_seconds_bucket", { ...l, le: "0.01" }), 4);
    assert.equal(sampleValue(e, "vllm:inter_token_latency_seconds_bucket", { ...l, le: "0.05" }), 5);
    assert.equal(TOKEN_LATENCY_BUCKETS[0], 0.01);
  });

  it("a finished request updates every request histogram and the success counter once", async () => {
    const v = new VllmMetrics({ maxModelLen: 1024, state, wallNow: () => 1.7e12 });
    const l = { model_name: "m", engine: "0" };
    v.finished(record());
    v.finished(record({ finishedReason: "tool_calls" }));
    v.finished(record({ finishedReason: "cache_threshold", generationTokens: 0, prefillMs: 0, inferenceMs: 0 }));
    const e = await scrape(v);
    assert.equal(sampleValue(e, "vllm:request_success_total", { ...l, finished_reason: "length" }), 1);
    assert.equal(sampleValue(e, "vllm:request_success_total", { ...l, finished_reason: "stop" }), 1);
    assert.equal(sampleValue(e, "vllm:request_success_total", { ...l, finished_reason: "cache_threshold" }), 1);
    assert.ok(sampleValue(e, "vllm:request_success_created", { ...l, finished_reason: "cache_threshold" }) > 1.6e9);
    for (const h of [
      "vllm:e2e_request_latency_seconds",
      "vllm:request_queue_time_seconds",
      "vllm:request_prompt_tokens",
      "vllm:request_generation_tokens",
      "vllm:request_params_n",
      "vllm:request_params_max_tokens",
      "vllm:request_time_per_output_token_seconds",
    ]) {
      assert.equal(sampleValue(e, `${h}_count`, l), 3, h);
    }
    // only requests that produced a token have a time to first token
    assert.equal(sampleValue(e, "vllm:time_to_first_token_seconds_count", l), 2);
    assert.equal(sampleValue(e, "vllm:prompt_tokens_total", l), 24);
    assert.ok(Math.abs(sampleValue(e, "vllm:request_time_per_output_token_seconds_sum", l) - 0.01) < 1e-12);
  });
});

describe("LoadTracker (GPU load from engine events)", () => {
  it("counts a dynamic batch's execution time once, however many requests rode in it", () => {
    let now = 0;
    const tracker = new LoadTracker(() => now);
    const record = (executions: number): TensorInferRecord => ({
      model: "resnet",
      version: "1",
      success: true,
      batchSize: 1,
      executions,
      requestUs: 20_000,
      queueUs: 0,
      computeInputUs: 1_000,
      computeInferUs: 18_000,
      computeOutputUs: 1_000,
    });
    now = 1000;
    tracker.tensorInfer(record(1));
    for (let i = 0; i < 7; i++) tracker.tensorInfer(record(0));
    // 20 ms of execution over the 1.75 s the window covers so far, not 8 × 20 ms
    assert.ok(Math.abs(tracker.tensorConcurrency() - 20 / 1750) < 1e-12, String(tracker.tensorConcurrency()));
  });
});
