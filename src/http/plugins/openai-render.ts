import type { components } from "../../../gen/openapi/openai.js";
import type { DecoyError } from "../../engine/errors.js";
import type { JobSink, LlmJob } from "../../engine/llm/job.js";
import { promptLogprobs, topAlternatives } from "../../engine/llm/plan.js";
import {
  contentText,
  pieceAt,
  STEP_CONTENT,
  STEP_REASONING,
  STEP_TOOL_START,
  type StepRef,
  stepAt,
} from "../../engine/llm/steps.js";
import type { ChoicePlan } from "../../engine/llm/types.js";
import { openAiErrorBody } from "../errors.js";
import { asciiSince, escapeJson, jsonString, SSE_DONE, type SseStream, watchAscii } from "../sse.js";

/**
 * How an LLM job looks in OpenAI's (and vLLM's) wire format: JSON bodies for non-streaming
 * requests, and SSE chunk streams built from pre-escaped parts for streaming ones. Chunks
 * follow vLLM: a first chunk per choice with the assistant role, one chunk per token, the
 * finish_reason on the last token's chunk, then (stream_options.include_usage) a usage chunk
 * with empty choices, then `data: [DONE]`. Errors after the stream started are sent as
 * `data: {"error": {...}}` followed by `data: [DONE]`.
 */

type Schemas = components["schemas"];
export type ChatCompletionBody = Schemas["ChatCompletion"];
export type CompletionBody = Schemas["Completion"];
export type UsageBody = Schemas["Usage"];

export function usageOf(job: LlmJob): UsageBody {
  const plan = job.plan;
  const completion = job.completionTokens();
  let reasoning = 0;
  if (plan.reasoning) for (const c of plan.choices) reasoning += Math.min(c.reasoning.length, job.emitted);
  return {
    prompt_tokens: plan.promptTokens,
    completion_tokens: completion,
    total_tokens: plan.promptTokens + completion,
    prompt_tokens_details: job.cacheConsulted ? { cached_tokens: job.cachedTokens } : null,
    completion_tokens_details: plan.reasoning ? { reasoning_tokens: reasoning } : null,
  };
}

function utf8Bytes(s: string): number[] {
  return [...Buffer.from(s, "utf8")];
}

function chatTokenLogprob(job: LlmJob, choice: ChoicePlan, step: number): Schemas["TokenLogprob"] {
  const token = pieceAt(choice, step);
  const logprob = choice.logprobs?.[step] ?? 0;
  const k = job.plan.topLogprobs ?? 0;
  const top = k > 0 ? topAlternatives(job.tokenizer, token, logprob, k, step) : [];
  return {
    token,
    logprob,
    bytes: utf8Bytes(token),
    top_logprobs: top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: utf8Bytes(t.token) })),
  };
}

type CompletionLogprobsBody = NonNullable<Schemas["CompletionLogprobs"]>;

/**
 * Completions logprobs of steps [from, to), text offsets counted from `offset`. With
 * `prompt` (echo, first chunk) the echoed prompt's tokens come first, from offset 0, as
 * vLLM returns prompt_logprobs: the first token with null logprob and alternatives. Each
 * entry's alternatives include the chosen token, as vLLM's do.
 */
function completionLogprobs(
  job: LlmJob,
  choice: ChoicePlan,
  from: number,
  to: number,
  offset: number,
  prompt = false,
): CompletionLogprobsBody {
  const out: CompletionLogprobsBody = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  const k = job.plan.topLogprobs ?? 0;
  const add = (token: string, lp: number | null, salt: number) => {
    out.tokens.push(token);
    out.token_logprobs.push(lp);
    let alts: Record<string, number> | null = null;
    if (lp !== null) {
      alts = {};
      for (const a of topAlternatives(job.tokenizer, token, lp, k, salt)) alts[a.token] ??= a.logprob;
    }
    out.top_logprobs.push(alts);
    out.text_offset.push(offset);
    offset += token.length;
  };
  if (prompt) {
    offset = 0;
    const pieces = echoPieces(job, choice.promptIndex);
    const plan = job.plan.prompts[choice.promptIndex];
    const values = plan ? promptLogprobs(plan, pieces.length) : [];
    for (let i = 0; i < pieces.length; i++) add(pieces[i] as string, i === 0 ? null : (values[i - 1] ?? 0), -1 - i);
  }
  for (let s = from; s < Math.min(to, choice.steps); s++) add(pieceAt(choice, s), choice.logprobs?.[s] ?? 0, s);
  return out;
}

/**
 * vLLM's prompt_logprobs for one prompt: null for the first token, then per token a map from
 * token id to {logprob, rank, decoded_token} with the prompt's own token (rank 1 here: the
 * simulated model always found the prompt likely) and up to `prompt_logprobs` − 1 alternatives.
 * The values are the ones completions `echo` lists.
 */
function promptLogprobsBody(job: LlmJob, promptIndex: number): Schemas["PromptLogprobs"] {
  const k = job.plan.promptLogprobs;
  if (k === undefined) return null;
  const ids = job.promptTokenIds(promptIndex);
  if (ids.length === 0) return [];
  const tok = job.tokenizer;
  const pieces = tok.piecesFromIds(ids);
  const plan = job.plan.prompts[promptIndex];
  const values = plan ? promptLogprobs(plan, ids.length) : [];
  const out: NonNullable<Schemas["PromptLogprobs"]> = [null];
  for (let i = 1; i < ids.length; i++) {
    const entry: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
    const alts = topAlternatives(tok, pieces[i] ?? "", values[i - 1] ?? 0, Math.max(1, k), -1 - i);
    for (let r = 0; r < alts.length; r++) {
      const a = alts[r] as { token: string; logprob: number };
      const id = r === 0 ? ids[i] : tok.encode(a.token)[0];
      if (id === undefined || entry[id] !== undefined) continue;
      entry[id] = { logprob: a.logprob, rank: r + 1, decoded_token: a.token };
    }
    out.push(entry);
  }
  return out;
}

/** The echoed prompt token by token (token-id prompts decoded), as logprobs list it. */
function echoPieces(job: LlmJob, promptIndex: number): string[] {
  return job.tokenizer.piecesFromIds(job.promptTokenIds(promptIndex));
}

/** Where the output's text offsets start after an echoed prompt: its tokens' total length. */
function echoOffset(job: LlmJob, promptIndex: number): number {
  let n = 0;
  for (const p of echoPieces(job, promptIndex)) n += p.length;
  return n;
}

export function chatBody(job: LlmJob): ChatCompletionBody {
  const plan = job.plan;
  return {
    id: `chatcmpl-${job.id}`,
    object: "chat.completion",
    created: job.created,
    model: plan.model.requested,
    choices: plan.choices.map((c) => ({
      index: c.index,
      message: {
        role: "assistant",
        content: c.toolCalls.length > 0 ? null : c.content.join(""),
        reasoning_content: plan.reasoning ? c.reasoning.join("") : null,
        tool_calls: c.toolCalls.map((t) => ({
          id: t.id,
          type: "function",
          function: { name: t.name, arguments: t.arguments },
        })),
      },
      logprobs:
        plan.topLogprobs === undefined
          ? null
          : { content: Array.from({ length: c.steps }, (_, s) => chatTokenLogprob(job, c, s)) },
      finish_reason: c.finishReason,
      stop_reason: null,
    })),
    usage: usageOf(job),
    prompt_logprobs: promptLogprobsBody(job, 0),
    kv_transfer_params: plan.kvTransferParams,
  };
}

function promptEcho(job: LlmJob, promptIndex: number): string {
  return job.plan.echo ? (job.plan.prompts[promptIndex]?.text ?? "") : "";
}

export function completionBody(job: LlmJob): CompletionBody {
  const plan = job.plan;
  return {
    id: `cmpl-${job.id}`,
    object: "text_completion",
    created: job.created,
    model: plan.model.requested,
    choices: plan.choices.map((c) => {
      const shown = plan.echoOnly ? 0 : c.steps;
      return {
        index: c.index,
        text: promptEcho(job, c.promptIndex) + (plan.echoOnly ? "" : c.content.join("")),
        logprobs: plan.topLogprobs === undefined ? null : completionLogprobs(job, c, 0, shown, 0, plan.echo),
        // completions never call tools
        finish_reason: c.finishReason as Exclude<typeof c.finishReason, "tool_calls">,
        stop_reason: null,
        prompt_logprobs: promptLogprobsBody(job, c.promptIndex),
      };
    }),
    usage: usageOf(job),
    kv_transfer_params: plan.kvTransferParams,
  };
}

/** `data: {"error": {...}}` then `data: [DONE]`, as vLLM reports a failure inside a stream. */
export function streamErrorEvents(err: DecoyError): string {
  return `data: ${JSON.stringify(openAiErrorBody(err))}\n\n${SSE_DONE}`;
}

abstract class OpenAiStream implements JobSink {
  protected head = "";
  protected tail = "";
  protected readonly ref: StepRef = { kind: 0, piece: "", call: -1 };
  private finishedChoices: boolean[] = [];
  /** The chunk head is ASCII and no chunk carries logprobs: events are ASCII when their text is. */
  private asciiHead = false;
  private started = false;
  /** The last firing's chunks, held back to leave in one write with the stream's end. */
  private pending = "";

  /**
   * `includeUsage`: a usage chunk before [DONE]. `continuousUsage` (vLLM's
   * stream_options.continuous_usage_stats): every choice chunk also carries the usage so far,
   * its choice's completion tokens counted up to and including that chunk.
   */
  constructor(
    protected readonly sse: SseStream,
    private readonly includeUsage: boolean,
    private readonly continuousUsage = false,
  ) {}

  protected abstract object(): string;
  protected abstract idPrefix(): string;
  /** Chunk(s) opening a choice (chat: the role chunk; completions: nothing), ending with `tail`. */
  protected abstract opening(job: LlmJob, choice: ChoicePlan, tail: string): string;
  /** One step's chunk body after `"index":i,` (without the closing `}]}`). */
  protected abstract stepChunk(job: LlmJob, choice: ChoicePlan, step: number, finish: string): string;
  /** A chunk that only carries a finish reason. */
  protected abstract finishChunk(choice: ChoicePlan): string;
  /**
   * The whole event of a step that is neither the last nor carries logprobs, when the format
   * has a cheaper way to build it than `stepChunk`; undefined otherwise.
   */
  protected plainStep(_job: LlmJob, _choice: ChoicePlan, _ci: number, _step: number): string | undefined {
    return undefined;
  }
  /**
   * One chunk body (after `"index":i`) for steps [from, to) that came out of one decode step
   * (speculative decoding), as vLLM sends a step's tokens in one delta; undefined when they
   * cannot share a chunk (different kinds of text, logprobs).
   */
  protected groupChunk(
    _job: LlmJob,
    _choice: ChoicePlan,
    _from: number,
    _to: number,
    _finish: string,
  ): string | undefined {
    return undefined;
  }

  private begin(job: LlmJob): void {
    this.started = true;
    watchAscii();
    this.head = `data: {"id":"${this.idPrefix()}${job.id}","object":"${this.object()}","created":${job.created},"model":${jsonString(job.plan.model.requested)},"choices":[{"index":`;
    this.tail = "}]}\n\n";
    // Logprobs go through JSON.stringify, which escapeJson's ASCII watch does not see.
    this.asciiHead = asciiSince() && job.plan.topLogprobs === undefined;
    this.finishedChoices = new Array(job.plan.choices.length).fill(false);
  }

  /**
   * What closes a choice chunk: `}]}`, or with continuous usage the usage after `completed`
   * tokens of this choice, counted against the prompt it answers (vLLM's field order).
   */
  private chunkTail(job: LlmJob, choice: ChoicePlan, completed: number): string {
    if (!this.continuousUsage) return this.tail;
    const prompt = job.plan.prompts[choice.promptIndex]?.tokens ?? job.plan.promptTokens;
    return `}],"usage":{"prompt_tokens":${prompt},"total_tokens":${prompt + completed},"completion_tokens":${completed}}}\n\n`;
  }

  onTokens(job: LlmJob, from: number, to: number): void {
    if (!this.started) this.begin(job);
    watchAscii();
    let out = "";
    const choices = job.plan.choices;
    for (let ci = 0; ci < choices.length; ci++) {
      const choice = choices[ci] as ChoicePlan;
      if (from === 0) out += this.opening(job, choice, this.chunkTail(job, choice, 0));
      const end = Math.min(to, choice.steps);
      if (job.stepsGrouped && end - from > 1) {
        const last = end === choice.steps;
        const merged = this.groupChunk(job, choice, from, end, last ? `"${choice.finishReason}"` : "null");
        if (merged !== undefined) {
          if (last) this.finishedChoices[ci] = true;
          out += this.head + choice.index + merged + this.chunkTail(job, choice, end);
          continue;
        }
      }
      for (let s = from; s < end; s++) {
        const last = s === choice.steps - 1;
        if (last) this.finishedChoices[ci] = true;
        const plain = last || this.continuousUsage ? undefined : this.plainStep(job, choice, ci, s);
        out +=
          plain ??
          this.head +
            choice.index +
            this.stepChunk(job, choice, s, last ? `"${choice.finishReason}"` : "null") +
            this.chunkTail(job, choice, s + 1);
      }
    }
    // the job ends in the same firing that emits its last step (see JobSink)
    if (to >= job.plan.steps) this.pending = out;
    else this.sse.write(out, this.asciiHead && asciiSince());
  }

  onDone(job: LlmJob): void {
    if (!this.started) this.begin(job);
    let out = this.pending;
    this.pending = "";
    const choices = job.plan.choices;
    for (let ci = 0; ci < choices.length; ci++) {
      if (this.finishedChoices[ci]) continue;
      const choice = choices[ci] as ChoicePlan;
      if (job.emitted === 0) out += this.opening(job, choice, this.chunkTail(job, choice, 0));
      out +=
        this.head +
        choice.index +
        this.finishChunk(choice) +
        this.chunkTail(job, choice, Math.min(choice.steps, job.emitted));
    }
    if (this.includeUsage) {
      out += `data: {"id":"${this.idPrefix()}${job.id}","object":"${this.object()}","created":${job.created},"model":${jsonString(job.plan.model.requested)},"choices":[],"usage":${JSON.stringify(usageOf(job))}}\n\n`;
    }
    this.sse.end(out + SSE_DONE);
  }

  onError(_job: LlmJob, err: DecoyError): void {
    const out = this.pending;
    this.pending = "";
    this.sse.end(out + streamErrorEvents(err));
  }
}

/** What follows a content token's text in a chat chunk that is not the last. */
const CONTENT_STEP_END = `"},"logprobs":null,"finish_reason":null}]}\n\n`;

export class ChatStream extends OpenAiStream {
  /** Per choice: the event up to a content token's text, built on the choice's first token. */
  private contentHeads: string[] = [];

  protected object(): string {
    return "chat.completion.chunk";
  }
  /** Content tokens (nearly every chunk) as head, escaped text, fixed end: two concatenations. */
  protected override plainStep(job: LlmJob, choice: ChoicePlan, ci: number, step: number): string | undefined {
    if (job.plan.topLogprobs !== undefined) return undefined;
    const ref = this.ref;
    stepAt(choice, step, ref);
    if (ref.kind !== STEP_CONTENT) return undefined;
    let head = this.contentHeads[ci];
    if (head === undefined) {
      head = `${this.head}${choice.index},"delta":{"content":"`;
      this.contentHeads[ci] = head;
    }
    return head + escapeJson(ref.piece) + CONTENT_STEP_END;
  }
  protected idPrefix(): string {
    return "chatcmpl-";
  }
  protected override groupChunk(job: LlmJob, choice: ChoicePlan, from: number, to: number, finish: string) {
    if (job.plan.topLogprobs !== undefined) return undefined;
    const ref = this.ref;
    stepAt(choice, from, ref);
    const kind = ref.kind;
    if (kind !== STEP_CONTENT && kind !== STEP_REASONING) return undefined;
    let text = ref.piece;
    for (let s = from + 1; s < to; s++) {
      stepAt(choice, s, ref);
      if (ref.kind !== kind) return undefined;
      text += ref.piece;
    }
    const field = kind === STEP_CONTENT ? "content" : "reasoning_content";
    return `,"delta":{"${field}":"${escapeJson(text)}"},"logprobs":null,"finish_reason":${finish}`;
  }
  protected opening(_job: LlmJob, choice: ChoicePlan, tail: string): string {
    return `${this.head}${choice.index},"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null${tail}`;
  }
  protected stepChunk(job: LlmJob, choice: ChoicePlan, step: number, finish: string): string {
    const ref = this.ref;
    stepAt(choice, step, ref);
    let delta: string;
    if (ref.kind === STEP_CONTENT) delta = `"content":"${escapeJson(ref.piece)}"`;
    else if (ref.kind === STEP_REASONING) delta = `"reasoning_content":"${escapeJson(ref.piece)}"`;
    else {
      const call = choice.toolCalls[ref.call];
      delta =
        ref.kind === STEP_TOOL_START
          ? `"tool_calls":[{"index":${ref.call},"id":"${call?.id}","type":"function","function":{"name":${jsonString(call?.name ?? "")},"arguments":""}}]`
          : `"tool_calls":[{"index":${ref.call},"function":{"arguments":"${escapeJson(ref.piece)}"}}]`;
    }
    const lp =
      job.plan.topLogprobs === undefined ? "null" : JSON.stringify({ content: [chatTokenLogprob(job, choice, step)] });
    return `,"delta":{${delta}},"logprobs":${lp},"finish_reason":${finish}`;
  }
  protected finishChunk(choice: ChoicePlan): string {
    return `,"delta":{},"logprobs":null,"finish_reason":"${choice.finishReason}"`;
  }
}

export class CompletionStream extends OpenAiStream {
  protected object(): string {
    return "text_completion";
  }
  protected idPrefix(): string {
    return "cmpl-";
  }
  protected override groupChunk(job: LlmJob, choice: ChoicePlan, from: number, to: number, finish: string) {
    if (job.plan.topLogprobs !== undefined) return undefined;
    const text = (from === 0 ? promptEcho(job, choice.promptIndex) : "") + contentText(choice, from, to);
    return `,"text":"${escapeJson(text)}","logprobs":null,"finish_reason":${finish},"stop_reason":null`;
  }
  protected opening(): string {
    return "";
  }
  /** Per choice, where output text offsets start (after the echoed prompt's tokens). */
  private outputOffsets: number[] = [];

  protected stepChunk(job: LlmJob, choice: ChoicePlan, step: number, finish: string): string {
    const plan = job.plan;
    // echo with max_tokens 0: the one generated token is not shown
    const to = plan.echoOnly ? step : step + 1;
    let text = contentText(choice, step, to);
    if (step === 0) text = promptEcho(job, choice.promptIndex) + text;
    let lp = "null";
    if (plan.topLogprobs !== undefined) {
      let start = this.outputOffsets[choice.index];
      if (start === undefined) {
        start = plan.echo ? echoOffset(job, choice.promptIndex) : 0;
        this.outputOffsets[choice.index] = start;
      }
      const offset = start + contentText(choice, 0, step).length;
      lp = JSON.stringify(completionLogprobs(job, choice, step, to, offset, plan.echo && step === 0));
    }
    return `,"text":"${escapeJson(text)}","logprobs":${lp},"finish_reason":${finish},"stop_reason":null`;
  }
  protected finishChunk(choice: ChoicePlan): string {
    return `,"text":"","logprobs":null,"finish_reason":"${choice.finishReason}","stop_reason":null`;
  }
}
