/**
 * One OpenAI-compatible request, timed: chat or text completions, responses or Anthropic
 * messages (streamed over SSE or not) and embeddings. Token events are timestamped as their bytes arrive, which is what TTFT and
 * inter-token latency are computed from.
 */
import { describeError } from "../loadgen/common/cli.js";
import { describeHttpStatus, type HttpClient } from "../loadgen/common/http.js";

export type EndpointType = "chat" | "completions" | "responses" | "messages" | "embeddings";
export const ENDPOINT_TYPES: readonly EndpointType[] = ["chat", "completions", "responses", "messages", "embeddings"];

export const ENDPOINT_PATHS: Record<EndpointType, string> = {
  chat: "/v1/chat/completions",
  completions: "/v1/completions",
  responses: "/v1/responses",
  messages: "/v1/messages",
  embeddings: "/v1/embeddings",
};

export interface RequestSpec {
  model: string;
  endpointType: EndpointType;
  streaming: boolean;
  prompt: string;
  maxTokens?: number | undefined;
  ignoreEos: boolean;
  extraInputs: Record<string, unknown>;
}

export function buildBody(spec: RequestSpec): Record<string, unknown> {
  if (spec.endpointType === "embeddings") return { model: spec.model, input: spec.prompt, ...spec.extraInputs };
  if (spec.endpointType === "messages") {
    // Anthropic requires max_tokens; without a configured length ask for the context's worth
    const m: Record<string, unknown> = {
      model: spec.model,
      max_tokens: spec.maxTokens ?? 4096,
      messages: [{ role: "user", content: spec.prompt }],
    };
    if (spec.maxTokens !== undefined && spec.ignoreEos) m.ignore_eos = true;
    if (spec.streaming) m.stream = true;
    return { ...m, ...spec.extraInputs };
  }
  if (spec.endpointType === "responses") {
    const r: Record<string, unknown> = { model: spec.model, input: spec.prompt };
    if (spec.maxTokens !== undefined) {
      r.max_output_tokens = spec.maxTokens;
      if (spec.ignoreEos) r.ignore_eos = true;
    }
    if (spec.streaming) r.stream = true;
    return { ...r, ...spec.extraInputs };
  }
  const body: Record<string, unknown> =
    spec.endpointType === "chat"
      ? { model: spec.model, messages: [{ role: "user", content: spec.prompt }] }
      : { model: spec.model, prompt: spec.prompt };
  if (spec.maxTokens !== undefined) {
    body.max_tokens = spec.maxTokens;
    // vLLM/TGI extension: generate exactly max_tokens so output lengths follow the configuration.
    if (spec.ignoreEos) body.ignore_eos = true;
  }
  if (spec.streaming) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return { ...body, ...spec.extraInputs };
}

export interface Timing {
  /** performance.now() the latency is measured from: the scheduled send in rate mode (or the send, if earlier). */
  origin: number;
  /** performance.now() at the actual send. */
  sentAt: number;
  doneAt: number;
  firstTokenAt?: number;
  /** Arrival times of content-bearing chunks. */
  tokenTimes: number[];
}

export interface Usage {
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
}

export interface RequestOutcome {
  ok: boolean;
  status?: number;
  error?: string;
  timing: Timing;
  usage: Usage;
  /** Content chunks seen (streaming) — the output length when usage is missing. */
  chunks: number;
}

/** Usage in the Chat/Completions shape (prompt/completion tokens) or the Responses one (input/output). */
function readUsage(u: unknown, into: Usage): void {
  if (!u || typeof u !== "object") return;
  const usage = u as {
    prompt_tokens?: unknown;
    completion_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
    input_tokens?: unknown;
    output_tokens?: unknown;
    input_tokens_details?: { cached_tokens?: unknown } | null;
  };
  const prompt = usage.prompt_tokens ?? usage.input_tokens;
  const completion = usage.completion_tokens ?? usage.output_tokens;
  if (typeof prompt === "number") into.promptTokens = prompt;
  if (typeof completion === "number") into.completionTokens = completion;
  const cached = (usage.prompt_tokens_details ?? usage.input_tokens_details)?.cached_tokens;
  if (typeof cached === "number") into.cachedTokens = cached;
}

/** Responses API stream events that carry generated tokens, and those that end the stream. */
const RESPONSE_DELTAS = new Set([
  "response.output_text.delta",
  "response.reasoning_text.delta",
  "response.function_call_arguments.delta",
]);
const RESPONSE_ENDS = new Set(["response.completed", "response.incomplete", "message_stop"]);

/** Text carried by one streamed chunk (chat delta, reasoning delta, completion text or a Responses delta). */
function chunkText(doc: unknown): string {
  const ev = doc as { type?: unknown; delta?: unknown };
  if (ev.type === "content_block_delta") {
    // Anthropic: text, thinking or tool-input deltas
    const d = ev.delta as { text?: unknown; thinking?: unknown; partial_json?: unknown } | undefined;
    const t = d?.text ?? d?.thinking ?? d?.partial_json;
    return typeof t === "string" ? t : "";
  }
  if (typeof ev.type === "string") return RESPONSE_DELTAS.has(ev.type) && typeof ev.delta === "string" ? ev.delta : "";
  const choices = (doc as { choices?: unknown }).choices;
  if (!Array.isArray(choices) || choices.length === 0) return "";
  const c = choices[0] as {
    delta?: { content?: unknown; reasoning_content?: unknown; reasoning?: unknown };
    text?: unknown;
  };
  const parts = [c.delta?.content, c.delta?.reasoning_content, c.delta?.reasoning, c.text];
  return parts.filter((p): p is string => typeof p === "string").join("");
}

export interface SendOptions {
  path: string;
  /** Where latency is measured from; the actual send when undefined. */
  origin: number | undefined;
  timeoutMs: number;
  signal: AbortSignal;
}

export async function sendRequest(client: HttpClient, spec: RequestSpec, opts: SendOptions): Promise<RequestOutcome> {
  const body = JSON.stringify(buildBody(spec));
  const sentAt = performance.now();
  // Timers fire up to ~1 ms before their due time: a request sent early is timed from its send,
  // so latency is never measured from a point after the server already had the request.
  const origin = opts.origin === undefined ? sentAt : Math.min(opts.origin, sentAt);
  const timing: Timing = { origin, sentAt, doneAt: 0, tokenTimes: [] };
  const usage: Usage = {};
  let chunks = 0;
  let streamError: string | undefined;
  let sawDone = false;
  const decoder = new TextDecoder();
  let buffer = "";

  const handleEvent = (event: string, at: number): void => {
    let data = "";
    for (const line of event.split(/\r?\n/)) {
      if (line.startsWith("data:")) data += line.slice(line.startsWith("data: ") ? 6 : 5);
    }
    if (!data) return;
    if (data.trim() === "[DONE]") {
      sawDone = true;
      return;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(data);
    } catch {
      streamError ??= "malformed SSE data (not JSON)";
      return;
    }
    const type = (doc as { type?: unknown }).type;
    if (type === "error" || type === "response.failed") {
      const e = doc as { message?: unknown; error?: { message?: unknown } };
      const message = e.message ?? e.error?.message;
      streamError ??= typeof message === "string" ? `stream error: ${message}` : "stream error";
      return;
    }
    if (typeof type === "string" && RESPONSE_ENDS.has(type)) {
      // the Responses API ends with the whole response (and its usage) instead of [DONE]
      sawDone = true;
      readUsage((doc as { response?: { usage?: unknown } }).response?.usage, usage);
      return;
    }
    const err = (doc as { error?: unknown }).error;
    if (err) {
      streamError ??=
        typeof err === "object" && typeof (err as { message?: unknown }).message === "string"
          ? `stream error: ${(err as { message: string }).message}`
          : "stream error";
      return;
    }
    readUsage((doc as { usage?: unknown }).usage, usage);
    // Anthropic's message_start carries the input tokens, message_delta the output tokens
    readUsage((doc as { message?: { usage?: unknown } }).message?.usage, usage);
    if (chunkText(doc).length > 0) {
      chunks++;
      timing.firstTokenAt ??= at;
      timing.tokenTimes.push(at);
    }
  };

  const streaming = spec.streaming && spec.endpointType !== "embeddings";
  try {
    const res = await client.request({
      method: "POST",
      path: opts.path,
      headers: { "content-type": "application/json", accept: streaming ? "text/event-stream" : "application/json" },
      body,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      onChunk: streaming
        ? (chunk, at) => {
            buffer += decoder.decode(chunk, { stream: true });
            for (;;) {
              const m = /\r?\n\r?\n/.exec(buffer);
              if (!m) break;
              const event = buffer.slice(0, m.index);
              buffer = buffer.slice(m.index + m[0].length);
              handleEvent(event, at);
            }
          }
        : undefined,
    });
    const status = res.status;
    timing.doneAt = performance.now();
    if (status < 200 || status >= 300) {
      return { ok: false, status, error: describeHttpStatus(res.status, res.body), timing, usage, chunks };
    }
    if (streaming) {
      if (buffer.trim()) handleEvent(buffer, timing.doneAt);
      if (streamError) return { ok: false, status, error: streamError, timing, usage, chunks };
      if (!sawDone && chunks === 0)
        return { ok: false, status, error: "stream ended without data", timing, usage, chunks };
      return { ok: true, status, timing, usage, chunks };
    }
    let doc: unknown;
    try {
      doc = JSON.parse(res.body.toString("utf8"));
    } catch {
      return { ok: false, status, error: "response is not JSON", timing, usage, chunks };
    }
    readUsage((doc as { usage?: unknown }).usage, usage);
    return { ok: true, status, timing, usage, chunks };
  } catch (err) {
    timing.doneAt = performance.now();
    return { ok: false, error: describeError(err), timing, usage, chunks };
  }
}
