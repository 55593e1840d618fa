import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import type { DecoyServer } from "../../src/server.js";
import { inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";

/** Status code each forced value must give on HTTP and gRPC. */
const CASES = [
  ["429", 429, 8, /^Rate limit reached/],
  ["rate_limit", 429, 8, /^Rate limit reached/],
  ["401", 401, 16, /^Incorrect API key provided\.$/],
  ["context_length", 400, 3, /maximum context length/],
  ["400", 400, 3, /missing required parameter 'model'/],
  ["503", 503, 14, /overloaded or not ready/],
  ["404", 404, 5, /-nonexistent' does not exist$/],
  ["500", 500, 13, /Forced error 500/],
] as const;

describe("X-Decoy-Return-Error forces an error", () => {
  let server: DecoyServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("on HTTP, with the status and an OpenAI-style body", async () => {
    for (const [value, status, , msg] of CASES) {
      const res = await fetch(`${server.httpUrl}/health`, { headers: { "x-decoy-return-error": value } });
      assert.equal(res.status, status, value);
      const body = (await res.json()) as { error: { message: string; type: string; code: number } };
      assert.match(body.error.message, msg, value);
      assert.equal(body.error.code, status);
    }
    const compat = await fetch(`${server.httpUrl}/health`, { headers: { "x-return-error": "503" } });
    assert.equal(compat.status, 503, "llm-d's X-Return-Error works too");
    await compat.arrayBuffer();
  });

  it("an unusable value is a 400 naming the header, and /configure ignores the header", async () => {
    const res = await fetch(`${server.httpUrl}/health`, { headers: { "x-decoy-return-error": "soon" } });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /x-decoy-return-error/);
    const cfg = await fetch(`${server.httpUrl}/configure`, { headers: { "x-decoy-return-error": "500" } });
    assert.equal(cfg.status, 200);
    await cfg.arrayBuffer();
  });

  it("on gRPC, as request metadata, with the mapped status code", async () => {
    const client = inferenceClient(server.grpcAddress);
    try {
      for (const [value, , code, msg] of CASES) {
        const md = new Metadata();
        md.set("x-decoy-return-error", value);
        const err = await new Promise<ServiceError | null>((resolve) => {
          client.modelMetadata({ name: "resnet50", version: "" }, md, (e) => resolve(e));
        });
        assert.ok(err, value);
        assert.equal(err.code, code, value);
        assert.match(err.details, msg, value);
      }
      const ok = await new Promise<ServiceError | null>((resolve) => client.serverLive({}, (e) => resolve(e)));
      assert.equal(ok, null, "without the metadata calls go through");
    } finally {
      client.close();
    }
  });
});
