import type { FastifyReply, FastifyRequest } from "fastify";
import type { components } from "../../../gen/openapi/openai.js";
import type { AppContext } from "../../context.js";
import { DecoyError } from "../../engine/errors.js";
import { NON_TEXT_PART_TOKENS } from "../../engine/llm/chat-template.js";
import { vectorBase64 } from "../../engine/llm/embeddings.js";
import type { JobSink, LlmJob } from "../../engine/llm/job.js";
import { modelNotFound } from "../../engine/llm/models.js";
import type {
  ChatMessage,
  LlmRequest,
  PromptInput,
  ResponseFormat,
  ToolChoice,
  ToolDefinition,
} from "../../engine/llm/types.js";
import { onResponseClose } from "../closing.js";
import { SseStream } from "../sse.js";
import type { OperationHandlers } from "../types.js";
import { ChatStream, CompletionStream, chatBody, completionBody } from "./openai-render.js";
import {
  conversationAfter,
  envelope,
  ResponsesStream,
  responseBody,
  responseEcho,
  responsesRequest,
} from "./openai-responses.js";
import { ResponsesStore } from "./responses-store.js";

/**
 * The OpenAI-compatible routes. Wire requests are converted to engine requests here (vLLM's
 * `to_sampling_params()` step); the engine plans and paces the answer, and openai-render.ts
 * turns the job into JSON or SSE.
 */

type Schemas = components["schemas"];

function messageText(m: Schemas["ChatMessage"]): { text: string; extra: number } {
  const c = m.content;
  let text = "";
  let extra = 0;
  if (typeof c === "string") text = c;
  else if (Array.isArray(c)) {
    for (const part of c) {
      if (typeof part.text === "string") text += text === "" ? part.text : `\n${part.text}`;
      else extra += NON_TEXT_PART_TOKENS;
    }
  }
  if (m.tool_calls?.length) text += JSON.stringify(m.tool_calls);
  return { text, extra };
}

function stopList(stop: Schemas["StopSpec"] | undefined): string[] | null {
  if (stop === null || stop === undefined) return null;
  return typeof stop === "string" ? [stop] : (stop as string[]);
}

function toolChoiceOf(choice: Schemas["ChatCompletionRequest"]["tool_choice"]): ToolChoice | null {
  if (choice === null || choice === undefined) return null;
  if (typeof choice === "string") {
    if (choice === "none" || choice === "auto" || choice === "required") return choice;
    throw new DecoyError("INVALID_ARGUMENT", `Invalid tool_choice '${choice}': expected none, auto or required.`, {
      param: "tool_choice",
      type: "BadRequestError",
    });
  }
  const name = choice.function?.name;
  if (!name) {
    throw new DecoyError(
      "INVALID_ARGUMENT",
      'tool_choice must name a function: {"type":"function","function":{"name":...}}.',
      {
        param: "tool_choice",
        type: "BadRequestError",
      },
    );
  }
  return { name };
}

function responseFormatOf(rf: Schemas["ResponseFormat"] | undefined): ResponseFormat | null {
  if (!rf || rf.type === "text") return null;
  if (rf.type === "json_schema") return { type: "json_schema", schema: rf.json_schema?.schema ?? { type: "object" } };
  return { type: "json_object" };
}

export function chatRequest(body: Schemas["ChatCompletionRequest"], headers: LlmRequest["headers"]): LlmRequest {
  const messages: ChatMessage[] = body.messages.map((m) => {
    const { text, extra } = messageText(m);
    return extra > 0 ? { role: m.role, content: text, extraTokens: extra } : { role: m.role, content: text };
  });
  const tools: ToolDefinition[] | null = body.tools
    ? body.tools
        .filter((t) => t.type === "function")
        .map((t) => {
          const def: ToolDefinition = { name: t.function.name };
          if (t.function.description !== undefined) def.description = t.function.description;
          if (t.function.parameters !== undefined) def.parameters = t.function.parameters;
          return def;
        })
    : null;
  return {
    api: "chat",
    model: body.model,
    messages,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? null,
    minTokens: body.min_tokens ?? null,
    ignoreEos: body.ignore_eos ?? null,
    n: body.n ?? null,
    stop: stopList(body.stop),
    seed: body.seed ?? null,
    logprobs: body.logprobs ? (body.top_logprobs ?? 0) : null,
    promptLogprobs: body.prompt_logprobs ?? null,
    addSpecialTokens: body.add_special_tokens ?? null,
    reasoningEffort: body.reasoning_effort ?? null,
    chatTemplateKwargs: body.chat_template_kwargs ?? null,
    tools,
    toolChoice: toolChoiceOf(body.tool_choice),
    parallelToolCalls: body.parallel_tool_calls ?? null,
    responseFormat: responseFormatOf(body.response_format),
    kvTransferParams: body.kv_transfer_params ?? null,
    stream: body.stream === true,
    headers,
  };
}

function promptsOf(prompt: Schemas["CompletionRequest"]["prompt"]): PromptInput[] {
  if (typeof prompt === "string") return [prompt];
  if (prompt.length === 0) return [];
  if (prompt.every((p) => typeof p === "number")) return [prompt as number[]];
  return prompt.map((p) => {
    if (typeof p === "string" || Array.isArray(p)) return p;
    throw new DecoyError(
      "INVALID_ARGUMENT",
      "prompt must be a string, a list of strings, a list of token ids or a list of token-id lists.",
      { param: "prompt", type: "BadRequestError" },
    );
  });
}

export function completionRequest(body: Schemas["CompletionRequest"], headers: LlmRequest["headers"]): LlmRequest {
  return {
    api: "completion",
    model: body.model,
    prompts: promptsOf(body.prompt),
    maxTokens: body.max_tokens ?? null,
    minTokens: body.min_tokens ?? null,
    ignoreEos: body.ignore_eos ?? null,
    n: body.n ?? null,
    stop: stopList(body.stop),
    seed: body.seed ?? null,
    logprobs: body.logprobs ?? null,
    promptLogprobs: body.prompt_logprobs ?? null,
    echo: body.echo ?? null,
    addSpecialTokens: body.add_special_tokens ?? null,
    kvTransferParams: body.kv_transfer_params ?? null,
    stream: body.stream === true,
    headers,
  };
}

/**
 * Runs an LLM request to completion over HTTP: SSE through `stream` when asked, else one JSON
 * body. A client that goes away cancels the job at once (its slot or queue place is freed).
 */
export function runLlm(
  ctx: AppContext,
  reply: FastifyReply,
  req: LlmRequest,
  streamSink: (sse: SseStream) => JobSink,
  body: (job: LlmJob) => unknown,
): unknown {
  if (req.stream) {
    const sse = new SseStream(reply);
    const job = ctx.llm.submit(req, streamSink(sse));
    sse.onClientGone(() => job.cancel());
    sse.start();
    return reply;
  }
  // The reply is sent from the job's sink (no promise per request). The handler is synchronous
  // and returns undefined, so fastify simply waits for reply.send; returning the reply would make
  // fastify await it as a thenable (an end-of-stream watcher on every response).
  const job = ctx.llm.submit(req, {
    onDone: (j) => reply.send(body(j)),
    onError: (_j, err) => reply.send(err),
  });
  onResponseClose(reply, () => {
    if (job.finished) return;
    job.cancel();
    reply.send(new DecoyError("CANCELLED", "The client closed the connection."));
  });
  return undefined;
}

interface ModelCard {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  root: string | null;
  parent: string | null;
  max_model_len: number | null;
  permission: Schemas["ModelPermission"][];
}

export function modelCards(ctx: AppContext): ModelCard[] {
  const cfg = ctx.config.current;
  const created = Math.floor(ctx.engine.startedAt / 1000);
  const card = (id: string, root: string | null, parent: string | null, ownedBy = "vllm"): ModelCard => ({
    id,
    object: "model",
    created,
    owned_by: ownedBy,
    root,
    parent,
    max_model_len: cfg.maxModelLen,
    permission: [
      {
        id: `modelperm-${id.replace(/[^A-Za-z0-9]/g, "").slice(0, 24) || "model"}`,
        object: "model_permission",
        created,
        allow_create_engine: false,
        allow_sampling: true,
        allow_logprobs: true,
        allow_search_indices: false,
        allow_view: true,
        allow_fine_tuning: false,
        organization: "*",
        group: null,
        is_blocking: false,
      },
    ],
  });
  const out: ModelCard[] = ctx.llm.models.servedNames(cfg).map((n) => card(n, cfg.model, null));
  for (const l of ctx.llm.models.loras()) out.push(card(l.name, l.path, l.base));
  for (const n of cfg.embeddingModels) out.push(card(n, n, null, "decoy"));
  for (const n of cfg.rankingModels) out.push(card(n, n, null, "decoy"));
  return out;
}

function headersOf(request: FastifyRequest): LlmRequest["headers"] {
  return request.headers as LlmRequest["headers"];
}

function embeddingInputs(input: Schemas["EmbeddingRequest"]["input"]): PromptInput[] {
  if (typeof input === "string") return [input];
  if (input.length > 0 && input.every((x) => typeof x === "number")) return [input as number[]];
  return input.map((x) => {
    if (typeof x === "string" || Array.isArray(x)) return x;
    throw new DecoyError("INVALID_ARGUMENT", "input must be a string, a list of strings or token-id lists.", {
      param: "input",
      type: "BadRequestError",
    });
  });
}

/**
 * Usage in a stream, as vLLM decides it: a final usage chunk with `include_usage`, usage on
 * every chunk as well with `continuous_usage_stats` (only together with `include_usage`);
 * --enable-force-include-usage turns both on whatever the request says.
 */
function streamUsage(
  ctx: AppContext,
  options: Schemas["StreamOptions"] | undefined,
): { final: boolean; continuous: boolean } {
  if (ctx.config.current.enableForceIncludeUsage) return { final: true, continuous: true };
  const final = options?.include_usage === true;
  return { final, continuous: final && options?.continuous_usage_stats === true };
}

function storeNotEnabled(): DecoyError {
  return new DecoyError(
    "INVALID_ARGUMENT",
    "previous_response_id and background need the response store: start the server with --enable-responses-store (vLLM: VLLM_ENABLE_RESPONSES_API_STORE=1).",
    { param: "store", type: "BadRequestError" },
  );
}

function responseNotFound(id: string): DecoyError {
  return new DecoyError("NOT_FOUND", `Response with id '${id}' not found.`, {
    param: "response_id",
    type: "NotFoundError",
  });
}

export function openaiHandlers(ctx: AppContext): OperationHandlers {
  const responses = new ResponsesStore();
  return {
    listModels: () => ({ object: "list", data: modelCards(ctx) }),

    retrieveModel: (request) => {
      const { model } = request.params as { model: string };
      const found = modelCards(ctx).find((m) => m.id === model);
      if (!found) throw modelNotFound(model);
      return found;
    },

    createChatCompletion: (request, reply) => {
      const body = request.body as Schemas["ChatCompletionRequest"];
      const usage = streamUsage(ctx, body.stream_options);
      return runLlm(
        ctx,
        reply,
        chatRequest(body, headersOf(request)),
        (sse) => new ChatStream(sse, usage.final, usage.continuous),
        chatBody,
      );
    },

    createCompletion: (request, reply) => {
      const body = request.body as Schemas["CompletionRequest"];
      const usage = streamUsage(ctx, body.stream_options);
      return runLlm(
        ctx,
        reply,
        completionRequest(body, headersOf(request)),
        (sse) => new CompletionStream(sse, usage.final, usage.continuous),
        completionBody,
      );
    },

    createResponse: (request, reply) => {
      const body = request.body as Schemas["ResponsesRequest"];
      const storeOn = ctx.config.current.enableResponsesStore;
      if (!storeOn && (body.previous_response_id || body.background)) throw storeNotEnabled();
      if (body.background && (body.store === false || body.stream)) {
        throw new DecoyError("INVALID_ARGUMENT", "background responses need store true and no stream.", {
          param: "background",
          type: "BadRequestError",
        });
      }
      let history: ChatMessage[] = [];
      if (body.previous_response_id) {
        const prev = responses.get(body.previous_response_id);
        if (!prev) throw responseNotFound(body.previous_response_id);
        history = prev.conversation;
      }
      const { request: req, conversation } = responsesRequest(body, headersOf(request), history);
      const echo = responseEcho(body);
      const storing = storeOn && body.store !== false;
      const keep = (response: Schemas["Response"], job: LlmJob, background: boolean) =>
        responses.put(response.id, {
          body: response,
          conversation: conversationAfter(conversation, job),
          background,
          job: undefined,
        });
      if (body.background) {
        // the job finishes after this handler returns (its first step is at least a microtask
        // away), so the queued entry is in place before the final one replaces it
        const job = ctx.llm.submit(req, {
          onDone: (j) => keep(responseBody(j, echo), j, true),
          onError: (j, err) => {
            const failed = envelope(j, echo, "failed", [], false);
            failed.error = { code: String(err.httpStatus), message: err.message };
            responses.put(failed.id, { body: failed, conversation, background: true, job: undefined });
          },
        });
        const queued = envelope(job, echo, "queued", [], false);
        responses.put(queued.id, { body: queued, conversation, background: true, job });
        return queued;
      }
      return runLlm(
        ctx,
        reply,
        req,
        (sse) => new ResponsesStream(sse, echo, storing ? (r, j) => keep(r, j, false) : undefined),
        (job) => {
          const res = responseBody(job, echo);
          if (storing) keep(res, job, false);
          return res;
        },
      );
    },

    retrieveResponse: (request) => {
      const { response_id: id } = request.params as { response_id: string };
      const found = ctx.config.current.enableResponsesStore ? responses.get(id) : undefined;
      if (!found) throw responseNotFound(id);
      return found.body;
    },

    cancelResponse: (request) => {
      const { response_id: id } = request.params as { response_id: string };
      const found = ctx.config.current.enableResponsesStore ? responses.get(id) : undefined;
      if (!found) throw responseNotFound(id);
      if (!found.background) {
        throw new DecoyError("INVALID_ARGUMENT", "Cannot cancel a synchronous response.", {
          param: "response_id",
          type: "BadRequestError",
        });
      }
      const job = found.job;
      if (job && !job.finished) {
        job.cancel();
        found.job = undefined;
        found.body = { ...found.body, status: "cancelled" };
      }
      return found.body;
    },

    createEmbedding: async (request, reply) => {
      const body = request.body as Schemas["EmbeddingRequest"];
      const ac = new AbortController();
      onResponseClose(reply, () => ac.abort());
      const res = await ctx.llm.embed({
        model: body.model,
        inputs: embeddingInputs(body.input),
        dimensions: body.dimensions ?? null,
        signal: ac.signal,
      });
      const base64 = body.encoding_format === "base64";
      return {
        id: `embd-${ctx.llm.newId()}`,
        object: "list",
        created: Math.floor(ctx.engine.clock.wallNow() / 1000),
        model: res.model,
        data: res.vectors.map((v, index) => ({
          object: "embedding",
          index,
          embedding: base64 ? vectorBase64(v) : Array.from(v),
        })),
        usage: { prompt_tokens: res.promptTokens, total_tokens: res.promptTokens },
      };
    },
  };
}
