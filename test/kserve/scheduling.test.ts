import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecoyError } from "../../src/engine/errors.js";
import type { TensorInferRecord } from "../../src/engine/events.js";
import type { ModelDefinition } from "../../src/engine/models/definition.js";
import type { ServedModel } from "../../src/engine/models/types.js";
import { engineWithModels, request, settle, tensor } from "./helpers.js";

const tiny = (over: Partial<ModelDefinition> = {}): ModelDefinition => ({
  name: "tiny",
  kind: "generic",
  platform: "onnxruntime_onnx",
  backend: "onnxruntime",
  versions: ["1", "2"],
  maxBatchSize: 8,
  instances: 0,
  latency: { baseMs: 10, perItemMs: 2, stdDevMs: 0 },
  inputs: [{ name: "x", datatype: "FP32", shape: [-1, 4] }],
  outputs: [{ name: "y", datatype: "FP32", shape: [-1, 2] }],
  loaded: true,
  ...over,
});

const x = (batch = 1, fill = 1) => tensor("x", "FP32", [batch, 4], fill);

describe("tensor model latency, instances and statistics", () => {
  it("takes base + per-item batch cost on the engine clock", async () => {
    const { clock, repo } = engineWithModels([tiny()]);
    let done = false;
    const p = repo.infer("tiny", "", request([x(4)])).then((r) => {
      done = true;
      return r;
    });
    await clock.advanceAsync(17);
    assert.equal(done, false);
    await clock.advanceAsync(2);
    assert.equal(done, true);
    assert.equal((await p).outputs[0]!.shape[0], 4);
  });

  it("runs concurrent requests in parallel when instances are unlimited", async () => {
    const { clock, repo } = engineWithModels([tiny({ latency: { baseMs: 500, perItemMs: 0, stdDevMs: 0 } })]);
    let finished = 0;
    const all = Array.from({ length: 1000 }, () => repo.infer("tiny", "", request([x()])).then(() => finished++));
    await clock.advanceAsync(499, 50);
    assert.equal(finished, 0);
    await clock.advanceAsync(2);
    await Promise.all(all);
    assert.equal(finished, 1000);
  });

  it("queues FIFO behind a limited instance count and reports the queue time", async () => {
    const { clock, repo } = engineWithModels([tiny({ instances: 1 })]);
    const order: number[] = [];
    const ps = [1, 2, 3].map((i) => repo.infer("tiny", "1", request([x()])).then(() => order.push(i)));
    await settle(clock, Promise.all(ps));
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(clock.now(), 36);
    const [stats] = repo.statistics("tiny", "1");
    assert.equal(stats!.executionCount, 3);
    assert.equal(stats!.inferenceStats.queue.count, 3);
    assert.equal(stats!.inferenceStats.queue.ns, (0 + 12 + 24) * 1e6);
    assert.equal(stats!.inferenceStats.success.count, 3);
    assert.equal(
      stats!.inferenceStats.computeInput.ns +
        stats!.inferenceStats.computeInfer.ns +
        stats!.inferenceStats.computeOutput.ns,
      36 * 1e6,
    );
  });

  it("a cancelled request leaves the queue or frees its instance at once", async () => {
    const { clock, repo } = engineWithModels([tiny({ instances: 1 })]);
    const running = new AbortController();
    const waiting = new AbortController();
    const a = repo.infer("tiny", "", request([x()], { signal: running.signal }));
    const b = repo.infer("tiny", "", request([x()], { signal: waiting.signal }));
    const c = repo.infer("tiny", "", request([x()]));
    waiting.abort();
    await assert.rejects(b, (e: DecoyError) => e.code === "CANCELLED");
    await clock.advanceAsync(5);
    running.abort(new DecoyError("UNAVAILABLE", "drained"));
    await assert.rejects(a, (e: DecoyError) => e.code === "UNAVAILABLE");
    await settle(clock, c);
    assert.equal(clock.now(), 17, "c started when a was cancelled at 5 ms");
    const [stats] = repo.statistics("tiny", "2");
    assert.equal(stats!.inferenceStats.fail.count, 2);
    assert.equal(stats!.inferenceStats.success.count, 1);
  });

  it("global settings override every model's latency and instances at runtime", async () => {
    const { clock, repo, store } = engineWithModels([tiny()]);
    store.patch({ modelLatencyMs: 3, modelPerItemLatencyMs: 0 });
    await settle(clock, repo.infer("tiny", "", request([x(8)])));
    assert.equal(clock.now(), 3);
  });

  it("counts inferences per batch item and keeps per-batch-size statistics per version", async () => {
    const { clock, repo } = engineWithModels([tiny()]);
    await settle(clock, repo.infer("tiny", "", request([x(3)])));
    await settle(clock, repo.infer("tiny", "1", request([x(1)])));
    const [v1, v2] = repo.statistics("tiny");
    assert.equal(v1!.version, "1");
    assert.equal(v1!.inferenceCount, 1);
    assert.equal(v2!.inferenceCount, 3, "'' resolves to the latest version");
    assert.deepEqual(
      v2!.batchStats.map((b) => [b.batchSize, b.computeInfer.count]),
      [[3, 1]],
    );
    assert.ok(v2!.lastInference > 1_600_000_000_000);
  });

  it("emits one telemetry record per finished request, with Triton's failure reasons", async () => {
    const { clock, engine, repo } = engineWithModels([tiny({ instances: 1 })]);
    const records: TensorInferRecord[] = [];
    engine.events.add({ tensorInfer: (r) => records.push(r) });
    await settle(clock, repo.infer("tiny", "", request([x(2)])));
    await assert.rejects(repo.infer("tiny", "", request([tensor("x", "FP64", [1, 4])])));
    const ac = new AbortController();
    const p = repo.infer("tiny", "", request([x()], { signal: ac.signal }));
    ac.abort();
    await assert.rejects(p);
    assert.deepEqual(
      records.map((r) => [r.success, r.failureReason, r.batchSize]),
      [
        [true, undefined, 2],
        [false, "OTHER", 1],
        [false, "CANCELED", 1],
      ],
    );
    assert.equal(records[0]!.requestUs, 14_000);
    assert.equal(records[0]!.model, "tiny");
    assert.equal(records[0]!.version, "2");
  });
});

describe("Triton dynamic batching", () => {
  const batching = (preferred: number[], delayUs: number, over: Partial<ModelDefinition> = {}) =>
    tiny({ dynamicBatching: { preferredBatchSizes: preferred, maxQueueDelayUs: delayUs }, ...over });

  it("requests queued behind a busy instance leave together as one execution, counted once", async () => {
    const { clock, engine, repo } = engineWithModels([batching([], 0, { instances: 1 })]);
    const records: TensorInferRecord[] = [];
    engine.events.add({ tensorInfer: (r) => records.push(r) });
    const done: number[] = [];
    const ps = [1, 2, 3, 4].map(() => repo.infer("tiny", "", request([x()])).then(() => done.push(clock.now())));
    await settle(clock, Promise.all(ps));
    // the first runs alone (10 + 2 ms), the three that queued behind it as one batch (10 + 3 × 2 ms)
    assert.deepEqual(done, [12, 28, 28, 28]);
    const [, v2] = repo.statistics("tiny");
    assert.equal(v2!.inferenceCount, 4);
    assert.equal(v2!.executionCount, 2);
    assert.equal(v2!.inferenceStats.success.count, 4);
    assert.equal(v2!.inferenceStats.queue.ns, (0 + 12 + 12 + 12) * 1e6);
    assert.deepEqual(
      v2!.batchStats.map((b) => [b.batchSize, b.computeInfer.count]),
      [
        [1, 1],
        [3, 1],
      ],
    );
    assert.deepEqual(
      records.map((r) => r.executions),
      [1, 1, 0, 0],
    );
  });

  it("max_queue_delay holds a partial batch; reaching the largest preferred size releases it at once", async () => {
    const { clock, repo } = engineWithModels([batching([4], 5000)]);
    const at: Record<string, number> = {};
    const go = (name: string, items = 1) =>
      repo.infer("tiny", "", request([x(items)])).then(() => {
        at[name] = clock.now();
      });
    const first = [go("a"), go("b")];
    await clock.advanceAsync(2);
    const second = [go("c"), go("d")];
    await settle(clock, Promise.all([...first, ...second]));
    // four items reached the preferred size at 2 ms: 2 + 10 + 4 × 2
    assert.deepEqual([at.a, at.b, at.c, at.d], [20, 20, 20, 20]);

    const t0 = clock.now();
    const alone = go("e");
    await settle(clock, alone);
    assert.equal(at.e! - t0, 5 + 12, "alone, it waits out the 5 ms delay");

    const t1 = clock.now();
    await settle(clock, Promise.all([go("f", 5), go("g", 5)]));
    assert.deepEqual([at.f! - t1, at.g! - t1], [20, 20], "5 items pass the preferred 4: each leaves at once");
  });

  it("a batch that cannot grow leaves at once; the request that did not fit starts the next", async () => {
    const { clock, repo } = engineWithModels([batching([8], 5000)]);
    const at: number[] = [];
    const go = (i: number) =>
      repo.infer("tiny", "", request([x(5)])).then(() => {
        at[i] = clock.now();
      });
    await settle(clock, Promise.all([go(0), go(1)]));
    // 5 + 5 items pass max_batch_size 8: the first leaves when the second arrives (10 + 10 ms),
    // the second waits out the 5 ms delay for company that never comes
    assert.deepEqual(at, [20, 25]);
  });

  it("a batch keeps its instance until the last of its requests is cancelled", async () => {
    const { clock, repo } = engineWithModels([batching([], 0, { instances: 1 })]);
    const first = repo.infer("tiny", "", request([x()]));
    const acs = [new AbortController(), new AbortController()];
    const batched = acs.map((ac) => repo.infer("tiny", "", request([x(3)], { signal: ac.signal })));
    const after = repo.infer("tiny", "", request([x(3)]));
    await settle(clock, first);
    assert.equal(clock.now(), 12);
    // at 12 the two 3-item requests leave as a batch of 6; `after` would make 9 > 8 and waits
    await clock.advanceAsync(1);
    acs[0]!.abort();
    await assert.rejects(batched[0]!);
    await clock.advanceAsync(1);
    acs[1]!.abort();
    await assert.rejects(batched[1]!);
    await settle(clock, after);
    // the batch's last request went at 14, which freed the instance for `after` (10 + 3 × 2 ms)
    assert.equal(clock.now(), 14 + 16);
  });

  it("--model-max-queue-delay-us turns it on for every model with a batch dimension, as its config shows", async () => {
    const { clock, repo, store } = engineWithModels([tiny({ instances: 1 })]);
    const model = repo.get("tiny") as ServedModel & { config(): Record<string, unknown> };
    assert.equal(model.config().dynamic_batching, undefined);
    store.patch({ modelMaxQueueDelayUs: 0 });
    assert.deepEqual(model.config().dynamic_batching, {
      preferred_batch_size: [],
      max_queue_delay_microseconds: 0,
      preserve_ordering: false,
      priority_levels: 0,
      default_priority_level: 0,
      priority_queue_policy: {},
    });
    await settle(clock, Promise.all([1, 2, 3].map(() => repo.infer("tiny", "", request([x()])))));
    assert.equal(repo.statistics("tiny", "2")[0]!.executionCount, 2);
  });
});

describe("model repository", () => {
  it("unloads to not-ready / NOT_FOUND and loads back", () => {
    const { repo } = engineWithModels();
    assert.equal(repo.isReady("resnet"), true);
    repo.unload("resnet");
    assert.equal(repo.isReady("resnet"), false);
    assert.throws(
      () => repo.get("resnet"),
      (e: DecoyError) => e.code === "NOT_FOUND" && /resnet/.test(e.message),
    );
    assert.deepEqual(
      repo.index().find((m) => m.name === "resnet"),
      { name: "resnet", version: "1", state: "UNAVAILABLE", reason: "unloaded" },
    );
    assert.equal(
      repo.index(true).some((m) => m.name === "resnet"),
      false,
    );
    repo.load("resnet");
    assert.equal(repo.get("resnet").name, "resnet");
  });

  it("answers NOT_FOUND for unknown models and versions", () => {
    const { repo } = engineWithModels();
    assert.throws(() => repo.get("nope"), /Request for unknown model: 'nope' is not found/);
    assert.throws(() => repo.get("resnet", "7"), /'resnet' version 7 is not found/);
    assert.throws(
      () => repo.isReady("nope"),
      (e: DecoyError) => e.code === "NOT_FOUND",
    );
    assert.equal(repo.isReady("resnet", "7"), false);
    assert.throws(
      () => repo.load("nope"),
      (e: DecoyError) => e.code === "NOT_FOUND",
    );
  });

  it("declares a model from a Triton config JSON on load", () => {
    const { repo } = engineWithModels();
    repo.load("embedder", {
      config: JSON.stringify({
        max_batch_size: 8,
        input: [{ name: "tokens", data_type: "TYPE_INT32", dims: [128] }],
        output: [{ name: "embedding", data_type: "TYPE_FP16", dims: [768] }],
        instance_group: [{ count: 2 }],
      }),
    });
    const m = repo.get("embedder");
    assert.deepEqual(m.inputs, [{ name: "tokens", datatype: "INT32", shape: [-1, 128] }]);
    assert.deepEqual(m.outputs, [{ name: "embedding", datatype: "FP16", shape: [-1, 768] }]);
    const cfg = m.config() as { instance_group: { count: number }[]; max_batch_size: number };
    assert.equal(cfg.instance_group[0]!.count, 2);
    assert.equal(cfg.max_batch_size, 8);
    assert.throws(
      () => repo.load("bad", { config: "{nope" }),
      (e: DecoyError) => e.code === "INVALID_ARGUMENT",
    );
  });

  it("reloads a registered (non-tensor) model but refuses to redefine it from a config", () => {
    const { repo } = engineWithModels([]);
    const llm: ServedModel = {
      name: "llm",
      platform: "",
      versions: ["1"],
      inputs: [],
      outputs: [],
      maxBatchSize: 0,
      decoupled: true,
      infer: () => Promise.reject(new Error("unused")),
      config: () => ({ name: "llm" }),
    };
    repo.register(llm);
    repo.unload("llm");
    repo.load("llm");
    assert.equal(repo.get("llm"), llm);
    assert.throws(
      () => repo.load("llm", { config: "{}" }),
      (e: DecoyError) => e.code === "INVALID_ARGUMENT",
    );
    assert.equal(repo.get("llm"), llm);
  });

  it("refuses a second model of the same name unless replacing", () => {
    const { repo } = engineWithModels();
    const resnet = repo.get("resnet");
    assert.throws(
      () => repo.register(resnet),
      (e: DecoyError) => e.code === "ALREADY_EXISTS",
    );
    repo.register(resnet, { replace: true });
    assert.ok(repo.unregister("resnet"));
    assert.equal(repo.has("resnet"), false);
  });
});
