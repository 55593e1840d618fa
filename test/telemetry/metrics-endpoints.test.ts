import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/load.js";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import {
  bucketBounds,
  type Exposition,
  family,
  parseExposition,
  promtoolAvailable,
  promtoolProblems,
  samplesOf,
  sampleValue,
} from "./prom-text.js";

/**
 * vLLM's families as `vllm/v1/metrics/loggers.py` registers them and a vLLM /metrics shows them
 * (labels sorted, counters with `_total`, a `_created` gauge after each counter and histogram).
 * Written out here, not imported, so that a change in the source shows up as a failing test.
 */
const TTFT =
  "0.001 0.005 0.01 0.02 0.04 0.06 0.08 0.1 0.25 0.5 0.75 1.0 2.5 5.0 7.5 10.0 20.0 40.0 80.0 160.0 640.0 2560.0";
const TOKEN_LAT = "0.01 0.025 0.05 0.075 0.1 0.15 0.2 0.3 0.4 0.5 0.75 1.0 2.5 5.0 7.5 10.0 20.0 40.0 80.0";
const REQ_LAT =
  "0.3 0.5 0.8 1.0 1.5 2.0 2.5 5.0 10.0 15.0 20.0 30.0 40.0 50.0 60.0 120.0 240.0 480.0 960.0 1920.0 7680.0";
const ITER = "1.0 8.0 16.0 32.0 64.0 128.0 256.0 512.0 1024.0 2048.0 4096.0 8192.0 16384.0";
/** build_1_2_5_buckets(2048) with --max-model-len 2048. */
const TOKENS_125 = "1.0 2.0 5.0 10.0 20.0 50.0 100.0 200.0 500.0 1000.0 2000.0";
const N = "1.0 2.0 5.0 10.0 20.0";

type Row = readonly [name: string, type: string, help: string, buckets?: string];
const VLLM: readonly Row[] = [
  ["vllm:num_requests_running", "gauge", "Number of requests in model execution batches."],
  ["vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed."],
  ["vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage."],
  ["vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens."],
  ["vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens."],
  ["vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine."],
  ["vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed."],
  ["vllm:generation_tokens_total", "counter", "Number of generation tokens processed."],
  ["vllm:request_success_total", "counter", "Count of successfully processed requests."],
  ["vllm:request_prompt_tokens", "histogram", "Number of prefill tokens processed.", TOKENS_125],
  ["vllm:request_generation_tokens", "histogram", "Number of generation tokens processed.", TOKENS_125],
  ["vllm:iteration_tokens_total", "histogram", "Histogram of number of tokens per engine_step.", ITER],
  [
    "vllm:request_max_num_generation_tokens",
    "histogram",
    "Histogram of maximum number of requested generation tokens.",
    TOKENS_125,
  ],
  ["vllm:request_params_n", "histogram", "Histogram of the n request parameter.", N],
  ["vllm:request_params_max_tokens", "histogram", "Histogram of the max_tokens request parameter.", TOKENS_125],
  ["vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.", TTFT],
  ["vllm:inter_token_latency_seconds", "histogram", "Histogram of inter-token latency in seconds.", TOKEN_LAT],
  [
    "vllm:request_time_per_output_token_seconds",
    "histogram",
    "Histogram of time_per_output_token_seconds per request.",
    TOKEN_LAT,
  ],
  ["vllm:e2e_request_latency_seconds", "histogram", "Histogram of e2e request latency in seconds.", REQ_LAT],
  ["vllm:request_queue_time_seconds", "histogram", "Histogram of time spent in WAITING phase for request.", REQ_LAT],
  [
    "vllm:request_inference_time_seconds",
    "histogram",
    "Histogram of time spent in RUNNING phase for request.",
    REQ_LAT,
  ],
  ["vllm:request_prefill_time_seconds", "histogram", "Histogram of time spent in PREFILL phase for request.", REQ_LAT],
  ["vllm:request_decode_time_seconds", "histogram", "Histogram of time spent in DECODE phase for request.", REQ_LAT],
  ["vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig"],
];

/** Triton's families (core `src/metrics.cc`, default `--metrics-config`), GPU and CPU included. */
const TRITON: readonly Row[] = [
  ["nv_inference_request_success", "counter", "Number of successful inference requests, all batch sizes"],
  ["nv_inference_request_failure", "counter", "Number of failed inference requests, all batch sizes"],
  ["nv_inference_count", "counter", "Number of inferences performed (does not include cached requests)"],
  ["nv_inference_exec_count", "counter", "Number of model executions performed (does not include cached requests)"],
  [
    "nv_inference_request_duration_us",
    "counter",
    "Cumulative inference request duration in microseconds (includes cached requests)",
  ],
  [
    "nv_inference_queue_duration_us",
    "counter",
    "Cumulative inference queuing duration in microseconds (includes cached requests)",
  ],
  [
    "nv_inference_compute_input_duration_us",
    "counter",
    "Cumulative compute input duration in microseconds (does not include cached requests)",
  ],
  [
    "nv_inference_compute_infer_duration_us",
    "counter",
    "Cumulative compute inference duration in microseconds (does not include cached requests)",
  ],
  [
    "nv_inference_compute_output_duration_us",
    "counter",
    "Cumulative inference compute output duration in microseconds (does not include cached requests)",
  ],
  [
    "nv_inference_pending_request_count",
    "gauge",
    "Instantaneous number of pending requests awaiting execution per-model.",
  ],
  ["nv_pinned_memory_pool_total_bytes", "gauge", "Pinned memory pool total memory size, in bytes"],
  ["nv_pinned_memory_pool_used_bytes", "gauge", "Pinned memory pool used memory size, in bytes"],
  ["nv_gpu_utilization", "gauge", "GPU utilization rate [0.0 - 1.0)"],
  ["nv_gpu_memory_total_bytes", "gauge", "GPU total memory, in bytes"],
  ["nv_gpu_memory_used_bytes", "gauge", "GPU used memory, in bytes"],
  ["nv_gpu_power_usage", "gauge", "GPU power usage in watts"],
  ["nv_gpu_power_limit", "gauge", "GPU power management limit in watts"],
  ["nv_energy_consumption", "counter", "GPU energy consumption in joules since the Triton Server started"],
  ["nv_cpu_utilization", "gauge", "CPU utilization rate [0.0 - 1.0]"],
  ["nv_cpu_memory_total_bytes", "gauge", "CPU total memory (RAM), in bytes"],
  ["nv_cpu_memory_used_bytes", "gauge", "CPU used memory (RAM), in bytes"],
];

/** The built-in tensor fakes, then the LLM, embedding and ranking models as the KServe repository registers them. */
const KSERVE_MODELS = [
  "resnet",
  "yolo",
  "bert",
  "meta-llama/Llama-3.1-8B-Instruct",
  "decoy-embedding",
  "decoy-reranker",
];

async function scrape(url: string): Promise<{ text: string; e: Exposition; type: string | null }> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  const text = await res.text();
  return { text, e: parseExposition(text), type: res.headers.get("content-type") };
}

function keysOf(labels: Record<string, string>): string {
  return Object.keys(labels).join(",");
}

describe("/metrics, /dcgm1/metrics, /dcgm2/metrics", () => {
  let server: DecoyServer;
  before(async () => {
    server = await startTestServer({ model: "meta-llama/Llama-3.1-8B-Instruct", maxModelLen: 2048, metricsPort: 0 });
  });
  after(async () => {
    await server.close();
  });

  it("prints vLLM's families with their names, types, HELP, labels and buckets, in vLLM's order", async () => {
    const { e, type } = await scrape(`${server.httpUrl}/metrics`);
    assert.equal(type, "text/plain; version=0.0.4; charset=utf-8");
    const vllmOrder = e.order.filter((n) => n.startsWith("vllm:") && !n.endsWith("_created"));
    assert.deepEqual(
      vllmOrder,
      VLLM.map(([n]) => n),
    );
    const model = { model_name: "meta-llama/Llama-3.1-8B-Instruct", engine: "0" };
    for (const [name, t, help, buckets] of VLLM) {
      const f = family(e, name);
      assert.equal(f.type, t, `${name} TYPE`);
      assert.equal(f.help, help, `${name} HELP`);
      if (name === "vllm:cache_config_info") continue;
      assert.ok(f.samples.length > 0, `${name} has zero-valued series before any request`);
      for (const s of f.samples) {
        const expected =
          name === "vllm:request_success_total"
            ? "engine,finished_reason,model_name"
            : s.name.endsWith("_bucket")
              ? "engine,le,model_name"
              : "engine,model_name";
        assert.equal(s.labelOrder.join(","), expected, `${s.name} labels`);
        assert.equal(s.labels.model_name, model.model_name);
        assert.equal(s.labels.engine, "0");
        assert.match(s.raw, /^\d+\.\d+$/, `${s.name} prints floats like prometheus_client`);
      }
      if (buckets) assert.deepEqual(bucketBounds(f, model), [...buckets.split(" "), "+Inf"], `${name} buckets`);
      if (t === "counter" || t === "histogram") {
        const created = family(e, `${name.replace(/_total$/, t === "counter" ? "" : "_total")}_created`);
        assert.equal(created.type, "gauge");
        assert.ok(
          created.samples.every((s) => s.value > 1.6e9),
          `${created.name} holds a Unix time`,
        );
      }
    }
    assert.deepEqual(
      samplesOf(e, "vllm:request_success_total").map((s) => s.labels.finished_reason),
      ["stop", "length", "abort", "error"],
    );
    const cache = family(e, "vllm:cache_config_info").samples;
    assert.equal(cache.length, 1);
    assert.equal(cache[0]?.value, 1);
    assert.equal(cache[0]?.labels.engine, "0");
    assert.equal(cache[0]?.labels.block_size, "16");
    assert.equal(cache[0]?.labels.num_gpu_blocks, "1024");
    assert.ok(!("model_name" in (cache[0]?.labels ?? {})), "cache_config_info has no model_name, like vLLM");
    // The anchors' mistakes: llm-d's finish_reason label and deprecated TPOT histogram, the old KV gauge.
    assert.ok(!e.families.has("vllm:time_per_output_token_seconds"));
    assert.ok(!e.families.has("vllm:gpu_cache_usage_perc"));
    assert.ok(!e.families.has("vllm:lora_requests_info"), "no LoRA families without LoRA, like vLLM");
  });

  it("prints Triton's families with zero-valued series for every loaded KServe model", async () => {
    const { e } = await scrape(`${server.httpUrl}/metrics`);
    const tritonOrder = e.order.filter((n) => n.startsWith("nv_"));
    assert.deepEqual(
      tritonOrder,
      TRITON.map(([n]) => n),
    );
    for (const [name, t, help] of TRITON) {
      const f = family(e, name);
      assert.equal(f.type, t, `${name} TYPE`);
      assert.equal(f.help, help, `${name} HELP`);
      for (const s of f.samples) assert.match(s.raw, /^-?[\d.e+-]+$/, `${s.name} prints like prometheus-cpp`);
    }
    for (const name of TRITON.map(([n]) => n).filter((n) => n.startsWith("nv_inference_"))) {
      const f = family(e, name);
      const models = [...new Set(f.samples.map((s) => s.labels.model))];
      assert.deepEqual(models, KSERVE_MODELS, `${name} models`);
      for (const s of f.samples) {
        assert.equal(keysOf(s.labels), name.endsWith("_failure") ? "model,reason,version" : "model,version");
        assert.equal(s.labels.version, "1");
        assert.equal(s.value, 0);
      }
    }
    assert.deepEqual(
      family(e, "nv_inference_request_failure")
        .samples.filter((s) => s.labels.model === "resnet")
        .map((s) => s.labels.reason)
        .sort(),
      ["BACKEND", "CANCELED", "OTHER", "REJECTED"],
    );
    // nv_gpu_* describe the boards of /dcgm1/metrics (--dcgm-num-gpus of the H200 profile).
    const dcgm = parseExposition(await (await fetch(`${server.httpUrl}/dcgm1/metrics`)).text());
    const uuids = samplesOf(dcgm, "DCGM_FI_DEV_GPU_UTIL").map((s) => s.labels.UUID);
    const gpus = family(e, "nv_gpu_power_limit").samples;
    assert.deepEqual(
      gpus.map((s) => s.labels.gpu_uuid),
      uuids,
    );
    assert.ok(gpus.every((s) => s.value === 700 && keysOf(s.labels) === "gpu_uuid"));
    assert.equal(sampleValue(e, "nv_gpu_memory_total_bytes"), 143771 * 1024 * 1024);
    assert.equal(sampleValue(e, "nv_pinned_memory_pool_total_bytes"), 268435456);
  });

  it("includes process metrics from prom-client's default collectors", async () => {
    const { e } = await scrape(`${server.httpUrl}/metrics`);
    for (const [name, t] of [
      ["process_cpu_seconds_total", "counter"],
      ["process_resident_memory_bytes", "gauge"],
      ["process_start_time_seconds", "gauge"],
      ["process_open_fds", "gauge"],
      ["nodejs_eventloop_lag_seconds", "gauge"],
      ["nodejs_heap_size_used_bytes", "gauge"],
    ] as const) {
      assert.equal(family(e, name).type, t, name);
    }
    assert.ok(sampleValue(e, "process_resident_memory_bytes") > 1e6);
  });

  it("every endpoint parses strictly and promtool finds no errors", async (t) => {
    for (const path of ["/metrics", "/dcgm1/metrics", "/dcgm2/metrics"]) {
      const { text } = await scrape(`${server.httpUrl}${path}`);
      if (!promtoolAvailable()) continue;
      assert.deepEqual(promtoolProblems(text), [], `promtool check metrics ${path}`);
    }
    if (!promtoolAvailable()) t.skip("promtool not installed (Debian package prometheus); strict parser only");
  });

  it("the two DCGM endpoints are different boards of the configured profile", async () => {
    const one = (await scrape(`${server.httpUrl}/dcgm1/metrics`)).e;
    const two = (await scrape(`${server.httpUrl}/dcgm2/metrics`)).e;
    const u1 = samplesOf(one, "DCGM_FI_DEV_SM_CLOCK").map((s) => s.labels.UUID);
    const u2 = samplesOf(two, "DCGM_FI_DEV_SM_CLOCK").map((s) => s.labels.UUID);
    assert.equal(u1.length, 2);
    assert.equal(u2.length, 2);
    assert.equal(new Set([...u1, ...u2]).size, 4, "no UUID shared between the endpoints");
    for (const s of samplesOf(one, "DCGM_FI_DEV_GPU_TEMP")) {
      assert.equal(keysOf(s.labels), "gpu,UUID,pci_bus_id,device,modelName,Hostname,DCGM_FI_DRIVER_VERSION");
      assert.equal(s.labels.modelName, "NVIDIA H200");
      assert.equal(s.labels.Hostname, "localhost");
      assert.equal(s.labels.DCGM_FI_DRIVER_VERSION, "580.95.05");
    }
    assert.equal(family(one, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION").type, "counter");
    assert.ok(!one.families.has("DCGM_FI_DEV_FB_TOTAL"), "extras are off by default");
  });

  it("--metrics-port serves the same three endpoints and nothing else", async () => {
    const base = `http://127.0.0.1:${server.metricsPort}`;
    assert.ok(server.metricsPort && server.metricsPort !== server.httpPort);
    for (const path of ["/metrics", "/dcgm1/metrics", "/dcgm2/metrics"]) {
      const { e, type } = await scrape(`${base}${path}`);
      assert.equal(type, "text/plain; version=0.0.4; charset=utf-8");
      assert.ok(e.families.size > 20, path);
    }
    const res = await fetch(`${base}/v1/models`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { type: string; code: number } };
    assert.equal(body.error.type, "NotFoundError");
    assert.equal(body.error.code, 404);
  });
});

describe("DCGM and metrics settings", () => {
  it("flags pick the profile, GPU count, hostname label, driver version, extras and seed", async () => {
    const server = await startTestServer({
      dcgmGpuName: "a100",
      dcgmNumGpus: 4,
      dcgmHostname: "node-7",
      dcgmHostnameLabel: "hostname",
      dcgmDriverVersion: "570.133.20",
      dcgmExtras: true,
      dcgmSeed: 42,
    });
    const other = await startTestServer({ dcgmGpuName: "a100", dcgmNumGpus: 4, dcgmHostname: "node-7", dcgmSeed: 42 });
    try {
      const { e } = await scrape(`${server.httpUrl}/dcgm2/metrics`);
      const temps = samplesOf(e, "DCGM_FI_DEV_GPU_TEMP");
      assert.equal(temps.length, 4);
      for (const s of temps) {
        assert.equal(keysOf(s.labels), "gpu,UUID,pci_bus_id,device,modelName,hostname,DCGM_FI_DRIVER_VERSION");
        assert.equal(s.labels.modelName, "NVIDIA A100-SXM4-40GB");
        assert.equal(s.labels.hostname, "node-7");
        assert.equal(s.labels.DCGM_FI_DRIVER_VERSION, "570.133.20");
      }
      assert.equal(sampleValue(e, "DCGM_FI_DEV_POWER_MGMT_LIMIT"), 400);
      // Same seed, same boards.
      const same = (await scrape(`${other.httpUrl}/dcgm2/metrics`)).e;
      assert.deepEqual(
        samplesOf(same, "DCGM_FI_DEV_GPU_TEMP").map((s) => s.labels.UUID),
        temps.map((s) => s.labels.UUID),
      );
    } finally {
      await server.close();
      await other.close();
    }
  });

  it("accepts aiperf's flag values and environment variables, and rejects out-of-range ones", () => {
    const { config } = loadConfig({
      flags: {},
      env: {
        MOCK_SERVER_DCGM_GPU_NAME: "H100-SXM",
        MOCK_SERVER_DCGM_NUM_GPUS: "8",
        MOCK_SERVER_DCGM_INITIAL_LOAD: "0.7",
        MOCK_SERVER_DCGM_HOSTNAME: "gpu-node",
        MOCK_SERVER_DCGM_SEED: "1",
      },
    });
    assert.equal(config.dcgmGpuName, "h100-sxm");
    assert.equal(config.dcgmNumGpus, 8);
    assert.equal(config.dcgmInitialLoad, 0.7);
    assert.equal(config.dcgmHostname, "gpu-node");
    assert.equal(config.dcgmSeed, 1);
    assert.equal(config.metricsPort, null);
    for (const flags of [
      { dcgmNumGpus: 9 },
      { dcgmNumGpus: 0 },
      { dcgmInitialLoad: 1.5 },
      { dcgmGpuName: "v100" },
      { dcgmHostnameLabel: "HOSTNAME" },
      { metricsPort: 70000 },
    ]) {
      assert.throws(() => loadConfig({ flags }), ConfigError, JSON.stringify(flags));
    }
  });
});
