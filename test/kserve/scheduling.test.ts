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
