import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GRPCInferenceServiceClient, ModelInferRequest } from "../../gen/proto/inference/grpc_service.js";
import { FakeClock } from "../../src/engine/clock.js";
import type { Engine } from "../../src/engine/engine.js";
import type { LlmRequestRecord } from "../../src/engine/events.js";
import type { DecoyServer } from "../../src/server.js";
import { call, inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";
import { type Exposition, family, parseExposition, samplesOf, sampleValue } from "./prom-text.js";

const MODEL = "meta-llama/Llama-3.1-8B-Instruct";
const SLOTS = 8;
const REQUESTS = 12;
const PROMPT = 50;
const CACHED = 16;
const OUTPUT = 100;
const TTFT_MS = 120;
const ITL_MS = 40;

/**
 * A stand-in for the LLM scheduler that emits exactly what the real one reports through
 * `engine.events`: queued, started (max-num-seqs slots, FIFO), one token per step on the
 * engine's scheduler, an iteration size per step, and a record when done.
 */
class EventDrivenLlm {
  private running = 0;
  private readonly queue: number[] = [];

  constructor(private readonly engine: Engine) {}

  submit(): void {
    const arrival = this.engine.clock.now();
    this.engine.events.llmQueued(MODEL);
    this.queue.push(arrival);
    this.pump();
  }

  private pump(): void {
    while (this.running < SLOTS && this.queue.length > 0) this.start(this.queue.shift() as number);
  }

  private start(arrival: number): void {
    const { events, scheduler } = this.engine;
    this.running++;
    const started = scheduler.now();
    events.llmStarted(MODEL);
    let emitted = 0;
    let firstAt = 0;
    let last = 0;
    const step = (now: number): void => {
      events.llmTokens(MODEL, 1, emitted === 0 ? now - arrival : now - last, emitted === 0);
      events.llmIteration(MODEL, emitted === 0 ? PROMPT - CACHED : 1);
      if (emitted === 0) firstAt = now;
      emitted++;
      last = now;
      if (emitted < OUTPUT) {
        // Absolute deadlines, as the real job uses, so gaps do not drift by the scheduler's slack.
        scheduler.at(firstAt + emitted * ITL_MS, step);
        return;
      }
      const record: LlmRequestRecord = {
        model: MODEL,
        finishedReason: "length",
        promptTokens: PROMPT,
        cachedTokens: CACHED,
        generationTokens: OUTPUT,
        maxTokens: OUTPUT,
        n: 1,
        queuedMs: started - arrival,
        ttftMs: firstAt - arrival,
        prefillMs: firstAt - started,
        decodeMs: now - firstAt,
        inferenceMs: now - started,
        e2eMs: now - arrival,
      };
      events.llmFinished(record);
      this.running--;
      this.pump();
    };
    scheduler.at(started + TTFT_MS, step);
  }
}

function resnetRequest(batch: number, ok = true): ModelInferRequest {
  const elements = batch * 3 * 224 * 224;
  return {
    modelName: "resnet",
    modelVersion: "",
    id: "",
    parameters: {},
    inputs: [{ name: "input", datatype: "FP32", shape: ok ? [batch, 3, 224, 224] : [batch, 3, 224], parameters: {} }],
    outputs: [],
    rawInputContents: [Buffer.alloc((ok ? elements : elements / 224) * 4)],
  };
}

interface Scrape {
  t: number;
  metrics: Exposition;
  dcgm: Exposition;
}

/** Every counter sample and histogram bucket/count/sum of `next` is at least its value in `prev`. */
function assertMonotonic(prev: Exposition, next: Exposition, where: string): void {
  for (const f of prev.families.values()) {
    if (f.type !== "counter" && f.type !== "histogram") continue;
    const nf = next.families.get(f.name);
    assert.ok(nf, `${f.name} disappeared (${where})`);
    const now = new Map(nf.samples.map((s) => [JSON.stringify([s.name, s.labels]), s.value]));
    for (const s of f.samples) {
      const v = now.get(JSON.stringify([s.name, s.labels]));
      assert.ok(v !== undefined, `${s.name} series disappeared (${where})`);
      assert.ok(v >= s.value, `${s.name}${JSON.stringify(s.labels)} decreased ${s.value} → ${v} (${where})`);
    }
  }
}

const gpu0 = (e: Exposition, name: string): number => sampleValue(e, name, { gpu: "0" });

describe("metrics follow the simulated load and fall back toward idle", () => {
  let clock: FakeClock;
  let server: DecoyServer;
  let grpc: GRPCInferenceServiceClient;
  const scrapes: Scrape[] = [];

  const scrape = async (): Promise<Scrape> => {
    const [m, d] = await Promise.all([
      fetch(`${server.httpUrl}/metrics`).then((r) => r.text()),
      fetch(`${server.httpUrl}/dcgm1/metrics`).then((r) => r.text()),
    ]);
    const s = { t: clock.now(), metrics: parseExposition(m), dcgm: parseExposition(d) };
    const prev = scrapes[scrapes.length - 1];
    if (prev) {
      assertMonotonic(prev.metrics, s.metrics, `/metrics at ${s.t} ms`);
      assertMonotonic(prev.dcgm, s.dcgm, `/dcgm1/metrics at ${s.t} ms`);
    }
    scrapes.push(s);
    return s;
  };

  /** Advance virtual time, scraping every second of it. */
  const run = async (ms: number, stepMs = 10): Promise<void> => {
    const end = clock.now() + ms;
    while (clock.now() < end) {
      await clock.advanceAsync(Math.min(1000, end - clock.now()), stepMs);
      await scrape();
    }
  };

  before(async () => {
    clock = new FakeClock(0, 1_760_000_000_000);
    server = await startTestServer(
      { model: MODEL, maxNumSeqs: SLOTS, maxModelLen: 4096, dcgmGpuName: "h100-sxm", dcgmSeed: 3 },
      { clock },
    );
    // The input here is the engine's events; the LLM surface's own slots are exercised by its tests.
    server.ctx.telemetry.setLlmStats(undefined);
    grpc = inferenceClient(server.grpcAddress);
  });
  after(async () => {
    grpc.close();
    await server.close();
  });

  it("idle: nothing running, GPUs at idle power and 0 % utilisation", async () => {
    const s = await scrape();
    assert.equal(sampleValue(s.metrics, "vllm:num_requests_running", { model_name: MODEL }), 0);
    assert.equal(gpu0(s.dcgm, "DCGM_FI_DEV_GPU_UTIL"), 0);
    assert.ok(gpu0(s.dcgm, "DCGM_FI_DEV_POWER_USAGE") < 100, "H100 SXM idles near 70 W");
  });

  it("under load: running/waiting, token counters, histograms, Triton counters and GPU power rise", async () => {
    const llm = new EventDrivenLlm(server.ctx.engine);
    for (let i = 0; i < REQUESTS; i++) llm.submit();
    // Tensor inferences over gRPC: 20 good ones and one with a wrong shape.
    const vision = Array.from({ length: 20 }, () => call(grpc, grpc.modelInfer, resnetRequest(1)));
    const bad = call(grpc, grpc.modelInfer, resnetRequest(1, false)).then(
      () => assert.fail("a wrong shape is refused"),
      () => undefined,
    );
    // Let the gRPC requests reach the server before virtual time moves.
    const resnet = server.ctx.models.peek("resnet") as unknown as { queued: number; executing: number };
    for (let i = 0; i < 200 && resnet.queued + resnet.executing < 20; i++) await new Promise((r) => setTimeout(r, 5));

    await run(1000);
    const busy = scrapes[scrapes.length - 1] as Scrape;
    const m = busy.metrics;
    assert.equal(sampleValue(m, "vllm:num_requests_running", { model_name: MODEL }), SLOTS);
    assert.equal(sampleValue(m, "vllm:num_requests_waiting", { model_name: MODEL }), REQUESTS - SLOTS);
    assert.ok(sampleValue(m, "vllm:generation_tokens_total", { model_name: MODEL }) > 0);

    await Promise.all([...vision, bad]);
    await run(3000);
    const d = (scrapes[scrapes.length - 1] as Scrape).dcgm;
    assert.ok(
      gpu0(d, "DCGM_FI_DEV_GPU_UTIL") >= 90,
      `utilisation under full batch: ${gpu0(d, "DCGM_FI_DEV_GPU_UTIL")}`,
    );
    assert.ok(
      gpu0(d, "DCGM_FI_DEV_POWER_USAGE") > 500,
      `power under full batch: ${gpu0(d, "DCGM_FI_DEV_POWER_USAGE")}`,
    );
    assert.ok(gpu0(d, "DCGM_FI_DEV_SM_CLOCK") > 1500, "clocks boost under load");
    const t = (scrapes[scrapes.length - 1] as Scrape).metrics;
    const resnetLabels = { model: "resnet", version: "1" };
    assert.equal(sampleValue(t, "nv_inference_request_success", resnetLabels), 20);
    assert.equal(sampleValue(t, "nv_inference_count", resnetLabels), 20);
    assert.equal(sampleValue(t, "nv_inference_exec_count", resnetLabels), 20);
    const failures = samplesOf(t, "nv_inference_request_failure").filter((s) => s.labels.model === "resnet");
    assert.equal(
      failures.reduce((n, s) => n + s.value, 0),
      1,
    );
    assert.ok(sampleValue(t, "nv_inference_request_duration_us", resnetLabels) >= 20 * 5000, "resnet takes ≥ 5 ms");
    assert.ok(sampleValue(t, "nv_inference_compute_infer_duration_us", resnetLabels) > 0);
    assert.equal(sampleValue(t, "nv_inference_pending_request_count", resnetLabels), 0);
    assert.ok(sampleValue(t, "nv_gpu_utilization") >= 0.9, "Triton's GPU view follows the same boards");
    assert.ok(sampleValue(t, "nv_gpu_power_usage") > 500);
  });

  it("after the load: every request accounted for, queues empty, GPUs back toward idle", async () => {
    await run(8000);
    const m = (scrapes[scrapes.length - 1] as Scrape).metrics;
    const l = { model_name: MODEL, engine: "0" };
    assert.equal(sampleValue(m, "vllm:num_requests_running", l), 0);
    assert.equal(sampleValue(m, "vllm:num_requests_waiting", l), 0);
    assert.equal(sampleValue(m, "vllm:generation_tokens_total", l), REQUESTS * OUTPUT);
    assert.equal(sampleValue(m, "vllm:prompt_tokens_total", l), REQUESTS * PROMPT);
    assert.equal(sampleValue(m, "vllm:prefix_cache_queries_total", l), REQUESTS * PROMPT);
    assert.equal(sampleValue(m, "vllm:prefix_cache_hits_total", l), REQUESTS * CACHED);
    assert.equal(sampleValue(m, "vllm:request_success_total", { ...l, finished_reason: "length" }), REQUESTS);
    assert.equal(sampleValue(m, "vllm:request_success_total", { ...l, finished_reason: "stop" }), 0);
    assert.equal(sampleValue(m, "vllm:e2e_request_latency_seconds_count", l), REQUESTS);
    assert.equal(sampleValue(m, "vllm:time_to_first_token_seconds_count", l), REQUESTS);
    assert.equal(sampleValue(m, "vllm:inter_token_latency_seconds_count", l), REQUESTS * (OUTPUT - 1));
    // Every inter-token gap is 40 ms: all in the 0.05 bucket, none in 0.025.
    assert.equal(sampleValue(m, "vllm:inter_token_latency_seconds_bucket", { ...l, le: "0.025" }), 0);
    assert.equal(
      sampleValue(m, "vllm:inter_token_latency_seconds_bucket", { ...l, le: "0.05" }),
      REQUESTS * (OUTPUT - 1),
    );
    // Eight requests ran at once; four waited for a slot (about 4 s).
    assert.equal(sampleValue(m, "vllm:request_queue_time_seconds_bucket", { ...l, le: "0.3" }), SLOTS);
    assert.equal(sampleValue(m, "vllm:request_queue_time_seconds_bucket", { ...l, le: "2.5" }), SLOTS);
    assert.equal(sampleValue(m, "vllm:request_queue_time_seconds_bucket", { ...l, le: "5.0" }), REQUESTS);
    assert.equal(sampleValue(m, "vllm:request_params_max_tokens_bucket", { ...l, le: "100.0" }), REQUESTS);
    assert.equal(sampleValue(m, "vllm:request_params_max_tokens_bucket", { ...l, le: "50.0" }), 0);
    const tpot = sampleValue(m, "vllm:request_time_per_output_token_seconds_sum", l) / REQUESTS;
    assert.ok(Math.abs(tpot - ITL_MS / 1000) < 1e-5, `mean time per output token ${tpot}`);
    assert.equal(sampleValue(m, "vllm:request_prompt_tokens_sum", l), REQUESTS * PROMPT);
    assert.ok(sampleValue(m, "vllm:iteration_tokens_total_count", l) >= REQUESTS * OUTPUT);

    // GPUs: power falls within seconds (0.8 s lag); the die cools over tens of seconds.
    const endOfLoad = scrapes.findLast((s) => gpu0(s.dcgm, "DCGM_FI_DEV_GPU_UTIL") > 50) as Scrape;
    const hot = gpu0(endOfLoad.dcgm, "DCGM_FI_DEV_GPU_TEMP");
    await run(60_000, 100);
    const idle = (scrapes[scrapes.length - 1] as Scrape).dcgm;
    assert.equal(gpu0(idle, "DCGM_FI_DEV_GPU_UTIL"), 0);
    assert.ok(gpu0(idle, "DCGM_FI_DEV_POWER_USAGE") < 100, `idle power ${gpu0(idle, "DCGM_FI_DEV_POWER_USAGE")}`);
    assert.ok(gpu0(idle, "DCGM_FI_DEV_GPU_TEMP") < hot, "temperature falls after the load");
    const fiveSecondsLater = scrapes.find((s) => s.t >= endOfLoad.t + 5000) as Scrape;
    assert.ok(
      gpu0(fiveSecondsLater.dcgm, "DCGM_FI_DEV_GPU_TEMP") > gpu0(idle, "DCGM_FI_DEV_GPU_TEMP"),
      "temperature lags power",
    );
  });

  it("energy is monotonic and equals the integral of the reported power", () => {
    for (const uuid of samplesOf(scrapes[0]?.dcgm as Exposition, "DCGM_FI_DEV_POWER_USAGE").map((s) => s.labels.UUID)) {
      const power = (s: Scrape) => sampleValue(s.dcgm, "DCGM_FI_DEV_POWER_USAGE", { UUID: uuid as string });
      const energy = (s: Scrape) =>
        sampleValue(s.dcgm, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", { UUID: uuid as string });
      let integral = 0;
      for (let i = 1; i < scrapes.length; i++) {
        const a = scrapes[i - 1] as Scrape;
        const b = scrapes[i] as Scrape;
        assert.ok(energy(b) >= energy(a), "energy never decreases");
        integral += ((power(a) + power(b)) / 2) * (b.t - a.t); // W × ms = mJ
      }
      const first = scrapes[0] as Scrape;
      const last = scrapes[scrapes.length - 1] as Scrape;
      const measured = energy(last) - energy(first);
      assert.ok(
        Math.abs(measured - integral) / integral < 0.03,
        `GPU ${uuid}: ΔE ${measured} mJ vs ∫P dt ${Math.round(integral)} mJ`,
      );
    }
    assert.equal(family(scrapes[0]?.dcgm as Exposition, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION").type, "counter");
  });
});
