import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import { type Exposition, parseExposition, samplesOf, sampleValue } from "./prom-text.js";

const MODEL = "decoy-llm";
const LORA = "tweet-summary";
const l = { model_name: MODEL, engine: "0" };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("real OpenAI traffic moves /metrics and the GPUs", () => {
  let server: DecoyServer;
  let client: OpenAI;
  const get = async (path: string): Promise<Exposition> =>
    parseExposition(await (await fetch(`${server.httpUrl}${path}`)).text());

  before(async () => {
    server = await startTestServer({
      maxNumSeqs: 2,
      ttft: 40,
      itl: 15,
      dcgmSeed: 9,
      loraModules: [{ name: LORA, path: "/adapters/tweet" }],
      maxLoras: 2,
      enableKvcache: true,
    });
    client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "none", maxRetries: 0 });
    await get("/dcgm1/metrics"); // start following the load between scrapes
  });
  after(async () => {
    await server.close();
  });

  it("running/waiting come from the scheduler's slots; counters and histograms from what it did", async () => {
    const usage: Array<{ prompt: number; completion: number }> = [];
    const one = async (model: string): Promise<void> => {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: "Write a long story about a lighthouse keeper and a storm." }],
        max_tokens: 60,
        stream: true,
        stream_options: { include_usage: true },
      });
      for await (const chunk of stream) {
        if (chunk.usage) usage.push({ prompt: chunk.usage.prompt_tokens, completion: chunk.usage.completion_tokens });
      }
    };
    // A LoRA request counts under the served model name, as in vLLM.
    const all = Promise.all([one(MODEL), one(MODEL), one(MODEL), one(LORA), one(MODEL)]);
    let busy = await get("/metrics");
    for (let i = 0; i < 100 && sampleValue(busy, "vllm:num_requests_waiting", l) < 3; i++) {
      await sleep(10);
      busy = await get("/metrics");
    }
    assert.equal(sampleValue(busy, "vllm:num_requests_running", l), 2);
    assert.equal(sampleValue(busy, "vllm:num_requests_waiting", l), 3);
    assert.ok(sampleValue(busy, "vllm:kv_cache_usage_perc", l) > 0, "KV blocks held by running requests");
    assert.deepEqual(
      samplesOf(busy, "vllm:num_requests_running").map((s) => s.labels.model_name),
      [MODEL],
      "no series for the adapter's name",
    );
    const lora = samplesOf(busy, "vllm:lora_requests_info");
    assert.ok(lora.length >= 1, "lora_requests_info appears once adapters are configured");
    assert.ok(lora.every((s) => s.labels.max_lora === "2" && s.value > 1.6e9));
    await sleep(800);
    const dcgm = await get("/dcgm1/metrics");
    assert.ok(sampleValue(dcgm, "DCGM_FI_DEV_GPU_UTIL", { gpu: "0" }) > 50, "a full batch keeps the GPU busy");

    await all;
    assert.equal(usage.length, 5);
    const done = await get("/metrics");
    assert.equal(sampleValue(done, "vllm:num_requests_running", l), 0);
    assert.equal(sampleValue(done, "vllm:num_requests_waiting", l), 0);
    const completion = usage.reduce((n, u) => n + u.completion, 0);
    const prompt = usage.reduce((n, u) => n + u.prompt, 0);
    assert.equal(sampleValue(done, "vllm:generation_tokens_total", l), completion);
    assert.equal(sampleValue(done, "vllm:prompt_tokens_total", l), prompt);
    assert.equal(sampleValue(done, "vllm:request_generation_tokens_sum", l), completion);
    const finished = samplesOf(done, "vllm:request_success_total").reduce((n, s) => n + s.value, 0);
    assert.equal(finished, 5);
    assert.equal(sampleValue(done, "vllm:e2e_request_latency_seconds_count", l), 5);
    assert.equal(sampleValue(done, "vllm:time_to_first_token_seconds_count", l), 5);
    assert.ok(sampleValue(done, "vllm:time_to_first_token_seconds_sum", l) >= 5 * 0.04);
    // Three requests waited for a slot.
    assert.ok(sampleValue(done, "vllm:request_queue_time_seconds_sum", l) > 0.3);
    // One gap per token after each request's first, even when a tick emits several due tokens at once.
    const gaps = sampleValue(done, "vllm:inter_token_latency_seconds_count", l);
    assert.equal(gaps, completion - 5, `${gaps} inter-token gaps for ${completion} tokens`);
    assert.ok(sampleValue(done, "vllm:iteration_tokens_total_count", l) > 0);
    assert.equal(sampleValue(done, "vllm:prefix_cache_queries_total", l), prompt);

    await sleep(2500);
    const idle = await get("/dcgm1/metrics");
    assert.ok(sampleValue(idle, "DCGM_FI_DEV_GPU_UTIL", { gpu: "0" }) <= 2, "utilisation back toward 0");
    assert.ok(sampleValue(idle, "DCGM_FI_DEV_POWER_USAGE", { gpu: "0" }) < 150, "power back toward idle");
  });

  it("--fake-metrics replaces running, waiting, KV usage and LoRA info; /configure turns it off", async () => {
    const post = (body: unknown) =>
      fetch(`${server.httpUrl}/configure`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    assert.equal(
      (
        await post({
          "fake-metrics": {
            "running-requests": 10,
            "waiting-requests": 30,
            "kv-cache-usage": 0.4,
            loras: [
              { running: "lora4,lora2", waiting: "lora3", timestamp: 1257894567 },
              { running: "lora4,lora3", waiting: "", timestamp: 1257894569 },
            ],
          },
        })
      ).status,
      200,
    );
    const fake = await get("/metrics");
    assert.equal(sampleValue(fake, "vllm:num_requests_running", l), 10);
    assert.equal(sampleValue(fake, "vllm:num_requests_waiting", l), 30);
    assert.equal(sampleValue(fake, "vllm:kv_cache_usage_perc", l), 0.4);
    assert.deepEqual(
      samplesOf(fake, "vllm:lora_requests_info").map((s) => [
        s.labels.running_lora_adapters,
        s.labels.waiting_lora_adapters,
        s.value,
      ]),
      [
        ["lora4,lora2", "lora3", 1257894567],
        ["lora4,lora3", "", 1257894569],
      ],
    );
    const dcgm = await get("/dcgm1/metrics");
    assert.ok(dcgm.families.size > 0);
    assert.equal((await post({ "fake-metrics": null })).status, 200);
    const real = await get("/metrics");
    assert.equal(sampleValue(real, "vllm:num_requests_running", l), 0);
    assert.equal(sampleValue(real, "vllm:num_requests_waiting", l), 0);
  });
});
