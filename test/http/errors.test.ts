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

  it("invalid JSON is a 400 in the route's error shape, not a 500", async () => {
    const res = await fetch(`${server.httpUrl}/v2/repository/index`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(res.status, 400);
    assert.equal(typeof ((await res.json()) as { error: unknown }).error, "string");
  });

  it("an oversized body is a 413 with a clear message", async () => {
    const res = await fetch(`${server.httpUrl}/v2/repository/index`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pad: "x".repeat(20000) }),
    });
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { error: string }).error, /too large/);
  });
});

describe("OpenAI routes reject bad bodies with OpenAI's error shape", () => {
  let server: DecoyServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("invalid JSON is a 400 BadRequestError", async () => {
    const res = await fetch(`${server.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    assert.equal(body.error.type, "BadRequestError");
  });

  it("a body that breaks the request schema is a 400 naming the field", async () => {
    const res = await fetch(`${server.httpUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "decoy-llm", messages: [{ role: "user", content: "hi" }], max_tokens: "lots" }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { param: string | null; message: string } };
    assert.equal(body.error.param, "max_tokens", body.error.message);
  });
});
