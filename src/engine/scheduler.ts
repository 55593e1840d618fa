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

/** A turn that comes this soon after the last tick (ms) means nothing else was waiting to run. */
const QUIET_MS = 0.05;

export interface SchedulerOptions {
  /** Fire deadlines this close to `now` in the same tick rather than waiting for them (ms). */
  slackMs?: number;
  /**
   * Finish the last stretch before a deadline with event-loop turns (and short sleeps) when
   * the clock offers them; false keeps to whole-millisecond timers. Default true.
   */
  precise?: boolean;
  /** Longest single sleep while waiting for a deadline (ms): I/O waits at most this long. */
  sleepMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * Every simulated delay in Decoy is a deadline here: a binary min-heap driven by a single
 * clock timer. A tick fires everything that is due, so thousands of streams share one timer
 * and each callback sees the same `now`. Deadlines are absolute: a late tick does not push
 * later deadlines back, which keeps inter-token gaps from drifting.
 *
 * Node's timers count whole milliseconds: a timer fires anywhere in the millisecond after the
 * one it is due in, so 5 ms gaps came out as 4.x or 5.x. With a precise clock the scheduler
 * arms its timer to land before the deadline and covers the rest itself with event-loop turns
 * (`setImmediate`, so I/O keeps flowing), so a deadline fires within about 0.1 ms. Spinning
 * through turns alone would cost most of a core, so a turn that found the loop quiet (nothing
 * else ran since the last one) sleeps up to `sleepMs` of the wait instead; a busy loop never
 * sleeps, so waiting never holds up I/O that is already there. All of this only while a
 * deadline is less than 2 ms away; an idle scheduler holds no timer at all.
 */
export class Scheduler {
  private readonly heap: Deadline[] = [];
  private seq = 0;
  private timer: unknown = undefined;
  private turn: unknown = undefined;
  /** Deadline the pending wake-up (timer or turn) is for. */
  private wakeFor = Number.POSITIVE_INFINITY;
  private ticking = false;
  /** When the last tick ended, to tell a quiet loop (the next turn comes at once) from a busy one. */
  private lastTickEnd = Number.NEGATIVE_INFINITY;
  private readonly slackMs: number;
  private readonly precise: boolean;
  private readonly sleepMs: number;
  private readonly onError: (err: unknown) => void;

  constructor(
    readonly clock: Clock,
    options: SchedulerOptions = {},
  ) {
    this.precise = (options.precise ?? true) && clock.setTurn !== undefined && clock.clearTurn !== undefined;
    this.slackMs = options.slackMs ?? (this.precise ? 0.05 : 0.25);
    this.sleepMs = options.sleepMs ?? 0.2;
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
    if (this.heap.length === 0) this.disarm();
  }

  /** Cancel everything (used on shutdown). */
  clear(): void {
    for (const d of this.heap) d.index = -1;
    this.heap.length = 0;
    this.disarm();
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    if (this.turn !== undefined) this.clock.clearTurn?.(this.turn);
    this.timer = undefined;
    this.turn = undefined;
    this.wakeFor = Number.POSITIVE_INFINITY;
  }

  private arm(): void {
    const head = this.heap[0];
    if (!head) return;
    if (this.wakeFor <= head.at) return;
    this.disarm();
    this.wakeFor = head.at;
    const remaining = head.at - this.clock.now();
    if (!this.precise) {
      // Timers fire late, never early; subtracting a fraction of a millisecond lets the tick
      // land close to the deadline and the slack window catches the rest.
      this.timer = this.clock.setTimer(Math.max(0, remaining - this.slackMs), this.tick);
    } else if (remaining < 2) {
      this.turn = (this.clock.setTurn as (fn: () => void) => unknown)(this.tick);
    } else {
      // A whole-millisecond delay d counted from the loop's current millisecond fires before
      // that millisecond + d + 1, i.e. before the deadline when d = floor(remaining) - 1.
      this.timer = this.clock.setTimer(Math.floor(remaining) - 1, this.tick);
    }
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.turn = undefined;
    this.wakeFor = Number.POSITIVE_INFINITY;
    this.ticking = true;
    try {
      let now = this.clock.now();
      const first = this.heap[0];
      if (
        this.precise &&
        first &&
        this.clock.sleep &&
        first.at - now > this.slackMs &&
        now - this.lastTickEnd < QUIET_MS
      ) {
        // Early and the loop is quiet: wait out (part of) the rest here rather than spinning
        // through turns; a longer wait continues on the next turn, after any I/O.
        const wait = first.at - now - this.slackMs / 2;
        if (wait < 2) {
          this.clock.sleep(Math.min(wait, this.sleepMs));
          now = this.clock.now();
        }
      }
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
      this.lastTickEnd = this.clock.now();
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
