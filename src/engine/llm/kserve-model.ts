import { DecoyError } from "../errors.js";
import type { ModelRepository } from "../models/repository.js";
import type { InferInput, InferOutput, ServedModel, Tensor, TensorSpec } from "../models/types.js";
import { encodeBytesElements, rawToValues } from "../tensors.js";
import { generateRequest, mergeGenerateParams } from "./generate-request.js";
import type { JobSink, LlmJob } from "./job.js";
import type { LlmService } from "./service.js";
import { contentText } from "./steps.js";
import type { LlmRequest } from "./types.js";

/**
 * The simulated LLMs as KServe v2 / Triton models, with the tensor names aiperf's and
 * Triton's LLM clients use:
 *
 * - text generation: `text_input` (BYTES) [+ `max_tokens` INT32, `stream` BOOL,
 *   `sampling_parameters` BYTES JSON, ...] → `text_output` (BYTES). Decoupled: ModelStreamInfer
 *   gets one response per engine firing with the new text, the last one marked final.
 * - embeddings: `text_input` (BYTES, one element per text) → `embedding_output` (FP32 [n, dim]).
 * - rankings: `query` + `passages` (BYTES) → `scores` (FP32, one per passage, in input order).
 *
 * They run the same engine jobs as the HTTP routes, so the same request and seed give the
 * same text over gRPC and HTTP.
 */

export const KSERVE_LLM_VERSION = "1";

function tensorConfig(t: TensorSpec): Record<string, unknown> {
  return {
    name: t.name,
    data_type: t.datatype === "BYTES" ? "TYPE_STRING" : `TYPE_${t.datatype}`,
    dims: t.shape,
    optional: t.optional ?? false,
  };
}

function baseConfig(m: ServedModel, backend: string, decoupled: boolean): Record<string, unknown> {
  return {
    name: m.name,
    platform: "",
    backend,
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: m.maxBatchSize,
    input: m.inputs.map(tensorConfig),
    output: m.outputs.map(tensorConfig),
    model_transaction_policy: { decoupled },
    instance_group: [{ name: m.name, kind: "KIND_MODEL", count: 1 }],
  };
}

function find(req: InferInput, name: string): Tensor | undefined {
  return req.inputs.find((t) => t.name === name);
}

function scalar(req: InferInput, name: string): unknown {
  const t = find(req, name);
  if (!t) return undefined;
  const v = rawToValues(t.datatype, t.data)[0];
  return Buffer.isBuffer(v) ? v.toString("utf8") : v;
}

function texts(req: InferInput, name: string, model: string): string[] {
  const t = find(req, name);
  if (!t) throw new DecoyError("INVALID_ARGUMENT", `expected input '${name}' for model '${model}'`, { param: name });
  if (t.datatype !== "BYTES") {
    throw new DecoyError(
      "INVALID_ARGUMENT",
      `input '${name}' for model '${model}' has datatype ${t.datatype}, expected BYTES`,
      { param: name },
    );
  }
  return rawToValues("BYTES", t.data).map(String);
}

/** Output shape mirroring the input's rank: [1] for [1], [1, 1] for a batched [1, 1]. */
function textShape(req: InferInput, name: string): number[] {
  const t = find(req, name);
  return t && t.shape.length >= 2 ? [1, 1] : [1];
}

/** A response with the single FP32 output `name` holding `values`. */
function fp32Response(
  req: InferInput,
  model: string,
  name: string,
  shape: number[],
  values: Float32Array,
): InferOutput {
  return {
    id: req.id,
    modelName: model,
    modelVersion: KSERVE_LLM_VERSION,
    outputs: [
      { name, datatype: "FP32", shape, data: Buffer.from(values.buffer, values.byteOffset, values.byteLength) },
    ],
    parameters: {},
  };
}

const OPTIONAL_SCALARS = [
  "max_tokens",
  "min_tokens",
  "ignore_eos",
  "seed",
  "random_seed",
  "stream",
  "stop",
  "exclude_input_in_output",
  "temperature",
  "top_p",
  "top_k",
  "sampling_parameters",
];

export class LlmKserveModel implements ServedModel {
  readonly platform = "vllm";
  readonly versions = [KSERVE_LLM_VERSION];
  readonly maxBatchSize = 0;
  readonly decoupled = true;
  readonly checksOwnInputs = true;
  readonly inputs: TensorSpec[] = [
    { name: "text_input", datatype: "BYTES", shape: [1] },
    { name: "max_tokens", datatype: "INT32", shape: [1], optional: true },
    { name: "min_tokens", datatype: "INT32", shape: [1], optional: true },
    { name: "ignore_eos", datatype: "BOOL", shape: [1], optional: true },
    { name: "seed", datatype: "INT64", shape: [1], optional: true },
    { name: "stream", datatype: "BOOL", shape: [1], optional: true },
    { name: "sampling_parameters", datatype: "BYTES", shape: [1], optional: true },
    { name: "exclude_input_in_output", datatype: "BOOL", shape: [1], optional: true },
  ];
  readonly outputs: TensorSpec[] = [{ name: "text_output", datatype: "BYTES", shape: [-1] }];

  constructor(
    readonly name: string,
    private readonly llm: LlmService,
  ) {}

  private request(
    req: InferInput,
    stream: boolean,
  ): { llmReq: LlmRequest; prompt: string; echo: boolean; streamParam: unknown } {
    const [prompt] = texts(req, "text_input", this.name);
    const fromTensors: Record<string, unknown> = {};
    for (const n of OPTIONAL_SCALARS) {
      const v = scalar(req, n);
      if (v !== undefined) fromTensors[n] = v;
    }
    const params = mergeGenerateParams(req.parameters, fromTensors);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.parameters)) headers[k.toLowerCase()] = String(v);
    return {
      llmReq: generateRequest(this.name, prompt ?? "", params, stream, headers),
      prompt: prompt ?? "",
      echo: params.exclude_input_in_output === false,
      streamParam: params.stream,
    };
  }

  private output(req: InferInput, text: string, params: InferOutput["parameters"]): InferOutput {
    return {
      id: req.id,
      modelName: this.name,
      modelVersion: KSERVE_LLM_VERSION,
      outputs: [
        {
          name: "text_output",
          datatype: "BYTES",
          shape: textShape(req, "text_input"),
          data: encodeBytesElements([text]),
        },
      ],
      parameters: params,
    };
  }

  /** Runs a job to its end; `onTokens` (streaming) sees each firing's steps. */
  private run(req: InferInput, llmReq: LlmRequest, onTokens?: (job: LlmJob, from: number, to: number) => void) {
    return new Promise<LlmJob>((resolve, reject) => {
      const sink: JobSink = { onDone: resolve, onError: (_j, err) => reject(err) };
      if (onTokens) sink.onTokens = onTokens;
      const job = this.llm.submit(llmReq, sink);
      const abort = () => {
        if (job.finished) return;
        job.cancel();
        reject(new DecoyError("CANCELLED", "The client cancelled the request."));
      };
      if (req.signal.aborted) abort();
      else req.signal.addEventListener("abort", abort, { once: true });
    });
  }

  async infer(req: InferInput): Promise<InferOutput> {
    const { llmReq, prompt, echo } = this.request(req, false);
    const job = await this.run(req, llmReq);
    const choice = job.plan.choices[0];
    const text = (echo ? prompt : "") + (choice ? choice.content.join("") : "");
    return this.output(req, text, { finish_reason: choice?.finishReason ?? "stop" });
  }

  async stream(req: InferInput, emit: (res: InferOutput, final: boolean) => void): Promise<void> {
    const { llmReq, prompt, echo, streamParam } = this.request(req, true);
    if (streamParam === false || streamParam === 0 || streamParam === "false") {
      // Triton's LLM backends answer a stream=false request with one final response
      emit(await this.infer(req), true);
      return;
    }
    let first = true;
    const job = await this.run(req, llmReq, (j, from, to) => {
      const choice = j.plan.choices[0];
      if (!choice) return;
      let text = contentText(choice, from, to);
      if (first && echo) text = prompt + text;
      first = false;
      const final = to >= choice.steps;
      emit(this.output(req, text, final ? { finish_reason: choice.finishReason } : {}), final);
    });
    const choice = job.plan.choices[0];
    // a zero-token answer never fired a step: its only response is the final one
    if (first) emit(this.output(req, echo ? prompt : "", { finish_reason: choice?.finishReason ?? "stop" }), true);
  }

  config(): Record<string, unknown> {
    return baseConfig(this, "vllm", true);
  }
}

export class EmbeddingKserveModel implements ServedModel {
  readonly platform = "python";
  readonly versions = [KSERVE_LLM_VERSION];
  readonly maxBatchSize = 0;
  readonly decoupled = false;
  readonly checksOwnInputs = true;
  readonly inputs: TensorSpec[] = [{ name: "text_input", datatype: "BYTES", shape: [-1] }];
  readonly outputs: TensorSpec[];

  constructor(
    readonly name: string,
    private readonly llm: LlmService,
    dims: number,
  ) {
    this.outputs = [{ name: "embedding_output", datatype: "FP32", shape: [-1, dims] }];
  }

  async infer(req: InferInput): Promise<InferOutput> {
    const inputs = texts(req, "text_input", this.name);
    const dimensions = req.parameters.dimensions;
    const res = await this.llm.embed({
      model: this.name,
      inputs,
      dimensions: typeof dimensions === "number" ? dimensions : null,
      signal: req.signal,
    });
    const dims = res.vectors[0]?.length ?? 0;
    const out = new Float32Array(res.vectors.length * dims);
    for (let i = 0; i < res.vectors.length; i++) out.set(res.vectors[i] as Float32Array, i * dims);
    return fp32Response(req, this.name, "embedding_output", [res.vectors.length, dims], out);
  }

  config(): Record<string, unknown> {
    return baseConfig(this, "python", false);
  }
}

export class RankingKserveModel implements ServedModel {
  readonly platform = "python";
  readonly versions = [KSERVE_LLM_VERSION];
  readonly maxBatchSize = 0;
  readonly decoupled = false;
  readonly checksOwnInputs = true;
  readonly inputs: TensorSpec[] = [
    { name: "query", datatype: "BYTES", shape: [1] },
    { name: "passages", datatype: "BYTES", shape: [-1] },
  ];
  readonly outputs: TensorSpec[] = [{ name: "scores", datatype: "FP32", shape: [-1] }];

  constructor(
    readonly name: string,
    private readonly llm: LlmService,
  ) {}

  async infer(req: InferInput): Promise<InferOutput> {
    const [query] = texts(req, "query", this.name);
    const passages = texts(req, "passages", this.name);
    const res = await this.llm.rank({ model: this.name, query: query ?? "", passages, signal: req.signal });
    const scores = new Float32Array(passages.length);
    for (const r of res.results) scores[r.index] = r.score;
    return fp32Response(req, this.name, "scores", [passages.length], scores);
  }

  config(): Record<string, unknown> {
    return baseConfig(this, "python", false);
  }
}

/**
 * Register the LLM (under each served name), the embedding and the ranking models in the
 * KServe repository. A name a tensor model already uses keeps the tensor model.
 */
export function registerLlmModels(repo: ModelRepository, llm: LlmService): void {
  const cfg = llm.engine.config.current;
  const add = (m: ServedModel) => {
    if (!repo.has(m.name)) repo.register(m);
  };
  for (const name of llm.models.servedNames(cfg)) add(new LlmKserveModel(name, llm));
  for (const name of cfg.embeddingModels) add(new EmbeddingKserveModel(name, llm, cfg.defaultEmbeddingDimensions));
  for (const name of cfg.rankingModels) add(new RankingKserveModel(name, llm));
}
