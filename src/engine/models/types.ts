/**
 * Transport-neutral model contract for the KServe v2 surfaces (gRPC and REST). Vision/NLP
 * fakes and the simulated LLMs both implement `ServedModel`, so one repository answers
 * ModelMetadata, ModelInfer, ModelStreamInfer, ModelConfig and statistics for all of them.
 */

export type Datatype =
  | "BOOL"
  | "UINT8"
  | "UINT16"
  | "UINT32"
  | "UINT64"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FP16"
  | "FP32"
  | "FP64"
  | "BYTES"
  | "BF16";

export interface TensorSpec {
  name: string;
  datatype: Datatype;
  /** -1 marks a dynamic dimension (the batch dimension when maxBatchSize > 0). */
  shape: number[];
  optional?: boolean;
}

export type ParamValue = boolean | number | string;

/**
 * A tensor as raw bytes in Triton's raw layout: numeric types little-endian and packed;
 * BYTES elements each prefixed by a 4-byte little-endian length.
 */
export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: Buffer;
  parameters?: Record<string, ParamValue>;
}

export interface InferInput {
  id: string;
  /** Version requested ("" = latest). */
  version: string;
  inputs: Tensor[];
  /** Output names the client asked for; undefined means all. */
  requestedOutputs: string[] | undefined;
  parameters: Record<string, ParamValue>;
  /**
   * Per requested output, the parameters the client set on it (e.g. Triton's
   * `classification`). Optional; transports fill it when the protocol carries them.
   */
  outputParameters?: Record<string, Record<string, ParamValue>>;
  /**
   * Aborted when the client goes away; implementations release slots and timers at once.
   * Use only `aborted`, `reason`, `throwIfAborted` and add/removeEventListener("abort"):
   * the gRPC transport passes a cheaper look-alike (`CallSignal`), not a platform signal.
   */
  signal: AbortSignal;
}

export interface InferOutput {
  id: string;
  modelName: string;
  modelVersion: string;
  outputs: Tensor[];
  parameters: Record<string, ParamValue>;
  /**
   * Where the time went, for Triton's statistics. Optional: without it the repository counts
   * the whole request duration as compute_infer with no queue time and batch size 1.
   * Transports never send it.
   */
  timing?: InferTiming;
}

/** Triton's breakdown of one execution, in engine-clock milliseconds. */
export interface InferTiming {
  queueMs: number;
  computeInputMs: number;
  computeInferMs: number;
  computeOutputMs: number;
  /** Items this request carried (1 for models without a batch dimension). */
  batchSize: number;
  /** Items of the whole execution it ran in (more than batchSize when dynamically batched). */
  executionSize?: number;
  /** 1 for the request that counts the execution, 0 for the others batched with it. */
  executions?: number;
}

export interface ServedModel {
  readonly name: string;
  readonly platform: string;
  readonly versions: string[];
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  /** 0 = no batching dimension. */
  readonly maxBatchSize: number;
  /** Decoupled models may send several responses per request (LLM token streaming). */
  readonly decoupled: boolean;
  infer(req: InferInput): Promise<InferOutput>;
  /** Streaming inference; `emit` is called once per response, the promise settles after the last. */
  stream?(req: InferInput, emit: (res: InferOutput, final: boolean) => void): Promise<void>;
  /** Triton model configuration (JSON form of model_config.proto's ModelConfig). */
  config(): Record<string, unknown>;
  /**
   * When true the repository does not check request inputs against `inputs` (names,
   * datatypes, shapes, batch size) and the model validates them itself. Tensors are still
   * checked for self-consistency (raw byte size vs their own shape and datatype).
   */
  readonly checksOwnInputs?: boolean;
}

/** KServe v2 model metadata (the same fields on REST and gRPC). */
export function modelMetadata(model: ServedModel): {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
} {
  const tensor = (t: TensorSpec): TensorSpec => ({ name: t.name, datatype: t.datatype, shape: t.shape });
  return {
    name: model.name,
    versions: model.versions,
    platform: model.platform,
    inputs: model.inputs.map(tensor),
    outputs: model.outputs.map(tensor),
  };
}
