import type { components } from "../../../gen/openapi/openai.js";
import { DecoyError } from "../../engine/errors.js";
import { NON_TEXT_PART_TOKENS } from "../../engine/llm/chat-template.js";
import type { JobSink, LlmJob } from "../../engine/llm/job.js";
import {
  ITEM_NONE,
  type ItemStream,
  STEP_CONTENT,
  STEP_REASONING,
  STEP_TOOL_START,
  walkItems,
} from "../../engine/llm/steps.js";
import type {
  ChatMessage,
  ChoicePlan,
  LlmRequest,
  ResponseFormat,
  ToolChoice,
  ToolDefinition,
} from "../../engine/llm/types.js";
import { openAiErrorBody } from "../errors.js";
import { escapeJson, type SseStream } from "../sse.js";

/**
 * The OpenAI Responses API as vLLM serves it (`POST /v1/responses`): the same engine job as a
 * chat completion, shown as output items — a `reasoning` item (reasoning models), a `message`
 * with one `output_text` part, and a `function_call` item per tool call — with `input_tokens` /
 * `output_tokens` usage. Streams are named SSE events (`event: response.output_text.delta`),
 * each carrying its `type` and a `sequence_number`, from `response.created` to
 * `response.completed` (or `response.incomplete` when max_output_tokens cut the answer).
 */

type Schemas = components["schemas"];
type ResponseBody = Schemas["Response"];
type OutputItem = Schemas["ResponseOutputItem"];

function invalidInput(message: string): DecoyError {
  return new DecoyError("INVALID_ARGUMENT", message, { param: "input", type: "BadRequestError" });
}

/** One input item as a chat message (function calls and their outputs as the text they add). */
function itemMessage(item: Record<string, unknown>, i: number): ChatMessage {
  if (item.type === "function_call") {
    return { role: "assistant", content: JSON.stringify({ name: item.name, arguments: item.arguments }) };
  }
  if (item.type === "function_call_output") {
    const out = item.output;
    return { role: "tool", content: typeof out === "string" ? out : JSON.stringify(out ?? "") };
  }
  if (item.type !== undefined && item.type !== "message") {
    throw invalidInput(`input[${i}]: unsupported item type '${String(item.type)}'.`);
  }
  const role = item.role;
  if (role !== "user" && role !== "assistant" && role !== "system" && role !== "developer") {
    throw invalidInput(`input[${i}].role must be user, assistant, system or developer.`);
  }
  let text = "";
  let extra = 0;
  const c = item.content;
  if (typeof c === "string") text = c;
  else if (Array.isArray(c)) {
    for (const part of c as Record<string, unknown>[]) {
      if (typeof part?.text === "string") text += text === "" ? part.text : `\n${part.text}`;
      else extra += NON_TEXT_PART_TOKENS;
    }
  } else throw invalidInput(`input[${i}].content must be a string or a list of content parts.`);
  // chat templates know system, not developer (vLLM renders it as a system turn)
  const msg: ChatMessage = { role: role === "developer" ? "system" : role, content: text };
  if (extra > 0) msg.extraTokens = extra;
  return msg;
}

function toolChoiceOf(choice: unknown): ToolChoice | null {
  if (choice === null || choice === undefined) return null;
  if (choice === "none" || choice === "auto" || choice === "required") return choice;
  const name = (choice as { name?: unknown } | null)?.name;
  if (typeof name === "string" && name !== "") return { name };
  throw new DecoyError("INVALID_ARGUMENT", "tool_choice must be none, auto, required or a function by name.", {
    param: "tool_choice",
    type: "BadRequestError",
  });
}

function formatOf(text: Schemas["ResponsesRequest"]["text"]): ResponseFormat | null {
  const f = text?.format;
  if (!f || f.type === "text") return null;
  if (f.type === "json_schema") return { type: "json_schema", schema: f.schema ?? { type: "object" } };
  return { type: "json_object" };
}

/** A Responses API call as an engine request, and the conversation it continues. */
export interface ResponsesCall {
  request: LlmRequest;
  /** Earlier turns (from previous_response_id) and this input, without the instructions. */
  conversation: ChatMessage[];
}

/**
 * The engine request of a Responses API call: instructions as a system turn, then the turns of
 * the response it continues (`history`), then the input. Instructions are not carried over
 * from earlier responses, as in OpenAI's API.
 */
export function responsesRequest(
  body: Schemas["ResponsesRequest"],
  headers: LlmRequest["headers"],
  history: readonly ChatMessage[] = [],
): ResponsesCall {
  const input: ChatMessage[] = [];
  if (typeof body.input === "string") input.push({ role: "user", content: body.input });
  else for (let i = 0; i < body.input.length; i++) input.push(itemMessage(body.input[i] as Record<string, unknown>, i));
  if (input.length === 0) throw invalidInput("input must not be empty.");
  const conversation = [...history, ...input];
  const messages: ChatMessage[] = body.instructions
    ? [{ role: "system", content: body.instructions }, ...conversation]
    : conversation;
  const tools: ToolDefinition[] | null = body.tools
    ? body.tools
        .filter((t) => t.type === "function" && typeof t.name === "string")
        .map((t) => {
          const def: ToolDefinition = { name: t.name as string };
          if (typeof t.description === "string") def.description = t.description;
          if (t.parameters) def.parameters = t.parameters;
          return def;
        })
    : null;
  const request: LlmRequest = {
    api: "chat",
    model: body.model ?? undefined,
    messages,
    maxTokens: body.max_output_tokens ?? null,
    minTokens: body.min_tokens ?? null,
    ignoreEos: body.ignore_eos ?? null,
    seed: body.seed ?? null,
    reasoningEffort: body.reasoning?.effort ?? null,
    tools,
    toolChoice: toolChoiceOf(body.tool_choice),
    parallelToolCalls: body.parallel_tool_calls ?? null,
    responseFormat: formatOf(body.text),
    stream: body.stream === true,
    headers,
  };
  return { request, conversation };
}

/** The conversation after a finished job: its answer (text, tool calls) as assistant turns. */
export function conversationAfter(conversation: readonly ChatMessage[], job: LlmJob): ChatMessage[] {
  const out = [...conversation];
  const choice = job.plan.choices[0];
  if (!choice) return out;
  if (choice.content.length > 0) out.push({ role: "assistant", content: choice.content.join("") });
  for (const c of choice.toolCalls) {
    out.push({ role: "assistant", content: JSON.stringify({ name: c.name, arguments: c.arguments }) });
  }
  return out;
}

/** What a response echoes of its request, the same in every event that carries the response. */
export interface ResponseEcho {
  instructions: string | null;
  metadata: Record<string, unknown> | null;
  temperature: number;
  topP: number;
  toolChoice: unknown;
  tools: unknown[];
  parallelToolCalls: boolean;
  maxOutputTokens: number | null;
  previousResponseId: string | null;
  reasoning: Record<string, unknown> | null;
  text: Record<string, unknown>;
  store: boolean;
  user: string | null;
}

export function responseEcho(body: Schemas["ResponsesRequest"]): ResponseEcho {
  return {
    instructions: body.instructions ?? null,
    metadata: body.metadata ?? null,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    toolChoice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    parallelToolCalls: body.parallel_tool_calls ?? true,
    maxOutputTokens: body.max_output_tokens ?? null,
    previousResponseId: body.previous_response_id ?? null,
    reasoning: body.reasoning ?? null,
    text: body.text ?? { format: { type: "text" } },
    store: body.store ?? true,
    user: body.user ?? null,
  };
}

function usage(job: LlmJob): NonNullable<ResponseBody["usage"]> {
  const plan = job.plan;
  const output = job.completionTokens();
  const choice = plan.choices[0];
  const reasoning = choice && plan.reasoning ? Math.min(choice.reasoning.length, job.emitted) : 0;
  return {
    input_tokens: plan.promptTokens,
    input_tokens_details: { cached_tokens: job.cachedTokens },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: plan.promptTokens + output,
  };
}

export function envelope(
  job: LlmJob,
  echo: ResponseEcho,
  status: ResponseBody["status"],
  output: OutputItem[],
  withUsage: boolean,
): ResponseBody {
  const incomplete = status === "incomplete";
  return {
    id: `resp_${job.id}`,
    object: "response",
    created_at: job.created,
    model: job.plan.model.requested,
    status,
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    error: null,
    instructions: echo.instructions,
    metadata: echo.metadata,
    output,
    parallel_tool_calls: echo.parallelToolCalls,
    temperature: echo.temperature,
    top_p: echo.topP,
    tool_choice: echo.toolChoice as NonNullable<ResponseBody["tool_choice"]>,
    tools: echo.tools,
    max_output_tokens: echo.maxOutputTokens,
    previous_response_id: echo.previousResponseId,
    reasoning: echo.reasoning,
    text: echo.text,
    truncation: "disabled",
    background: false,
    service_tier: "auto",
    store: echo.store,
    user: echo.user,
    usage: withUsage ? usage(job) : null,
  };
}

/** A job's final status: max_output_tokens (finish reason length) leaves it incomplete. */
function statusOf(choice: ChoicePlan | undefined, emitted: number): ResponseBody["status"] {
  if (!choice) return "completed";
  return choice.finishReason === "length" && emitted >= choice.steps ? "incomplete" : "completed";
}

function reasoningItem(job: LlmJob, text: string, done: boolean): OutputItem {
  return {
    id: `rs_${job.id}`,
    type: "reasoning",
    summary: [],
    content: done ? [{ type: "reasoning_text", text, annotations: [] }] : [],
    encrypted_content: null,
    status: done ? "completed" : "in_progress",
  };
}

function messageItem(
  job: LlmJob,
  text: string | undefined,
  status: "in_progress" | "completed" | "incomplete",
): OutputItem {
  return {
    id: `msg_${job.id}`,
    type: "message",
    role: "assistant",
    status,
    content: text === undefined ? [] : [{ type: "output_text", text, annotations: [], logprobs: [] }],
  };
}

function callItem(job: LlmJob, choice: ChoicePlan, k: number, args: string, done: boolean): OutputItem {
  const call = choice.toolCalls[k];
  return {
    id: `fc_${job.id}_${k}`,
    type: "function_call",
    call_id: call?.id ?? "",
    name: call?.name ?? "",
    arguments: args,
    status: done ? "completed" : "in_progress",
  };
}

/** The whole response of a finished job (non-streaming). */
export function responseBody(job: LlmJob, echo: ResponseEcho): ResponseBody {
  const choice = job.plan.choices[0];
  const output: OutputItem[] = [];
  if (choice) {
    if (choice.reasoning.length > 0) output.push(reasoningItem(job, choice.reasoning.join(""), true));
    // a message cut by max_output_tokens is itself incomplete, as OpenAI reports it
    const last = statusOf(choice, job.emitted) === "incomplete" && choice.toolCalls.length === 0;
    if (choice.toolCalls.length === 0 || choice.content.length > 0)
      output.push(messageItem(job, choice.content.join(""), last ? "incomplete" : "completed"));
    choice.toolCalls.forEach((c, k) => {
      output.push(callItem(job, choice, k, c.arguments, true));
    });
  }
  return envelope(job, echo, statusOf(choice, job.emitted), output, true);
}

/**
 * A Responses API stream. Items open and close as the job's steps move from reasoning to
 * content to tool calls; every firing's events leave in one write. Delta events are built
 * from pre-escaped parts; the few structural events (an item opening or closing, the
 * response itself) go through JSON.stringify.
 */
export class ResponsesStream implements JobSink, ItemStream<LlmJob> {
  private seq = 0;
  private started = false;
  /** Kind of the open item (a STEP_* constant; tool args belong to STEP_TOOL_START's item). */
  itemKind = ITEM_NONE;
  itemCall = -1;
  private itemId = "";
  private outputIndex = -1;
  private pieces: string[] = [];
  private readonly output: OutputItem[] = [];

  constructor(
    private readonly sse: SseStream,
    private readonly echo: ResponseEcho,
    /** Told the final response (to store it). */
    private readonly onFinal?: (response: ResponseBody, job: LlmJob) => void,
  ) {}

  private event(type: string, fields: Record<string, unknown>): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.seq++, ...fields })}\n\n`;
  }

  private delta(type: string, withContentIndex: boolean, piece: string): string {
    const index = withContentIndex ? `,"content_index":0` : "";
    const tail = type === "response.output_text.delta" ? `,"logprobs":[]}` : "}";
    return `event: ${type}\ndata: {"type":"${type}","sequence_number":${this.seq++},"item_id":"${this.itemId}","output_index":${this.outputIndex}${index},"delta":"${escapeJson(piece)}"${tail}\n\n`;
  }

  private open(job: LlmJob, choice: ChoicePlan, kind: number, call: number): string {
    this.itemKind = kind;
    this.itemCall = call;
    this.pieces = [];
    this.outputIndex = this.output.length;
    let item: OutputItem;
    let part: Record<string, unknown> | undefined;
    if (kind === STEP_REASONING) {
      item = reasoningItem(job, "", false);
      part = { type: "reasoning_text", text: "" };
    } else if (kind === STEP_CONTENT) {
      item = messageItem(job, undefined, "in_progress");
      part = { type: "output_text", text: "", annotations: [], logprobs: [] };
    } else item = callItem(job, choice, call, "", false);
    this.itemId = item.id;
    this.output.push(item);
    let out = this.event("response.output_item.added", { output_index: this.outputIndex, item });
    if (part) {
      out += this.event("response.content_part.added", {
        item_id: this.itemId,
        output_index: this.outputIndex,
        content_index: 0,
        part,
      });
    }
    return out;
  }

  /** Close the open item; `cut`: the answer ends here, cut by max_output_tokens. */
  private close(job: LlmJob, choice: ChoicePlan, cut = false): string {
    const kind = this.itemKind;
    if (kind === ITEM_NONE) return "";
    this.itemKind = ITEM_NONE;
    const text = this.pieces.join("");
    const at = { item_id: this.itemId, output_index: this.outputIndex };
    let out = "";
    let item: OutputItem;
    if (kind === STEP_TOOL_START) {
      item = callItem(job, choice, this.itemCall, text, true);
      const name = choice.toolCalls[this.itemCall]?.name ?? "";
      out += this.event("response.function_call_arguments.done", { ...at, name, arguments: text });
    } else {
      const reasoning = kind === STEP_REASONING;
      const part = reasoning
        ? { type: "reasoning_text", text }
        : { type: "output_text", text, annotations: [], logprobs: [] };
      out += this.event(reasoning ? "response.reasoning_text.done" : "response.output_text.done", {
        ...at,
        content_index: 0,
        text,
        ...(reasoning ? {} : { logprobs: [] }),
      });
      out += this.event("response.content_part.done", { ...at, content_index: 0, part });
      item = reasoning ? reasoningItem(job, text, true) : messageItem(job, text, cut ? "incomplete" : "completed");
    }
    this.output[this.outputIndex] = item;
    out += this.event("response.output_item.done", { output_index: this.outputIndex, item });
    return out;
  }

  private begin(job: LlmJob): string {
    this.started = true;
    const response = envelope(job, this.echo, "in_progress", [], false);
    return this.event("response.created", { response }) + this.event("response.in_progress", { response });
  }

  onTokens(job: LlmJob, from: number, to: number): void {
    let out = this.started ? "" : this.begin(job);
    const choice = job.plan.choices[0];
    if (choice) out += walkItems(this, job, choice, from, to);
    this.sse.write(out);
  }

  switchItem(job: LlmJob, choice: ChoicePlan, kind: number, call: number): string {
    return this.close(job, choice) + this.open(job, choice, kind, call);
  }

  piece(kind: number, piece: string): string {
    this.pieces.push(piece);
    if (kind === STEP_REASONING) return this.delta("response.reasoning_text.delta", true, piece);
    if (kind === STEP_CONTENT) return this.delta("response.output_text.delta", true, piece);
    return this.delta("response.function_call_arguments.delta", false, piece);
  }

  onDone(job: LlmJob): void {
    let out = this.started ? "" : this.begin(job);
    const choice = job.plan.choices[0];
    const status = statusOf(choice, job.emitted);
    if (choice) {
      out += this.close(job, choice, status === "incomplete");
      // an answer with no text still has its (empty) message, as a non-streamed one does
      if (this.output.every((i) => i.type !== "message") && choice.toolCalls.length === 0) {
        out += this.open(job, choice, STEP_CONTENT, -1) + this.close(job, choice);
      }
    }
    const response = envelope(job, this.echo, status, this.output, true);
    this.onFinal?.(response, job);
    out += this.event(status === "incomplete" ? "response.incomplete" : "response.completed", { response });
    this.sse.end(out);
  }

  onError(_job: LlmJob, err: DecoyError): void {
    const e = openAiErrorBody(err).error;
    this.sse.end(
      this.event("error", { code: e.code === null ? null : String(e.code), message: e.message, param: e.param }),
    );
  }
}
