import type { Clock } from "./clock.js";

/** A deadline registered with the scheduler; cancel it with `Scheduler.cancel`. */
export interface Deadline {
  at: number;
  /** Insertion order breaks ties so equal deadlines fire first-in first-out. */
  seq: number;
  fn: (now: number) => void;
  /** Index in the heap, -1 once fired or cancelled. */
  index: number;
}

/**
 * Every simulated delay in Decoy is a deadline here: a binary min-heap driven by a single
 * clock timer. A tick fires everything that is due, so thousands of streams share one timer
 * and each callback sees the same `now`. Deadlines are absolute: a late tick does not push
 * later deadlines back, which keeps inter-token gaps from drifting.
 */
export class Scheduler {
  private readonly heap: Deadline[] = [];
  private seq = 0;
  private timer: unknown = undefined;
  private armedAt = Number.POSITIVE_INFINITY;
  private ticking = false;
  /** Fire deadlines this close to `now` in the current tick rather than re-arming a timer. */
  private readonly slackMs: number;
  private readonly onError: (err: unknown) => void;

  constructor(
    readonly clock: Clock,
    options: { slackMs?: number; onError?: (err: unknown) => void } = {},
  ) {
    this.slackMs = options.slackMs ?? 0.25;
    this.onError =
      options.onError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
  }

  get size(): number {
    return this.heap.length;
  }

  now(): number {
    return this.clock.now();
  }

  /** Run `fn` at absolute time `at` (clock milliseconds). */
  at(at: number, fn: (now: number) => void): Deadline {
    const d: Deadline = { at, seq: this.seq++, fn, index: this.heap.length };
    this.heap.push(d);
    this.up(d.index);
    if (!this.ticking) this.arm();
    return d;
  }

  /** Run `fn` after `delayMs` from now. */
  after(delayMs: number, fn: (now: number) => void): Deadline {
    return this.at(this.clock.now() + Math.max(0, delayMs), fn);
  }

  cancel(d: Deadline | undefined): void {
    if (!d || d.index < 0) return;
    const i = d.index;
    const last = this.heap.pop() as Deadline;
    d.index = -1;
    if (last !== d) {
      this.heap[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
    if (this.heap.length === 0 && this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
      this.armedAt = Number.POSITIVE_INFINITY;
    }
  }

  /** Cancel everything (used on shutdown). */
  clear(): void {
    for (const d of this.heap) d.index = -1;
    this.heap.length = 0;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
  }

  private arm(): void {
    const head = this.heap[0];
    if (!head) return;
    if (this.timer !== undefined && this.armedAt <= head.at) return;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.armedAt = head.at;
    // Timers fire late, never early; subtracting a fraction of a millisecond lets the tick
    // land close to the deadline and the slack window catches the rest.
    const delay = Math.max(0, head.at - this.clock.now() - this.slackMs);
    this.timer = this.clock.setTimer(delay, this.tick);
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.ticking = true;
    try {
      const now = this.clock.now();
      const limit = now + this.slackMs;
      for (;;) {
        const head = this.heap[0];
        if (!head || head.at > limit) break;
        this.popHead();
        try {
          head.fn(now);
        } catch (err) {
          // One faulty callback must not stall every other simulated request.
          this.onError(err);
        }
      }
    } finally {
      this.ticking = false;
      this.arm();
    }
  };

  private popHead(): void {
    const head = this.heap[0] as Deadline;
    const last = this.heap.pop() as Deadline;
    head.index = -1;
    if (last !== head) {
      this.heap[0] = last;
      last.index = 0;
      this.down(0);
    }
  }

  private less(a: Deadline, b: Deadline): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    const x = h[i] as Deadline;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as Deadline;
      if (!this.less(x, parent)) break;
      h[i] = parent;
      parent.index = i;
      i = p;
    }
    h[i] = x;
    x.index = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const x = h[i] as Deadline;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(h[r] as Deadline, h[l] as Deadline)) c = r;
      const child = h[c] as Deadline;
      if (!this.less(child, x)) break;
      h[i] = child;
      child.index = i;
      i = c;
    }
    h[i] = x;
    x.index = i;
  }
}
