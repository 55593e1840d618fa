import type { Config } from "../../config/schema.js";
import { DecoyError } from "../errors.js";
import type { EngineEvents, FinishedReason, LlmRequestRecord } from "../events.js";
import type { LatencyModel, LatencyParams } from "../latency.js";
import { Random } from "../random.js";
import type { Deadline, Scheduler } from "../scheduler.js";
import type { Tokenizer } from "../tokenizer.js";
import type { LlmHooks } from "./hooks.js";
import { type SlotEntry, SlotState, type Slots } from "./slots.js";
import type { ChoicePlan, LlmPlan, LlmRequest } from "./types.js";

/** A settled promise: `.then` queues a microtask without queueMicrotask's per-call AsyncResource. */
const RESOLVED = Promise.resolve();

/**
 * One LLM request on the engine clock: waiting for a slot, then prefill (TTFT), then one
 * token step per inter-token latency, then done. Each job holds at most one scheduler
 * deadline at a time, at an absolute time, and each firing emits every step that is due, so
 * a late timer never shifts later tokens and thousands of jobs share one timer.
 *
 * Transports see a job only through its sink; the same job renders as an OpenAI SSE stream,
 * a JSON body, a Triton generate stream or KServe ModelStreamInfer responses.
 */

export interface JobSink {
  /**
   * Steps [from, to) are now due (from 0 at the first token). Omit for non-streaming bodies.
   * When `to` reaches `plan.steps`, `onDone` follows in the same firing (unless the sink
   * cancelled the job), so a sink may hold the last chunks back and send them with the end.
   */
  onTokens?(job: LlmJob, from: number, to: number): void;
  onDone(job: LlmJob): void;
  /** An engine-side failure (mid-stream cut, shutdown); not called when the client cancelled. */
  onError(job: LlmJob, err: DecoyError): void;
}

/** What a job needs from its service: shared by every job, created once. */
export interface JobRuntime {
  readonly scheduler: Scheduler;
  readonly slots: Slots;
  readonly latency: LatencyModel;
  readonly events: EngineEvents;
  readonly hooks: readonly LlmHooks[];
  readonly random: Random;
  /** Counts tokens per model for the current scheduler tick (vLLM's iteration_tokens_total). */
  iterationTokens(model: string, tokens: number): void;
  wallNow(): number;
}

export type JobState = "waiting" | "prefill" | "decode" | "done" | "failed" | "cancelled";

/** Deadlines this close together are emitted in the same firing, as the scheduler's slack. */
const SLACK_MS = 0.25;

export class LlmJob implements SlotEntry {
  readonly id: string;
  /** Unix seconds, for `created`. */
  readonly created: number;
  readonly arrivalAt: number;
  readonly lora: string | undefined;
  state: JobState = "waiting";
  startedAt = 0;
  firstTokenAt = 0;
  finishedAt = 0;
  /** Steps emitted so far. */
  emitted = 0;
  /** Prompt tokens served from the prefix cache (reported as cached_tokens when a cache is attached). */
  cachedTokens = 0;
  /** Whether a prefix cache answered for this request (then usage carries prompt_tokens_details). */
  cacheConsulted = false;
  error: DecoyError | undefined;

  slotState: SlotState = SlotState.None;
  slotPrev: SlotEntry | undefined;
  slotNext: SlotEntry | undefined;

  private deadline: Deadline | undefined;
  private nextAt = 0;
  private lastEmitAt = 0;
  private params: LatencyParams | undefined;
  private maxNumSeqs = 1;
  private cutAfter = Number.POSITIVE_INFINITY;
  private cutError: DecoyError | undefined;
  private extraFirstTokenMs = 0;
  private releasers: (() => void)[] = [];
  private idsCache: (readonly number[])[] = [];
  /** Speculative decoding: draft tokens per step (0 = off), acceptance chance, this job's draws. */
  private specTokens = 0;
  private specAccept = 0;
  private specRandom: Random | undefined;

  constructor(
    private readonly rt: JobRuntime,
    readonly plan: LlmPlan,
    readonly request: LlmRequest,
    readonly tokenizer: Tokenizer,
    private readonly sink: JobSink,
    private readonly cfg: Config,
    id: string,
  ) {
    this.id = id;
    this.arrivalAt = rt.scheduler.now();
    this.created = Math.floor(rt.wallNow() / 1000);
    this.lora = plan.model.lora?.name;
  }

  get model(): string {
    return this.plan.model.requested;
  }

  /** Each onTokens call is one decode step whose tokens leave together (speculative decoding). */
  get stepsGrouped(): boolean {
    return this.specTokens > 0;
  }

  get finished(): boolean {
    return this.state === "done" || this.state === "failed" || this.state === "cancelled";
  }

  /** The engine's random stream (fault draws, etc.). */
  get random(): Random {
    return this.rt.random;
  }

  /** Token ids of a prompt (the chat template applied), computed on first use. */
  promptTokenIds(promptIndex = 0): readonly number[] {
    const have = this.idsCache[promptIndex];
    if (have) return have;
    const p = this.plan.prompts[promptIndex];
    const ids = p === undefined ? [] : (p.ids ?? this.tokenizer.encode(p.text, { addSpecialTokens: p.special }));
    this.idsCache[promptIndex] = ids;
    return ids;
  }

  /** Cut the stream after `tokens` steps with `error` (mid-stream failure injection). */
  failAfter(tokens: number, error: DecoyError): void {
    this.cutAfter = Math.max(0, Math.floor(tokens));
    this.cutError = error;
  }

  /** Delay the first token by `ms` (latency-spike injection). */
  delayFirstToken(ms: number): void {
    if (ms > 0) this.extraFirstTokenMs += ms;
  }

  /** Run `fn` when the job ends, however it ends (e.g. release a KV-cache lease). */
  onEnd(fn: () => void): void {
    if (this.finished) fn();
    else this.releasers.push(fn);
  }

  /** Completion tokens so far across choices. */
  completionTokens(): number {
    let total = 0;
    for (const c of this.plan.choices) total += Math.min(c.steps, this.emitted);
    return total;
  }

  /** Called by the slots when the job gets a running slot: prefill starts now. */
  admitted(now: number): void {
    if (this.finished) return;
    this.state = "prefill";
    this.startedAt = now;
    const rt = this.rt;
    rt.events.llmStarted(this.model);
    for (const h of rt.hooks) {
      const r = h.prefill?.(this);
      if (r) {
        this.cacheConsulted = true;
        this.cachedTokens = Math.max(this.cachedTokens, Math.min(r.cachedTokens, this.plan.promptTokens));
        if (r.release) this.releasers.push(r.release);
      }
    }
    for (const h of rt.hooks) {
      const d = h.decode?.(this);
      if (!d) continue;
      if (d.cutAfterTokens !== undefined && d.error) this.failAfter(d.cutAfterTokens, d.error);
      if (d.extraFirstTokenMs) this.delayFirstToken(d.extraFirstTokenMs);
    }
    const params = rt.latency.params();
    this.params = params;
    this.maxNumSeqs = this.cfg.maxNumSeqs;
    const spec = this.cfg.speculativeConfig as { num_speculative_tokens?: number } | null;
    if (spec?.num_speculative_tokens) {
      this.specTokens = spec.num_speculative_tokens;
      this.specAccept = this.cfg.specAcceptanceRate;
      // drawn per request text, so turning it on does not shift the engine's other draws
      this.specRandom = new Random(`${this.plan.prompts[0]?.hash ?? 0}:spec:${this.id}`);
    }
    const first = rt.latency.firstToken(
      {
        promptTokens: this.plan.promptTokens,
        cachedTokens: this.cachedTokens,
        remotePrefill: this.plan.remotePrefill,
        running: rt.slots.running,
        maxNumSeqs: this.maxNumSeqs,
      },
      params,
    );
    this.nextAt = now + first.ms + this.extraFirstTokenMs;
    if (this.nextAt > now) this.deadline = rt.scheduler.at(this.nextAt, this.fire);
    // Due at once (TTFT 0): no timer round trip, but not synchronously either, so the
    // transport that submitted the job has set itself up before the first token arrives.
    else RESOLVED.then(this.fireDue);
  }

  private readonly fireDue = (): void => {
    this.fire(this.nextAt);
  };

  private readonly fire = (tickNow: number): void => {
    this.deadline = undefined;
    if (this.finished) return;
    // the scheduler may fire a fraction of a millisecond early; the step is due at its deadline
    const now = Math.max(tickNow, this.nextAt);
    const rt = this.rt;
    const total = Math.min(this.plan.steps, this.cutAfter);
    const from = this.emitted;
    if (from === 0) {
      this.state = "decode";
      this.firstTokenAt = now;
      if (rt.events.active) {
        const uncached = this.plan.remotePrefill ? 0 : Math.max(0, this.plan.promptTokens - this.cachedTokens);
        if (uncached > 0) rt.iterationTokens(this.model, uncached);
      }
    }
    if (total === 0) {
      this.complete(now);
      return;
    }
    const params = this.params as LatencyParams;
    const perToken = this.sink.onTokens !== undefined || rt.events.active;
    if (this.specTokens > 0) {
      this.fireSteps(now, from, total, params);
      return;
    }
    let to = from;
    if (!perToken && from === 0) {
      // nobody watches individual tokens: pace the whole decode with one deadline
      let at = this.nextAt;
      for (to = 1; to < total; to++) at += rt.latency.interToken(rt.slots.running, this.maxNumSeqs, params);
      this.emitted = to;
      this.nextAt = at;
      if (at <= now + SLACK_MS) this.complete(Math.max(now, at));
      else this.deadline = rt.scheduler.at(at, this.fireEnd);
      return;
    }
    const limit = now + SLACK_MS;
    for (;;) {
      to++;
      if (to >= total) break;
      this.nextAt += rt.latency.interToken(rt.slots.running, this.maxNumSeqs, params);
      if (this.nextAt > limit) break;
    }
    this.emitted = to;
    const gap = now - (from === 0 ? this.arrivalAt : this.lastEmitAt);
    this.lastEmitAt = now;
    if (rt.events.active) this.reportTokens(from, to, gap);
    this.sink.onTokens?.(this, from, to);
    if (this.finished) return;
    if (to >= total) this.complete(now);
    else this.deadline = rt.scheduler.at(this.nextAt, this.fire);
  };

  /**
   * Speculative decoding: every decode step after the first token emits 1 token plus the draft
   * tokens accepted in a row (each with the acceptance chance, the first rejection ends the
   * step), and each step reaches the sink as one onTokens call, so it leaves as one chunk.
   * Steps still take one inter-token latency each, so the answer ends sooner.
   */
  private fireSteps(now: number, from: number, total: number, params: LatencyParams): void {
    const rt = this.rt;
    const limit = now + SLACK_MS;
    for (;;) {
      let size = 1;
      // no drafts past the length the request may still produce
      const drafts = from > 0 ? Math.min(this.specTokens, total - from - 1) : 0;
      if (drafts > 0) {
        let accepted = 0;
        const rng = this.specRandom as Random;
        while (accepted < drafts && rng.next() < this.specAccept) accepted++;
        size += accepted;
        if (rt.events.active) rt.events.llmSpecDecode(this.model, drafts, accepted);
      }
      const to = Math.min(total, from + size);
      this.emitted = to;
      const gap = now - (from === 0 ? this.arrivalAt : this.lastEmitAt);
      this.lastEmitAt = now;
      if (rt.events.active) this.reportTokens(from, to, gap, true);
      this.sink.onTokens?.(this, from, to);
      if (this.finished) return;
      if (to >= total) {
        this.complete(now);
        return;
      }
      from = to;
      this.nextAt += rt.latency.interToken(rt.slots.running, this.maxNumSeqs, params);
      if (this.nextAt > limit) break;
    }
    this.deadline = rt.scheduler.at(this.nextAt, this.fire);
  }

  private readonly fireEnd = (tickNow: number): void => {
    this.deadline = undefined;
    if (!this.finished) this.complete(Math.max(tickNow, this.nextAt));
  };

  /**
   * Steps [from, to) reached the client `gap` ms after the previous emission. Each choice is a
   * sequence of its own, as vLLM runs the n samples of a request, so each reports its tokens
   * (and its inter-token gaps) separately; the iteration counts them together.
   */
  private reportTokens(from: number, to: number, gap: number, oneStep = false): void {
    const rt = this.rt;
    const choices = this.plan.choices;
    let count = 0;
    for (let i = 0; i < choices.length; i++) {
      const k = Math.min((choices[i] as ChoicePlan).steps, to) - from;
      if (k <= 0) continue;
      rt.events.llmTokens(this.model, k, gap, from === 0, oneStep);
      count += k;
    }
    if (count > 0) rt.iterationTokens(this.model, count);
  }

  private complete(now: number): void {
    if (this.emitted < this.plan.steps && this.cutError) {
      this.end(now, "error", "failed", this.cutError);
      return;
    }
    const reason = this.plan.choices[0]?.finishReason ?? "stop";
    const finishedReason: FinishedReason = reason === "remote_decode" ? "stop" : reason;
    this.end(now, finishedReason, "done", undefined);
  }

  /** The client went away: leave the queue or free the slot at once; the sink hears nothing. */
  cancel(): void {
    if (this.finished) return;
    this.end(this.rt.scheduler.now(), "abort", "cancelled", undefined);
  }

  /** An engine-side failure (e.g. shutdown deadline): the sink is told. */
  fail(err: DecoyError): void {
    if (this.finished) return;
    this.end(this.rt.scheduler.now(), err.code === "CANCELLED" ? "abort" : "error", "failed", err);
  }

  private end(now: number, reason: FinishedReason, state: JobState, err: DecoyError | undefined): void {
    const rt = this.rt;
    const wasRunning = this.slotState === SlotState.Running;
    this.state = state;
    this.finishedAt = now;
    this.error = err;
    rt.scheduler.cancel(this.deadline);
    this.deadline = undefined;
    if (this.slotState === SlotState.Waiting) rt.slots.remove(this);
    if (state === "done") this.sink.onDone(this);
    else if (state === "failed" && err) this.sink.onError(this, err);
    for (const h of rt.hooks) h.finished?.(this, reason);
    const releasers = this.releasers;
    this.releasers = [];
    for (const fn of releasers) fn();
    if (rt.events.active) rt.events.llmFinished(this.record(now, reason, wasRunning));
    // last, so the next request's admission sees this slot free (and starts at this time)
    if (wasRunning) rt.slots.release(this, now);
  }

  private record(now: number, reason: FinishedReason, ran: boolean): LlmRequestRecord {
    const started = ran ? this.startedAt : now;
    const first = this.firstTokenAt > 0 ? this.firstTokenAt : now;
    return {
      model: this.model,
      lora: this.lora,
      finishedReason: reason,
      promptTokens: this.plan.promptTokens,
      cachedTokens: this.cachedTokens,
      generationTokens: this.completionTokens(),
      maxTokens: this.plan.maxTokens,
      n: this.plan.n,
      queuedMs: started - this.arrivalAt,
      ttftMs: this.firstTokenAt > 0 ? this.firstTokenAt - this.arrivalAt : 0,
      prefillMs: ran ? first - started : 0,
      decodeMs: this.firstTokenAt > 0 ? now - this.firstTokenAt : 0,
      inferenceMs: ran ? now - started : 0,
      e2eMs: now - this.arrivalAt,
    };
  }
}

/** A DecoyError for a request whose client went away. */
export function cancelledError(): DecoyError {
  return new DecoyError("CANCELLED", "The client cancelled the request.");
}
