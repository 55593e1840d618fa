import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startTestServer } from "../helpers/server.js";

describe("pod identity headers", () => {
  it("POD_NAME and POD_NAMESPACE appear on every HTTP response, errors included", async () => {
    const server = await startTestServer({}, { env: { POD_NAME: "decoy-7f9c", POD_NAMESPACE: "inference" } });
    try {
      for (const [path, status] of [
        ["/health", 200],
        ["/configure", 200],
        ["/no/such/route", 404],
      ] as const) {
        const res = await fetch(`${server.httpUrl}${path}`);
        assert.equal(res.status, status);
        assert.equal(res.headers.get("x-inference-pod"), "decoy-7f9c", path);
        assert.equal(res.headers.get("x-inference-namespace"), "inference", path);
        await res.arrayBuffer();
      }
      const sse = await fetch(`${server.httpUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "decoy-llm", messages: [{ role: "user", content: "hi" }], stream: true }),
      });
      assert.equal(sse.status, 200);
      assert.match(sse.headers.get("content-type") ?? "", /text\/event-stream/);
      assert.equal(sse.headers.get("x-inference-pod"), "decoy-7f9c", "streamed responses carry it too");
      assert.equal(sse.headers.get("x-inference-namespace"), "inference");
      await sse.text();
      const bad = await fetch(`${server.httpUrl}/configure`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{",
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get("x-inference-pod"), "decoy-7f9c");
    } finally {
      await server.close();
    }
  });

  it("without them no identity headers are sent", async () => {
    const server = await startTestServer();
    try {
      const res = await fetch(`${server.httpUrl}/health`);
      assert.equal(res.headers.get("x-inference-pod"), null);
      assert.equal(res.headers.get("x-inference-namespace"), null);
    } finally {
      await server.close();
    }
  });
});
