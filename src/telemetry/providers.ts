/**
 * What telemetry asks the engine at scrape time. Counters and histograms come from engine events
 * (src/engine/events.ts); instantaneous state (queue lengths, KV-cache occupancy, adapters in use)
 * is read when a scrape happens, from whichever surface owns it. Every provider is optional: with
 * none registered, the gauges fall back to what the events imply (see load-tracker.ts) or to zero.
 */

/** The LLM scheduler's live state, per served model name (vLLM's `model_name` label). */
export interface LlmStatsProvider {
  /** Served model names; each gets its own `model_name` series. */
  models(): string[];
  running(model: string): number;
  waiting(model: string): number;
  /** KV-cache occupancy 0..1 (vLLM reports one value per engine). */
  kvCacheUsage(model: string): number;
  /** Batch capacity (max-num-seqs), used to turn running requests into GPU load. */
  capacity?(): number;
  /** LoRA adapters in use; undefined when LoRA is not enabled (vLLM then omits lora_requests_info). */
  loraInfo?(): LoraInfo | undefined;
  /** vLLM's CacheConfig fields as printed in `vllm:cache_config_info` labels. */
  cacheConfig?(): Record<string, string>;
  /**
   * The `model_name` label for a model name as engine events carry it (the name the client
   * asked for). vLLM labels everything with its served model name, LoRA requests included.
   */
  modelLabel?(requested: string): string;
}

export interface LoraInfo {
  running: string[];
  waiting: string[];
  maxLora: number;
}

/** Per model version state of the KServe tensor models, in Triton's terms. */
export interface TensorStatsProvider {
  /** Loaded model versions; each gets zero-valued series before its first request, as in Triton. */
  models(): Array<{ model: string; version: string }>;
  /** Requests accepted but not yet executing (`nv_inference_pending_request_count`). */
  pending(model: string, version: string): number;
  /** Executions in flight over all models, for the GPU load; else estimated from finished ones. */
  executing?(): number;
}

/**
 * llm-d's `--fake-metrics`: fixed values reported instead of the simulated state. `loras` entries are
 * printed as one `vllm:lora_requests_info` series each, with their own timestamp (seconds).
 */
export interface FakeMetricsSample {
  running?: number;
  waiting?: number;
  kvCacheUsage?: number;
  loras?: Array<{ running: string[]; waiting: string[]; timestamp: number }>;
}

export interface FakeMetricsSource {
  /** Values in force at `now` (engine clock ms); undefined when nothing is configured. */
  sample(now: number): FakeMetricsSample | undefined;
}
