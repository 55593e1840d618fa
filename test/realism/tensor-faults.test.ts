import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import type { GRPCInferenceServiceClient, ModelMetadataResponse } from "../../gen/proto/inference/grpc_service.js";
import type { DecoyServer } from "../../src/server.js";
import { call, inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";
import { rawRequest } from "../kserve/helpers.js";

describe("failure injection reaches the vision models on gRPC and REST", () => {
  let server: DecoyServer;
  let client: GRPCInferenceServiceClient;
  let resnet: ModelMetadataResponse;
  before(async () => {
    server = await startTestServer({
      modelLatencyMs: 1,
      modelPerItemLatencyMs: 0,
      failureInjectionRate: 100,
      failureTypes: ["server_error"],
      seed: 7,
    });
    client = inferenceClient(server.grpcAddress);
    resnet = await call(client, client.modelMetadata, { name: "resnet", version: "" });
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it("an injected server_error is UNAVAILABLE on gRPC ModelInfer and counted as a failure", async () => {
    await assert.rejects(
      call(client, client.modelInfer, rawRequest(resnet)),
      (e: { code: number; details: string }) => {
        assert.equal(e.code, status.UNAVAILABLE);
        assert.match(e.details, /overloaded|not ready/);
        return true;
      },
    );
    const stats = await call(client, client.modelStatistics, { name: "resnet", version: "" });
    const fail = stats.modelStats[0]?.inferenceStats?.fail?.count ?? 0;
    assert.ok(fail >= 1, `fail count ${fail}`);
  });

  it("an injected server_error is a 503 in KServe's error shape on REST infer", async () => {
    const res = await fetch(`${server.httpUrl}/v2/models/resnet/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 224, 224], data: new Array(3 * 224 * 224).fill(0) }],
      }),
    });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: unknown };
    assert.equal(typeof body.error, "string");
  });

  it("setting the rate back to 0 at runtime lets requests through again", async () => {
    const patch = await fetch(`${server.httpUrl}/configure`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ "failure-injection-rate": 0 }),
    });
    assert.equal(patch.status, 200);
    const out = await call(client, client.modelInfer, rawRequest(resnet));
    assert.equal(out.modelName, "resnet");
  });
});
