/**
 * The one clock every simulated delay is measured against.
 *
 * Times are milliseconds as floats from an arbitrary monotonic origin, so sub-millisecond
 * latencies survive. The timer primitive is part of the clock so that a fake clock can drive
 * the scheduler in tests without touching wall time.
 */
export interface Clock {
  /** Monotonic milliseconds (float). */
  now(): number;
  /** Milliseconds since the Unix epoch, for timestamps shown to users. */
  wallNow(): number;
  /** Arm a one-shot timer; the scheduler owns the only live timer. */
  setTimer(delayMs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
  /**
   * Optional: run `fn` on the next event-loop turn, after pending I/O (`setImmediate`).
   * Node's timers fire on whole milliseconds; with turns the scheduler finishes the last
   * stretch before a deadline itself, so deadlines fire within a fraction of a millisecond.
   */
  setTurn?(fn: () => void): unknown;
  clearTurn?(handle: unknown): void;
  /** Optional: block for up to `ms` (sub-millisecond) without spinning the CPU. */
  sleep?(ms: number): void;
}

export class RealClock implements Clock {
  /** A word nobody notifies: `Atomics.wait` on it is a sub-millisecond sleep. */
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));

  now(): number {
    return performance.now();
  }
  wallNow(): number {
    return Date.now();
  }
  setTimer(delayMs: number, fn: () => void): unknown {
    return setTimeout(fn, delayMs);
  }
  clearTimer(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  }
  setTurn(fn: () => void): unknown {
    return setImmediate(fn);
  }
  clearTurn(handle: unknown): void {
    clearImmediate(handle as NodeJS.Immediate);
  }
  sleep(ms: number): void {
    if (ms > 0) Atomics.wait(this.sleeper, 0, 0, ms);
  }
}

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

export interface FakeClockOptions {
  /**
   * Model Node's timers: the loop clock counts whole milliseconds, a delay is rounded up to
   * whole milliseconds (at least 1) from the current one, and the loop wakes `wakePhaseMs`
   * into the millisecond it is due in (default 0.999, the latest): up to a millisecond late.
   */
  wholeMsTimers?: boolean;
  wakePhaseMs?: number;
  /** Extra delay of every timer, like a busy event loop. */
  lateMs?: number;
  /** Offer event-loop turns that take this long (virtual ms), as `setImmediate` does. */
  turnMs?: number;
  /** Offer `sleep`, which moves virtual time forward. */
  sleep?: boolean;
}

/** Virtual time for tests: nothing happens until `advance` is called. */
export class FakeClock implements Clock {
  private t: number;
  private readonly wallOrigin: number;
  private timers: FakeTimer[] = [];
  private seq = 0;
  private readonly opts: FakeClockOptions;
  /** Turns taken and time slept, for tests of how the scheduler waits. */
  readonly stats = { timers: 0, turns: 0, sleeps: 0, sleptMs: 0 };
  setTurn?: (fn: () => void) => unknown;
  clearTurn?: (handle: unknown) => void;
  sleep?: (ms: number) => void;

  constructor(start = 0, wallOrigin = 1_700_000_000_000, opts: FakeClockOptions = {}) {
    this.t = start;
    this.wallOrigin = wallOrigin;
    this.opts = opts;
    const turnMs = opts.turnMs;
    if (turnMs !== undefined) {
      this.setTurn = (fn) => {
        this.stats.turns++;
        return this.addTimer(this.t + turnMs, fn);
      };
      this.clearTurn = (handle) => this.clearTimer(handle);
    }
    if (opts.sleep) {
      this.sleep = (ms) => {
        if (ms <= 0) return;
        this.stats.sleeps++;
        this.stats.sleptMs += ms;
        this.t += ms;
      };
    }
  }
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.wallOrigin + this.t;
  }
  setTimer(delayMs: number, fn: () => void): unknown {
    this.stats.timers++;
    const at = this.opts.wholeMsTimers
      ? Math.floor(this.t) + Math.max(1, Math.ceil(delayMs)) + (this.opts.wakePhaseMs ?? 0.999)
      : this.t + Math.max(0, delayMs);
    return this.addTimer(at + (this.opts.lateMs ?? 0), fn);
  }
  private addTimer(at: number, fn: () => void): FakeTimer {
    const timer: FakeTimer = { at, seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return timer;
  }
  clearTimer(handle: unknown): void {
    (handle as FakeTimer).live = false;
  }
  /** Move virtual time forward, firing due timers in deadline order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((x) => x.live);
      let next: FakeTimer | undefined;
      for (const x of this.timers) {
        if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
      }
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      next.live = false;
      next.fn();
    }
    // A callback may have slept past `end`; time never runs backwards.
    this.t = Math.max(this.t, end);
  }
  /** Advance in small steps so that work scheduled from callbacks is also run. */
  async advanceAsync(ms: number, step = 1): Promise<void> {
    for (let done = 0; done < ms; done += step) {
      this.advance(Math.min(step, ms - done));
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  pendingTimers(): number {
    return this.timers.filter((x) => x.live).length;
  }
}
