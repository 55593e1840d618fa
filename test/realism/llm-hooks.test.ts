import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigStore, loadConfig } from "../../src/config/load.js";
import { Faults } from "../../src/engine/faults.js";
import { KvCache } from "../../src/engine/kv-cache.js";
import type { LlmJobView } from "../../src/engine/llm/hooks.js";
import type { ResolvedModel } from "../../src/engine/llm/models.js";
import { Random } from "../../src/engine/random.js";
import { realismHooks } from "../../src/engine/realism-hooks.js";

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

function job(tokens: number[], opts: { stream?: boolean; headers?: Record<string, string>; steps?: number } = {}) {
  const model = { requested: "m", base: "m", served: "m", lora: undefined, wildcard: false } as ResolvedModel;
  return {
    id: "1",
    model: "m",
    lora: undefined,
    random: new Random(1),
    request: { api: "chat", stream: opts.stream ?? false, headers: opts.headers },
    plan: { model, prompts: [{ text: "", ids: tokens, tokens: tokens.length }], steps: opts.steps ?? 20 },
    promptTokenIds: () => tokens,
  } as unknown as LlmJobView;
}

function setup(flags: Record<string, unknown> = {}) {
  const store = new ConfigStore(loadConfig({ flags }).config);
  const faults = new Faults(store, new Random(7));
  const kv = new KvCache({ blockSize: 16, capacityBlocks: 64, hashSeed: "" });
  return { store, faults, kv, hooks: realismHooks({ faults, kv }) };
}

describe("realism hooks in the LLM pipeline", () => {
  it("prefill reports a repeated prompt's cached tokens and releases its blocks at the end", () => {
    const { kv, hooks } = setup();
    const first = hooks.prefill?.(job(range(40)));
    assert.equal(first?.cachedTokens, 0);
    assert.equal(kv.usage(), 2 / 64);
    first?.release?.();
    assert.equal(kv.usage(), 0);
    assert.equal(hooks.prefill?.(job(range(40)))?.cachedTokens, 32);
  });

  it("admit injects failures at the configured rate and honours a forcing header", () => {
    const { hooks, store } = setup();
    assert.equal(hooks.admit?.(job([]), {} as ResolvedModel), null);
    const forced = hooks.admit?.(job([], { headers: { "x-decoy-return-error": "429" } }), {} as ResolvedModel);
    assert.equal(forced?.httpStatus, 429);
    store.patch({ "failure-injection-rate": 100, "failure-types": ["model_not_found"] });
    assert.match(hooks.admit?.(job([]), {} as ResolvedModel)?.message ?? "", /'m-nonexistent'/);
  });

  it("decode cuts only streamed responses and adds latency spikes", () => {
    const { hooks } = setup({ midStreamFailureRate: 100, latencySpikeRate: 100, latencySpikeMs: 40 });
    const streamed = hooks.decode?.(job([], { stream: true, steps: 10 }));
    assert.ok(streamed?.cutAfterTokens !== undefined && streamed.cutAfterTokens >= 1 && streamed.cutAfterTokens < 10);
    assert.equal(streamed?.extraFirstTokenMs, 40);
    const whole = hooks.decode?.(job([], { stream: false }));
    assert.equal(whole?.cutAfterTokens, undefined);
    assert.equal(whole?.extraFirstTokenMs, 40);
    assert.equal(setup().hooks.decode?.(job([], { stream: true })), null);
  });
});
