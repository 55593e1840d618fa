import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/load.js";
import { FakeClock } from "../../src/engine/clock.js";
import { curveAt, FakeMetrics, parseCurve, parseFakeMetrics } from "../../src/engine/fake-metrics.js";

const SEED_004 = {
  "running-requests": 10,
  "waiting-requests": 30,
  "kv-cache-usage": 0.4,
  loras: [
    { running: "lora4,lora2", waiting: "lora3", timestamp: 1257894567 },
    { running: "lora4,lora3", waiting: "", timestamp: 1257894569 },
  ],
};

describe("fake metrics", () => {
  it("seed 004's document gives its values", () => {
    const fm = new FakeMetrics(new FakeClock(), SEED_004);
    assert.deepEqual(fm.sample(), {
      running: 10,
      waiting: 30,
      kvCacheUsage: 0.4,
      loras: [
        { running: ["lora4", "lora2"], waiting: ["lora3"], timestamp: 1257894567 },
        { running: ["lora4", "lora3"], waiting: [], timestamp: 1257894569 },
      ],
    });
  });

  it("is undefined when unset, so measured values are used", () => {
    assert.equal(new FakeMetrics(new FakeClock()).sample(), undefined);
  });

  it("ramp goes from→to over the period then holds; repeat restarts it", () => {
    const ramp = parseCurve({ ramp: { from: 0, to: 40, periodS: 60 } }, "x");
    assert.equal(curveAt(ramp, 0), 0);
    assert.equal(curveAt(ramp, 30_000), 20);
    assert.equal(curveAt(ramp, 120_000), 40);
    const reset = parseCurve("rampreset:0:10:10s", "x");
    assert.equal(curveAt(reset, 15_000), 5);
  });

  it("oscillate is a sine between min and max; square holds low then high for its duty", () => {
    const osc = parseCurve({ oscillate: { min: 0, max: 10, periodS: 4 } }, "x");
    assert.equal(curveAt(osc, 0), 5);
    assert.ok(Math.abs(curveAt(osc, 1000) - 10) < 1e-9);
    assert.ok(Math.abs(curveAt(osc, 3000) - 0) < 1e-9);
    const sq = parseCurve({ square: { low: 1, high: 9, periodS: 10, duty: 0.2 } }, "x");
    assert.equal(curveAt(sq, 0), 1);
    assert.equal(curveAt(sq, 7_999), 1);
    assert.equal(curveAt(sq, 8_000), 9);
    assert.equal(curveAt(sq, 10_000), 1);
    assert.equal(curveAt(parseCurve("squarewave:2:4:1m", "x"), 30_000), 4);
  });

  it("samples follow the engine clock in refresh-interval steps; set() restarts the curves", () => {
    const clock = new FakeClock();
    const fm = new FakeMetrics(clock, { "running-requests": { ramp: { from: 0, to: 100, periodS: 10 } } }, 1000);
    clock.advance(2_500);
    assert.equal(fm.sample()?.running, 20);
    clock.advance(2_500);
    assert.equal(fm.sample()?.running, 50);
    fm.set({ "kv-cache-usage": "oscillate:0:1:8s" }, 1000);
    assert.equal(fm.sample()?.kvCacheUsage, 0.5);
    assert.equal(fm.sample()?.running, 0);
  });

  it("rejects out-of-range values at startup, including curve strings", () => {
    assert.throws(() => parseFakeMetrics({ "kv-cache-usage": 1.5 }), /kv-cache-usage must be between 0 and 1/);
    assert.throws(
      () => loadConfig({ flags: { fakeMetrics: { "kv-cache-usage": "ramp:0:5:10s" } } }),
      (e: unknown) => e instanceof ConfigError && /kv-cache-usage must be between 0 and 1/.test(e.message),
    );
    assert.throws(() => loadConfig({ flags: { fakeMetrics: { "running-requests": -1 } } }), ConfigError);
    assert.throws(
      () => loadConfig({ flags: { fakeMetrics: { "waiting-requests": { square: { low: 0, high: 1, periodS: 0 } } } } }),
      ConfigError,
    );
    assert.ok(loadConfig({ env: { DECOY_FAKE_METRICS: JSON.stringify(SEED_004) } }).config.fakeMetrics);
  });
});
