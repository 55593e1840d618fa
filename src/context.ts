import type { ConfigStore } from "./config/load.js";
import type { Engine } from "./engine/engine.js";
import type { FakeMetrics } from "./engine/fake-metrics.js";
import type { Faults } from "./engine/faults.js";
import type { KvCache } from "./engine/kv-cache.js";
import type { KvEventPublisher } from "./engine/kv-events.js";
import type { LlmService } from "./engine/llm/service.js";
import type { ModelRepository } from "./engine/models/repository.js";
import type { Telemetry } from "./telemetry/telemetry.js";

/**
 * What the transports are given: the engine and the live configuration, plus each
 * surface's state. Surfaces add their own fields here as optional members, created in
 * `src/server.ts`, so HTTP and gRPC adapters reach the same instances.
 */
export interface AppContext {
  engine: Engine;
  config: ConfigStore;
  /** Version string reported by /version, ServerMetadata and the startup line. */
  version: string;
  /** KServe v2 model repository (tensor fakes; the LLM surface registers its models here too). */
  models: ModelRepository;
  /** The simulated LLM server (OpenAI/vLLM routes, Triton generate, KServe text models). */
  llm: LlmService;
  /** Simulated prefix cache (with --enable-kvcache). */
  kv?: KvCache;
  /** ZMQ KV event publisher (with --enable-kvcache and a --zmq-endpoint). */
  kvEvents?: KvEventPublisher;
  /** Failure injection, mid-stream cuts, latency spikes, forced errors. */
  faults: Faults;
  /** --fake-metrics provider for telemetry. */
  fakeMetrics: FakeMetrics;
  /** Prometheus registries (vLLM, Triton, process) and the two simulated dcgm-exporters. */
  telemetry: Telemetry;
}
