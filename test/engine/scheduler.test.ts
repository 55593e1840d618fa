import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../src/engine/clock.js";
import { Scheduler } from "../../src/engine/scheduler.js";

describe("scheduler on a fake clock", () => {
  it("fires deadlines in time order, ties first-in first-out", () => {
    const clock = new FakeClock();
    const s = new Scheduler(clock, { slackMs: 0 });
    const fired: string[] = [];
    s.at(30, () => fired.push("c"));
    s.at(10, () => fired.push("a1"));
    s.at(20, () => fired.push("b"));
    s.at(10, () => fired.push("a2"));
    clock.advance(100);
    assert.deepEqual(fired, ["a1", "a2", "b", "c"]);
    assert.equal(s.size, 0);
  });

  it("does not fire a deadline before its time", () => {
    const clock = new FakeClock();
    const s = new Scheduler(clock, { slackMs: 0 });
    let at = -1;
    s.at(5.5, (now) => {
      at = now;
    });
    clock.advance(5.4);
    assert.equal(at, -1);
    clock.advance(0.2);
    assert.equal(at, 5.5);
  });

  it("a late tick fires everything due with the same now", () => {
    // Real timers fire late; model a tick that lands 2 ms after its deadline.
    class LateClock extends FakeClock {
      override setTimer(delayMs: number, fn: () => void): unknown {
        return super.setTimer(delayMs + 2, fn);
      }
    }
    const clock = new LateClock();
    const s = new Scheduler(clock, { slackMs: 0 });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) s.at(10 + i * 0.1, (now) => seen.push(now));
    clock.advance(20);
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen).size, 1);
  });

  it("cancel removes a deadline and keeps heap order", () => {
    const clock = new FakeClock();
    const s = new Scheduler(clock, { slackMs: 0 });
    const fired: number[] = [];
    const ds = [50, 10, 40, 20, 30].map((t) => s.at(t, () => fired.push(t)));
    s.cancel(ds[2]);
    s.cancel(ds[1]);
    s.cancel(ds[1]);
    clock.advance(100);
    assert.deepEqual(fired, [20, 30, 50]);
  });

  it("absolute deadlines re-armed from callbacks do not drift", () => {
    const clock = new FakeClock();
    const s = new Scheduler(clock, { slackMs: 0 });
    const times: number[] = [];
    let next = 5;
    const step = (now: number) => {
      times.push(now);
      next += 5;
      if (times.length < 100) s.at(next, step);
    };
    s.at(next, step);
    clock.advance(1000);
    assert.equal(times.length, 100);
    assert.equal(times[99], 500);
    for (let i = 1; i < times.length; i++) assert.equal((times[i] as number) - (times[i - 1] as number), 5);
  });

  it("keeps only one clock timer armed however many deadlines exist", () => {
    const clock = new FakeClock();
    const s = new Scheduler(clock, { slackMs: 0 });
    for (let i = 0; i < 1000; i++) s.at(1 + (i % 37), () => {});
    assert.equal(clock.pendingTimers(), 1);
    clock.advance(100);
    assert.equal(clock.pendingTimers(), 0);
  });

  it("a throwing callback does not stop the others", () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    const s = new Scheduler(clock, {
      slackMs: 0,
      onError: (err) => fired.push((err as Error).message === "boom" ? -1 : -2),
    });
    s.at(1, () => {
      throw new Error("boom");
    });
    s.at(2, () => fired.push(2));
    clock.advance(5);
    assert.deepEqual(fired, [-1, 2]);
  });

  it("runs on the real clock within a few milliseconds", async () => {
    const { RealClock } = await import("../../src/engine/clock.js");
    const clock = new RealClock();
    const s = new Scheduler(clock);
    const start = clock.now();
    const late = await new Promise<number>((resolve) => s.at(start + 20, (now) => resolve(now - (start + 20))));
    assert.ok(late > -0.5, `fired ${late} ms early`);
    assert.ok(late < 50, `fired ${late} ms late`);
  });

  it("on the real clock, fractional deadlines fire neither early nor on whole milliseconds", async () => {
    const { RealClock } = await import("../../src/engine/clock.js");
    const clock = new RealClock();
    const s = new Scheduler(clock);
    const late: number[] = [];
    await new Promise<void>((resolve) => {
      let next = clock.now() + 3.3;
      const fire = () => {
        late.push(clock.now() - next);
        next += 3.3;
        if (late.length < 30) s.at(next, fire);
        else resolve();
      };
      s.at(next, fire);
    });
    late.sort((a, b) => a - b);
    assert.ok((late[0] as number) >= -0.06, `earliest ${late[0]} ms`);
    // Generous for shared CI machines: whole-ms timers alone put the median near 0.5 ms late.
    assert.ok((late[15] as number) < 0.3, `median ${late[15]} ms late`);
  });
});

describe("precise deadlines on whole-millisecond timers", () => {
  /** Node's timers, at their latest: a delay counts whole ms from the current one and wakes at its end. */
  const nodeLike = (opts: { turnMs?: number; sleep?: boolean; wakePhaseMs?: number } = {}) =>
    new FakeClock(0, undefined, { wholeMsTimers: true, turnMs: 0.01, sleep: true, ...opts });

  /** One stream: deadlines every `itl` ms from `start`; returns how late (ms) each one fired. */
  function stream(s: Scheduler, clock: FakeClock, start: number, itl: number, n: number): number[] {
    const late: number[] = [];
    let next = start;
    const fire = () => {
      late.push(clock.now() - next);
      next += itl;
      if (late.length < n) s.at(next, fire);
    };
    s.at(next, fire);
    return late;
  }

  it("whole-millisecond timers alone fire up to a millisecond late", () => {
    const clock = new FakeClock(0, undefined, { wholeMsTimers: true });
    const s = new Scheduler(clock, { slackMs: 0 });
    const late = stream(s, clock, 5.3, 5, 100);
    clock.advance(600);
    assert.equal(late.length, 100);
    assert.ok(Math.max(...late) > 0.9, `latest ${Math.max(...late)}`);
  });

  it("with event-loop turns and sleeps, each deadline fires within 0.1 ms", () => {
    for (const wakePhaseMs of [0, 0.5, 0.999]) {
      const clock = nodeLike({ wakePhaseMs });
      const s = new Scheduler(clock);
      const late = stream(s, clock, 5.3, 5, 100);
      clock.advance(600);
      assert.equal(late.length, 100);
      for (const l of late) assert.ok(l >= -0.05 && l <= 0.1, `fired ${l} ms off (wake phase ${wakePhaseMs})`);
    }
  });

  it("the timer does the long wait; turns and sleeps only cover the last two milliseconds", () => {
    const clock = nodeLike();
    const s = new Scheduler(clock);
    stream(s, clock, 50.3, 50, 10);
    clock.advance(600);
    // Per deadline: one timer, then a turn or two and at most ten 0.2 ms sleeps.
    assert.ok(clock.stats.timers <= 10, `timers ${clock.stats.timers}`);
    assert.ok(clock.stats.turns <= 10 * 12, `turns ${clock.stats.turns}`);
    assert.ok(clock.stats.sleptMs <= 10 * 2, `slept ${clock.stats.sleptMs} ms`);
    // Idle again: nothing armed.
    assert.equal(clock.pendingTimers(), 0);
  });

  it("a busy event loop is never put to sleep; it takes turns instead and stays precise", () => {
    // Every turn takes 0.08 ms: other work (I/O) runs between the scheduler's turns.
    const clock = nodeLike({ turnMs: 0.08 });
    const s = new Scheduler(clock);
    const late = stream(s, clock, 5.3, 5, 50);
    clock.advance(300);
    assert.equal(clock.stats.sleeps, 0);
    assert.ok(clock.stats.turns > 0);
    for (const l of late) assert.ok(l >= -0.05 && l <= 0.1, `fired ${l} ms off`);
  });

  it("a sleep never exceeds sleepMs, so I/O waits at most that long", () => {
    const clock = nodeLike();
    const sleeps: number[] = [];
    const sleep = clock.sleep as (ms: number) => void;
    clock.sleep = (ms) => {
      sleeps.push(ms);
      sleep(ms);
    };
    const s = new Scheduler(clock, { sleepMs: 0.2 });
    stream(s, clock, 7.9, 3.3, 30);
    clock.advance(200);
    assert.ok(sleeps.length > 0);
    assert.ok(Math.max(...sleeps) <= 0.2 + 1e-9);
  });

  it("precise: false keeps to timers, and cancelling the last deadline releases the turn", () => {
    const clock = nodeLike();
    const coarse = new Scheduler(clock, { precise: false });
    stream(coarse, clock, 5.3, 5, 10);
    clock.advance(100);
    assert.equal(clock.stats.turns, 0);

    const s = new Scheduler(clock);
    const d = s.at(clock.now() + 0.5, () => assert.fail("cancelled deadline fired"));
    assert.equal(clock.pendingTimers(), 1);
    s.cancel(d);
    assert.equal(clock.pendingTimers(), 0);
    clock.advance(10);
  });

  it("deadlines fired together still see one now, and none fires more than the slack early", () => {
    const clock = nodeLike();
    const s = new Scheduler(clock, { slackMs: 0.05 });
    const seen: [number, number][] = [];
    for (const at of [3.2, 3.22, 3.24, 3.4, 9.99]) s.at(at, (now) => seen.push([at, now]));
    clock.advance(20);
    assert.equal(seen.length, 5);
    for (const [at, now] of seen) assert.ok(now >= at - 0.05 && now <= at + 0.1, `${at} fired at ${now}`);
    assert.equal(seen[0]?.[1], seen[1]?.[1], "3.2 and 3.22 share a tick");
  });
});
