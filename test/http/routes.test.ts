import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { loadConfig } from "../../src/config/load.js";
import { buildApp, compilePendingSchemas } from "../../src/http/app.js";
import { allHandlers } from "../../src/http/handlers.js";
import { allOperations } from "../../src/http/spec.js";
import { createContext } from "../../src/server.js";

describe("routes come from the OpenAPI documents", () => {
  const ctx = createContext(loadConfig({ flags: { logLevel: "silent" } }).config);
  let app: FastifyInstance;
  before(async () => {
    app = await buildApp(ctx);
    await app.ready();
  });
  after(async () => {
    await app.close();
    ctx.engine.close();
  });

  it("every operationId has a handler and every handler an operation", () => {
    const ops = allOperations()
      .map((o) => o.operationId)
      .sort();
    const handlers = Object.keys(allHandlers(ctx)).sort();
    assert.deepEqual(handlers, ops);
    assert.equal(new Set(ops).size, ops.length, "operationIds are unique");
  });

  it("every served route is an operation of some document", () => {
    const declared = new Set(allOperations().map((o) => `${o.method} ${o.url}`));
    const served = app.servedRoutes.filter((r) => r.method !== "HEAD").map((r) => `${r.method} ${r.url}`);
    assert.equal(served.length, declared.size);
    for (const r of served) assert.ok(declared.has(r), `route ${r} is served but not declared in openapi/`);
  });

  it("schemas compile on first use, and every one of them compiles", async () => {
    // Validation still happens on a route whose schema was never compiled before.
    const bad = await app.inject({ method: "POST", url: "/v1/chat/completions", payload: { messages: "nope" } });
    assert.equal(bad.statusCode, 400);
    assert.ok(compilePendingSchemas(app) > 50, "request and response schemas wait for their first use");
    assert.equal(compilePendingSchemas(app), 0);
    const again = await app.inject({ method: "POST", url: "/v1/chat/completions", payload: { messages: "nope" } });
    assert.equal(again.statusCode, 400);
    assert.deepEqual(again.json(), bad.json());
  });

  it("buildApp refuses an operation without a handler", async () => {
    const ops = [
      ...allOperations(),
      { ...allOperations()[0]!, operationId: "notImplementedAnywhere", url: "/nowhere", path: "/nowhere" },
    ];
    await assert.rejects(buildApp(ctx, { operations: ops }), /operations without a handler: notImplementedAnywhere/);
  });
});
