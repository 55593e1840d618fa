import type { EngineObserver, LlmRequestRecord, TensorInferRecord } from "../engine/events.js";

/**
 * Sums over a sliding window of fixed slots on the engine clock, so a rate read at any moment
 * covers the last `slots × slotMs` of events whatever the scrape interval.
 */
export class SlidingWindow {
  private readonly values: Float64Array;
  /** Index of the slot holding the current time, in units of slotMs since the clock's origin. */
  private current = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly slotMs = 250,
    slots = 8,
  ) {
    this.values = new Float64Array(slots);
  }

  add(now: number, amount: number): void {
    this.advance(now);
    const i = this.mod(this.current);
    this.values[i] = (this.values[i] ?? 0) + amount;
  }

  /** Sum over the window divided by the window's length in seconds. */
  perSecond(now: number): number {
    this.advance(now);
    let sum = 0;
    for (const v of this.values) sum += v;
    // The current slot is partly elapsed; count only the time actually covered.
    const coveredMs = (this.values.length - 1) * this.slotMs + (now - this.current * this.slotMs);
    return coveredMs > 0 ? (sum * 1000) / coveredMs : 0;
  }

  private mod(slot: number): number {
    const n = this.values.length;
    return ((slot % n) + n) % n;
  }

  private advance(now: number): void {
    const slot = Math.floor(now / this.slotMs);
    if (slot <= this.current) return;
    if (slot - this.current >= this.values.length) this.values.fill(0);
    else for (let s = this.current + 1; s <= slot; s++) this.values[this.mod(s)] = 0;
    this.current = slot;
  }
}

interface ModelQueues {
  running: number;
  waiting: number;
}

/**
 * What the engine events say about load: requests waiting and running per model, tokens per
 * second, and the average number of tensor inferences executing. It stands in for the LLM
 * scheduler's own counts when no stats provider is registered, and feeds the GPU simulator.
 *
 * Events carry no request id, so a request that finishes is charged to the running queue when its
 * record shows it ran (tokens, prefill or inference time) and to the waiting queue otherwise.
 */
export class LoadTracker implements EngineObserver {
  private readonly queues = new Map<string, ModelQueues>();
  private readonly tokens = new SlidingWindow();
  /** Milliseconds of tensor execution finished per slot: by Little's law, average concurrency. */
  private readonly tensorBusy = new SlidingWindow();

  constructor(private readonly now: () => number) {}

  private q(model: string): ModelQueues {
    let q = this.queues.get(model);
    if (!q) {
      q = { running: 0, waiting: 0 };
      this.queues.set(model, q);
    }
    return q;
  }

  llmQueued(model: string): void {
    this.q(model).waiting++;
  }

  llmStarted(model: string): void {
    const q = this.q(model);
    if (q.waiting > 0) q.waiting--;
    q.running++;
  }

  llmPreempted(model: string): void {
    const q = this.q(model);
    if (q.running > 0) q.running--;
    q.waiting++;
  }

  llmTokens(_model: string, count: number): void {
    if (count > 0) this.tokens.add(this.now(), count);
  }

  llmFinished(r: LlmRequestRecord): void {
    const q = this.q(r.model);
    const ran = r.generationTokens > 0 || r.prefillMs > 0 || r.inferenceMs > 0;
    if (q.running > 0 && (ran || q.waiting === 0)) q.running--;
    else if (q.waiting > 0) q.waiting--;
  }

  tensorInfer(r: TensorInferRecord): void {
    // the GPU ran a dynamic batch once, however many requests rode in it
    if (r.executions === 0) return;
    const busyMs = (r.computeInputUs + r.computeInferUs + r.computeOutputUs) / 1000;
    if (busyMs > 0) this.tensorBusy.add(this.now(), busyMs / 1000);
  }

  models(): string[] {
    return [...this.queues.keys()];
  }

  running(model: string): number {
    return this.queues.get(model)?.running ?? 0;
  }

  waiting(model: string): number {
    return this.queues.get(model)?.waiting ?? 0;
  }

  tokensPerSecond(): number {
    return this.tokens.perSecond(this.now());
  }

  /** Average number of tensor inferences executing over the last window. */
  tensorConcurrency(): number {
    return this.tensorBusy.perSecond(this.now());
  }
}
