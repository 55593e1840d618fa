import type { DecoyError } from "../errors.js";
import type { FinishedReason } from "../events.js";
import type { Random } from "../random.js";
import type { ResolvedModel } from "./models.js";
import type { LlmPlan, LlmRequest } from "./types.js";

/**
 * Extension points of the LLM request pipeline, in the order a request meets them:
 *
 *   submit → plan → admit → [waiting queue] → prefill → decode → tokens… → finished
 *
 * Features that are not part of the core (failure injection, the prefix/KV cache, …) plug in
 * here with `LlmService.use(hooks)` instead of editing the pipeline. Hooks run synchronously
 * on the request path, so they must be cheap; each may be omitted.
 */

/** What a hook sees of a request. */
export interface LlmJobView {
  readonly id: string;
  readonly plan: LlmPlan;
  readonly request: LlmRequest;
  /** The client's model name (echoed in responses). */
  readonly model: string;
  /** LoRA adapter name, if the request targets one. */
  readonly lora: string | undefined;
  /** The engine's seeded random stream: draws from it are reproducible with --seed. */
  readonly random: Random;
  /** Prompt token ids (chat template applied), encoded on first use. */
  promptTokenIds(promptIndex?: number): readonly number[];
}

export interface PrefillResult {
  /** Prompt tokens already in the prefix cache: they skip prefill time and are reported as cached_tokens. */
  cachedTokens: number;
  /** Called once when the request ends, however it ends (release cache blocks, …). */
  release?(): void;
}

export interface DecodeControl {
  /** Cut the response after this many tokens and end it with `error` (mid-stream failure). */
  cutAfterTokens?: number;
  error?: DecoyError;
  /** Extra delay before the first token, ms (latency spike). */
  extraFirstTokenMs?: number;
}

export interface LlmHooks {
  /**
   * Admission, before the waiting queue and before any slot is taken: return (or throw) a
   * DecoyError to reject the request — failure injection, forced errors (headers), auth.
   */
  admit?(job: LlmJobView, model: ResolvedModel): DecoyError | null | undefined;
  /** The request got a running slot; prefill starts. A prefix cache reports hits here. */
  prefill?(job: LlmJobView): PrefillResult | null | undefined;
  /** After prefill is known, before the first token is scheduled: shape the decode. */
  decode?(job: LlmJobView): DecodeControl | null | undefined;
  /** The request ended (after the transport has been told). */
  finished?(job: LlmJobView, reason: FinishedReason): void;
}
