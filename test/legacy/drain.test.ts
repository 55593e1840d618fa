import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startCliServer } from "../helpers/cli.js";

describe("SIGTERM drains in-flight legacy requests", () => {
  it("a request in flight at SIGTERM still completes with 200 and the process exits 0", async () => {
    const cli = await startCliServer(["--sleep", "1"]);
    try {
      assert.match(cli.stdout(), /^decoy \S+ listening: HTTP http:\/\/127\.0\.0\.1:\d+ {2}gRPC 127\.0\.0\.1:\d+/);
      const t = Date.now();
      const pending = fetch(`${cli.httpUrl}/resnet/`).then(async (r) => ({ status: r.status, body: await r.json() }));
      // Let the request reach the server before the signal.
      await new Promise((r) => setTimeout(r, 300));
      cli.proc.kill("SIGTERM");
      const res = await pending;
      assert.equal(res.status, 200);
      assert.equal((res.body as { model: string }).model, "resnet");
      assert.ok(Date.now() - t >= 950, "answered after the full sleep");
      assert.equal(await cli.exited, 0);
      assert.match(cli.stdout(), /SIGTERM, draining 1 in-flight request/);
    } finally {
      cli.proc.kill("SIGKILL");
    }
  });
});
