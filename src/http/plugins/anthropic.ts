import type { FastifyRequest } from "fastify";
import type { components } from "../../../gen/openapi/anthropic.js";
import type { AppContext } from "../../context.js";
import { DecoyError } from "../../engine/errors.js";
import { NON_TEXT_PART_TOKENS } from "../../engine/llm/chat-template.js";
import type { JobSink, LlmJob } from "../../engine/llm/job.js";
import { chatPrompt } from "../../engine/llm/plan.js";
import { ITEM_NONE, type ItemStream, STEP_CONTENT, STEP_REASONING, walkItems } from "../../engine/llm/steps.js";
import type { ChatMessage, ChoicePlan, LlmRequest, ToolChoice, ToolDefinition } from "../../engine/llm/types.js";
import { anthropicErrorBody } from "../errors.js";
import { escapeJson, type SseStream } from "../sse.js";
import type { OperationHandlers } from "../types.js";
import { runLlm } from "./openai.js";

/**
 * The Anthropic Messages API as vLLM serves it (`POST /v1/messages`): the same engine job as a
 * chat completion, shown as content blocks — `thinking` (reasoning models), `text`, and a
 * `tool_use` block per tool call — with `end_turn` / `max_tokens` / `tool_use` stop reasons.
 * Streams are Anthropic's named events: message_start, per block content_block_start, deltas
 * and content_block_stop, then message_delta (stop reason, output tokens) and message_stop.
 */

type Schemas = components["schemas"];
type MessageBody = Schemas["Message"];
type Block = Schemas["ContentBlock"];

function invalid(message: string, param: string): DecoyError {
  return new DecoyError("INVALID_ARGUMENT", message, { param, type: "BadRequestError" });
}

function systemText(system: Schemas["System"] | undefined): string {
  if (system === null || system === undefined) return "";
  if (typeof system === "string") return system;
  return system.map((b) => (typeof b.text === "string" ? b.text : "")).join("\n");
}

/** One input message as chat turns: tool results become tool turns, tool uses assistant text. */
function turns(m: Schemas["InputMessage"], i: number, out: ChatMessage[]): void {
  if (typeof m.content === "string") {
    out.push({ role: m.role, content: m.content });
    return;
  }
  let text = "";
  let extra = 0;
  const add = (t: string) => {
    text += text === "" ? t : `\n${t}`;
  };
  for (const block of m.content) {
    const b = block as Record<string, unknown>;
    switch (b.type) {
      case "text":
        add(String(b.text ?? ""));
        break;
      case "thinking":
        add(String(b.thinking ?? ""));
        break;
      case "tool_use":
        add(JSON.stringify({ name: b.name, arguments: JSON.stringify(b.input ?? {}) }));
        break;
      case "tool_result": {
        const c = b.content;
        const result = typeof c === "string" ? c : Array.isArray(c) ? c.map((x) => x?.text ?? "").join("\n") : "";
        out.push({ role: "tool", content: result });
        break;
      }
      case "image":
      case "document":
        extra += NON_TEXT_PART_TOKENS;
        break;
      default:
        throw invalid(`messages[${i}]: unsupported content block type '${String(b.type)}'.`, "messages");
    }
  }
  if (text !== "" || extra > 0) {
    const msg: ChatMessage = { role: m.role, content: text };
    if (extra > 0) msg.extraTokens = extra;
    out.push(msg);
  }
}

function conversation(body: { system?: Schemas["System"]; messages: Schemas["InputMessage"][] }): ChatMessage[] {
  const out: ChatMessage[] = [];
  const system = systemText(body.system);
  if (system) out.push({ role: "system", content: system });
  body.messages.forEach((m, i) => {
    turns(m, i, out);
  });
  if (out.length === 0) throw invalid("messages must not be empty.", "messages");
  return out;
}

function toolsOf(tools: Schemas["Tool"][] | null | undefined): ToolDefinition[] | null {
  if (!tools) return null;
  return tools.map((t) => {
    const def: ToolDefinition = { name: t.name };
    if (typeof t.description === "string") def.description = t.description;
    if (t.input_schema) def.parameters = t.input_schema;
    return def;
  });
}

function toolChoiceOf(c: Schemas["MessagesRequest"]["tool_choice"]): ToolChoice | null {
  if (!c) return null;
  if (c.type === "auto" || c.type === "none") return c.type;
  if (c.type === "any") return "required";
  if (c.type === "tool" && c.name) return { name: c.name };
  throw invalid("tool_choice of type tool needs a name.", "tool_choice");
}

export function messagesRequest(body: Schemas["MessagesRequest"], headers: LlmRequest["headers"]): LlmRequest {
  const req: LlmRequest = {
    api: "chat",
    model: body.model,
    messages: conversation(body),
    maxTokens: body.max_tokens,
    ignoreEos: body.ignore_eos ?? null,
    stop: body.stop_sequences ?? null,
    tools: toolsOf(body.tools),
    toolChoice: toolChoiceOf(body.tool_choice),
    parallelToolCalls: body.tool_choice?.disable_parallel_tool_use === true ? false : null,
    stream: body.stream === true,
    headers,
  };
  // thinking disabled closes the think block as Qwen3's enable_thinking: false does
  if (body.thinking?.type === "disabled") req.chatTemplateKwargs = { enable_thinking: false };
  return req;
}

function stopReason(choice: ChoicePlan | undefined): MessageBody["stop_reason"] {
  switch (choice?.finishReason) {
    case "length":
      return "max_tokens";
    case "tool_calls":
      return "tool_use";
    default:
      return "end_turn";
  }
}

function usage(job: LlmJob, output: number): MessageBody["usage"] {
  return {
    input_tokens: job.plan.promptTokens - job.cachedTokens,
    output_tokens: output,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: job.cachedTokens,
  };
}

function toolInput(args: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(args);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function messageId(job: LlmJob): string {
  return `msg_${job.id}`;
}

export function messageBody(job: LlmJob): MessageBody {
  const choice = job.plan.choices[0];
  const content: Block[] = [];
  if (choice) {
    if (choice.reasoning.length > 0)
      content.push({ type: "thinking", thinking: choice.reasoning.join(""), signature: "" });
    if (choice.content.length > 0 || choice.toolCalls.length === 0)
      content.push({ type: "text", text: choice.content.join("") });
    for (const c of choice.toolCalls)
      content.push({ type: "tool_use", id: c.id, name: c.name, input: toolInput(c.arguments) });
  }
  return {
    id: messageId(job),
    type: "message",
    role: "assistant",
    model: job.plan.model.requested,
    content,
    stop_reason: stopReason(choice),
    stop_sequence: null,
    usage: usage(job, job.completionTokens()),
  };
}

/** Anthropic's streaming events for one job; every firing's events leave in one write. */
export class MessagesStream implements JobSink, ItemStream<LlmJob> {
  private started = false;
  itemKind = ITEM_NONE;
  itemCall = -1;
  private index = -1;

  constructor(private readonly sse: SseStream) {}

  private event(type: string, fields: Record<string, unknown>): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;
  }

  private begin(job: LlmJob): string {
    this.started = true;
    const message = { ...messageBody(job), content: [], stop_reason: null, usage: usage(job, 0) };
    return this.event("message_start", { message });
  }

  private open(choice: ChoicePlan, kind: number, call: number): string {
    this.itemKind = kind;
    this.itemCall = call;
    this.index++;
    let block: Record<string, unknown>;
    if (kind === STEP_REASONING) block = { type: "thinking", thinking: "", signature: "" };
    else if (kind === STEP_CONTENT) block = { type: "text", text: "" };
    else {
      const c = choice.toolCalls[call];
      block = { type: "tool_use", id: c?.id ?? "", name: c?.name ?? "", input: {} };
    }
    return this.event("content_block_start", { index: this.index, content_block: block });
  }

  private close(): string {
    if (this.itemKind === ITEM_NONE) return "";
    let out = "";
    if (this.itemKind === STEP_REASONING) {
      out += this.event("content_block_delta", {
        index: this.index,
        delta: { type: "signature_delta", signature: "" },
      });
    }
    this.itemKind = ITEM_NONE;
    return out + this.event("content_block_stop", { index: this.index });
  }

  switchItem(_job: LlmJob, choice: ChoicePlan, kind: number, call: number): string {
    return this.close() + this.open(choice, kind, call);
  }

  piece(kind: number, piece: string): string {
    if (piece === "") return "";
    const d =
      kind === STEP_REASONING
        ? `{"type":"thinking_delta","thinking":"${escapeJson(piece)}"}`
        : kind === STEP_CONTENT
          ? `{"type":"text_delta","text":"${escapeJson(piece)}"}`
          : `{"type":"input_json_delta","partial_json":"${escapeJson(piece)}"}`;
    return `event: content_block_delta\ndata: {"type":"content_block_delta","index":${this.index},"delta":${d}}\n\n`;
  }

  onTokens(job: LlmJob, from: number, to: number): void {
    let out = this.started ? "" : this.begin(job);
    const choice = job.plan.choices[0];
    if (choice) out += walkItems(this, job, choice, from, to);
    this.sse.write(out);
  }

  onDone(job: LlmJob): void {
    let out = this.started ? "" : this.begin(job);
    const choice = job.plan.choices[0];
    out += this.close();
    // an answer without text or tool calls still has its (empty) text block
    if (this.index < 0 && choice) out += this.open(choice, STEP_CONTENT, -1) + this.close();
    out += this.event("message_delta", {
      delta: { stop_reason: stopReason(choice), stop_sequence: null },
      usage: { output_tokens: job.completionTokens() },
    });
    this.sse.end(`${out}${this.event("message_stop", {})}`);
  }

  onError(_job: LlmJob, err: DecoyError): void {
    this.sse.end(this.event("error", { error: anthropicErrorBody(err).error }));
  }
}

export function anthropicHandlers(ctx: AppContext): OperationHandlers {
  return {
    createMessage: (request, reply) => {
      const body = request.body as Schemas["MessagesRequest"];
      return runLlm(
        ctx,
        reply,
        messagesRequest(body, (request as FastifyRequest).headers as LlmRequest["headers"]),
        (sse) => new MessagesStream(sse),
        messageBody,
      );
    },

    countMessageTokens: (request) => {
      const body = request.body as Schemas["CountTokensRequest"];
      const model = ctx.llm.models.resolve(body.model, "llm");
      const tok = ctx.llm.tokenizerFor(model);
      const messages = conversation(body);
      let extra = 0;
      for (const m of messages) extra += m.extraTokens ?? 0;
      return { input_tokens: chatPrompt(tok, messages, toolsOf(body.tools)).tokens + extra };
    },
  };
}
