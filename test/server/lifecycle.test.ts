import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { runCliToEnd, startCliServer } from "../helpers/cli.js";

function occupyPort(): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address() as { port: number };
      resolve({ port: addr.port, close: () => srv.close() });
    });
  });
}

describe("decoy serve process", () => {
  it("prints one startup line with both addresses and stops cleanly on SIGTERM", async () => {
    const s = await startCliServer();
    assert.match(s.stdout(), /^decoy \S+ listening: HTTP http:\/\/127\.0\.0\.1:\d+ {2}gRPC 127\.0\.0\.1:\d+\n$/);
    const res = await fetch(`${s.httpUrl}/health`);
    assert.equal(res.status, 200);
    s.proc.kill("SIGTERM");
    assert.equal(await s.exited, 0);
    assert.match(s.stdout(), /SIGTERM, draining 0 in-flight/);
    assert.match(s.stdout(), /stopped/);
  });

  it("SIGINT stops it too", async () => {
    const s = await startCliServer();
    s.proc.kill("SIGINT");
    assert.equal(await s.exited, 0);
  });

  it("a taken HTTP port gives a one-line error naming it and a non-zero exit", async () => {
    const busy = await occupyPort();
    try {
      const r = await runCliToEnd(["serve", "--port", String(busy.port), "--grpc-port", "0"]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy.port} for HTTP: address already in use`),
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    } finally {
      busy.close();
    }
  });

  it("a taken gRPC port gives a one-line error naming it and a non-zero exit", async () => {
    const busy = await occupyPort();
    try {
      const r = await runCliToEnd(["serve", "--port", "0", "--grpc-port", String(busy.port)]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy.port} for gRPC: address already in use`),
      );
    } finally {
      busy.close();
    }
  });

  it("a bad flag value fails at startup naming the flag and the rule", async () => {
    const r = await runCliToEnd(["serve", "--port", "abc"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--port/);
    assert.match(r.stderr, /must be an integer/);
  });

  it("a bad env value fails at startup naming the variable and the rule", async () => {
    const r = await runCliToEnd(["serve", "--port", "0", "--grpc-port", "0"], { DECOY_SHUTDOWN_TIMEOUT_MS: "-5" });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^decoy: invalid configuration: shutdown-timeout-ms \(from env\): must be >= 0\n$/);
  });

  it("--help lists every flag with its default", async () => {
    const r = await runCliToEnd(["serve", "--help"]);
    assert.equal(r.code, 0);
    for (const flag of ["--host", "--port", "--grpc-port", "--log-level", "--shutdown-timeout-ms", "--config"]) {
      assert.match(r.stdout, new RegExp(flag));
    }
    assert.match(r.stdout, /default: 8000/);
    assert.match(r.stdout, /default: 8001/);
  });
});
