import assert from "node:assert/strict";
import { connect } from "node:http2";
import { after, before, describe, it } from "node:test";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type {
  GRPCInferenceServiceClient,
  ModelInferRequest,
  ModelMetadataResponse,
  ModelStreamInferResponse,
} from "../../gen/proto/inference/grpc_service.js";
import type { TensorModel } from "../../src/engine/models/tensor-model.js";
import { SESSION_WINDOW_BYTES, STREAM_WINDOW_BYTES } from "../../src/grpc/server.js";
import type { DecoyServer } from "../../src/server.js";
import { call, inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";
import { rawRequest } from "./helpers.js";

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("gRPC transport", () => {
  let server: DecoyServer;
  let client: GRPCInferenceServiceClient;
  let resnet: ModelMetadataResponse;
  const resnetStats = async () => {
    const res = await call(client, client.modelStatistics, { name: "resnet", version: "" });
    return res.modelStats[0]!.inferenceStats!;
  };
  before(async () => {
    server = await startTestServer({
      modelLatencyMs: 300,
      modelPerItemLatencyMs: 0,
      modelLatencyStdDevMs: 0,
      modelInstances: 1,
    });
    client = inferenceClient(server.grpcAddress);
    resnet = await call(client, client.modelMetadata, { name: "resnet", version: "" });
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it("advertises wide HTTP/2 flow-control windows, so a large tensor needs no WINDOW_UPDATE round trips", async () => {
    const session = connect(`http://${server.grpcAddress}`);
    try {
      await new Promise<void>((resolve, reject) => {
        session.once("remoteSettings", () => resolve());
        session.once("error", reject);
      });
      assert.equal(session.remoteSettings.initialWindowSize, STREAM_WINDOW_BYTES);
      assert.ok(STREAM_WINDOW_BYTES > 4_915_200 + 5, "a whole yolo input fits in one stream window");
      await until(() => (session.state.remoteWindowSize ?? 0) >= SESSION_WINDOW_BYTES);
    } finally {
      session.close();
    }
  });

  it("a unary ModelInfer the client cancels frees its instance at once and counts as a failure", async () => {
    const model = server.ctx.models.peek("resnet") as TensorModel;
    const before = await resnetStats();
    const pending = client.modelInfer(rawRequest(resnet), () => undefined);
    await until(() => model.executing === 1);
    pending.cancel();
    await until(() => model.executing === 0 && server.ctx.engine.inflightCount === 0);
    const after = await resnetStats();
    assert.equal(after.fail!.count, before.fail!.count + 1);
    assert.equal(after.success!.count, before.success!.count);
  });

  it("a completed ModelInfer is never counted as cancelled when its stream closes", async () => {
    const before = await resnetStats();
    for (let i = 0; i < 3; i++) await call(client, client.modelInfer, rawRequest(resnet));
    // grpc-js reports every stream close as `cancelled`; give those events time to arrive
    await new Promise((r) => setTimeout(r, 50));
    const after = await resnetStats();
    assert.equal(after.success!.count, before.success!.count + 3);
    assert.equal(after.fail!.count, before.fail!.count);
    assert.equal(server.ctx.engine.inflightCount, 0);
  });

  it("X-Decoy-Return-Error on ModelStreamInfer fails the call with the mapped status before the model runs", async () => {
    const before = await resnetStats();
    const md = new Metadata();
    md.set("x-decoy-return-error", "503");
    const stream = client.modelStreamInfer(md);
    const outcome = new Promise<{ data: ModelStreamInferResponse[]; err: ServiceError }>((resolve) => {
      const data: ModelStreamInferResponse[] = [];
      stream.on("data", (m: ModelStreamInferResponse) => data.push(m));
      stream.on("error", (err: ServiceError) => resolve({ data, err }));
    });
    const req: ModelInferRequest = rawRequest(resnet);
    stream.write(req);
    stream.end();
    const { data, err } = await outcome;
    assert.equal(data.length, 0);
    assert.equal(err.code, status.UNAVAILABLE);
    assert.match(err.details, /overloaded|not ready/);
    const after = await resnetStats();
    assert.equal(after.success!.count + after.fail!.count, before.success!.count + before.fail!.count);
  });
});
