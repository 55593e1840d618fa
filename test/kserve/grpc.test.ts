import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GRPCInferenceServiceClient, ModelInferRequest } from "../../gen/proto/inference/grpc_service.js";
import { DataType } from "../../gen/proto/inference/model_config.js";
import type { Datatype } from "../../src/engine/models/types.js";
import { DATATYPE_SIZE, elementCount } from "../../src/engine/tensors.js";
import type { DecoyServer } from "../../src/server.js";
import { call, emptyContents, inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";
import { argmax, concrete, floats, rawRequest } from "./helpers.js";

const FAST = { modelLatencyMs: 1, modelPerItemLatencyMs: 0, modelLatencyStdDevMs: 0 };

describe("KServe v2 gRPC with the generated client", () => {
  let server: DecoyServer;
  let client: GRPCInferenceServiceClient;
  before(async () => {
    server = await startTestServer(FAST);
    client = inferenceClient(server.grpcAddress);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it("ServerLive, ServerReady and ServerMetadata list Triton's extensions", async () => {
    assert.deepEqual(await call(client, client.serverLive, {}), { live: true });
    assert.deepEqual(await call(client, client.serverReady, {}), { ready: true });
    const md = await call(client, client.serverMetadata, {});
    assert.equal(md.name, "decoy");
    for (const ext of ["binary_tensor_data", "model_repository", "model_configuration", "statistics"]) {
      assert.ok(md.extensions.includes(ext), ext);
    }
  });

  it("ModelMetadata describes the built-in models as their usual exports", async () => {
    const resnet = await call(client, client.modelMetadata, { name: "resnet", version: "" });
    assert.deepEqual(resnet.inputs, [{ name: "input", datatype: "FP32", shape: [-1, 3, 224, 224] }]);
    assert.deepEqual(resnet.outputs, [{ name: "output", datatype: "FP32", shape: [-1, 1000] }]);
    assert.deepEqual(resnet.versions, ["1"]);
    const yolo = await call(client, client.modelMetadata, { name: "yolo", version: "1" });
    assert.deepEqual(yolo.inputs[0]!.shape, [-1, 3, 640, 640]);
    assert.deepEqual(yolo.outputs[0]!.shape, [-1, 84, 8400]);
    const bert = await call(client, client.modelMetadata, { name: "bert", version: "" });
    assert.deepEqual(
      bert.inputs.map((t) => [t.name, t.datatype, t.shape]),
      [
        ["input_ids", "INT64", [-1, 384]],
        ["attention_mask", "INT64", [-1, 384]],
        ["token_type_ids", "INT64", [-1, 384]],
      ],
    );
    assert.deepEqual(
      bert.outputs.map((t) => [t.name, t.datatype, t.shape]),
      [
        ["start_logits", "FP32", [-1, 384]],
        ["end_logits", "FP32", [-1, 384]],
      ],
    );
  });

  for (const model of ["resnet", "yolo", "bert"]) {
    it(`ModelInfer on ${model} returns raw outputs matching ModelMetadata`, async () => {
      const md = await call(client, client.modelMetadata, { name: model, version: "" });
      const batch = 2;
      const res = await call(client, client.modelInfer, rawRequest(md, batch));
      assert.equal(res.modelName, model);
      assert.equal(res.modelVersion, "1");
      assert.equal(res.id, "req-1");
      assert.deepEqual(
        res.outputs.map((o) => [o.name, o.datatype, o.shape]),
        md.outputs.map((o) => [o.name, o.datatype, concrete(o.shape, batch)]),
      );
      assert.equal(res.rawOutputContents.length, md.outputs.length);
      res.outputs.forEach((o, i) => {
        assert.equal(o.contents, undefined);
        const size = DATATYPE_SIZE[o.datatype as Datatype];
        assert.equal(res.rawOutputContents[i]!.length, elementCount(o.shape) * size);
      });
    });
  }

  it("ModelInfer accepts typed contents and returns typed contents when binary_data is false", async () => {
    const seq = 384;
    const ones = Array.from({ length: seq }, (_, i) => (i < 64 ? 1 : 0));
    const req: ModelInferRequest = {
      modelName: "bert",
      modelVersion: "1",
      id: "",
      parameters: {},
      inputs: [
        {
          name: "input_ids",
          datatype: "INT64",
          shape: [1, seq],
          parameters: {},
          contents: int64(ones.map((v, i) => v * (i + 100))),
        },
        { name: "attention_mask", datatype: "INT64", shape: [1, seq], parameters: {}, contents: int64(ones) },
        {
          name: "token_type_ids",
          datatype: "INT64",
          shape: [1, seq],
          parameters: {},
          contents: int64(ones.map((v, i) => (i >= 10 ? v : 0))),
        },
      ],
      outputs: [
        { name: "end_logits", parameters: { binary_data: { parameterChoice: { $case: "boolParam", value: false } } } },
        {
          name: "start_logits",
          parameters: { binary_data: { parameterChoice: { $case: "boolParam", value: false } } },
        },
      ],
      rawInputContents: [],
    };
    const res = await call(client, client.modelInfer, req);
    assert.deepEqual(
      res.outputs.map((o) => o.name),
      ["end_logits", "start_logits"],
      "outputs come back in the requested order",
    );
    assert.equal(res.rawOutputContents.length, 0);
    const end = res.outputs[0]!.contents!.fp32Contents;
    const start = res.outputs[1]!.contents!.fp32Contents;
    assert.equal(start.length, seq);
    const s = argmax(start);
    const e = argmax(end);
    assert.ok(s <= e && s >= 10 && e < 63, `span ${s}..${e}`);
  });

  it("ModelInfer honours the output selection with raw contents", async () => {
    const md = await call(client, client.modelMetadata, { name: "bert", version: "" });
    const res = await call(
      client,
      client.modelInfer,
      rawRequest(md, 1, { outputs: [{ name: "start_logits", parameters: {} }] }),
    );
    assert.deepEqual(
      res.outputs.map((o) => o.name),
      ["start_logits"],
    );
    assert.equal(floats(res.rawOutputContents[0]!).length, 384);
  });

  it("ModelConfig returns Triton's configuration with dims without the batch dimension", async () => {
    const { config } = await call(client, client.modelConfig, { name: "resnet", version: "" });
    assert.equal(config!.name, "resnet");
    assert.equal(config!.maxBatchSize, 32);
    assert.equal(config!.platform, "onnxruntime_onnx");
    assert.equal(config!.backend, "onnxruntime");
    assert.deepEqual(
      config!.input.map((t) => [t.name, t.dataType, t.dims]),
      [["input", DataType.TYPE_FP32, [3, 224, 224]]],
    );
    assert.deepEqual(
      config!.output.map((t) => [t.name, t.dataType, t.dims]),
      [["output", DataType.TYPE_FP32, [1000]]],
    );
    assert.equal(config!.instanceGroup[0]!.count, 1);
  });

  it("ModelStatistics counts successes, failures, batch sizes and durations", async () => {
    const md = await call(client, client.modelMetadata, { name: "yolo", version: "" });
    const before = (await call(client, client.modelStatistics, { name: "yolo", version: "1" })).modelStats[0]!;
    await call(client, client.modelInfer, rawRequest(md, 3));
    await assert.rejects(call(client, client.modelInfer, rawRequest(md, 1, { rawInputContents: [Buffer.alloc(3)] })));
    const { modelStats } = await call(client, client.modelStatistics, { name: "yolo", version: "1" });
    const s = modelStats[0]!;
    assert.equal(s.name, "yolo");
    assert.equal(s.version, "1");
    assert.equal(s.inferenceCount - before.inferenceCount, 3);
    assert.equal(s.executionCount - before.executionCount, 1);
    assert.equal(s.inferenceStats!.success!.count - before.inferenceStats!.success!.count, 1);
    assert.equal(s.inferenceStats!.fail!.count - before.inferenceStats!.fail!.count, 1);
    assert.ok(s.inferenceStats!.computeInfer!.ns > 0);
    assert.ok(s.batchStats.some((b) => b.batchSize === 3 && b.computeInfer!.count >= 1));
    assert.ok(s.lastInference > 1_600_000_000_000);
    const all = await call(client, client.modelStatistics, { name: "", version: "" });
    const names = all.modelStats.map((m) => m.name);
    for (const m of ["bert", "resnet", "yolo"]) assert.ok(names.includes(m), m);
  });

  it("RepositoryIndex, RepositoryModelUnload and RepositoryModelLoad cycle a model's state", async () => {
    const index = await call(client, client.repositoryIndex, { repositoryName: "", ready: false });
    const tensorModels = index.models.filter((m) => ["bert", "resnet", "yolo"].includes(m.name));
    assert.deepEqual(
      tensorModels.map((m) => [m.name, m.version, m.state]),
      [
        ["bert", "1", "READY"],
        ["resnet", "1", "READY"],
        ["yolo", "1", "READY"],
      ],
    );
    await call(client, client.repositoryModelUnload, { repositoryName: "", modelName: "bert", parameters: {} });
    assert.deepEqual(await call(client, client.modelReady, { name: "bert", version: "" }), { ready: false });
    await assert.rejects(
      call(client, client.modelMetadata, { name: "bert", version: "" }),
      (e: { code: number }) => e.code === 5,
    );
    const md = await call(client, client.modelMetadata, { name: "resnet", version: "" });
    await assert.rejects(
      call(client, client.modelInfer, { ...rawRequest(md), modelName: "bert" }),
      (e: { code: number; details: string }) => e.code === 5 && /bert/.test(e.details),
    );
    const unloaded = await call(client, client.repositoryIndex, { repositoryName: "", ready: false });
    assert.deepEqual(
      unloaded.models.find((m) => m.name === "bert"),
      { name: "bert", version: "1", state: "UNAVAILABLE", reason: "unloaded" },
    );
    const ready = await call(client, client.repositoryIndex, { repositoryName: "", ready: true });
    assert.ok(!ready.models.some((m) => m.name === "bert"));
    await call(client, client.repositoryModelLoad, { repositoryName: "", modelName: "bert", parameters: {} });
    assert.deepEqual(await call(client, client.modelReady, { name: "bert", version: "" }), { ready: true });
  });

  it("RepositoryModelLoad with a config parameter declares a new model", async () => {
    const config = JSON.stringify({
      name: "scorer",
      backend: "python",
      max_batch_size: 0,
      input: [{ name: "TEXT", data_type: "TYPE_STRING", dims: [1] }],
      output: [{ name: "SCORE", data_type: "TYPE_FP64", dims: [1] }],
    });
    await call(client, client.repositoryModelLoad, {
      repositoryName: "",
      modelName: "scorer",
      parameters: { config: { parameterChoice: { $case: "stringParam", value: config } } },
    });
    const md = await call(client, client.modelMetadata, { name: "scorer", version: "" });
    assert.deepEqual(md.inputs, [{ name: "TEXT", datatype: "BYTES", shape: [1] }]);
    const res = await call(client, client.modelInfer, {
      modelName: "scorer",
      modelVersion: "",
      id: "",
      parameters: {},
      inputs: [
        {
          name: "TEXT",
          datatype: "BYTES",
          shape: [1],
          parameters: {},
          contents: { ...emptyContents(), bytesContents: [Buffer.from("hello")] },
        },
      ],
      outputs: [],
      rawInputContents: [],
    });
    assert.deepEqual(res.outputs[0]!.shape, [1]);
    assert.equal(res.rawOutputContents[0]!.length, 8);
    await call(client, client.repositoryModelUnload, { repositoryName: "", modelName: "scorer", parameters: {} });
  });

  it("RepositoryModelLoad with dynamic_batching in the config: ModelConfig shows Triton's batcher", async () => {
    const config = JSON.stringify({
      max_batch_size: 16,
      input: [{ name: "x", data_type: "TYPE_FP32", dims: [4] }],
      output: [{ name: "y", data_type: "TYPE_FP32", dims: [2] }],
      // Triton's JSON prints uint64 fields as strings; priorities are not simulated and ignored
      dynamic_batching: { preferred_batch_size: [4, 8], max_queue_delay_microseconds: "250", priority_levels: 2 },
    });
    await call(client, client.repositoryModelLoad, {
      repositoryName: "",
      modelName: "batcher",
      parameters: { config: { parameterChoice: { $case: "stringParam", value: config } } },
    });
    const { config: cfg } = await call(client, client.modelConfig, { name: "batcher", version: "" });
    assert.equal(cfg?.schedulingChoice?.$case, "dynamicBatching");
    const db = cfg?.schedulingChoice?.$case === "dynamicBatching" ? cfg.schedulingChoice.value : undefined;
    assert.deepEqual(db?.preferredBatchSize, [4, 8]);
    assert.equal(Number(db?.maxQueueDelayMicroseconds), 250);
    await call(client, client.repositoryModelUnload, { repositoryName: "", modelName: "batcher", parameters: {} });
  });

  it("ModelReady is per version", async () => {
    assert.deepEqual(await call(client, client.modelReady, { name: "resnet", version: "1" }), { ready: true });
    assert.deepEqual(await call(client, client.modelReady, { name: "resnet", version: "9" }), { ready: false });
    await assert.rejects(
      call(client, client.modelReady, { name: "nope", version: "" }),
      (e: { code: number }) => e.code === 5,
    );
  });
});

function int64(values: number[]) {
  return { ...emptyContents(), int64Contents: values };
}
