/**
 * Tensor models are data: a model repository file (YAML or JSON) declares each model's
 * tensors, batching, latency and which fake produces its outputs. This module turns such a
 * document, or a Triton model configuration (the `config` parameter of a repository load),
 * into validated definitions.
 */
import { DecoyError } from "../errors.js";
import { DATATYPES, isDatatype } from "../tensors.js";
import type { Datatype, TensorSpec } from "./types.js";

/** Which fake builds the outputs. */
export type FakeKind = "classification" | "detection" | "question_answering" | "generic";

export interface LatencySpec {
  /** Fixed cost of one execution, ms. */
  baseMs: number;
  /** Added per batch item, ms. */
  perItemMs: number;
  /** Standard deviation of a normal jitter added to the total, ms (clamped at 0). */
  stdDevMs: number;
}

/**
 * Triton's dynamic batcher: requests queue and leave together as one execution, up to
 * max_batch_size items; a batch leaves once it reaches the largest preferred size, cannot grow
 * any more, or its oldest request has waited max_queue_delay_microseconds.
 */
export interface DynamicBatching {
  preferredBatchSizes: number[];
  maxQueueDelayUs: number;
}

export interface ModelDefinition {
  name: string;
  kind: FakeKind;
  platform: string;
  backend: string;
  versions: string[];
  /** 0 = no batch dimension; otherwise the first dimension of every tensor is -1. */
  maxBatchSize: number;
  /** Executions that may run at once; 0 = unlimited. Requests beyond it wait in a FIFO queue. */
  instances: number;
  latency: LatencySpec;
  /** Absent: each request is an execution of its own. */
  dynamicBatching?: DynamicBatching | undefined;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Whether the model is loaded (READY) at startup. */
  loaded: boolean;
}

const KIND_ALIASES: Record<string, FakeKind> = {
  classification: "classification",
  resnet: "classification",
  detection: "detection",
  yolo: "detection",
  question_answering: "question_answering",
  "question-answering": "question_answering",
  qa: "question_answering",
  bert: "question_answering",
  generic: "generic",
};

/** Triton's platform → backend pairs and default model file names. */
const PLATFORMS: Record<string, { backend: string; file: string }> = {
  onnxruntime_onnx: { backend: "onnxruntime", file: "model.onnx" },
  tensorrt_plan: { backend: "tensorrt", file: "model.plan" },
  pytorch_libtorch: { backend: "pytorch", file: "model.pt" },
  tensorflow_savedmodel: { backend: "tensorflow", file: "model.savedmodel" },
  tensorflow_graphdef: { backend: "tensorflow", file: "model.graphdef" },
  openvino: { backend: "openvino", file: "model.xml" },
};

export function backendFor(platform: string): string {
  return PLATFORMS[platform]?.backend ?? (platform || "python");
}

export function modelFileFor(platform: string): string {
  return PLATFORMS[platform]?.file ?? "model.py";
}

export class DefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DefinitionError";
  }
}

type Obj = Record<string, unknown>;

const camel = (k: string): string => k.replace(/[_-]([a-z])/g, (_, c: string) => c.toUpperCase());

/** Shallow key normalisation: snake_case, kebab-case and camelCase keys are all accepted. */
function keys(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) out[camel(k)] = v;
  return out;
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown, where: string, opts: { min?: number; integer?: boolean } = {}): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new DefinitionError(`${where} must be a number`);
  if (opts.integer && !Number.isInteger(v)) throw new DefinitionError(`${where} must be an integer`);
  if (opts.min !== undefined && v < opts.min) throw new DefinitionError(`${where} must be >= ${opts.min}`);
  return v;
}

function str(v: unknown, where: string): string {
  if (typeof v !== "string" || v === "") throw new DefinitionError(`${where} must be a non-empty string`);
  return v;
}

const KNOWN_MODEL_KEYS = new Set([
  "name",
  "kind",
  "platform",
  "backend",
  "versions",
  "maxBatchSize",
  "instances",
  "latency",
  "dynamicBatching",
  "inputs",
  "outputs",
  "loaded",
]);

function parseLatency(raw: unknown, where: string, base: LatencySpec): LatencySpec {
  if (raw === undefined) return base;
  if (!isObj(raw)) throw new DefinitionError(`${where} must be a mapping with base_ms, per_item_ms, std_dev_ms`);
  const o = keys(raw);
  for (const k of Object.keys(o)) {
    if (!["baseMs", "perItemMs", "stdDevMs"].includes(k))
      throw new DefinitionError(`${where} has unknown key "${k}" (expected base_ms, per_item_ms, std_dev_ms)`);
  }
  return {
    baseMs: o.baseMs === undefined ? base.baseMs : num(o.baseMs, `${where}.base_ms`, { min: 0 }),
    perItemMs: o.perItemMs === undefined ? base.perItemMs : num(o.perItemMs, `${where}.per_item_ms`, { min: 0 }),
    stdDevMs: o.stdDevMs === undefined ? base.stdDevMs : num(o.stdDevMs, `${where}.std_dev_ms`, { min: 0 }),
  };
}

function parseDynamicBatching(
  raw: unknown,
  where: string,
  maxBatchSize: number,
  base: DynamicBatching | undefined,
): DynamicBatching | undefined {
  if (raw === undefined) return base;
  if (raw === null || raw === false) return undefined;
  if (!isObj(raw))
    throw new DefinitionError(`${where} must be a mapping with preferred_batch_size, max_queue_delay_microseconds`);
  if (maxBatchSize <= 0)
    throw new DefinitionError(`${where} needs max_batch_size > 0 (Triton batches along dimension 0)`);
  const o = keys(raw);
  for (const k of Object.keys(o)) {
    if (!["preferredBatchSize", "maxQueueDelayMicroseconds"].includes(k))
      throw new DefinitionError(
        `${where} has unknown key "${k}" (expected preferred_batch_size, max_queue_delay_microseconds)`,
      );
  }
  let preferred: number[] = [];
  if (o.preferredBatchSize !== undefined) {
    if (!Array.isArray(o.preferredBatchSize))
      throw new DefinitionError(`${where}.preferred_batch_size must be a list of batch sizes`);
    preferred = o.preferredBatchSize.map((v, i) => {
      const n = num(Number(v), `${where}.preferred_batch_size[${i}]`, { min: 1, integer: true });
      if (n > maxBatchSize)
        throw new DefinitionError(
          `${where}.preferred_batch_size[${i}] (${n}) exceeds max_batch_size (${maxBatchSize})`,
        );
      return n;
    });
  }
  const delay =
    o.maxQueueDelayMicroseconds === undefined
      ? 0
      : num(Number(o.maxQueueDelayMicroseconds), `${where}.max_queue_delay_microseconds`, { min: 0, integer: true });
  return { preferredBatchSizes: preferred, maxQueueDelayUs: delay };
}

function parseTensors(raw: unknown, where: string): TensorSpec[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new DefinitionError(`${where} must be a non-empty list`);
  const seen = new Set<string>();
  return raw.map((t, i) => {
    const w = `${where}[${i}]`;
    if (!isObj(t)) throw new DefinitionError(`${w} must be a mapping with name, datatype, shape`);
    const o = keys(t);
    const name = str(o.name, `${w}.name`);
    if (seen.has(name)) throw new DefinitionError(`${w}.name "${name}" is declared twice`);
    seen.add(name);
    const dt = typeof o.datatype === "string" ? o.datatype.toUpperCase().replace(/^TYPE_/, "") : o.datatype;
    const datatype = dt === "STRING" ? "BYTES" : dt;
    if (!isDatatype(datatype)) throw new DefinitionError(`${w}.datatype must be one of ${DATATYPES.join(", ")}`);
    if (!Array.isArray(o.shape) || o.shape.length === 0)
      throw new DefinitionError(`${w}.shape must be a non-empty list of dimensions (-1 = dynamic)`);
    const shape = o.shape.map((d, j) => {
      if (typeof d !== "number" || !Number.isInteger(d) || d < -1 || d === 0)
        throw new DefinitionError(`${w}.shape[${j}] must be a positive integer or -1`);
      return d;
    });
    const spec: TensorSpec = { name, datatype: datatype as Datatype, shape };
    if (o.optional === true) spec.optional = true;
    return spec;
  });
}

/** One model entry of a repository file, over an optional base (a built-in of the same name). */
export function parseModel(
  raw: unknown,
  where: string,
  defaults: ModelDefaults,
  base?: ModelDefinition,
): ModelDefinition {
  if (!isObj(raw)) throw new DefinitionError(`${where} must be a mapping`);
  const o = keys(raw);
  for (const k of Object.keys(o)) {
    if (!KNOWN_MODEL_KEYS.has(k)) throw new DefinitionError(`${where} has unknown key "${k}"`);
  }
  const name = str(o.name, `${where}.name`);
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new DefinitionError(`${where}.name "${name}" may only contain letters, digits, '_', '.', '-'`);
  let kind: FakeKind = base?.kind ?? KIND_ALIASES[name.toLowerCase()] ?? "generic";
  if (o.kind !== undefined) {
    const k = KIND_ALIASES[String(o.kind).toLowerCase()];
    if (!k) throw new DefinitionError(`${where}.kind must be one of ${Object.keys(KIND_ALIASES).join(", ")}`);
    kind = k;
  }
  const platform =
    o.platform === undefined ? (base?.platform ?? defaults.platform) : str(o.platform, `${where}.platform`);
  const backend =
    o.backend === undefined
      ? o.platform === undefined && base
        ? base.backend
        : backendFor(platform)
      : str(o.backend, `${where}.backend`);
  let versions = base?.versions ?? ["1"];
  if (o.versions !== undefined) {
    if (!Array.isArray(o.versions) || o.versions.length === 0)
      throw new DefinitionError(`${where}.versions must be a non-empty list`);
    versions = o.versions.map((v, i) => {
      const s = String(v);
      if (!/^[0-9]+$/.test(s)) throw new DefinitionError(`${where}.versions[${i}] must be a positive integer`);
      return s;
    });
  }
  const maxBatchSize =
    o.maxBatchSize === undefined
      ? (base?.maxBatchSize ?? 0)
      : num(o.maxBatchSize, `${where}.max_batch_size`, { min: 0, integer: true });
  const instances =
    o.instances === undefined
      ? (base?.instances ?? defaults.instances)
      : num(o.instances, `${where}.instances`, { min: 0, integer: true });
  const latency = parseLatency(o.latency, `${where}.latency`, base?.latency ?? defaults.latency);
  const dynamicBatching = parseDynamicBatching(
    o.dynamicBatching,
    `${where}.dynamic_batching`,
    maxBatchSize,
    maxBatchSize > 0 ? base?.dynamicBatching : undefined,
  );
  const inputs = o.inputs === undefined && base ? base.inputs : parseTensors(o.inputs, `${where}.inputs`);
  const outputs = o.outputs === undefined && base ? base.outputs : parseTensors(o.outputs, `${where}.outputs`);
  if (maxBatchSize > 0) {
    for (const [list, what] of [
      [inputs, "inputs"],
      [outputs, "outputs"],
    ] as const) {
      for (const t of list) {
        if (t.shape[0] !== -1)
          throw new DefinitionError(
            `${where}.${what} "${t.name}": with max_batch_size > 0 the first dimension is the batch dimension and must be -1`,
          );
      }
    }
  }
  const loaded = o.loaded === undefined ? (base?.loaded ?? true) : o.loaded === true;
  return {
    name,
    kind,
    platform,
    backend,
    versions,
    maxBatchSize,
    instances,
    latency,
    ...(dynamicBatching ? { dynamicBatching } : {}),
    inputs,
    outputs,
    loaded,
  };
}

export interface ModelDefaults {
  platform: string;
  instances: number;
  latency: LatencySpec;
}

export const FALLBACK_DEFAULTS: ModelDefaults = {
  platform: "onnxruntime_onnx",
  instances: 0,
  latency: { baseMs: 2, perItemMs: 0.5, stdDevMs: 0 },
};

/**
 * A whole repository document: `models` (list), optional `defaults` (platform, instances,
 * latency applied to entries that omit them) and `include_defaults` (keep the built-ins,
 * default true; an entry named like a built-in overrides only the keys it sets).
 */
export function parseRepository(doc: unknown, source: string, builtins: ModelDefinition[]): ModelDefinition[] {
  const fail = (msg: string): never => {
    throw new DefinitionError(`model repository ${source}: ${msg}`);
  };
  if (doc === null || doc === undefined) return builtins;
  let root: Obj;
  if (Array.isArray(doc)) root = { models: doc };
  else if (isObj(doc)) root = keys(doc);
  else return fail("must be a mapping with a `models` list");
  for (const k of Object.keys(root)) {
    if (!["models", "defaults", "includeDefaults"].includes(k))
      fail(`unknown key "${k}" (expected models, defaults, include_defaults)`);
  }
  try {
    let defaults = FALLBACK_DEFAULTS;
    if (root.defaults !== undefined) {
      if (!isObj(root.defaults)) throw new DefinitionError("defaults must be a mapping");
      const d = keys(root.defaults);
      for (const k of Object.keys(d)) {
        if (!["platform", "instances", "latency"].includes(k))
          throw new DefinitionError(`defaults has unknown key "${k}" (expected platform, instances, latency)`);
      }
      defaults = {
        platform: d.platform === undefined ? defaults.platform : str(d.platform, "defaults.platform"),
        instances:
          d.instances === undefined
            ? defaults.instances
            : num(d.instances, "defaults.instances", { min: 0, integer: true }),
        latency: parseLatency(d.latency, "defaults.latency", defaults.latency),
      };
    }
    const include = root.includeDefaults === undefined ? true : root.includeDefaults === true;
    const list = root.models ?? [];
    if (!Array.isArray(list)) throw new DefinitionError("models must be a list");
    const out = new Map<string, ModelDefinition>();
    if (include) for (const b of builtins) out.set(b.name, b);
    const declared = new Set<string>();
    list.forEach((entry, i) => {
      const name = isObj(entry) ? entry.name : undefined;
      const base = include && typeof name === "string" ? builtins.find((b) => b.name === name) : undefined;
      const def = parseModel(entry, `models[${i}]`, defaults, base);
      if (declared.has(def.name)) throw new DefinitionError(`models[${i}].name "${def.name}" is declared twice`);
      declared.add(def.name);
      out.set(def.name, def);
    });
    return [...out.values()];
  } catch (err) {
    if (err instanceof DefinitionError) return fail(err.message);
    throw err;
  }
}

/** The fields of Triton's dynamic_batching Decoy simulates; the rest (priorities, ordering) are ignored. */
function tritonBatcher(raw: unknown): Obj | null {
  if (!isObj(raw)) return null;
  const o = keys(raw);
  const out: Obj = {};
  if (o.preferredBatchSize !== undefined) out.preferredBatchSize = o.preferredBatchSize;
  if (o.maxQueueDelayMicroseconds !== undefined) out.maxQueueDelayMicroseconds = o.maxQueueDelayMicroseconds;
  return out;
}

/**
 * A Triton model configuration (JSON, as sent in the `config` parameter of a repository
 * load) → a definition. Fields Decoy does not simulate are ignored; the fake kind, latency
 * and versions come from `base` (the model being reloaded) when there is one.
 */
export function fromTritonConfig(name: string, raw: unknown, base?: ModelDefinition): ModelDefinition {
  let cfg: unknown = raw;
  if (typeof raw === "string") {
    try {
      cfg = JSON.parse(raw);
    } catch {
      throw new DecoyError("INVALID_ARGUMENT", `load of model '${name}': the config parameter is not valid JSON`);
    }
  }
  if (!isObj(cfg)) throw new DecoyError("INVALID_ARGUMENT", `load of model '${name}': config must be a JSON object`);
  const c = keys(cfg);
  const maxBatchSize = typeof c.maxBatchSize === "number" ? c.maxBatchSize : (base?.maxBatchSize ?? 0);
  const tensors = (list: unknown, what: string): TensorSpec[] | undefined => {
    if (list === undefined) return undefined;
    if (!Array.isArray(list)) throw new DecoyError("INVALID_ARGUMENT", `config.${what} must be a list`);
    return list.map((t, i) => {
      const o = isObj(t) ? keys(t) : {};
      const dims = Array.isArray(o.dims) ? o.dims.map(Number) : [];
      const dt = String(o.dataType ?? "").replace(/^TYPE_/, "");
      return {
        name: typeof o.name === "string" ? o.name : `${what}_${i}`,
        datatype: (dt === "STRING" ? "BYTES" : dt) as Datatype,
        shape: maxBatchSize > 0 ? [-1, ...dims] : dims,
        ...(o.optional === true ? { optional: true } : {}),
      };
    });
  };
  const group = Array.isArray(c.instanceGroup) && isObj(c.instanceGroup[0]) ? keys(c.instanceGroup[0]) : undefined;
  const entry: Obj = {
    name,
    ...(typeof c.platform === "string" && c.platform ? { platform: c.platform } : {}),
    ...(typeof c.backend === "string" && c.backend ? { backend: c.backend } : {}),
    maxBatchSize,
    ...(group && typeof group.count === "number" ? { instances: group.count } : {}),
    // a reload's config states the batcher: without dynamic_batching the model has none
    dynamicBatching: tritonBatcher(c.dynamicBatching),
  };
  const inputs = tensors(c.input, "input");
  const outputs = tensors(c.output, "output");
  if (inputs) entry.inputs = inputs;
  if (outputs) entry.outputs = outputs;
  try {
    return parseModel(entry, "config", FALLBACK_DEFAULTS, base);
  } catch (err) {
    if (err instanceof DefinitionError)
      throw new DecoyError("INVALID_ARGUMENT", `load of model '${name}': ${err.message}`);
    throw err;
  }
}
