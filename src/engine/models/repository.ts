/**
 * The model repository behind every KServe v2 surface: which models exist, which are loaded,
 * version resolution, request validation, Triton statistics and telemetry records. Tensor
 * fakes come from the repository file (or the built-in default); other surfaces (the LLM
 * simulation) register their own `ServedModel`s here and get the same RPCs for free.
 */
import type { Engine } from "../engine.js";
import { DecoyError, toDecoyError } from "../errors.js";
import type { TensorInferRecord } from "../events.js";
import { classify } from "./classify.js";
import { fromTritonConfig, type ModelDefinition } from "./definition.js";
import { type ModelStatsSnapshot, ModelVersionStats } from "./statistics.js";
import { TensorModel, type TensorModelOverrides } from "./tensor-model.js";
import type { InferInput, InferOutput, InferTiming, ParamValue, ServedModel } from "./types.js";
import { validateRequest } from "./validate.js";

export type ModelState = "READY" | "UNAVAILABLE";

export interface RepositoryIndexEntry {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
}

export interface RegisterOptions {
  /** Start unloaded (UNAVAILABLE) instead of READY. */
  ready?: boolean;
  /** Replace a model already registered under the same name instead of failing. */
  replace?: boolean;
}

export interface ModelRepositoryOptions {
  definitions?: ModelDefinition[];
  overrides?: () => TensorModelOverrides;
  /** Seed for output fakes; the same seed and inputs give the same outputs. */
  seed?: number | string;
}

interface Entry {
  model: ServedModel;
  state: ModelState;
  reason: string;
  stats: Map<string, ModelVersionStats>;
}

type FailureReason = NonNullable<TensorInferRecord["failureReason"]>;

function failureReason(err: DecoyError): FailureReason {
  switch (err.code) {
    case "CANCELLED":
      return "CANCELED";
    case "RESOURCE_EXHAUSTED":
    case "UNAVAILABLE":
    case "DEADLINE_EXCEEDED":
      return "REJECTED";
    case "INVALID_ARGUMENT":
    case "NOT_FOUND":
    case "FAILED_PRECONDITION":
    case "OUT_OF_RANGE":
      return "OTHER";
    default:
      return "BACKEND";
  }
}

const NO_OVERRIDES: TensorModelOverrides = { baseMs: null, perItemMs: null, stdDevMs: null, instances: null };

/**
 * Decides, before a tensor model runs, whether the request fails anyway (failure injection).
 * Models that run their own admission (the simulated LLMs) are not asked.
 */
export type TensorAdmission = (modelName: string) => DecoyError | null;

export class ModelRepository {
  private readonly entries = new Map<string, Entry>();
  private admission: TensorAdmission | undefined;
  private readonly overrides: () => TensorModelOverrides;
  private readonly seed: number | string;

  constructor(
    private readonly engine: Engine,
    options: ModelRepositoryOptions = {},
  ) {
    this.overrides = options.overrides ?? (() => NO_OVERRIDES);
    this.seed = options.seed ?? 0;
    for (const def of options.definitions ?? []) this.addTensorModel(def);
  }

  setTensorAdmission(fn: TensorAdmission | undefined): void {
    this.admission = fn;
  }

  /** Build a tensor fake from its definition and register it (replacing one of the same name). */
  addTensorModel(def: ModelDefinition): TensorModel {
    const model = new TensorModel(def, this.engine, this.overrides, this.seed);
    this.register(model, { ready: def.loaded, replace: true });
    return model;
  }

  register(model: ServedModel, options: RegisterOptions = {}): void {
    const prev = this.entries.get(model.name);
    if (prev && !options.replace) {
      throw new DecoyError("ALREADY_EXISTS", `a model named '${model.name}' is already in the repository`);
    }
    const ready = options.ready ?? true;
    this.entries.set(model.name, {
      model,
      state: ready ? "READY" : "UNAVAILABLE",
      reason: ready ? "" : "unloaded",
      stats: prev?.stats ?? new Map(),
    });
  }

  unregister(name: string): boolean {
    return this.entries.delete(name);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The model registered under `name`, whatever its state. */
  peek(name: string): ServedModel | undefined {
    return this.entries.get(name)?.model;
  }

  /** Every registered model, loaded or not, in registration order. */
  list(): ServedModel[] {
    return [...this.entries.values()].map((e) => e.model);
  }

  /** Names of the models that are loaded. */
  readyNames(): string[] {
    return [...this.entries.values()].filter((e) => e.state === "READY").map((e) => e.model.name);
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new DecoyError("NOT_FOUND", `Request for unknown model: '${name}' is not found`, { param: "model" });
    return e;
  }

  /** "" means the latest (highest) version. */
  resolveVersion(model: ServedModel, version: string): string {
    if (version === "") return latest(model.versions);
    if (!model.versions.includes(version)) {
      throw new DecoyError("NOT_FOUND", `Request for unknown model: '${model.name}' version ${version} is not found`, {
        param: "version",
      });
    }
    return version;
  }

  /** A loaded model and version; NOT_FOUND for unknown names, unloaded models and unknown versions. */
  get(name: string, version = ""): ServedModel {
    const e = this.loaded(name);
    this.resolveVersion(e.model, version);
    return e.model;
  }

  /** The entry of a loaded model; NOT_FOUND for unknown names and unloaded models. */
  private loaded(name: string): Entry {
    const e = this.entry(name);
    if (e.state !== "READY") {
      throw new DecoyError(
        "NOT_FOUND",
        `Request for unknown model: '${name}' has no available versions (${e.reason || e.state.toLowerCase()})`,
        { param: "model" },
      );
    }
    return e;
  }

  /** Readiness of a model version; NOT_FOUND only when the name was never registered. */
  isReady(name: string, version = ""): boolean {
    const e = this.entry(name);
    if (e.state !== "READY") return false;
    return version === "" || e.model.versions.includes(version);
  }

  /** Triton's repository index: one entry per model version. */
  index(readyOnly = false): RepositoryIndexEntry[] {
    const out: RepositoryIndexEntry[] = [];
    for (const e of this.entries.values()) {
      if (readyOnly && e.state !== "READY") continue;
      for (const version of e.model.versions) {
        out.push({ name: e.model.name, version, state: e.state, reason: e.reason });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  }

  /**
   * Load (or reload) a model. A `config` parameter (Triton ModelConfig JSON) redefines a
   * tensor model, or declares a new one, without restarting.
   */
  load(name: string, parameters: Record<string, unknown> = {}): void {
    const config = parameters.config;
    if (config !== undefined) {
      const prev = this.entries.get(name)?.model;
      if (prev && !(prev instanceof TensorModel)) {
        throw new DecoyError(
          "INVALID_ARGUMENT",
          `failed to load '${name}': its configuration is not simulated from a config parameter; load it without one`,
          { param: "config" },
        );
      }
      const base = prev?.definition;
      this.addTensorModel({ ...fromTritonConfig(name, config, base), loaded: true });
      return;
    }
    const e = this.entries.get(name);
    if (!e) {
      throw new DecoyError(
        "NOT_FOUND",
        `failed to load '${name}': no model of that name in the repository (pass a 'config' parameter to declare one)`,
        { param: "model" },
      );
    }
    e.state = "READY";
    e.reason = "";
  }

  /** Unload a model: it answers not-ready, and NOT_FOUND for inference, until loaded again. */
  unload(name: string): void {
    const e = this.entries.get(name);
    if (!e) throw new DecoyError("NOT_FOUND", `failed to unload '${name}': no model of that name`, { param: "model" });
    e.state = "UNAVAILABLE";
    e.reason = "unloaded";
  }

  private statsFor(e: Entry, version: string): ModelVersionStats {
    let s = e.stats.get(version);
    if (!s) {
      s = new ModelVersionStats(e.model.name, version);
      e.stats.set(version, s);
    }
    return s;
  }

  /**
   * Cumulative statistics. No name: every loaded model; a name: its versions (or the one
   * given). Unknown or unloaded models are NOT_FOUND.
   */
  statistics(name = "", version = ""): ModelStatsSnapshot[] {
    const entries = name === "" ? [...this.entries.values()].filter((e) => e.state === "READY") : [this.entry(name)];
    if (name !== "") this.get(name, version);
    const out: ModelStatsSnapshot[] = [];
    for (const e of entries) {
      const versions = version === "" ? e.model.versions : [version];
      for (const v of versions) out.push(this.statsFor(e, v).snapshot());
    }
    return out;
  }

  /** Unary inference through the repository: validation, statistics and telemetry included. */
  async infer(name: string, version: string, req: InferInput): Promise<InferOutput> {
    const e = this.loaded(name);
    const model = e.model;
    const ver = this.resolveVersion(model, version);
    const stats = this.statsFor(e, ver);
    const start = this.engine.clock.now();
    let batch = 1;
    try {
      batch = validateRequest(model, req);
      if (this.admission && model instanceof TensorModel) {
        const injected = this.admission(name);
        if (injected) throw injected;
      }
      const out = await model.infer({ ...req, version: ver });
      const result = this.postProcess(model, req, out, ver);
      this.succeeded(stats, start, out.timing, batch);
      return result;
    } catch (raw) {
      const err = toDecoyError(raw);
      this.failed(stats, start, batch, err);
      throw err;
    }
  }

  /**
   * Streaming inference (ModelStreamInfer): decoupled models may emit several responses per
   * request; other models emit exactly one, marked final.
   */
  async stream(
    name: string,
    version: string,
    req: InferInput,
    emit: (res: InferOutput, final: boolean) => void,
  ): Promise<void> {
    const e = this.loaded(name);
    const model = e.model;
    const ver = this.resolveVersion(model, version);
    if (!model.decoupled || !model.stream) {
      emit(await this.infer(name, version, req), true);
      return;
    }
    const stats = this.statsFor(e, ver);
    const clock = this.engine.clock;
    const start = clock.now();
    let batch = 1;
    let index = 0;
    let last = start;
    let timing: InferTiming | undefined;
    try {
      batch = validateRequest(model, req);
      await model.stream({ ...req, version: ver }, (res, final) => {
        const now = clock.now();
        stats.response(index++, now - last, res.outputs.length ? "success" : "empty");
        last = now;
        if (res.timing) timing = res.timing;
        emit(this.postProcess(model, req, res, ver), final);
      });
      this.succeeded(stats, start, timing, batch);
    } catch (raw) {
      const err = toDecoyError(raw);
      stats.response(index, clock.now() - last, err.code === "CANCELLED" ? "cancel" : "fail");
      this.failed(stats, start, batch, err);
      throw err;
    }
  }

  /** Output parameters the transports understand (Triton's classification extension). */
  private postProcess(model: ServedModel, req: InferInput, out: InferOutput, version: string): InferOutput {
    const params = req.outputParameters;
    let outputs = out.outputs;
    if (params && hasKeys(params)) {
      outputs = outputs.map((t) => {
        const k = params[t.name]?.classification as ParamValue | undefined;
        if (k === undefined || k === false || k === 0) return t;
        return classify(t, Number(k), model.maxBatchSize > 0);
      });
    }
    return { ...out, modelName: model.name, modelVersion: out.modelVersion || version, outputs };
  }

  private succeeded(stats: ModelVersionStats, start: number, timing: InferTiming | undefined, batch: number): void {
    const totalMs = this.engine.clock.now() - start;
    // Without a breakdown the whole request counts as compute_infer.
    const t: InferTiming = timing ?? untimed(totalMs, batch);
    stats.success(this.engine.clock.wallNow(), totalMs, t);
    if (this.engine.events.active) {
      this.engine.events.tensorInfer({
        model: stats.name,
        version: stats.version,
        success: true,
        batchSize: t.batchSize,
        executions: t.executions ?? 1,
        requestUs: totalMs * 1000,
        queueUs: t.queueMs * 1000,
        computeInputUs: t.computeInputMs * 1000,
        computeInferUs: t.computeInferMs * 1000,
        computeOutputUs: t.computeOutputMs * 1000,
      });
    }
  }

  private failed(stats: ModelVersionStats, start: number, batch: number, err: DecoyError): void {
    const totalMs = this.engine.clock.now() - start;
    stats.failure(this.engine.clock.wallNow(), totalMs);
    if (this.engine.events.active) {
      this.engine.events.tensorInfer({
        model: stats.name,
        version: stats.version,
        success: false,
        failureReason: failureReason(err),
        batchSize: batch,
        executions: 0,
        requestUs: totalMs * 1000,
        queueUs: 0,
        computeInputUs: 0,
        computeInferUs: 0,
        computeOutputUs: 0,
      });
    }
  }
}

/** A scratch breakdown for models that report none: filled per call, read at once, never kept. */
const UNTIMED: InferTiming = { queueMs: 0, computeInputMs: 0, computeInferMs: 0, computeOutputMs: 0, batchSize: 1 };
function untimed(totalMs: number, batch: number): InferTiming {
  UNTIMED.computeInferMs = totalMs;
  UNTIMED.batchSize = batch;
  return UNTIMED;
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

function latest(versions: readonly string[]): string {
  let best = versions[0] ?? "1";
  for (const v of versions) if (Number(v) > Number(best)) best = v;
  return best;
}
