/**
 * Engine events for telemetry. Surfaces report what really happened (queue time, tokens,
 * outcomes) and observers such as the Prometheus registry and the GPU simulator consume
 * them; with no observer registered an emit costs one array length check.
 */

export type FinishedReason = "stop" | "length" | "abort" | "error" | "tool_calls" | "cache_threshold";

/** One finished LLM request (chat, completion, generate, or KServe text model). */
export interface LlmRequestRecord {
  model: string;
  /** LoRA adapter name when the request targeted one. */
  lora?: string | undefined;
  finishedReason: FinishedReason;
  promptTokens: number;
  cachedTokens: number;
  generationTokens: number;
  maxTokens: number | undefined;
  n: number;
  /** Milliseconds on the engine clock. */
  queuedMs: number;
  /** Arrival → first token. */
  ttftMs: number;
  prefillMs: number;
  decodeMs: number;
  /** Time in a running slot (prefill + decode). */
  inferenceMs: number;
  /** Arrival → last token / error. */
  e2eMs: number;
}

/** One finished KServe tensor inference (vision/NLP models), in Triton's terms. */
export interface TensorInferRecord {
  model: string;
  version: string;
  success: boolean;
  /** Triton failure reason: REJECTED, CANCELED, BACKEND or OTHER. */
  failureReason?: "REJECTED" | "CANCELED" | "BACKEND" | "OTHER";
  batchSize: number;
  /** Model executions this request accounts for: 0 when it rode in another's batch. */
  executions: number;
  requestUs: number;
  queueUs: number;
  computeInputUs: number;
  computeInferUs: number;
  computeOutputUs: number;
}

export interface EngineObserver {
  /** A request entered the waiting queue. */
  llmQueued?(model: string): void;
  /** A request got a running slot. */
  llmStarted?(model: string): void;
  /**
   * `count` tokens were emitted for one request; `gapMs` is the time since its previous emission.
   * `oneStep`: they came out of one decode step (speculative decoding), one inter-token sample.
   */
  llmTokens?(model: string, count: number, gapMs: number, isFirst: boolean, oneStep?: boolean): void;
  /** One speculative decoding step: `draftTokens` proposed, the first `accepted` of them kept. */
  llmSpecDecode?(model: string, draftTokens: number, accepted: number): void;
  llmFinished?(record: LlmRequestRecord): void;
  /** One scheduler iteration's token count (vLLM's iteration_tokens_total). */
  llmIteration?(model: string, tokens: number): void;
  llmPreempted?(model: string): void;
  tensorInfer?(record: TensorInferRecord): void;
}

export class EngineEvents {
  private observers: EngineObserver[] = [];

  add(o: EngineObserver): () => void {
    this.observers = [...this.observers, o];
    return () => {
      this.observers = this.observers.filter((x) => x !== o);
    };
  }

  get active(): boolean {
    return this.observers.length > 0;
  }

  llmQueued(model: string): void {
    for (const o of this.observers) o.llmQueued?.(model);
  }
  llmStarted(model: string): void {
    for (const o of this.observers) o.llmStarted?.(model);
  }
  llmTokens(model: string, count: number, gapMs: number, isFirst: boolean, oneStep = false): void {
    for (const o of this.observers) o.llmTokens?.(model, count, gapMs, isFirst, oneStep);
  }

  llmSpecDecode(model: string, draftTokens: number, accepted: number): void {
    for (const o of this.observers) o.llmSpecDecode?.(model, draftTokens, accepted);
  }
  llmFinished(record: LlmRequestRecord): void {
    for (const o of this.observers) o.llmFinished?.(record);
  }
  llmIteration(model: string, tokens: number): void {
    for (const o of this.observers) o.llmIteration?.(model, tokens);
  }
  llmPreempted(model: string): void {
    for (const o of this.observers) o.llmPreempted?.(model);
  }
  tensorInfer(record: TensorInferRecord): void {
    for (const o of this.observers) o.tensorInfer?.(record);
  }
}
