import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";

interface State {
  config: Record<string, unknown>;
  runtime: string[];
}

describe("runtime configuration (/configure)", () => {
  let server: DecoyServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  const post = (body: unknown) =>
    fetch(`${server.httpUrl}/configure`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("GET lists every setting by flag name and which ones may change at runtime", async () => {
    const res = await fetch(`${server.httpUrl}/configure`);
    assert.equal(res.status, 200);
    const state = (await res.json()) as State;
    assert.equal(state.config["failure-injection-rate"], 0);
    assert.equal(state.config["grpc-port"], 0);
    assert.ok(state.runtime.includes("failure-injection-rate"));
    assert.ok(state.runtime.includes("fake-metrics"));
    assert.ok(!state.runtime.includes("port"));
  });

  it("POST applies a patch in flag, snake_case or alias spelling and reports what changed", async () => {
    const res = await post({
      failure_types: ["rate_limit"],
      "error-rate": 5,
      "fake-metrics": { "running-requests": 3 },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as State & { status: string; changed: string[] };
    assert.equal(body.status, "ok");
    assert.deepEqual(body.changed.sort(), ["failure-injection-rate", "failure-types", "fake-metrics"]);
    assert.equal(body.config["failure-injection-rate"], 5);
    assert.equal(server.ctx.config.current.failureInjectionRate, 5);
    assert.equal(server.ctx.fakeMetrics.sample()?.running, 3, "fake metrics follow the patch");
    await post({ "error-rate": 0, "fake-metrics": null, "failure-types": [] });
  });

  it("a bad patch answers 400 in OpenAI's error shape and changes nothing", async () => {
    const before = JSON.stringify(server.ctx.config.current);
    for (const [patch, re] of [
      [{ "error-rate": 50, "failure-injection-rate": 101 }, /failure-injection-rate/],
      [{ "error-rate": 50, "no-such-setting": 1 }, /unknown setting "no-such-setting"/],
      [{ port: 1234 }, /cannot change at runtime/],
      [{ "error-rate": 50, "fake-metrics": { "kv-cache-usage": "ramp:0:3:10s" } }, /kv-cache-usage/],
      [{ "failure-types": ["meteor_strike"] }, /failure-types/],
    ] as const) {
      const res = await post(patch);
      assert.equal(res.status, 400, JSON.stringify(patch));
      const body = (await res.json()) as { error: { message: string; type: string; code: number } };
      assert.match(body.error.message, re);
      assert.equal(body.error.type, "BadRequestError");
    }
    assert.equal(JSON.stringify(server.ctx.config.current), before);
  });

  it("changing the inter-token latency at runtime changes the timing of the next request", async () => {
    const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "none", maxRetries: 0 });
    const timed = async () => {
      const t0 = performance.now();
      const res = await client.chat.completions.create({
        model: "decoy-llm",
        messages: [{ role: "user", content: "count to twenty, slowly" }],
        max_tokens: 11,
      });
      assert.equal(res.usage?.completion_tokens, 11);
      return performance.now() - t0;
    };
    assert.equal((await post({ ttft: 0, itl: 2 })).status, 200);
    const fast = await timed();
    const res = await post({ "inter-token-latency": 40 });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { changed: string[] }).changed, ["itl"]);
    const slow = await timed();
    assert.ok(fast < 200, `10 gaps of 2 ms took ${fast.toFixed(0)} ms`);
    assert.ok(slow >= 380, `10 gaps of 40 ms took ${slow.toFixed(0)} ms`);
    const bad = await post({ itl: -5 });
    assert.equal(bad.status, 400);
    assert.equal(server.ctx.config.current.itl, 40, "a rejected patch keeps the last good value");
  });
});
