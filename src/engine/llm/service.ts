import { addConfigRule } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import type { Engine } from "../engine.js";
import { DecoyError, toDecoyError } from "../errors.js";
import { LatencyModel } from "../latency.js";
import type { Random } from "../random.js";
import type { Deadline } from "../scheduler.js";
import { type Tokenizer, TokenizerRegistry } from "../tokenizer.js";
import { embeddingVector, relevance } from "./embeddings.js";
import type { LlmHooks } from "./hooks.js";
import { type JobRuntime, type JobSink, LlmJob } from "./job.js";
import { LlmModels, type ModelKind, type ResolvedModel } from "./models.js";
import { chatPrompt, planRequest } from "./plan.js";
import { type SlotStats, Slots } from "./slots.js";
import type { ChatMessage, LlmRequest, PromptInput } from "./types.js";

/** A settled promise: `.then` queues a microtask without queueMicrotask's per-call AsyncResource. */
const RESOLVED = Promise.resolve();

/**
 * The simulated LLM server: one instance per process, shared by the OpenAI/vLLM HTTP routes,
 * Triton's generate extension and the KServe gRPC adapters. The request pipeline is
 *
 *   resolve model → plan (tokens, limits, output) → admit hooks → waiting queue / slot →
 *   prefill hooks → TTFT → one token step per ITL → finished hooks
 *
 * and every `runtime: true` setting it uses is read from the live configuration per request,
 * so `/configure` takes effect on the next request.
 */

export interface LlmStats extends SlotStats {
  model: string;
  servedModelNames: string[];
  loras: string[];
  /** Adapters whose weights are loaded, least recently used first. */
  cpuLoras: string[];
  mode: string;
  tokenizers: string[];
}

export interface EmbeddingInput {
  model?: string | undefined;
  inputs: PromptInput[];
  dimensions?: number | null | undefined;
  signal?: AbortSignal | undefined;
}

export interface EmbeddingResult {
  model: string;
  vectors: Float32Array[];
  promptTokens: number;
}

export interface RankingInput {
  model?: string | undefined;
  query: string;
  passages: string[];
  topN?: number | null | undefined;
  signal?: AbortSignal | undefined;
}

export interface RankingResult {
  model: string;
  /** Sorted by score, best first; `index` is the passage's position in the request. */
  results: { index: number; score: number }[];
  promptTokens: number;
}

function checkTokenizerName(name: string, what: string): string | undefined {
  try {
    // the constructor resolves names without loading anything
    new TokenizerRegistry({ default: name });
    return undefined;
  } catch (err) {
    return `${what}: ${(err as Error).message}`;
  }
}

function checkLlmConfig(cfg: Config): string | undefined {
  if (cfg.tokenizer !== "auto") {
    const msg = checkTokenizerName(cfg.tokenizer, "tokenizer");
    if (msg) return msg;
  }
  const fb = checkTokenizerName(cfg.fallbackTokenizer, "fallback-tokenizer");
  if (fb) return fb;
  for (const name of cfg.tokenizerModels) {
    const msg = checkTokenizerName(name, "tokenizer-models");
    if (msg) return msg;
  }
  for (const [model, name] of Object.entries(cfg.tokenizerMap as Record<string, string>)) {
    const msg = checkTokenizerName(name, `tokenizer-map (${model})`);
    if (msg) return msg;
  }
  if (cfg.maxCpuLoras !== null && cfg.maxCpuLoras < cfg.maxLoras) {
    return `max-cpu-loras (${cfg.maxCpuLoras}) must be at least max-loras (${cfg.maxLoras})`;
  }
  const pairs: [string, number, number][] = [
    ["tool-call-integer-param", cfg.minToolCallIntegerParam, cfg.maxToolCallIntegerParam],
    ["tool-call-number-param", cfg.minToolCallNumberParam, cfg.maxToolCallNumberParam],
    ["tool-call-array-param-length", cfg.minToolCallArrayParamLength, cfg.maxToolCallArrayParamLength],
  ];
  for (const [name, lo, hi] of pairs) {
    if (lo > hi) return `min-${name} (${lo}) must not exceed max-${name} (${hi})`;
  }
  return undefined;
}

addConfigRule(checkLlmConfig);

export class LlmService {
  readonly models: LlmModels;
  readonly slots: Slots;
  readonly latency: LatencyModel;
  /** Identifies this engine in P/D kv_transfer_params. */
  readonly engineId: string;
  private readonly random: Random;
  private readonly runtime: JobRuntime;
  private hookList: LlmHooks[] = [];
  private registry: TokenizerRegistry;
  private iteration = new Map<string, number>();
  private iterationFlushQueued = false;
  private idCounter = 0;
  private readonly idPrefix: string;
  private readonly unsubscribe: () => void;

  constructor(readonly engine: Engine) {
    const config = engine.config;
    const cfg = config.current;
    this.random = engine.random.fork("llm");
    this.latency = new LatencyModel(config, engine.random.fork("latency"));
    this.models = new LlmModels(config, () => engine.clock.wallNow());
    this.slots = new Slots(
      () => {
        const c = config.current;
        return { maxNumSeqs: c.maxNumSeqs, maxWaitingQueueLength: c.maxWaitingQueueLength, maxLoras: c.maxLoras };
      },
      () => engine.scheduler.now(),
    );
    this.idPrefix = hex32(this.random.nextU32()) + hex32(this.random.nextU32());
    this.engineId = `${hex32(this.random.nextU32())}-${hex32(this.random.nextU32()).slice(0, 4)}-decoy`;
    this.registry = registryFor(cfg);
    this.unsubscribe = config.onChange((next, _prev, changed) => {
      if (changed.includes("fallbackTokenizer") || changed.includes("tokenizerMap")) this.registry = registryFor(next);
      else if (changed.includes("tokenizerModels")) this.registry.preload(next.tokenizerModels).catch(() => undefined);
      if (changed.includes("tokenizer") && next.tokenizer !== "auto") {
        this.registry.preload([next.tokenizer]).catch(() => undefined);
      }
    });
    const self = this;
    this.runtime = {
      scheduler: engine.scheduler,
      slots: this.slots,
      latency: this.latency,
      events: engine.events,
      get hooks() {
        return self.hookList;
      },
      random: this.random,
      iterationTokens: (model, tokens) => this.addIterationTokens(model, tokens),
      wallNow: () => engine.clock.wallNow(),
    };
    // An adapter not in the CPU LoRA cache is loaded when its request is scheduled.
    this.use({
      decode: (job) => {
        if (job.lora === undefined) return null;
        const hit = this.models.loraCache.use(job.lora);
        const ms = config.current.loraLoadLatencyMs;
        return hit || ms <= 0 ? null : { extraFirstTokenMs: ms };
      },
    });
  }

  /** Settles when the tokenizers listed in --tokenizer-models are loaded. */
  get ready(): Promise<void> {
    return this.registry.ready;
  }

  /** Plug into the request pipeline (see hooks.ts); returns a function that unplugs. */
  use(hooks: LlmHooks): () => void {
    this.hookList = [...this.hookList, hooks];
    return () => {
      this.hookList = this.hookList.filter((h) => h !== hooks);
    };
  }

  get hooks(): readonly LlmHooks[] {
    return this.hookList;
  }

  /** A fresh request id (hex), unique in this process. */
  newId(): string {
    this.idCounter++;
    return this.idPrefix + this.idCounter.toString(16).padStart(16, "0");
  }

  /** The tokenizer a model's requests use: --tokenizer, else by model name, else the fallback. */
  tokenizerFor(model: ResolvedModel): Tokenizer {
    const cfg = this.engine.config.current;
    if (cfg.tokenizer !== "auto") return this.registry.get(cfg.tokenizer);
    return this.registry.forModel(model.wildcard ? model.requested : model.base);
  }

  tokenizerNames(): string[] {
    return this.registry.loaded();
  }

  /**
   * Plan and admit one request. Validation and admission failures throw (before anything is
   * sent); afterwards everything reaches the transport through `sink`. The returned job is
   * cancelled by the transport when its client goes away.
   */
  submit(req: LlmRequest, sink: JobSink): LlmJob {
    const engine = this.engine;
    const cfg = engine.config.current;
    const model = this.models.resolve(req.model, "llm");
    const tok = this.tokenizerFor(model);
    const plan = planRequest(req, { cfg, model, tokenizer: tok, random: this.random, engineId: this.engineId });
    const job = new LlmJob(this.runtime, plan, req, tok, sink, cfg, this.newId());
    for (const h of this.hookList) {
      let err: DecoyError | null | undefined;
      try {
        err = h.admit?.(job, model);
      } catch (e) {
        err = toDecoyError(e);
      }
      if (err) throw err;
    }
    const release = engine.begin((reason) => job.fail(reason), "job");
    try {
      this.slots.check(job);
    } catch (err) {
      release();
      throw err;
    }
    job.onEnd(release);
    engine.events.llmQueued(model.requested);
    this.slots.enqueue(job);
    return job;
  }

  stats(): LlmStats {
    const cfg = this.engine.config.current;
    return {
      ...this.slots.stats(),
      model: cfg.model,
      servedModelNames: [...this.models.servedNames(cfg)],
      loras: this.models.loras().map((l) => l.name),
      cpuLoras: this.models.loraCache.loaded(),
      mode: cfg.mode,
      tokenizers: this.registry.loaded(),
    };
  }

  /**
   * The scheduler's live state in the shape telemetry's LlmStatsProvider reads (structurally
   * typed, so the engine needs nothing from telemetry): one engine, labelled with the primary
   * served name as vLLM labels every request, adapters and aliases included.
   */
  metricsView(kvCacheUsage: () => number = () => 0) {
    const primary = () => this.models.primary();
    const slots = this.slots;
    return {
      models: () => [primary()],
      running: (model: string) => (model === primary() ? slots.running : 0),
      waiting: (model: string) => (model === primary() ? slots.waiting : 0),
      kvCacheUsage: () => kvCacheUsage(),
      capacity: () => this.engine.config.current.maxNumSeqs,
      loraInfo: () => {
        const s = slots.stats();
        return { running: Object.keys(s.runningLoras), waiting: Object.keys(s.waitingLoras), maxLora: s.maxLoras };
      },
      modelLabel: () => primary(),
    };
  }

  /**
   * vLLM's /tokenize: completion (prompt) or chat (messages) form; BOS/EOS as vLLM adds them
   * by default (completion form yes, chat form no) unless `addSpecialTokens` says otherwise.
   */
  tokenize(input: {
    model?: string;
    prompt?: string;
    messages?: ChatMessage[];
    addSpecialTokens?: boolean;
    /** Chat form: template variables, add_generation_prompt among them. */
    templateKwargs?: Record<string, unknown>;
  }): {
    ids: number[];
    strings: string[];
    maxModelLen: number;
  } {
    const model = this.models.resolve(input.model, "llm");
    const tok = this.tokenizerFor(model);
    const text = input.messages
      ? chatPrompt(tok, input.messages, undefined, input.templateKwargs).text
      : (input.prompt ?? "");
    const ids = tok.encode(text, { addSpecialTokens: input.addSpecialTokens ?? !input.messages });
    return { ids, strings: tok.tokenStrings(ids), maxModelLen: this.engine.config.current.maxModelLen };
  }

  /** vLLM's /detokenize. */
  detokenize(input: { model?: string; tokens: number[] }): string {
    const model = this.models.resolve(input.model, "llm");
    return this.tokenizerFor(model).decode(input.tokens);
  }

  /** Deterministic embeddings after `base + per-input` latency on the engine clock. */
  async embed(input: EmbeddingInput): Promise<EmbeddingResult> {
    const model = this.models.resolve(input.model, "embedding");
    const cfg = this.engine.config.current;
    const dims = input.dimensions ?? cfg.defaultEmbeddingDimensions;
    if (!Number.isInteger(dims) || dims < 1 || dims > 65536) {
      throw new DecoyError("INVALID_ARGUMENT", `dimensions must be between 1 and 65536, got ${dims}.`, {
        param: "dimensions",
        type: "BadRequestError",
      });
    }
    if (input.inputs.length === 0) {
      throw new DecoyError("INVALID_ARGUMENT", "input must not be empty.", { param: "input", type: "BadRequestError" });
    }
    const tok = this.tokenizerFor(model);
    let promptTokens = 0;
    const vectors: Float32Array[] = [];
    for (const inp of input.inputs) {
      const tokens = typeof inp === "string" ? tok.count(inp) : inp.length;
      if (tokens > cfg.maxModelLen) {
        throw new DecoyError(
          "INVALID_ARGUMENT",
          `This model's maximum context length is ${cfg.maxModelLen} tokens. However, you requested ${tokens} tokens in the input for embedding generation. Please reduce the length of the input.`,
          { param: "input", type: "BadRequestError" },
        );
      }
      promptTokens += tokens;
      vectors.push(embeddingVector(typeof inp === "string" ? inp : `ids:${inp.join(",")}`, dims));
    }
    await this.delay(this.latency.embedding(input.inputs.length), input.signal);
    return { model: model.requested, vectors, promptTokens };
  }

  /** Relevance scores, best first, after `base + per-passage` latency on the engine clock. */
  async rank(input: RankingInput): Promise<RankingResult> {
    const model = this.models.resolve(input.model, "ranking");
    const tok = this.tokenizerFor(model);
    let promptTokens = 0;
    const qTokens = tok.count(input.query);
    const results = input.passages.map((p, index) => {
      promptTokens += qTokens + tok.count(p);
      return { index, score: relevance(input.query, p) };
    });
    results.sort((a, b) => b.score - a.score || a.index - b.index);
    const top = input.topN && input.topN > 0 ? results.slice(0, input.topN) : results;
    await this.delay(this.latency.ranking(input.passages.length), input.signal);
    return { model: model.requested, results: top, promptTokens };
  }

  /** Resolves after `ms` on the engine clock; rejects with CANCELLED when `signal` aborts. */
  delay(ms: number, signal?: AbortSignal): Promise<void> {
    const engine = this.engine;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new DecoyError("CANCELLED", "The client cancelled the request."));
        return;
      }
      let d: Deadline | undefined;
      const onAbort = () => {
        engine.scheduler.cancel(d);
        reject(new DecoyError("CANCELLED", "The client cancelled the request."));
      };
      d = engine.scheduler.after(ms, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  resolve(name: string | undefined, kind: ModelKind = "llm"): ResolvedModel {
    return this.models.resolve(name, kind);
  }

  close(): void {
    this.unsubscribe();
  }

  private addIterationTokens(model: string, tokens: number): void {
    this.iteration.set(model, (this.iteration.get(model) ?? 0) + tokens);
    if (this.iterationFlushQueued) return;
    this.iterationFlushQueued = true;
    // every deadline of one scheduler tick runs before this microtask: one record per tick
    RESOLVED.then(this.flushIteration);
  }

  private readonly flushIteration = (): void => {
    this.iterationFlushQueued = false;
    const batch = this.iteration;
    this.iteration = new Map();
    for (const [m, n] of batch) this.engine.events.llmIteration(m, n);
  };
}

/** Vocabularies are shared process-wide, so a new registry costs nothing for those already loaded. */
function registryFor(cfg: Config): TokenizerRegistry {
  const preload = [...cfg.tokenizerModels];
  if (cfg.tokenizer !== "auto") preload.push(cfg.tokenizer);
  return new TokenizerRegistry({
    default: cfg.fallbackTokenizer,
    preload,
    overrides: { ...(cfg.tokenizerMap as Record<string, string>) },
  });
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, "0");
}
