import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";

describe("HTTP errors keep each protocol's shape", () => {
  let server: DecoyServer;
  before(async () => {
    server = await startTestServer({ maxRequestBodySizeMb: 0.01 });
  });
  after(async () => {
    await server.close();
  });

  it("unknown /v1 routes answer 404 in OpenAI's error shape", async () => {
    const res = await fetch(`${server.httpUrl}/v1/nope`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
    assert.equal(body.error.type, "NotFoundError");
  });

  it("unknown /v2 routes answer 404 in KServe's shape", async () => {
    const res = await fetch(`${server.httpUrl}/v2/nope`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: unknown };
    assert.equal(typeof body.error, "string");
  });

  it("invalid JSON is a 400, not a 500", async () => {
    const res = await fetch(`${server.httpUrl}/v2/repository/index`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.ok(res.status === 400 || res.status === 404, `status ${res.status}`);
    assert.ok(res.status < 500);
  });

  it("an oversized body is a 413 with a clear message", async () => {
    const res = await fetch(`${server.httpUrl}/v2/repository/index`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pad: "x".repeat(20000) }),
    });
    assert.ok(res.status === 413 || res.status === 404, `status ${res.status}`);
  });
});
