import { collectDefaultMetrics, Registry } from "prom-client";
import type { ConfigStore } from "../config/load.js";
import type { Engine } from "../engine/engine.js";
import type { EngineObserver, LlmRequestRecord, TensorInferRecord } from "../engine/events.js";
import { DcgmExporter, type GpuLoadSample, type HostnameLabel } from "./dcgm/index.js";
import { renderFamilies } from "./exposition.js";
import { LoadTracker } from "./load-tracker.js";
import type { FakeMetricsSource, LlmStatsProvider, LoraInfo, TensorStatsProvider } from "./providers.js";
import { type TritonGpu, TritonMetrics } from "./triton-metrics.js";
import { type LoraSeries, VllmMetrics } from "./vllm-metrics.js";

/** Prometheus text format 0.0.4, as vLLM, Triton and dcgm-exporter answer. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** At most this many `vllm:lora_requests_info` series are kept (vLLM keeps every combination). */
const MAX_LORA_SERIES = 64;
/** Lifecycle events advance the GPU model at most this often, so short bursts still show in energy. */
const EVENT_TICK_MS = 50;
const DCGM_TICK_MS = 1000;

let processRegistry: Registry | undefined;

/**
 * Process metrics (CPU, memory, event-loop lag, GC, handles) from prom-client's default collectors.
 * One registry per process: the values describe the process, whichever server asks.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * The metrics surfaces of one server: vLLM and Triton families for `/metrics`, two simulated
 * dcgm-exporters for `/dcgm1/metrics` and `/dcgm2/metrics`, all driven by the engine's events and,
 * when registered, by the LLM and tensor surfaces' live stats.
 *
 * Decoy runs as one process, so `/metrics` is already the whole server's view; there are no
 * worker processes whose registries would need aggregating.
 */
export class Telemetry {
  readonly tracker: LoadTracker;
  readonly vllm: VllmMetrics;
  readonly triton: TritonMetrics;
  /** Exporter 1 is also what Triton's nv_gpu_* families describe. */
  readonly dcgm: readonly [DcgmExporter, DcgmExporter];
  private llm: LlmStatsProvider | undefined;
  private tensor: TensorStatsProvider | undefined;
  private fake: FakeMetricsSource = { sample: () => undefined };
  private kvUsage: (() => number) | undefined;
  private readonly loraHistory = new Map<string, LoraSeries>();
  private readonly energyBaselineMJ = new Map<string, number>();
  private readonly detach: Array<() => void> = [];
  private ticking = false;
  private lastEventTick = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly engine: Engine,
    private readonly config: ConfigStore,
  ) {
    const clock = engine.clock;
    const cfg = config.current;
    this.tracker = new LoadTracker(() => clock.now());
    this.vllm = new VllmMetrics({
      maxModelLen: cfg.maxModelLen,
      wallNow: () => clock.wallNow(),
      state: {
        models: () => this.servedModels(),
        running: (m) => this.running(m),
        waiting: (m) => this.waiting(m),
        kvCacheUsage: (m) => this.kvCacheUsage(m),
        loraSeries: () => this.loraSeries(),
        cacheConfig: () => this.cacheConfig(),
        speculativeTokens: () =>
          (this.config.current.speculativeConfig as { num_speculative_tokens?: number } | null)
            ?.num_speculative_tokens ?? 0,
      },
    });
    const load = { sample: (): GpuLoadSample => this.gpuLoad() };
    const seed = cfg.dcgmSeed ?? cfg.seed ?? undefined;
    const base = {
      gpuName: cfg.dcgmGpuName,
      numGpus: cfg.dcgmNumGpus,
      initialLoad: cfg.dcgmInitialLoad,
      hostname: cfg.dcgmHostname,
      hostnameLabel: cfg.dcgmHostnameLabel as HostnameLabel,
      driverVersion: cfg.dcgmDriverVersion,
      extras: cfg.dcgmExtras,
      ...(seed === undefined ? {} : { seed }),
    };
    this.dcgm = [
      new DcgmExporter({ ...base, instance: 1 }, clock, load),
      new DcgmExporter({ ...base, instance: 2 }, clock, load),
    ];
    for (const g of this.dcgm[0].snapshot()) this.energyBaselineMJ.set(g.uuid, g.energyMJ);
    this.triton = new TritonMetrics({
      models: () => this.tensor?.models() ?? [],
      pending: (m, v) => this.tensor?.pending(m, v) ?? 0,
      gpus: () => this.tritonGpus(),
    });
    this.detach.push(engine.events.add(this.observer()));
  }

  /** The LLM surface's live state (running/waiting per model, KV usage, LoRA, cache config). */
  setLlmStats(p: LlmStatsProvider | undefined): void {
    this.llm = p;
  }

  /** The tensor surface's live state (loaded model versions, pending requests). */
  setTensorStats(p: TensorStatsProvider | undefined): void {
    this.tensor = p;
  }

  /** `--fake-metrics`: running/waiting/KV/LoRA values reported instead of the simulated ones. */
  setFakeMetrics(f: FakeMetricsSource): void {
    this.fake = f;
  }

  /** KV-cache occupancy 0..1 when no LLM stats provider reports it (the simulated prefix cache). */
  setKvUsage(fn: (() => number) | undefined): void {
    this.kvUsage = fn;
  }

  /** vLLM labels every request with its served model name, adapters and aliases included. */
  modelLabel(requested: string): string {
    if (this.llm?.modelLabel) return this.llm.modelLabel(requested);
    const c = this.config.current;
    const served = c.servedModelName.length > 0 ? c.servedModelName : [c.model];
    const loras = Array.isArray(c.loraModules) ? c.loraModules : [];
    const isLora = loras.some(
      (l) => (typeof l === "string" ? l.split("=")[0] : (l as { name?: string })?.name) === requested,
    );
    return served.includes(requested) || isLora ? (served[0] as string) : requested;
  }

  private observer(): EngineObserver {
    const t = this.tracker;
    const v = this.vllm;
    const label = (m: string): string => this.modelLabel(m);
    // The GPU model advances before the state changes, so the elapsed interval is integrated
    // with the load that was actually in force during it.
    return {
      llmQueued: (m) => {
        this.eventTick();
        const l = label(m);
        t.llmQueued(l);
        v.ensureModel(l);
      },
      llmStarted: (m) => {
        this.eventTick();
        t.llmStarted(label(m));
      },
      llmSpecDecode: (m, draftTokens, accepted) => v.specDecode(label(m), draftTokens, accepted),
      llmTokens: (m, count, gapMs, isFirst, oneStep) => {
        const l = label(m);
        t.llmTokens(l, count);
        v.tokens(l, count, gapMs, isFirst, oneStep);
      },
      llmFinished: (r: LlmRequestRecord) => {
        this.eventTick();
        const model = label(r.model);
        const rec = model === r.model ? r : { ...r, model };
        t.llmFinished(rec);
        v.finished(rec);
      },
      llmIteration: (m, tokens) => v.iteration(label(m), tokens),
      llmPreempted: (m) => {
        this.eventTick();
        const l = label(m);
        t.llmPreempted(l);
        v.preempted(l);
      },
      tensorInfer: (r: TensorInferRecord) => {
        this.eventTick();
        t.tensorInfer(r);
        this.triton.infer(r);
      },
    };
  }

  private eventTick(): void {
    const now = this.engine.clock.now();
    if (now - this.lastEventTick < EVENT_TICK_MS) return;
    this.lastEventTick = now;
    for (const ex of this.dcgm) ex.tick();
  }

  /** Once someone scrapes, keep the GPU model following the load between scrapes too. */
  private startTicking(): void {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    for (const ex of this.dcgm) ex.start(DCGM_TICK_MS);
  }

  private fakeSample() {
    return this.fake.sample(this.engine.clock.now());
  }

  /** Served model names: the LLM surface's, else the configured ones, plus any seen in events. */
  servedModels(): string[] {
    const out = new Set<string>(this.llm?.models() ?? configuredModels(this.config));
    for (const m of this.tracker.models()) out.add(m);
    return [...out];
  }

  running(model: string): number {
    return this.fakeSample()?.running ?? this.llm?.running(model) ?? this.tracker.running(model);
  }

  waiting(model: string): number {
    return this.fakeSample()?.waiting ?? this.llm?.waiting(model) ?? this.tracker.waiting(model);
  }

  kvCacheUsage(model: string): number {
    return this.fakeSample()?.kvCacheUsage ?? this.llm?.kvCacheUsage(model) ?? this.kvUsage?.() ?? 0;
  }

  private maxLoras(): number {
    return this.llm?.loraInfo?.()?.maxLora ?? this.config.current.maxLoras;
  }

  private loraSeries(): LoraSeries[] | undefined {
    const fake = this.fakeSample()?.loras;
    const info = this.llm ? this.llm.loraInfo?.() : this.configuredLora();
    if (fake && fake.length > 0) {
      const maxLora = this.maxLoras();
      return fake.map((l) => ({ maxLora, running: l.running, waiting: l.waiting, timestamp: l.timestamp }));
    }
    if (!info) return undefined;
    const key = `${info.maxLora}|${info.running.join(",")}|${info.waiting.join(",")}`;
    const busy = info.running.length > 0 || info.waiting.length > 0;
    const existing = this.loraHistory.get(key);
    // vLLM stamps the combination it reports on each engine step; at idle nothing is reported.
    if (!existing || busy) {
      this.loraHistory.delete(key);
      this.loraHistory.set(key, { ...info, timestamp: this.engine.clock.wallNow() / 1000 });
      if (this.loraHistory.size > MAX_LORA_SERIES) {
        const oldest = this.loraHistory.keys().next().value;
        if (oldest !== undefined) this.loraHistory.delete(oldest);
      }
    }
    return [...this.loraHistory.values()];
  }

  /** Without an LLM surface: LoRA counts as enabled when adapters are configured, none in use. */
  private configuredLora(): LoraInfo | undefined {
    const c = this.config.current;
    return Array.isArray(c.loraModules) && c.loraModules.length > 0
      ? { running: [], waiting: [], maxLora: c.maxLoras }
      : undefined;
  }

  private cacheConfig(): Record<string, string> {
    const fromEngine = this.llm?.cacheConfig?.();
    if (fromEngine) return fromEngine;
    const { blockSize, kvCacheSize } = this.config.current;
    // CacheConfig.metrics_info() prints every field with Python's str().
    return {
      block_size: String(blockSize),
      cache_dtype: "auto",
      calculate_kv_scales: "False",
      cpu_offload_gb: "0",
      enable_prefix_caching: "True",
      gpu_memory_utilization: "0.9",
      is_attention_free: "False",
      num_cpu_blocks: "None",
      num_gpu_blocks: String(kvCacheSize),
      num_gpu_blocks_override: "None",
      prefix_caching_hash_algo: "sha256",
      sliding_window: "None",
      swap_space: "4",
      swap_space_bytes: "4294967296",
    };
  }

  /** The engine's load as the GPU simulator sees it; the same values /metrics reports. */
  gpuLoad(): GpuLoadSample {
    let active = 0;
    let kv = 0;
    for (const m of this.servedModels()) {
      active += this.running(m);
      kv = Math.max(kv, this.kvCacheUsage(m));
    }
    active += this.tensor?.executing ? this.tensor.executing() : this.tracker.tensorConcurrency();
    return {
      activeRequests: active,
      capacity: this.llm?.capacity?.() ?? this.config.current.maxNumSeqs,
      tokensPerSecond: this.tracker.tokensPerSecond(),
      kvCacheUsage: kv,
    };
  }

  private tritonGpus(): TritonGpu[] {
    const ex = this.dcgm[0];
    ex.tick();
    const p = ex.profile;
    return ex.snapshot().map((g) => ({
      uuid: g.uuid,
      // Triton reads DCGM's integer GPU_UTIL percentage.
      utilization: Math.round(g.utilization * 100) / 100,
      memoryTotalBytes: p.fbTotalMiB * 1024 * 1024,
      memoryUsedBytes: g.fbUsedMiB * 1024 * 1024,
      powerW: Math.round(g.powerW * 1000) / 1000,
      powerLimitW: p.powerLimitW,
      energyJ: Math.max(0, Math.floor(g.energyMJ - (this.energyBaselineMJ.get(g.uuid) ?? g.energyMJ)) / 1000),
    }));
  }

  /** `/metrics`: process metrics, then vLLM's families, then Triton's. */
  async render(): Promise<string> {
    this.startTicking();
    const [proc, vllm, triton] = await Promise.all([
      processMetrics().metrics(),
      this.vllm.families(),
      this.triton.families(),
    ]);
    // prom-client separates families with blank lines; the originals do not.
    const procText = proc
      .split("\n")
      .filter((l) => l !== "")
      .join("\n");
    return (
      (procText ? `${procText}\n` : "") +
      renderFamilies(vllm, { dialect: "python", created: (f, l) => this.vllm.createdAt(f, l) }) +
      renderFamilies(triton, { dialect: "cpp" })
    );
  }

  /** `/dcgm{instance}/metrics`. */
  renderDcgm(instance: 1 | 2): string {
    this.startTicking();
    return (instance === 1 ? this.dcgm[0] : this.dcgm[1]).render();
  }

  close(): void {
    this.closed = true;
    for (const d of this.detach) d();
    for (const ex of this.dcgm) ex.stop();
  }
}

/** The first `--served-model-name` (vLLM's `model_name` label), else `--model`. */
function configuredModels(config: ConfigStore): string[] {
  const c = config.current;
  return [c.servedModelName[0] ?? c.model];
}
