import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigStore, loadConfig } from "../../src/config/load.js";
import { FakeClock } from "../../src/engine/clock.js";
import { Engine } from "../../src/engine/engine.js";
import { DecoyError } from "../../src/engine/errors.js";
import type { LlmRequestRecord } from "../../src/engine/events.js";
import { LlmService } from "../../src/engine/llm/service.js";
import { completion, fakeLlm, recorder } from "./helpers.js";

/** A clock whose timers fire `lateMs` after they were due, like a busy event loop. */
class LateClock extends FakeClock {
  constructor(private readonly lateMs: number) {
    super();
  }
  override setTimer(delayMs: number, fn: () => void): unknown {
    return super.setTimer(delayMs + this.lateMs, fn);
  }
}

const TOKENS = { maxTokens: 5, ignoreEos: true };

describe("LLM scheduler and job pacing", () => {
  it("streams the first token at TTFT, then one token per ITL", () => {
    const { clock, llm } = fakeLlm({ ttft: 20, itl: 5 });
    const { sink, rec } = recorder(clock);
    llm.submit(completion("hello", TOKENS), sink);
    clock.advance(100);
    assert.deepEqual(rec.fires, [
      [20, 0, 1],
      [25, 1, 2],
      [30, 2, 3],
      [35, 3, 4],
      [40, 4, 5],
    ]);
    assert.equal(rec.doneAt, 40);
  });

  it("a late timer emits every due token in one firing and later deadlines do not drift", () => {
    const clock = new LateClock(3);
    const { config } = loadConfig({ flags: { ttft: 10, itl: 1, seed: 1 } });
    const llm = new LlmService(new Engine({ config: new ConfigStore(config), clock }));
    const { sink, rec } = recorder(clock);
    llm.submit(completion("hello", { maxTokens: 10, ignoreEos: true }), sink);
    clock.advance(100);
    assert.equal(rec.fires[0]?.[0], 13, "the first firing is 3 ms late");
    assert.deepEqual(rec.fires[0]?.slice(1), [0, 4], "tokens due at 10, 11, 12 and 13 go out together");
    // absolute deadlines: the k-th token is never emitted before 10 + k ms, and all 10 arrive by 22
    for (const [at, from, to] of rec.fires) assert.ok(at >= 10 + (to - 1) && to > from);
    assert.equal(rec.fires.at(-1)?.[2], 10);
    assert.ok((rec.doneAt ?? 0) <= 22 + 0.25, `done at ${rec.doneAt}`);
  });

  it("a non-streaming request completes after TTFT + ITL × (tokens − 1)", () => {
    const { clock, llm } = fakeLlm({ ttft: 20, itl: 5 });
    const { sink, rec } = recorder(clock, false);
    llm.submit(completion("hello", { ...TOKENS, maxTokens: 11, stream: false }), sink);
    clock.advance(200);
    assert.equal(rec.doneAt, 20 + 5 * 10);
    assert.equal(rec.job?.completionTokens(), 11);
  });

  it("runs max-num-seqs at once, queues FIFO, and answers 429 when the queue is full", () => {
    const { clock, llm } = fakeLlm({ ttft: 10, itl: 10, maxNumSeqs: 2, maxWaitingQueueLength: 2 });
    const recs = Array.from({ length: 4 }, () => recorder(clock));
    for (const [i, r] of recs.entries()) llm.submit(completion(`request ${i}`, TOKENS), r.sink);
    assert.deepEqual([llm.slots.running, llm.slots.waiting], [2, 2]);
    assert.throws(
      () => llm.submit(completion("one too many", TOKENS), recorder(clock).sink),
      (err: DecoyError) =>
        err instanceof DecoyError &&
        err.code === "RESOURCE_EXHAUSTED" &&
        err.httpStatus === 429 &&
        /max-waiting-queue-length 2/.test(err.message),
    );
    clock.advance(1000);
    const done = recs.map((r) => r.rec.doneAt);
    // each takes 10 + 4 × 10 = 50 ms; the second pair starts when the first pair ends
    assert.deepEqual(done, [50, 50, 100, 100]);
    assert.deepEqual([llm.slots.running, llm.slots.waiting], [0, 0]);
  });

  it("queue time is real time spent waiting, reported to telemetry", () => {
    const { clock, llm, engine } = fakeLlm({ ttft: 10, itl: 10, maxNumSeqs: 1 });
    const records: LlmRequestRecord[] = [];
    const order: string[] = [];
    engine.events.add({
      llmQueued: () => order.push("queued"),
      llmStarted: () => order.push("started"),
      llmFinished: (r) => records.push(r),
    });
    llm.submit(completion("first", TOKENS), recorder(clock).sink);
    clock.advance(5);
    llm.submit(completion("second", TOKENS), recorder(clock).sink);
    clock.advance(1000);
    assert.deepEqual(order, ["queued", "started", "queued", "started"]);
    assert.equal(records[0]?.queuedMs, 0);
    assert.equal(records[1]?.queuedMs, 45, "arrived at 5, got the slot at 50");
    assert.equal(records[1]?.ttftMs, 55);
    assert.equal(records[1]?.prefillMs, 10);
    assert.equal(records[1]?.decodeMs, 40);
    assert.equal(records[1]?.e2eMs, 95);
    assert.equal(records[1]?.generationTokens, 5);
    assert.equal(records[1]?.finishedReason, "length");
  });

  it("cancelling frees the waiting place and the running slot at once", () => {
    const { clock, llm } = fakeLlm({ ttft: 10, itl: 10, maxNumSeqs: 1 });
    const a = recorder(clock);
    const b = recorder(clock);
    const c = recorder(clock);
    const ja = llm.submit(completion("a", TOKENS), a.sink);
    const jb = llm.submit(completion("b", TOKENS), b.sink);
    llm.submit(completion("c", TOKENS), c.sink);
    assert.deepEqual([llm.slots.running, llm.slots.waiting], [1, 2]);
    jb.cancel();
    assert.deepEqual([llm.slots.running, llm.slots.waiting], [1, 1], "b left the queue at once");
    clock.advance(15);
    ja.cancel();
    assert.deepEqual([llm.slots.running, llm.slots.waiting], [1, 0], "c took a's slot at once");
    clock.advance(1000);
    assert.equal(a.rec.doneAt, undefined, "a cancelled client hears nothing more");
    assert.equal(b.rec.doneAt, undefined);
    assert.equal(c.rec.doneAt, 15 + 50);
  });

  it("LoRA-aware admission: max-loras adapters run at once, others wait without blocking", () => {
    const { clock, llm } = fakeLlm({
      ttft: 10,
      itl: 10,
      maxNumSeqs: 4,
      maxLoras: 1,
      loraModules: [{ name: "alpha" }, { name: "beta" }],
    });
    const recs = ["alpha", "beta", "decoy-llm", "alpha"].map((model) => {
      const r = recorder(clock);
      llm.submit(completion(model, { ...TOKENS, model }), r.sink);
      return r;
    });
    const s = llm.slots.stats();
    assert.deepEqual([s.running, s.waiting], [3, 1]);
    assert.deepEqual(s.runningLoras, { alpha: 2 });
    assert.deepEqual(s.waitingLoras, { beta: 1 });
    clock.advance(1000);
    assert.deepEqual(
      recs.map((r) => r.rec.doneAt),
      [50, 100, 50, 50],
      "beta starts when no alpha request runs",
    );
  });

  it("an adapter outside the CPU LoRA cache pays --lora-load-latency-ms on its first token; LRU evicts", () => {
    const { clock, llm } = fakeLlm({
      ttft: 10,
      itl: 10,
      maxLoras: 1,
      maxCpuLoras: 1,
      loraLoadLatencyMs: 40,
      loraModules: [{ name: "alpha" }, { name: "beta" }],
    });
    const firstToken = (model: string): number | undefined => {
      const start = clock.now();
      const r = recorder(clock);
      llm.submit(completion(model, { ...TOKENS, model }), r.sink);
      clock.advance(1000);
      const first = r.rec.fires[0]?.[0];
      return first === undefined ? undefined : first - start;
    };
    assert.equal(firstToken("alpha"), 50, "cold: loaded when scheduled");
    assert.equal(firstToken("alpha"), 10, "warm");
    assert.deepEqual(llm.stats().cpuLoras, ["alpha"]);
    assert.equal(firstToken("beta"), 50, "cold, and evicts alpha from a cache of one");
    assert.equal(firstToken("alpha"), 50, "alpha was evicted");
    assert.equal(firstToken("decoy-llm"), 10, "the base model loads nothing");
    llm.models.load("gamma", "/adapters/gamma");
    llm.models.load("delta", "/adapters/delta");
    assert.deepEqual(
      llm.models.loras().map((l) => l.name),
      ["alpha", "beta", "gamma", "delta"],
      "registration is not limited by the cache",
    );
    llm.models.unload("alpha");
    assert.deepEqual(llm.stats().cpuLoras, []);
  });

  it("speculative decoding: a step emits 1 + the accepted drafts, one onTokens call each, one ITL per step", () => {
    const run = (acceptance: number) => {
      const { clock, llm } = fakeLlm({
        ttft: 10,
        itl: 10,
        speculativeConfig: { method: "ngram", num_speculative_tokens: 3 },
        specAcceptanceRate: acceptance,
      });
      const r = recorder(clock);
      llm.submit(completion("spec", { maxTokens: 20, ignoreEos: true }), r.sink);
      clock.advance(1000);
      return r.rec;
    };
    const all = run(1);
    // the first token, then steps of 1 + 3 accepted drafts
    assert.deepEqual(
      all.fires.map(([t, from, to]) => [t, to - from]),
      [
        [10, 1],
        [20, 4],
        [30, 4],
        [40, 4],
        [50, 4],
        [60, 3],
      ],
    );
    assert.equal(all.doneAt, 60);
    const none = run(0);
    assert.equal(none.fires.length, 20, "nothing accepted: one token per step");
    assert.equal(none.doneAt, 10 + 19 * 10);
    const some = run(0.6);
    assert.ok(some.fires.every(([, from, to]) => to - from >= 1 && to - from <= 4));
    assert.equal(some.fires.at(-1)?.[2], 20);
  });

  it("the load factor stretches ITL while the batch is full", () => {
    const { clock, llm } = fakeLlm({ ttft: 10, itl: 10, maxNumSeqs: 3, timeFactorUnderLoad: 2 });
    const alone = recorder(clock);
    llm.submit(completion("alone", TOKENS), alone.sink);
    clock.advance(500);
    const gaps = (r: { fires: [number, number, number][] }) =>
      r.fires.slice(1).map(([t], i) => t - (r.fires[i]?.[0] ?? 0));
    assert.deepEqual(gaps(alone.rec), [10, 10, 10, 10]);
    const busy = [recorder(clock), recorder(clock), recorder(clock)];
    for (const r of busy) llm.submit(completion("busy", TOKENS), r.sink);
    clock.advance(500);
    assert.deepEqual(gaps(busy[0]?.rec ?? { fires: [] }), [20, 20, 20, 20]);
  });

  it("hooks: admission rejects, prefill reports cached tokens, decode cuts the stream", () => {
    const { clock, llm } = fakeLlm({ prefillOverhead: 10, prefillTimePerToken: 1, itl: 5 });
    let released = 0;
    llm.use({
      admit: (job) =>
        job.request.headers?.["x-decoy-return-error"] ? new DecoyError("UNAUTHENTICATED", "no key") : null,
      prefill: (job) => ({ cachedTokens: job.plan.promptTokens - 1, release: () => released++ }),
      decode: (job) =>
        job.request.prompts?.[0] === "cut me"
          ? { cutAfterTokens: 2, error: new DecoyError("UNAVAILABLE", "cut") }
          : null,
    });
    assert.throws(
      () => llm.submit(completion("x", { headers: { "x-decoy-return-error": "401" } }), recorder(clock).sink),
      /no key/,
    );
    assert.equal(llm.slots.running, 0, "a rejected request never takes a slot");
    const prompt = "one two three four five six seven eight";
    const full = recorder(clock);
    const job = llm.submit(completion(prompt, TOKENS), full.sink);
    const cut = recorder(clock);
    llm.submit(completion("cut me", TOKENS), cut.sink);
    clock.advance(500);
    assert.equal(job.cachedTokens, job.plan.promptTokens - 1);
    assert.equal(full.rec.fires[0]?.[0], 11, "prefill charges only the one uncached token");
    assert.deepEqual(
      cut.rec.fires.map(([, , to]) => to),
      [1, 2],
    );
    assert.equal(cut.rec.error?.message, "cut");
    assert.equal(released, 2, "every prefill lease is released when its request ends");
  });

  it("a P/D decode request pays the KV transfer and a prefill request hands back transfer params", () => {
    const { clock, llm } = fakeLlm({ ttft: 100, kvCacheTransferLatency: 4, itl: 5 });
    const decode = recorder(clock);
    llm.submit(completion("hi", { ...TOKENS, kvTransferParams: { do_remote_prefill: true } }), decode.sink);
    const prefill = recorder(clock, false);
    llm.submit(
      completion("hi", { maxTokens: 1, stream: false, kvTransferParams: { do_remote_decode: true } }),
      prefill.sink,
    );
    clock.advance(500);
    assert.equal(decode.rec.fires[0]?.[0], 4);
    assert.equal(prefill.rec.doneAt, 100);
    const plan = prefill.rec.job?.plan;
    assert.equal(plan?.choices[0]?.finishReason, "remote_decode");
    assert.equal(plan?.kvTransferParams?.do_remote_prefill, true);
    assert.equal(plan?.kvTransferParams?.do_remote_decode, false);
    assert.ok(Array.isArray(plan?.kvTransferParams?.remote_block_ids));
  });

  it("TTFT 0: the first token goes out right after submit returns, without a timer; ITL stays on the clock", async () => {
    const { clock, llm } = fakeLlm({ ttft: 0, itl: 5 });
    const { sink, rec } = recorder(clock);
    const job = llm.submit(completion("hello", TOKENS), sink);
    assert.deepEqual(rec.fires, [], "nothing reaches the sink before the transport has the job");
    await Promise.resolve();
    assert.deepEqual(rec.fires, [[0, 0, 1]], "no clock time passed");
    assert.equal(job.firstTokenAt, job.arrivalAt);
    clock.advance(100);
    assert.deepEqual(rec.fires.slice(1), [
      [5, 1, 2],
      [10, 2, 3],
      [15, 3, 4],
      [20, 4, 5],
    ]);
    assert.equal(rec.doneAt, 20);
  });

  it("TTFT 0 and ITL 0: the whole answer in one firing, done before any timer could fire", async () => {
    const { clock, llm, engine } = fakeLlm({ ttft: 0, itl: 0 });
    const records: LlmRequestRecord[] = [];
    engine.events.add({ llmFinished: (r) => records.push(r) });
    const streamed = recorder(clock);
    const whole = recorder(clock, false);
    llm.submit(completion("hello", TOKENS), streamed.sink);
    llm.submit(completion("hello", { ...TOKENS, stream: false }), whole.sink);
    await Promise.resolve();
    assert.deepEqual(streamed.rec.fires, [[0, 0, 5]]);
    assert.equal(streamed.rec.doneAt, 0);
    assert.equal(whole.rec.doneAt, 0);
    assert.equal(whole.rec.job?.completionTokens(), 5);
    assert.deepEqual(
      records.map((r) => [r.ttftMs, r.e2eMs, r.generationTokens]),
      [
        [0, 0, 5],
        [0, 0, 5],
      ],
    );
    assert.equal(llm.slots.running, 0);
  });

  it("a job cancelled before its zero-TTFT first token emits nothing", async () => {
    const { clock, llm } = fakeLlm({ ttft: 0, itl: 0 });
    const { sink, rec } = recorder(clock);
    const job = llm.submit(completion("hello", TOKENS), sink);
    job.cancel();
    await Promise.resolve();
    assert.deepEqual(rec.fires, []);
    assert.equal(rec.doneAt, undefined);
    assert.equal(llm.slots.running, 0);
  });

  it("each of n choices reports its own tokens and gaps to telemetry", () => {
    const { clock, llm, engine } = fakeLlm({ ttft: 10, itl: 5 });
    const events: [number, boolean][] = [];
    engine.events.add({ llmTokens: (_m, count, _gap, isFirst) => events.push([count, isFirst]) });
    llm.submit(completion("hello", { ...TOKENS, maxTokens: 3, n: 2 }), recorder(clock).sink);
    clock.advance(100);
    assert.deepEqual(events, [
      [1, true],
      [1, true],
      [1, false],
      [1, false],
      [1, false],
      [1, false],
    ]);
  });

  it("the shutdown deadline fails running and waiting jobs through their sinks", async () => {
    const { clock, llm, engine } = fakeLlm({ ttft: 10, itl: 10, maxNumSeqs: 1 });
    const a = recorder(clock);
    const b = recorder(clock);
    llm.submit(completion("a", TOKENS), a.sink);
    llm.submit(completion("b", TOKENS), b.sink);
    assert.equal(engine.inflightUnits, 2);
    assert.equal(engine.inflightCount, 0, "jobs are not client requests");
    const cancelled = await engine.drain(1);
    assert.equal(cancelled, 2);
    assert.equal(a.rec.error?.code, "UNAVAILABLE");
    assert.equal(b.rec.error?.code, "UNAVAILABLE");
    assert.deepEqual([llm.slots.running, llm.slots.waiting, engine.inflightUnits], [0, 0, 0]);
  });
});
