import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { HealthCheckResponse_ServingStatus, HealthClient } from "../../gen/proto/grpc/health/v1/health.js";
import type { DecoyServer } from "../../src/server.js";
import { PROJECT_ROOT } from "../../src/version.js";
import { call, inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";

const run = promisify(execFile);
const BUF = join(PROJECT_ROOT, "node_modules/.bin/buf");

describe("one process, two transports", () => {
  let server: DecoyServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("answers HTTP health and readiness (vLLM and KServe routes)", async () => {
    const h = await fetch(`${server.httpUrl}/health`);
    assert.equal(h.status, 200);
    assert.equal(((await h.json()) as { status: string }).status, "ok");
    const r = await fetch(`${server.httpUrl}/ready`);
    assert.equal(r.status, 200);
    assert.deepEqual(await (await fetch(`${server.httpUrl}/v2/health/live`)).json(), { live: true });
    assert.deepEqual(await (await fetch(`${server.httpUrl}/v2/health/ready`)).json(), { ready: true });
  });

  it("answers gRPC ServerLive, ServerReady and ServerMetadata with the generated client", async () => {
    const client = inferenceClient(server.grpcAddress);
    try {
      assert.deepEqual(await call(client, client.serverLive, {}), { live: true });
      assert.deepEqual(await call(client, client.serverReady, {}), { ready: true });
      const md = await call(client, client.serverMetadata, {});
      assert.equal(md.name, "decoy");
      assert.ok(md.extensions.length > 0);
    } finally {
      client.close();
    }
  });

  it("grpc.health.v1.Health/Check answers SERVING, and NOT_FOUND for an unknown service", async () => {
    const client = new HealthClient(server.grpcAddress, credentials.createInsecure());
    try {
      const res = await call(client, client.check, { service: "" });
      assert.equal(res.status, HealthCheckResponse_ServingStatus.SERVING);
      const named = await call(client, client.check, { service: "inference.GRPCInferenceService" });
      assert.equal(named.status, HealthCheckResponse_ServingStatus.SERVING);
      await assert.rejects(
        call(client, client.check, { service: "nope.Service" }),
        (err: { code: number }) => err.code === 5,
      );
    } finally {
      client.close();
    }
  });

  it("buf curl lists the inference methods through server reflection alone", async () => {
    const { stdout } = await run(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      `http://${server.grpcAddress}`,
      "--list-methods",
    ]);
    const methods = stdout.trim().split("\n");
    for (const m of [
      "ModelInfer",
      "ModelStreamInfer",
      "ModelMetadata",
      "ServerLive",
      "RepositoryIndex",
      "ModelStatistics",
    ]) {
      assert.ok(methods.includes(`inference.GRPCInferenceService/${m}`), `${m} missing from ${stdout}`);
    }
    assert.ok(methods.includes("grpc.health.v1.Health/Check"));
  });

  it("buf curl calls Health/Check and ServerMetadata using reflection for the schema", async () => {
    const health = await run(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      `http://${server.grpcAddress}/grpc.health.v1.Health/Check`,
    ]);
    assert.deepEqual(JSON.parse(health.stdout), { status: "SERVING" });
    const md = await run(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      `http://${server.grpcAddress}/inference.GRPCInferenceService/ServerMetadata`,
    ]);
    assert.equal((JSON.parse(md.stdout) as { name: string }).name, "decoy");
  });

  it("readiness turns false on both transports while draining", async () => {
    const s = await startTestServer();
    const client = inferenceClient(s.grpcAddress);
    const release = s.ctx.engine.begin();
    const closing = s.close();
    try {
      assert.deepEqual(await call(client, client.serverReady, {}), { ready: false });
      const r = await fetch(`${s.httpUrl}/v2/health/ready`);
      assert.equal(r.status, 503);
    } finally {
      client.close();
      release();
      await closing;
    }
  });
});
