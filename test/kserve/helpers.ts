import type { ModelInferRequest, ModelMetadataResponse } from "../../gen/proto/inference/grpc_service.js";
import { ConfigStore, loadConfig } from "../../src/config/load.js";
import { FakeClock } from "../../src/engine/clock.js";
import { Engine } from "../../src/engine/engine.js";
import { builtinModels } from "../../src/engine/models/defaults.js";
import type { ModelDefinition } from "../../src/engine/models/definition.js";
import { ModelRepository } from "../../src/engine/models/repository.js";
import type { Datatype, InferInput, Tensor } from "../../src/engine/models/types.js";
import { allocTensor, DATATYPE_SIZE, elementCount } from "../../src/engine/tensors.js";

/** An engine on a fake clock with a repository of the given (default: built-in) models. */
export function engineWithModels(
  definitions: ModelDefinition[] = builtinModels(),
  flags: Record<string, unknown> = {},
  seed = 1,
) {
  const clock = new FakeClock();
  const { config } = loadConfig({ flags });
  const store = new ConfigStore(config);
  const engine = new Engine({ config: store, clock });
  const repo = new ModelRepository(engine, {
    definitions,
    seed,
    overrides: () => ({
      baseMs: store.current.modelLatencyMs,
      perItemMs: store.current.modelPerItemLatencyMs,
      stdDevMs: store.current.modelLatencyStdDevMs,
      instances: store.current.modelInstances,
      maxQueueDelayUs: store.current.modelMaxQueueDelayUs,
    }),
  });
  return { clock, engine, repo, store };
}

/** A tensor filled with a repeating byte pattern derived from `fill`. */
export function tensor(name: string, datatype: Datatype, shape: number[], fill = 1): Tensor {
  const data = allocTensor(elementCount(shape) * DATATYPE_SIZE[datatype]);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + fill * 17) & 0xff;
  return { name, datatype, shape, data };
}

export function request(inputs: Tensor[], extra: Partial<InferInput> = {}): InferInput {
  return {
    id: "",
    version: "",
    inputs,
    requestedOutputs: undefined,
    parameters: {},
    signal: new AbortController().signal,
    ...extra,
  };
}

/** INT64 [batch, seq] tensor with `ones` leading ones per row (an attention mask), or `from` onwards. */
export function int64Rows(name: string, batch: number, seq: number, fn: (i: number) => number): Tensor {
  const data = allocTensor(batch * seq * 8);
  for (let b = 0; b < batch; b++) for (let i = 0; i < seq; i++) data.writeBigInt64LE(BigInt(fn(i)), (b * seq + i) * 8);
  return { name, datatype: "INT64", shape: [batch, seq], data };
}

export function floats(buf: Buffer): Float32Array {
  const copy = new Uint8Array(buf);
  return new Float32Array(copy.buffer, 0, copy.length / 4);
}

export function argmax(v: ArrayLike<number>, from = 0, to = v.length): number {
  let best = from;
  for (let i = from; i < to; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best - from;
}

/** Advance fake time until `p` settles (at most `limitMs`). */
export async function settle<T>(clock: FakeClock, p: Promise<T>, limitMs = 1000): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let t = 0; t < limitMs && !done; t++) await clock.advanceAsync(1);
  return p;
}

/** Metadata tensors (name, datatype, shape with -1) → concrete inputs for `batch` items, zero-filled. */
export function inputsFor(
  meta: { inputs: { name: string; datatype: string; shape: number[] }[] },
  batch = 1,
): { name: string; datatype: string; shape: number[]; data: Buffer }[] {
  return meta.inputs.map((t) => {
    const shape = t.shape.map((d) => (d === -1 ? batch : d));
    const size = DATATYPE_SIZE[t.datatype as Datatype] || 1;
    const data = allocTensor(elementCount(shape) * size);
    for (let i = 0; i < data.length; i += 97) data[i] = i & 0x7f;
    return { name: t.name, datatype: t.datatype, shape, data };
  });
}

/** Every concrete dimension of `shape` equals the metadata's, -1 standing for the batch size. */
export function concrete(metaShape: number[], batch: number): number[] {
  return metaShape.map((d) => (d === -1 ? batch : d));
}

/** A raw-contents ModelInferRequest with zero-ish inputs shaped from the model metadata. */
export function rawRequest(
  md: ModelMetadataResponse,
  batch = 1,
  extra: Partial<ModelInferRequest> = {},
): ModelInferRequest {
  const inputs = inputsFor(md, batch);
  return {
    modelName: md.name,
    modelVersion: "",
    id: "req-1",
    parameters: {},
    inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: {} })),
    outputs: [],
    rawInputContents: inputs.map((t) => t.data),
    ...extra,
  };
}

/** Split a binary-extension response: JSON header (by Inference-Header-Content-Length) + raw tail. */
export async function binaryResponse(res: Response): Promise<{ json: Record<string, unknown>; tail: Buffer }> {
  const len = Number(res.headers.get("inference-header-content-length"));
  const body = Buffer.from(await res.arrayBuffer());
  return { json: JSON.parse(body.subarray(0, len).toString("utf8")), tail: body.subarray(len) };
}
