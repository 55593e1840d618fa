import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigStore, loadConfig } from "../../src/config/load.js";
import { parseLatencySpec, parseMs } from "../../src/config/settings/latency.js";
import { LatencyModel, latencyParams, loadFactor, sampleClamped } from "../../src/engine/latency.js";
import { LATENCY_PROFILES } from "../../src/engine/latency-profiles.js";
import { Random } from "../../src/engine/random.js";

function model(flags: Record<string, unknown>): LatencyModel {
  const { config } = loadConfig({ flags });
  return new LatencyModel(new ConfigStore(config), new Random(1));
}

const FIRST = { promptTokens: 100, cachedTokens: 0, remotePrefill: false, running: 1, maxNumSeqs: 8 };

describe("latency model", () => {
  it("defaults to 20 ms TTFT and 5 ms ITL with no jitter", () => {
    const p = latencyParams(loadConfig().config);
    assert.deepEqual(p.ttft, { mean: 20, stdDev: 0 });
    assert.deepEqual(p.itl, { mean: 5, stdDev: 0 });
    assert.equal(p.calculator, "constant");
    assert.equal(p.timeFactorUnderLoad, 1);
  });

  const rejected: [string, Record<string, unknown>, RegExp][] = [
    [
      "ttft std-dev above 30 %",
      { ttft: 100, ttftStdDev: 31 },
      /ttft-std-dev \(31 ms\) must be at most 30 % of ttft \(100 ms\)/,
    ],
    [
      "itl std-dev above 30 %",
      { itl: 10, itlStdDev: 3.5 },
      /itl-std-dev \(3.5 ms\) must be at most 30 % of itl \(10 ms\)/,
    ],
    ["std-dev without a mean", { itl: 0, itlStdDev: 1 }, /itl-std-dev/],
    [
      "kv transfer std-dev above 30 %",
      { kvCacheTransferLatency: 2, kvCacheTransferLatencyStdDev: 1 },
      /kv-cache-transfer-latency-std-dev \(1 ms\) must be at most 30 %/,
    ],
    ["MEAN:PCT above 30 %", { ttft: "50:40" }, /ttft: the jitter in 50:40 is 40 % of the mean; at most 30 %/],
    ["unknown profile", { latencyProfile: "gpu-9000" }, /unknown profile "gpu-9000"; known profiles: llama-8b-h100,/],
  ];
  for (const [name, flags, message] of rejected) {
    it(`rejects at startup: ${name}`, () => {
      assert.throws(() => loadConfig({ flags }), message);
    });
  }

  it("rejects a bad /configure patch and changes nothing", () => {
    const store = new ConfigStore(loadConfig({ flags: { itl: 10 } }).config);
    const before = store.current;
    assert.throws(() => store.patch({ itlStdDev: 4 }), /itl-std-dev \(4 ms\) must be at most 30 %/);
    assert.equal(store.current, before);
    store.patch({ itl: "10:30" });
    assert.deepEqual(latencyParams(store.current).itl, { mean: 10, stdDev: 3 });
  });

  it("parses MEAN:PCT and duration units", () => {
    assert.equal(parseLatencySpec("50:30"), "50:30");
    assert.equal(parseLatencySpec("50:30%"), "50:30");
    assert.equal(parseLatencySpec("20"), 20);
    assert.equal(parseLatencySpec("250us"), 0.25);
    assert.equal(parseMs("2ms"), 2);
    assert.equal(parseMs("1.5s"), 1500);
    assert.throws(() => parseLatencySpec("fast"), /MEAN or MEAN:PCT|duration/);
    const p = latencyParams(loadConfig({ flags: { ttft: parseLatencySpec("50:30") } }).config);
    assert.deepEqual(p.ttft, { mean: 50, stdDev: 15 });
  });

  it("accepts the seed servers' flag and env spellings", () => {
    assert.deepEqual(
      latencyParams(loadConfig({ env: { MOCK_SERVER_TTFT: "30", MOCK_SERVER_ITL: "7:20" } }).config).itl,
      { mean: 7, stdDev: 1.4 },
    );
  });

  it("clamps samples to ±70 % of the mean and keeps sub-millisecond resolution", () => {
    const r = new Random(42);
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    let sum = 0;
    let fractional = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const x = sampleClamped(r, 10, 3);
      min = Math.min(min, x);
      max = Math.max(max, x);
      sum += x;
      if (!Number.isInteger(x)) fractional++;
    }
    assert.ok(min >= 3 - 1e-9 && max <= 17 + 1e-9, `samples in [3, 17], got [${min}, ${max}]`);
    assert.ok(Math.abs(min - 3) < 1e-9, "the low tail is clamped, not dropped");
    assert.ok(Math.abs(max - 17) < 1e-9, "the high tail is clamped, not dropped");
    assert.ok(Math.abs(sum / n - 10) < 0.1, `mean ≈ 10, got ${sum / n}`);
    assert.ok(fractional > n * 0.9, "sub-millisecond jitter survives");
    assert.equal(sampleClamped(r, 5, 0), 5, "no jitter without a std-dev");
  });

  it("per-token prefill: overhead + uncached prompt tokens × time per token", () => {
    const m = model({ prefillOverhead: 10, prefillTimePerToken: 0.5 });
    assert.equal(m.params().calculator, "per-token", "auto picks per-token when a prefill time is set");
    assert.equal(m.firstToken(FIRST).ms, 60);
    assert.equal(m.firstToken({ ...FIRST, promptTokens: 200 }).ms, 110);
    assert.equal(m.firstToken({ ...FIRST, cachedTokens: 40 }).ms, 40, "cached tokens skip prefill");
    assert.equal(model({ ttft: 25 }).firstToken({ ...FIRST, promptTokens: 5000 }).ms, 25, "constant ignores length");
  });

  it("P/D: a decode request pays the KV transfer instead of prefill, not scaled by load", () => {
    const constant = model({ ttft: 100, kvCacheTransferLatency: 3, timeFactorUnderLoad: 3 });
    const remote = { ...FIRST, remotePrefill: true, running: 8 };
    assert.deepEqual(constant.firstToken(remote), { ms: 3, kind: "kv-transfer" });
    const perToken = model({ prefillTimePerToken: 1, kvCacheTransferTimePerToken: 0.01, timeFactorUnderLoad: 3 });
    assert.ok(Math.abs(perToken.firstToken(remote).ms - 1) < 1e-9, "100 tokens × 0.01 ms");
    assert.equal(perToken.firstToken({ ...FIRST, running: 8 }).ms, 300, "prefill itself is scaled by load");
  });

  it("load factor grows linearly from 1 (one request) to F (full batch)", () => {
    assert.equal(loadFactor(2, 1, 5), 1);
    assert.equal(loadFactor(2, 3, 5), 1.5);
    assert.equal(loadFactor(2, 5, 5), 2);
    assert.equal(loadFactor(2, 9, 5), 2, "never beyond F");
    assert.equal(loadFactor(3, 4, 1), 1, "forced to 1 when max-num-seqs is 1");
    const m = model({ itl: 10, ttft: 20, timeFactorUnderLoad: 2 });
    assert.equal(m.interToken(1, 5), 10);
    assert.equal(m.interToken(5, 5), 20);
    assert.equal(m.firstToken({ ...FIRST, running: 5, maxNumSeqs: 5 }).ms, 40);
  });

  it("a profile fills unset values; explicit flags win", () => {
    const p = latencyParams(loadConfig({ flags: { latencyProfile: "llama-8b-h100" } }).config);
    assert.deepEqual(p.ttft, { mean: 100, stdDev: 20 });
    assert.deepEqual(p.itl, { mean: 12, stdDev: 2 });
    assert.equal(p.timeFactorUnderLoad, 2);
    assert.equal(p.calculator, "constant");
    const q = latencyParams(loadConfig({ flags: { latencyProfile: "llama-8b-h100", itl: 8 } }).config);
    assert.deepEqual(q.itl, { mean: 8, stdDev: 0 });
    const r = latencyParams(loadConfig({ flags: { latencyProfile: "llama-8b-h100-per-token" } }).config);
    assert.equal(r.calculator, "per-token");
    assert.equal(r.prefillOverhead, 30);
    assert.equal(r.prefillTimePerToken, 0.25);
    for (const [name, prof] of Object.entries(LATENCY_PROFILES)) {
      assert.doesNotThrow(() => loadConfig({ flags: { latencyProfile: name } }), name);
      assert.ok(prof.ttftStdDev <= prof.ttft * 0.3 && prof.itlStdDev <= prof.itl * 0.3, name);
    }
  });

  it("re-reads the configuration after /configure", () => {
    const store = new ConfigStore(loadConfig({ flags: { itl: 5 } }).config);
    const m = new LatencyModel(store, new Random(1));
    assert.equal(m.interToken(1, 1), 5);
    store.patch({ itl: 9 });
    assert.equal(m.interToken(1, 1), 9);
  });
});
