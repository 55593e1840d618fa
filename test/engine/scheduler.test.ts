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
});
