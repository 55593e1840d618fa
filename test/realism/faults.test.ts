import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, ConfigStore, loadConfig } from "../../src/config/load.js";
import { FAILURE_TYPES, Faults, failureError, forcedError, isInjected } from "../../src/engine/faults.js";
import { Random } from "../../src/engine/random.js";

function faults(flags: Record<string, unknown>) {
  const store = new ConfigStore(loadConfig({ flags }).config);
  return { store, f: new Faults(store) };
}

describe("failure injection", () => {
  it("each failure type has llm-d's status, message and param, and its gRPC code", () => {
    const expect = {
      rate_limit: [429, 8, null, /^Rate limit reached for m1 in organization org-xxx on requests per min/],
      invalid_api_key: [401, 16, null, /^Incorrect API key provided\.$/],
      context_length: [400, 3, "messages", /maximum context length is 4096 tokens/],
      server_error: [503, 14, null, /^The server is overloaded or not ready yet\.$/],
      invalid_request: [400, 3, "model", /missing required parameter 'model'/],
      model_not_found: [404, 5, "model", /^The model 'm1-nonexistent' does not exist$/],
    } as const;
    for (const t of FAILURE_TYPES) {
      const e = failureError(t, "m1");
      const [status, grpc, param, msg] = expect[t];
      assert.equal(e.httpStatus, status, t);
      assert.equal(e.grpcCode, grpc, t);
      assert.equal(e.param, param, t);
      assert.match(e.message, msg, t);
      assert.ok(isInjected(e));
    }
  });

  it("the rate is a percentage of requests, drawn from the caller's seeded random", () => {
    const { f } = faults({ failureInjectionRate: 25 });
    const r = new Random(42);
    let n = 0;
    for (let i = 0; i < 4000; i++) if (f.draw(r, "m")) n++;
    assert.ok(n > 900 && n < 1100, `${n} of 4000`);
    const seq = (seed: number) => {
      const rr = new Random(seed);
      return Array.from({ length: 50 }, () => f.draw(rr, "m")?.message ?? "-").join("|");
    };
    assert.equal(seq(7), seq(7), "same seed, same failures");
    assert.notEqual(seq(7), seq(8));
  });

  it("rate 0 never fails and 100 always does, picking only the configured types", () => {
    assert.equal(faults({}).f.draw(new Random(1), "m"), null);
    const { f } = faults({ failureInjectionRate: 100, failureTypes: ["rate_limit", "server_error"] });
    const seen = new Set<number>();
    const r = new Random(3);
    for (let i = 0; i < 200; i++) seen.add((f.draw(r, "m") as { httpStatus: number }).httpStatus);
    assert.deepEqual([...seen].sort(), [429, 503]);
  });

  it("--error-rate is an alias of the rate; failure types parse from a comma list and are checked", () => {
    const { config } = loadConfig({ env: { DECOY_FAILURE_TYPES: "rate_limit, model_not_found" } });
    assert.deepEqual(config.failureTypes, ["rate_limit", "model_not_found"]);
    const store = new ConfigStore(loadConfig().config);
    store.patch({ "error-rate": 10 });
    assert.equal(store.current.failureInjectionRate, 10);
    assert.throws(() => store.patch({ failure_types: ["nope"] }), ConfigError);
    assert.throws(() => store.patch({ "failure-injection-rate": 101 }), ConfigError);
    assert.equal(store.current.failureInjectionRate, 10);
  });

  it("a forcing header picks a type by name or by status; other statuses keep their number", () => {
    assert.equal(forcedError(undefined, "m"), null);
    assert.equal(forcedError("", "m"), null);
    assert.equal(forcedError("429", "m")?.message.startsWith("Rate limit reached for m "), true);
    assert.equal(forcedError("model_not_found", "m")?.httpStatus, 404);
    const e500 = forcedError("500", "m");
    assert.equal(e500?.httpStatus, 500);
    assert.equal(e500?.code, "INTERNAL");
    assert.equal(forcedError("418", "m")?.httpStatus, 418);
    const bad = forcedError("banana", "m");
    assert.equal(bad?.httpStatus, 400);
    assert.match(bad?.message ?? "", /x-decoy-return-error must be/);
  });

  it("mid-stream cuts land after at least one token and before the last", () => {
    const { f } = faults({ midStreamFailureRate: 100 });
    const r = new Random(5);
    for (let i = 0; i < 200; i++) {
      const cut = f.midStream(r, 10);
      assert.ok(cut && cut.afterTokens >= 1 && cut.afterTokens <= 9);
      assert.equal(cut.error.httpStatus, 503);
    }
    assert.equal(f.midStream(r, 1), null, "a one-token stream cannot be cut mid-way");
    assert.equal(faults({}).f.midStream(r, 10), null);
  });

  it("latency spikes add the configured time to the chosen share of requests; changes apply at once", () => {
    const { f, store } = faults({ latencySpikeRate: 50, latencySpikeMs: 750 });
    const r = new Random(9);
    const spikes = Array.from({ length: 1000 }, () => f.latencySpike(r));
    assert.ok(spikes.every((s) => s === 0 || s === 750));
    const n = spikes.filter((s) => s > 0).length;
    assert.ok(n > 430 && n < 570, `${n}`);
    store.patch({ "latency-spike-rate": 0 });
    assert.equal(f.latencySpike(r), 0);
    assert.equal(f.active, false);
  });
});
