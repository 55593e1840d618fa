import { Gauge, Registry } from "prom-client";
import type { LlmRequestRecord } from "../engine/events.js";
import { type CounterChild, CounterFamily, type HistogramChild, HistogramFamily } from "./accumulators.js";
import { type Family, seriesKey } from "./exposition.js";

/**
 * vLLM's Prometheus families (`vllm/v1/metrics/loggers.py`, PrometheusStatLogger): names, HELP
 * texts, label names and buckets as vLLM registers them, in its registration order. Counters carry
 * the `_total` suffix in their registered name because that is what vLLM's exposition shows
 * (`# TYPE vllm:prompt_tokens_total counter`). Deprecated families (`vllm:gpu_cache_usage_perc`,
 * `vllm:time_per_output_token_seconds`) and opt-in ones are not emitted, as in a default vLLM.
 */

/** Data-parallel rank label; Decoy is one engine. */
export const VLLM_ENGINE = "0";

/** vLLM's finish reasons, pre-created for every model like `counter_request_success`. */
export const FINISHED_REASONS = ["stop", "length", "abort", "error"] as const;

/** vLLM's `build_1_2_5_buckets(max)`: 1, 2, 5, 10, 20, 50, ... up to `max` inclusive. */
export function build125Buckets(max: number): number[] {
  const out: number[] = [];
  for (let exp = 0; ; exp++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** exp;
      if (v > max) return out;
      out.push(v);
    }
  }
}

export const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
  640.0, 2560.0,
] as const;
export const TOKEN_LATENCY_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
] as const;
export const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
  7680.0,
] as const;
export const ITERATION_TOKENS_BUCKETS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384] as const;
export const PARAMS_N_BUCKETS = [1, 2, 5, 10, 20] as const;

/** One `vllm:lora_requests_info` series: vLLM keeps one per adapter combination it has reported. */
export interface LoraSeries {
  maxLora: number;
  running: string[];
  waiting: string[];
  /** Unix seconds of the last report of this combination (the series' value). */
  timestamp: number;
}

/** The live values the gauges print at scrape time; telemetry.ts decides where they come from. */
export interface VllmState {
  models(): string[];
  running(model: string): number;
  waiting(model: string): number;
  kvCacheUsage(model: string): number;
  /** Undefined when LoRA is off: vLLM then does not register `vllm:lora_requests_info`. */
  loraSeries(): LoraSeries[] | undefined;
  cacheConfig(): Record<string, string>;
  /** Draft tokens per step when speculative decoding is configured, else 0. */
  speculativeTokens?(): number;
}

export interface VllmMetricsOptions {
  maxModelLen: number;
  state: VllmState;
  /** Wall clock (Unix ms) for `_created` samples and LoRA timestamps. */
  wallNow: () => number;
}

type Labels = { model_name: string; engine: string };

const LORA_FAMILY = "vllm:lora_requests_info";
const CACHE_CONFIG_FAMILY = "vllm:cache_config_info";

/** One model's series, looked up once per event instead of hashing labels per update. */
interface ModelSeries {
  prefixQueries: CounterChild;
  prefixHits: CounterChild;
  preemptions: CounterChild;
  promptTokens: CounterChild;
  generationTokens: CounterChild;
  success: Map<string, CounterChild>;
  promptTokensHist: HistogramChild;
  generationTokensHist: HistogramChild;
  iterationTokens: HistogramChild;
  maxNumGenerationTokens: HistogramChild;
  paramsN: HistogramChild;
  paramsMaxTokens: HistogramChild;
  ttft: HistogramChild;
  itl: HistogramChild;
  tpot: HistogramChild;
  e2e: HistogramChild;
  queue: HistogramChild;
  inference: HistogramChild;
  prefill: HistogramChild;
  decode: HistogramChild;
}

/** vLLM's SpecDecodingProm families, registered only when speculative decoding is configured. */
interface SpecSeries {
  drafts: CounterChild;
  draftTokens: CounterChild;
  accepted: CounterChild;
  perPos: CounterChild[];
}

export class VllmMetrics {
  /** The scrape-time gauges (values read from the live state when collected). */
  readonly registry = new Registry();
  private readonly state: VllmState;
  private readonly wallNow: () => number;
  private readonly series = new Map<string, ModelSeries>();
  private lastModel = "";
  private lastSeries: ModelSeries | undefined;
  /** Creation time (Unix s) per family and series, for the `_created` samples. */
  private readonly created = new Map<string, number>();
  private loraEnabled = false;
  private cacheConfigKeys = "";
  private cacheConfig: Gauge<string> | undefined;

  private readonly prefixQueries: CounterFamily;
  private readonly prefixHits: CounterFamily;
  private readonly preemptions: CounterFamily;
  private readonly promptTokens: CounterFamily;
  private readonly generationTokens: CounterFamily;
  private readonly success: CounterFamily;
  private readonly promptTokensHist: HistogramFamily;
  private readonly generationTokensHist: HistogramFamily;
  private readonly iterationTokens: HistogramFamily;
  private readonly maxNumGenerationTokens: HistogramFamily;
  private readonly paramsN: HistogramFamily;
  private readonly paramsMaxTokens: HistogramFamily;
  private readonly ttft: HistogramFamily;
  private readonly itl: HistogramFamily;
  private readonly tpot: HistogramFamily;
  private readonly e2e: HistogramFamily;
  private readonly queue: HistogramFamily;
  private readonly inference: HistogramFamily;
  private readonly prefill: HistogramFamily;
  private readonly decode: HistogramFamily;
  /** Counter and histogram families in vLLM's registration order (after the three gauges). */
  private readonly accumulated: (CounterFamily | HistogramFamily)[];

  constructor(opts: VllmMetricsOptions) {
    this.state = opts.state;
    this.wallNow = opts.wallNow;
    const registers = [this.registry];
    const labelNames = ["model_name", "engine"];
    const self = this;
    const perModelGauge = (name: string, help: string, value: (model: string) => number): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const m of self.modelsNow()) this.set(self.labels(m), value(m));
        },
      });
    };
    perModelGauge("vllm:num_requests_running", "Number of requests in model execution batches.", (m) =>
      this.state.running(m),
    );
    perModelGauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", (m) =>
      this.state.waiting(m),
    );
    perModelGauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", (m) =>
      this.state.kvCacheUsage(m),
    );

    const counter = (name: string, help: string, extra: string[] = []): CounterFamily =>
      new CounterFamily(name, help, [...labelNames, ...extra]);
    this.prefixQueries = counter(
      "vllm:prefix_cache_queries_total",
      "Prefix cache queries, in terms of number of queried tokens.",
    );
    this.prefixHits = counter(
      "vllm:prefix_cache_hits_total",
      "Prefix cache hits, in terms of number of cached tokens.",
    );
    this.preemptions = counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.");
    this.promptTokens = counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.");
    this.generationTokens = counter("vllm:generation_tokens_total", "Number of generation tokens processed.");
    this.success = counter("vllm:request_success_total", "Count of successfully processed requests.", [
      "finished_reason",
    ]);

    const tokenBuckets = build125Buckets(opts.maxModelLen);
    const histogram = (name: string, help: string, buckets: readonly number[]): HistogramFamily =>
      new HistogramFamily(name, help, labelNames, buckets);
    this.promptTokensHist = histogram(
      "vllm:request_prompt_tokens",
      "Number of prefill tokens processed.",
      tokenBuckets,
    );
    this.generationTokensHist = histogram(
      "vllm:request_generation_tokens",
      "Number of generation tokens processed.",
      tokenBuckets,
    );
    this.iterationTokens = histogram(
      "vllm:iteration_tokens_total",
      "Histogram of number of tokens per engine_step.",
      ITERATION_TOKENS_BUCKETS,
    );
    this.maxNumGenerationTokens = histogram(
      "vllm:request_max_num_generation_tokens",
      "Histogram of maximum number of requested generation tokens.",
      tokenBuckets,
    );
    this.paramsN = histogram("vllm:request_params_n", "Histogram of the n request parameter.", PARAMS_N_BUCKETS);
    this.paramsMaxTokens = histogram(
      "vllm:request_params_max_tokens",
      "Histogram of the max_tokens request parameter.",
      tokenBuckets,
    );
    this.ttft = histogram(
      "vllm:time_to_first_token_seconds",
      "Histogram of time to first token in seconds.",
      TTFT_BUCKETS,
    );
    this.itl = histogram(
      "vllm:inter_token_latency_seconds",
      "Histogram of inter-token latency in seconds.",
      TOKEN_LATENCY_BUCKETS,
    );
    this.tpot = histogram(
      "vllm:request_time_per_output_token_seconds",
      "Histogram of time_per_output_token_seconds per request.",
      TOKEN_LATENCY_BUCKETS,
    );
    this.e2e = histogram(
      "vllm:e2e_request_latency_seconds",
      "Histogram of e2e request latency in seconds.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.queue = histogram(
      "vllm:request_queue_time_seconds",
      "Histogram of time spent in WAITING phase for request.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.inference = histogram(
      "vllm:request_inference_time_seconds",
      "Histogram of time spent in RUNNING phase for request.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.prefill = histogram(
      "vllm:request_prefill_time_seconds",
      "Histogram of time spent in PREFILL phase for request.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.decode = histogram(
      "vllm:request_decode_time_seconds",
      "Histogram of time spent in DECODE phase for request.",
      REQUEST_LATENCY_BUCKETS,
    );
    this.accumulated = [
      this.prefixQueries,
      this.prefixHits,
      this.preemptions,
      this.promptTokens,
      this.generationTokens,
      this.success,
      this.promptTokensHist,
      this.generationTokensHist,
      this.iterationTokens,
      this.maxNumGenerationTokens,
      this.paramsN,
      this.paramsMaxTokens,
      this.ttft,
      this.itl,
      this.tpot,
      this.e2e,
      this.queue,
      this.inference,
      this.prefill,
      this.decode,
    ];

    // Registered without model_name/engine, like vLLM; the value is the time of the last report.
    new Gauge({
      name: LORA_FAMILY,
      help: "Running stats on lora requests.",
      labelNames: ["max_lora", "waiting_lora_adapters", "running_lora_adapters"],
      registers,
      collect() {
        this.reset();
        const series = self.state.loraSeries();
        self.loraEnabled = series !== undefined;
        for (const s of series ?? []) {
          this.set(
            {
              max_lora: String(s.maxLora),
              waiting_lora_adapters: s.waiting.join(","),
              running_lora_adapters: s.running.join(","),
            },
            s.timestamp,
          );
        }
      },
    });
    this.syncCacheConfig();
    for (const m of this.state.models()) this.ensureModel(m);
  }

  private labels(model: string): Labels {
    return { model_name: model, engine: VLLM_ENGINE };
  }

  private modelsNow(): string[] {
    for (const m of this.state.models()) this.ensureModel(m);
    return [...this.series.keys()];
  }

  /** Zero-valued series for a model, as vLLM creates its per-engine children at startup. */
  ensureModel(model: string): void {
    this.seriesFor(model);
  }

  private seriesFor(model: string): ModelSeries {
    if (model === this.lastModel && this.lastSeries) return this.lastSeries;
    let s = this.series.get(model);
    if (!s) s = this.createSeries(model);
    this.lastModel = model;
    this.lastSeries = s;
    return s;
  }

  private createSeries(model: string): ModelSeries {
    const l = this.labels(model);
    const now = this.wallNow() / 1000;
    const counter = (f: CounterFamily, labels: Record<string, string> = l): CounterChild => {
      this.created.set(`${f.name}|${seriesKey(labels)}`, now);
      return f.child(labels);
    };
    const hist = (f: HistogramFamily): HistogramChild => {
      this.created.set(`${f.name}|${seriesKey(l)}`, now);
      return f.child(l);
    };
    const s: ModelSeries = {
      prefixQueries: counter(this.prefixQueries),
      prefixHits: counter(this.prefixHits),
      preemptions: counter(this.preemptions),
      promptTokens: counter(this.promptTokens),
      generationTokens: counter(this.generationTokens),
      success: new Map(FINISHED_REASONS.map((r) => [r, counter(this.success, { ...l, finished_reason: r })])),
      promptTokensHist: hist(this.promptTokensHist),
      generationTokensHist: hist(this.generationTokensHist),
      iterationTokens: hist(this.iterationTokens),
      maxNumGenerationTokens: hist(this.maxNumGenerationTokens),
      paramsN: hist(this.paramsN),
      paramsMaxTokens: hist(this.paramsMaxTokens),
      ttft: hist(this.ttft),
      itl: hist(this.itl),
      tpot: hist(this.tpot),
      e2e: hist(this.e2e),
      queue: hist(this.queue),
      inference: hist(this.inference),
      prefill: hist(this.prefill),
      decode: hist(this.decode),
    };
    this.series.set(model, s);
    return s;
  }

  /** `_created` value of a counter or histogram child (Unix seconds). */
  createdAt(family: string, labels: Record<string, string | number | undefined>): number {
    const key = `${family}|${seriesKey(labels)}`;
    let t = this.created.get(key);
    if (t === undefined) {
      t = this.wallNow() / 1000;
      this.created.set(key, t);
    }
    return t;
  }

  /**
   * `count` tokens of one sequence reached the client together, `gapMs` after its previous
   * emission. vLLM observes one inter-token latency per token after the first: the batch's
   * first token waited `gapMs`, the others arrived with it (gap 0, as a client sees them).
   */
  tokens(model: string, count: number, gapMs: number, isFirst: boolean, oneStep = false): void {
    const s = this.seriesFor(model);
    if (count <= 0) return;
    s.generationTokens.inc(count);
    // tokens of one decode step (speculative decoding) are one inter-token sample in vLLM
    let gaps = oneStep ? 1 : count;
    if (isFirst) gaps--;
    else {
      s.itl.observe(Math.max(0, gapMs) / 1000);
      gaps--;
    }
    s.itl.observeMany(0, gaps);
  }

  iteration(model: string, tokens: number): void {
    this.seriesFor(model).iterationTokens.observe(tokens);
  }

  preempted(model: string): void {
    this.seriesFor(model).preemptions.inc();
  }

  finished(r: LlmRequestRecord): void {
    const s = this.seriesFor(r.model);
    // Tool calls end with the engine's STOP; the API layer renames the reason.
    const reason = r.finishedReason === "tool_calls" ? "stop" : r.finishedReason;
    let success = s.success.get(reason);
    if (!success) {
      const labels = { ...this.labels(r.model), finished_reason: reason };
      this.createdAt(this.success.name, labels);
      success = this.success.child(labels);
      s.success.set(reason, success);
    }
    success.inc();
    const ran = r.generationTokens > 0 || r.prefillMs > 0;
    if (ran) {
      // vLLM counts prompt tokens and prefix-cache lookups when the prompt is scheduled.
      s.promptTokens.inc(r.promptTokens);
      s.prefixQueries.inc(r.promptTokens);
      s.prefixHits.inc(r.cachedTokens);
    }
    if (r.generationTokens > 0) s.ttft.observe(r.ttftMs / 1000);
    const n = Math.max(1, r.n);
    s.paramsN.observe(n);
    s.maxNumGenerationTokens.observe(Math.ceil(r.generationTokens / n));
    s.e2e.observe(r.e2eMs / 1000);
    s.queue.observe(r.queuedMs / 1000);
    s.prefill.observe(r.prefillMs / 1000);
    s.inference.observe(r.inferenceMs / 1000);
    s.decode.observe(r.decodeMs / 1000);
    s.promptTokensHist.observe(r.promptTokens);
    s.generationTokensHist.observe(r.generationTokens);
    s.tpot.observe(r.generationTokens > 1 ? r.decodeMs / 1000 / (r.generationTokens - 1) : 0);
    if (r.maxTokens) s.paramsMaxTokens.observe(r.maxTokens);
  }

  /** cache_config_info's label names are the config's fields, so a new field set means a new gauge. */
  private syncCacheConfig(): void {
    const cfg = { ...this.state.cacheConfig(), engine: VLLM_ENGINE };
    const keys = Object.keys(cfg).sort().join(",");
    if (keys === this.cacheConfigKeys && this.cacheConfig) return;
    if (this.cacheConfig) this.registry.removeSingleMetric(CACHE_CONFIG_FAMILY);
    this.cacheConfigKeys = keys;
    const self = this;
    this.cacheConfig = new Gauge({
      name: CACHE_CONFIG_FAMILY,
      help: "Information of the LLMEngine CacheConfig",
      labelNames: Object.keys(cfg),
      registers: [this.registry],
      collect() {
        this.reset();
        this.set({ ...self.state.cacheConfig(), engine: VLLM_ENGINE }, 1);
      },
    });
  }

  private readonly specFamilies = {
    drafts: new CounterFamily("vllm:spec_decode_num_drafts_total", "Number of spec decoding drafts.", [
      "model_name",
      "engine",
    ]),
    draftTokens: new CounterFamily("vllm:spec_decode_num_draft_tokens_total", "Number of draft tokens.", [
      "model_name",
      "engine",
    ]),
    accepted: new CounterFamily("vllm:spec_decode_num_accepted_tokens_total", "Number of accepted tokens.", [
      "model_name",
      "engine",
    ]),
    perPos: new CounterFamily(
      "vllm:spec_decode_num_accepted_tokens_per_pos_total",
      "Accepted tokens per draft position.",
      ["model_name", "engine", "position"],
    ),
  };
  private readonly specSeries = new Map<string, SpecSeries>();

  /** A model's spec-decoding series, with a per-position child for each of `k` draft positions (as vLLM creates them). */
  private specFor(model: string, k: number): SpecSeries {
    let s = this.specSeries.get(model);
    if (!s) {
      const l = this.labels(model);
      const f = this.specFamilies;
      s = { drafts: f.drafts.child(l), draftTokens: f.draftTokens.child(l), accepted: f.accepted.child(l), perPos: [] };
      this.specSeries.set(model, s);
    }
    for (let p = s.perPos.length; p < k; p++)
      s.perPos.push(this.specFamilies.perPos.child({ ...this.labels(model), position: String(p) }));
    return s;
  }

  /** One speculative decoding step: `draftTokens` proposed, the first `accepted` kept. */
  specDecode(model: string, draftTokens: number, accepted: number): void {
    const s = this.specFor(model, draftTokens);
    s.drafts.inc();
    s.draftTokens.inc(draftTokens);
    s.accepted.inc(accepted);
    for (let p = 0; p < accepted; p++) (s.perPos[p] as CounterChild).inc();
  }

  async families(): Promise<Family[]> {
    // Models served since the last scrape get their series before any family is read.
    this.modelsNow();
    this.syncCacheConfig();
    const gauges = (await this.registry.getMetricsAsJSON()) as unknown as Family[];
    // vLLM's order: the three per-model gauges, the counters and histograms, then the info gauges.
    const out: Family[] = gauges.slice(0, 3);
    for (const f of this.accumulated) out.push(f.family());
    const k = this.state.speculativeTokens?.() ?? 0;
    if (k > 0) for (const m of this.series.keys()) this.specFor(m, k);
    if (this.specSeries.size > 0) for (const f of Object.values(this.specFamilies)) out.push(f.family());
    for (const f of gauges.slice(3)) if (this.loraEnabled || f.name !== LORA_FAMILY) out.push(f);
    return out;
  }
}
