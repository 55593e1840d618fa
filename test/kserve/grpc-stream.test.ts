import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type {
  GRPCInferenceServiceClient,
  ModelInferRequest,
  ModelStreamInferResponse,
} from "../../gen/proto/inference/grpc_service.js";
import { DecoyError } from "../../src/engine/errors.js";
import type { InferInput, InferOutput, ServedModel } from "../../src/engine/models/types.js";
import { encodeBytesElements } from "../../src/engine/tensors.js";
import type { DecoyServer } from "../../src/server.js";
import { call, inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";
import { rawRequest } from "./helpers.js";

/** A decoupled model: `count` responses, `gapMs` apart on the engine scheduler, then an empty final one. */
class Ticker implements ServedModel {
  readonly name = "ticker";
  readonly platform = "python";
  readonly versions = ["1"];
  readonly inputs = [{ name: "count", datatype: "INT32" as const, shape: [1] }];
  readonly outputs = [{ name: "tick", datatype: "BYTES" as const, shape: [1] }];
  readonly maxBatchSize = 0;
  readonly decoupled = true;
  aborted = 0;
  constructor(private readonly server: () => DecoyServer) {}
  infer(): Promise<InferOutput> {
    return Promise.reject(new DecoyError("INVALID_ARGUMENT", "ticker is decoupled; use ModelStreamInfer"));
  }
  stream(req: InferInput, emit: (res: InferOutput, final: boolean) => void): Promise<void> {
    const count = req.inputs[0]!.data.readInt32LE(0);
    const gap = Number(req.parameters.gap_ms ?? 5);
    const scheduler = this.server().ctx.engine.scheduler;
    const out = (outputs: InferOutput["outputs"]): InferOutput => ({
      id: req.id,
      modelName: this.name,
      modelVersion: "1",
      outputs,
      parameters: {},
    });
    return new Promise((resolve, reject) => {
      let i = 0;
      let d = scheduler.after(gap, function tick() {
        emit(out([{ name: "tick", datatype: "BYTES", shape: [1], data: encodeBytesElements([`tick ${i}`]) }]), false);
        if (++i < count) d = scheduler.after(gap, tick);
        else {
          emit(out([]), true);
          resolve();
        }
      });
      req.signal.addEventListener("abort", () => {
        this.aborted++;
        scheduler.cancel(d);
        reject(req.signal.reason);
      });
    });
  }
  config() {
    return { name: this.name, max_batch_size: 0, input: [], output: [], model_transaction_policy: { decoupled: true } };
  }
}

function tickerRequest(count: number, parameters: ModelInferRequest["parameters"] = {}): ModelInferRequest {
  const data = Buffer.alloc(4);
  data.writeInt32LE(count);
  return {
    modelName: "ticker",
    modelVersion: "",
    id: `ticks-${count}`,
    parameters,
    inputs: [{ name: "count", datatype: "INT32", shape: [1], parameters: {} }],
    outputs: [],
    rawInputContents: [data],
  };
}

function collect(
  stream: ReturnType<GRPCInferenceServiceClient["modelStreamInfer"]>,
): Promise<ModelStreamInferResponse[]> {
  const got: ModelStreamInferResponse[] = [];
  return new Promise((resolve, reject) => {
    stream.on("data", (m: ModelStreamInferResponse) => got.push(m));
    stream.on("end", () => resolve(got));
    stream.on("error", reject);
  });
}

const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("ModelStreamInfer", () => {
  let server: DecoyServer;
  let client: GRPCInferenceServiceClient;
  const ticker = new Ticker(() => server);
  before(async () => {
    server = await startTestServer({ modelLatencyMs: 2, modelPerItemLatencyMs: 0, modelLatencyStdDevMs: 0 });
    server.ctx.models.register(ticker);
    client = inferenceClient(server.grpcAddress);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it("answers each request on the stream, errors in-band, and ends after the client half-closes", async () => {
    const resnet = await call(client, client.modelMetadata, { name: "resnet", version: "" });
    const stream = client.modelStreamInfer();
    const done = collect(stream);
    stream.write(rawRequest(resnet, 1, { id: "a" }));
    stream.write({ ...rawRequest(resnet, 1), id: "b", modelName: "nope" });
    stream.write(rawRequest(resnet, 2, { id: "c" }));
    stream.end();
    const got = await done;
    assert.equal(got.length, 3);
    const byId = new Map(got.map((m) => [m.inferResponse?.id, m]));
    assert.equal(byId.get("a")!.errorMessage, "");
    assert.deepEqual(byId.get("a")!.inferResponse!.outputs[0]!.shape, [1, 1000]);
    assert.equal(byId.get("c")!.inferResponse!.rawOutputContents[0]!.length, 2 * 1000 * 4);
    assert.match(byId.get("b")!.errorMessage, /'nope' is not found/);
  });

  it("streams several responses per request from a decoupled model", async () => {
    const stream = client.modelStreamInfer();
    const done = collect(stream);
    stream.write(tickerRequest(4));
    stream.end();
    const got = await done;
    assert.deepEqual(
      got.map((m) => m.inferResponse!.outputs.length),
      [1, 1, 1, 1],
      "the empty final response is not sent unless asked for",
    );
    const stats = (await call(client, client.modelStatistics, { name: "ticker", version: "1" })).modelStats[0]!;
    assert.equal(stats.inferenceStats!.success!.count, 1);
    assert.deepEqual(Object.keys(stats.responseStats).sort(), ["0", "1", "2", "3", "4"]);
    assert.equal(stats.responseStats["4"]!.emptyResponse!.count, 1);
  });

  it("marks responses with triton_final_response when the client enables empty final responses", async () => {
    const stream = client.modelStreamInfer();
    const done = collect(stream);
    stream.write(
      tickerRequest(2, {
        triton_enable_empty_final_response: { parameterChoice: { $case: "boolParam", value: true } },
      }),
    );
    stream.end();
    const got = await done;
    assert.deepEqual(
      got.map((m) => [
        m.inferResponse!.outputs.length,
        m.inferResponse!.parameters.triton_final_response?.parameterChoice?.value,
      ]),
      [
        [1, false],
        [1, false],
        [0, true],
      ],
    );
  });

  it("cancels in-flight requests when the client goes away", async () => {
    const before = ticker.aborted;
    const stream = client.modelStreamInfer();
    stream.on("error", () => undefined);
    const first = new Promise((resolve) => stream.once("data", resolve));
    stream.write(tickerRequest(10_000, { gap_ms: { parameterChoice: { $case: "int64Param", value: 10 } } }));
    await first;
    assert.ok(server.ctx.engine.inflightCount >= 1, "the stream request counts as in-flight work");
    stream.cancel();
    await until(() => ticker.aborted === before + 1);
    await until(() => server.ctx.engine.inflightCount === 0);
  });

  it("ModelInfer on a decoupled model reports the model's error", async () => {
    await assert.rejects(call(client, client.modelInfer, tickerRequest(1)), (e: { code: number; details: string }) => {
      return e.code === 3 && /ModelStreamInfer/.test(e.details);
    });
  });
});

describe("gRPC inference and shutdown", () => {
  it("drains an in-flight ModelInfer before the server closes", async () => {
    const server = await startTestServer({ modelLatencyMs: 200, modelPerItemLatencyMs: 0, modelLatencyStdDevMs: 0 });
    const client = inferenceClient(server.grpcAddress);
    try {
      const resnet = await call(client, client.modelMetadata, { name: "resnet", version: "" });
      const pending = call(client, client.modelInfer, rawRequest(resnet));
      await until(() => server.ctx.engine.inflightCount === 1);
      const closing = server.close();
      const res = await pending;
      assert.equal(res.outputs[0]!.name, "output");
      assert.deepEqual(await closing, { cancelled: 0 });
    } finally {
      client.close();
      await server.close();
    }
  });
});
