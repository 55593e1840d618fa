import type { FastifyReply, FastifyRequest } from "fastify";
import type { components } from "../../../gen/openapi/triton-generate.js";
import type { AppContext } from "../../context.js";
import { DecoyError } from "../../engine/errors.js";
import { generateRequest, mergeGenerateParams } from "../../engine/llm/generate-request.js";
import type { JobSink, LlmJob } from "../../engine/llm/job.js";
import { KSERVE_LLM_VERSION } from "../../engine/llm/kserve-model.js";
import { contentText } from "../../engine/llm/steps.js";
import type { LlmRequest } from "../../engine/llm/types.js";
import { escapeJson, jsonString, type SseStream } from "../sse.js";
import type { OperationHandlers } from "../types.js";
import { runLlm } from "./openai.js";

/**
 * Triton's HTTP generate extension over the simulated LLMs: `/generate` answers one JSON
 * object, `/generate_stream` one SSE event per engine firing with the new text. Request fields
 * other than `text_input`, and `parameters`, are generation parameters (max_tokens, ...).
 */

type Schemas = components["schemas"];

const RESERVED = new Set(["id", "text_input", "parameters"]);

function toRequest(ctx: AppContext, request: FastifyRequest, stream: boolean): { req: LlmRequest; id?: string } {
  const { model, version } = request.params as { model: string; version?: string };
  if (version !== undefined && version !== KSERVE_LLM_VERSION) {
    // resolve first so an unknown model reports the model, not the version
    ctx.llm.resolve(model);
    throw new DecoyError("NOT_FOUND", `Request for unknown model: '${model}' version ${version} is not found`, {
      param: "version",
    });
  }
  const body = request.body as Schemas["GenerateRequest"];
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!RESERVED.has(k)) fields[k] = v;
  const params = mergeGenerateParams(body.parameters as Record<string, unknown> | undefined, fields);
  const req = generateRequest(model, body.text_input, params, stream, request.headers as LlmRequest["headers"]);
  return body.id === undefined ? { req } : { req, id: body.id };
}

class GenerateStream implements JobSink {
  private head = "";
  private pending = "";

  constructor(
    private readonly sse: SseStream,
    private readonly id: string | undefined,
  ) {}

  onTokens(job: LlmJob, from: number, to: number): void {
    if (this.head === "") {
      const id = this.id === undefined ? "" : `"id":${jsonString(this.id)},`;
      this.head = `data: {${id}"model_name":${jsonString(job.plan.model.requested)},"model_version":"${KSERVE_LLM_VERSION}","text_output":"`;
    }
    const choice = job.plan.choices[0];
    if (!choice) return;
    const event = `${this.head}${escapeJson(contentText(choice, from, to))}"}\n\n`;
    // the job ends in the same firing that emits its last step (see JobSink): one write
    if (to >= job.plan.steps) this.pending = event;
    else this.sse.write(event);
  }

  onDone(): void {
    const out = this.pending;
    this.pending = "";
    this.sse.end(out);
  }

  onError(_job: LlmJob, err: DecoyError): void {
    const out = this.pending;
    this.pending = "";
    this.sse.end(`${out}data: {"error":${jsonString(err.message)}}\n\n`);
  }
}

function generateBody(job: LlmJob, id: string | undefined): Schemas["GenerateResponse"] {
  const choice = job.plan.choices[0];
  const body: Schemas["GenerateResponse"] = {
    model_name: job.plan.model.requested,
    model_version: KSERVE_LLM_VERSION,
    text_output: choice ? choice.content.join("") : "",
    finish_reason: choice?.finishReason ?? "stop",
    num_input_tokens: job.plan.promptTokens,
    num_output_tokens: job.completionTokens(),
  };
  if (id !== undefined) body.id = id;
  return body;
}

function generate(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, stream: boolean): unknown {
  const { req, id } = toRequest(ctx, request, stream);
  return runLlm(
    ctx,
    reply,
    req,
    (sse) => new GenerateStream(sse, id),
    (job) => generateBody(job, id),
  );
}

export function generateHandlers(ctx: AppContext): OperationHandlers {
  return {
    tritonGenerate: (request, reply) => generate(ctx, request, reply, false),
    tritonGenerateVersion: (request, reply) => generate(ctx, request, reply, false),
    tritonGenerateStream: (request, reply) => generate(ctx, request, reply, true),
    tritonGenerateStreamVersion: (request, reply) => generate(ctx, request, reply, true),
  };
}
