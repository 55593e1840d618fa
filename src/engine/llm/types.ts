import type { FinishedReason } from "../events.js";
import type { JsonSchema } from "./json-gen.js";
import type { ResolvedModel } from "./models.js";

/**
 * The engine's view of an LLM request, converted from the wire by each transport
 * (OpenAI chat/completions, Triton generate, KServe ModelInfer). Nothing here knows HTTP.
 */

export type LlmApi = "chat" | "completion" | "generate";

export interface ChatMessage {
  role: string;
  /** Text content; content parts are joined by the transport (non-text parts are counted, not read). */
  content: string;
  /** Extra prompt tokens for non-text parts (images, audio) and tool-call history. */
  extraTokens?: number | undefined;
}

/** A completion prompt: text, or token ids. */
export type PromptInput = string | readonly number[];

export interface ToolDefinition {
  name: string;
  description?: string | undefined;
  parameters?: JsonSchema | undefined;
}

export type ToolChoice = "none" | "auto" | "required" | { name: string };

export interface ResponseFormat {
  type: "text" | "json_object" | "json_schema";
  schema?: JsonSchema | undefined;
}

export interface LlmRequest {
  api: LlmApi;
  model?: string | undefined;
  messages?: ChatMessage[] | undefined;
  prompts?: PromptInput[] | undefined;
  /** max_tokens / max_completion_tokens; null or undefined = up to the context window. */
  maxTokens?: number | null | undefined;
  minTokens?: number | null | undefined;
  ignoreEos?: boolean | null | undefined;
  n?: number | null | undefined;
  stop?: string[] | null | undefined;
  seed?: number | null | undefined;
  /** Alternatives per token (chat top_logprobs, completions logprobs); null = no logprobs. */
  logprobs?: number | null | undefined;
  /** vLLM's prompt_logprobs: alternatives per prompt token; null = none. */
  promptLogprobs?: number | null | undefined;
  /** Completions `echo`: the prompt is part of the returned text. */
  echo?: boolean | null | undefined;
  /**
   * vLLM's `add_special_tokens`: BOS/EOS around text prompts. Null or undefined: vLLM's
   * default, true for completions and false for chat (its template carries them).
   */
  addSpecialTokens?: boolean | null | undefined;
  reasoningEffort?: string | null | undefined;
  /** vLLM's chat_template_kwargs: template variables (enable_thinking, thinking, ...). */
  chatTemplateKwargs?: Record<string, unknown> | null | undefined;
  tools?: ToolDefinition[] | null | undefined;
  toolChoice?: ToolChoice | null | undefined;
  parallelToolCalls?: boolean | null | undefined;
  responseFormat?: ResponseFormat | null | undefined;
  /** vLLM's P/D fields, passed through as the client sent them. */
  kvTransferParams?: Record<string, unknown> | null | undefined;
  stream: boolean;
  /** Lower-cased request headers (HTTP) or metadata (gRPC), for hooks such as forced errors. */
  headers?: Readonly<Record<string, string | string[] | undefined>> | undefined;
}

export interface ToolCallPlan {
  id: string;
  name: string;
  /** The arguments JSON text. */
  arguments: string;
  /** `arguments` split into token pieces (streamed one delta per token). */
  argumentPieces: string[];
}

export type FinishReason = "stop" | "length" | "tool_calls" | "remote_decode";

/** One choice's output, as token pieces laid out on the job's step timeline. */
export interface ChoicePlan {
  index: number;
  /** Which prompt of a multi-prompt completion this choice answers. */
  promptIndex: number;
  reasoning: string[];
  content: string[];
  toolCalls: ToolCallPlan[];
  finishReason: FinishReason;
  /** Tokens this choice produces: reasoning + content + one per tool call (its name) + argument pieces. */
  steps: number;
  /** Per step, a deterministic log-probability (only when the request asked for logprobs). */
  logprobs: number[] | undefined;
}

export interface PromptPlan {
  /** Text as tokenized (the chat template applied for chat requests). */
  text: string;
  /** Token ids when the client sent ids. */
  ids: readonly number[] | undefined;
  tokens: number;
  /** Whether `tokens` counts the tokenizer's BOS/EOS around `text` (add_special_tokens). */
  special: boolean;
  /** `hashString(text)`: what deterministic output is seeded from. */
  hash: number;
}

export interface LlmPlan {
  api: LlmApi;
  model: ResolvedModel;
  prompts: PromptPlan[];
  promptTokens: number;
  choices: ChoicePlan[];
  /** Length of the job's timeline: the longest choice. */
  steps: number;
  /** The request's max_tokens, if any. */
  maxTokens: number | undefined;
  n: number;
  /** Alternatives per token when logprobs were requested. */
  topLogprobs: number | undefined;
  /** Alternatives per prompt token when prompt_logprobs were requested. */
  promptLogprobs: number | undefined;
  /** Whether reasoning tokens are reported in usage. */
  reasoning: boolean;
  /** P/D decode side: KV transfer instead of prefill. */
  remotePrefill: boolean;
  /** P/D prefill side: finish with remote_decode and hand back transfer params. */
  remoteDecode: boolean;
  /** kv_transfer_params for the response, or null. */
  kvTransferParams: Record<string, unknown> | null;
  /** Completions `echo`. */
  echo: boolean;
  /** Completions `echo` with max_tokens 0: the text is the prompt alone (one token is still generated). */
  echoOnly: boolean;
  /** The tokenizer's name (reported by /tokenize and in stats). */
  tokenizer: string;
}

/** Outcome of one request for telemetry and hooks. */
export type JobOutcome = FinishedReason;
