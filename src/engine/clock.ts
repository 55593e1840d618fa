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
}

export class RealClock implements Clock {
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
}

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/** Virtual time for tests: nothing happens until `advance` is called. */
export class FakeClock implements Clock {
  private t: number;
  private readonly wallOrigin: number;
  private timers: FakeTimer[] = [];
  private seq = 0;

  constructor(start = 0, wallOrigin = 1_700_000_000_000) {
    this.t = start;
    this.wallOrigin = wallOrigin;
  }
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.wallOrigin + this.t;
  }
  setTimer(delayMs: number, fn: () => void): unknown {
    const timer: FakeTimer = { at: this.t + Math.max(0, delayMs), seq: this.seq++, fn, live: true };
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
    this.t = end;
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
