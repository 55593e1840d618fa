import { DecoyError } from "../errors.js";

/**
 * vLLM-style admission: `max-num-seqs` running slots and a FIFO waiting queue of at most
 * `max-waiting-queue-length` entries (the next one is refused with 429). LoRA-aware: at most
 * `max-loras` distinct adapters run at once, and a waiting request whose adapter cannot be
 * activated is skipped, not blocking the ones behind it (llm-d-inference-sim's rule).
 *
 * The queue is an intrusive doubly-linked list, so a client that goes away leaves the queue
 * in O(1) and the waiting count is right at once.
 */

export const SlotState = { None: 0, Waiting: 1, Running: 2 } as const;
export type SlotState = (typeof SlotState)[keyof typeof SlotState];

export interface SlotEntry {
  /** LoRA adapter the request needs, if any. */
  readonly lora: string | undefined;
  /** Called synchronously when the entry gets a running slot. */
  admitted(now: number): void;
  slotState: SlotState;
  slotPrev: SlotEntry | undefined;
  slotNext: SlotEntry | undefined;
}

export interface SlotLimits {
  maxNumSeqs: number;
  maxWaitingQueueLength: number;
  maxLoras: number;
}

export interface SlotStats {
  running: number;
  waiting: number;
  maxNumSeqs: number;
  maxWaitingQueueLength: number;
  maxLoras: number;
  /** Adapters of running requests, with how many requests use each. */
  runningLoras: Record<string, number>;
  /** Adapters of waiting requests, with how many requests wait for each. */
  waitingLoras: Record<string, number>;
}

export class Slots {
  private head: SlotEntry | undefined;
  private tail: SlotEntry | undefined;
  private waitingCount = 0;
  private runningCount = 0;
  private readonly runningLoras = new Map<string, number>();

  constructor(
    private readonly limits: () => SlotLimits,
    private readonly now: () => number,
  ) {}

  get running(): number {
    return this.runningCount;
  }

  get waiting(): number {
    return this.waitingCount;
  }

  /**
   * Start the entry now if a slot is free and nobody is ahead of it, else queue it.
   * Throws RESOURCE_EXHAUSTED (429) when the waiting queue is full. Returns whether it started.
   */
  enqueue(e: SlotEntry): boolean {
    const lim = this.limits();
    if (this.waitingCount === 0 && this.canRun(e, lim)) {
      this.run(e);
      return true;
    }
    if (this.waitingCount >= lim.maxWaitingQueueLength) throw this.full(lim);
    e.slotState = SlotState.Waiting;
    e.slotPrev = this.tail;
    e.slotNext = undefined;
    if (this.tail) this.tail.slotNext = e;
    else this.head = e;
    this.tail = e;
    this.waitingCount++;
    // the head may be held back by its adapter while this one fits
    this.pump(lim);
    return (e.slotState as SlotState) === SlotState.Running;
  }

  /** Throws what `enqueue` would throw, without queueing: lets callers report the arrival first. */
  check(e: SlotEntry): void {
    const lim = this.limits();
    if (this.waitingCount === 0 && this.canRun(e, lim)) return;
    if (this.waitingCount >= lim.maxWaitingQueueLength) throw this.full(lim);
  }

  private full(lim: SlotLimits): DecoyError {
    return new DecoyError(
      "RESOURCE_EXHAUSTED",
      `The server is busy: ${this.runningCount} requests are running and ${this.waitingCount} are waiting (max-num-seqs ${lim.maxNumSeqs}, max-waiting-queue-length ${lim.maxWaitingQueueLength}). Retry later.`,
      { type: "RateLimitError" },
    );
  }

  /** A running entry finished or was cancelled: free its slot and admit whoever can run. */
  release(e: SlotEntry, at?: number): void {
    if (e.slotState !== SlotState.Running) return;
    e.slotState = SlotState.None;
    this.runningCount--;
    if (e.lora !== undefined) {
      const n = (this.runningLoras.get(e.lora) ?? 1) - 1;
      if (n <= 0) this.runningLoras.delete(e.lora);
      else this.runningLoras.set(e.lora, n);
    }
    this.pump(this.limits(), at);
  }

  /** A waiting entry's client went away: drop it from the queue at once. */
  remove(e: SlotEntry): void {
    if (e.slotState !== SlotState.Waiting) return;
    this.unlink(e);
    e.slotState = SlotState.None;
  }

  stats(): SlotStats {
    const lim = this.limits();
    const waitingLoras: Record<string, number> = {};
    for (let e = this.head; e; e = e.slotNext) {
      if (e.lora !== undefined) waitingLoras[e.lora] = (waitingLoras[e.lora] ?? 0) + 1;
    }
    return {
      running: this.runningCount,
      waiting: this.waitingCount,
      maxNumSeqs: lim.maxNumSeqs,
      maxWaitingQueueLength: lim.maxWaitingQueueLength,
      maxLoras: lim.maxLoras,
      runningLoras: Object.fromEntries(this.runningLoras),
      waitingLoras,
    };
  }

  private canRun(e: SlotEntry, lim: SlotLimits): boolean {
    if (this.runningCount >= lim.maxNumSeqs) return false;
    if (e.lora === undefined || this.runningLoras.has(e.lora)) return true;
    return this.runningLoras.size < lim.maxLoras;
  }

  private pump(lim: SlotLimits, at?: number): void {
    let e = this.head;
    while (e !== undefined && this.runningCount < lim.maxNumSeqs) {
      const next = e.slotNext;
      if (this.canRun(e, lim)) {
        this.unlink(e);
        this.run(e, at);
      }
      e = next;
    }
  }

  /** `at`: the logical time the slot freed up (a deadline may fire a little early). */
  private run(e: SlotEntry, at?: number): void {
    e.slotState = SlotState.Running;
    this.runningCount++;
    if (e.lora !== undefined) this.runningLoras.set(e.lora, (this.runningLoras.get(e.lora) ?? 0) + 1);
    const now = this.now();
    e.admitted(at !== undefined && at > now ? at : now);
  }

  private unlink(e: SlotEntry): void {
    if (e.slotPrev) e.slotPrev.slotNext = e.slotNext;
    else this.head = e.slotNext;
    if (e.slotNext) e.slotNext.slotPrev = e.slotPrev;
    else this.tail = e.slotPrev;
    e.slotPrev = undefined;
    e.slotNext = undefined;
    this.waitingCount--;
  }
}
