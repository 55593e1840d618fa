import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runCliToEnd, startCliServer } from "../helpers/cli.js";

/** Start a slow stream (100 ms per token); once its first chunk arrived, `rest` is the whole body. */
async function slowStream(httpUrl: string): Promise<{ rest: Promise<string> }> {
  const res = await fetch(`${httpUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "decoy-llm",
      messages: [{ role: "user", content: "take your time" }],
      max_tokens: 50,
      ignore_eos: true,
      stream: true,
    }),
  });
  assert.equal(res.status, 200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const first = await reader.read();
  const decoder = new TextDecoder();
  const rest = (async () => {
    let body = first.value ? decoder.decode(first.value, { stream: true }) : "";
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (chunk.done) return body;
      body += decoder.decode(chunk.value, { stream: true });
    }
  })();
  return { rest };
}

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

  it("logs requests and configuration changes at --log-level info, and no request below it", async () => {
    const quiet = await startCliServer();
    await (await fetch(`${quiet.httpUrl}/health`)).text();
    quiet.proc.kill("SIGTERM");
    assert.equal(await quiet.exited, 0);
    assert.doesNotMatch(quiet.stdout(), /request completed|incoming request/);

    const s = await startCliServer(["--log-level", "info"]);
    await (await fetch(`${s.httpUrl}/health`)).text();
    const patched = await fetch(`${s.httpUrl}/configure`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ mode: "echo" }),
    });
    assert.equal(patched.status, 200);
    s.proc.kill("SIGTERM");
    assert.equal(await s.exited, 0);
    const lines = s
      .stdout()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg?: string; req?: { url?: string }; changed?: string[] });
    assert.ok(lines.some((l) => l.msg === "incoming request" && l.req?.url === "/health"));
    assert.ok(lines.some((l) => l.msg === "request completed"));
    assert.ok(lines.some((l) => l.msg === "configuration changed" && l.changed?.includes("mode")));
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

  it("SIGTERM past --shutdown-timeout-ms cancels the stream with an error event and still exits 0", async () => {
    const s = await startCliServer(["--ttft", "0", "--itl", "100", "--shutdown-timeout-ms", "300"]);
    try {
      const stream = await slowStream(s.httpUrl);
      const t = Date.now();
      s.proc.kill("SIGTERM");
      const text = await stream.rest;
      assert.equal(await s.exited, 0);
      const took = Date.now() - t;
      assert.ok(took >= 250 && took < 4000, `stopped after ${took} ms`);
      assert.match(text, /"message":"The server shut down before the request finished\."/);
      assert.match(text, /data: \[DONE\]\n\n$/);
      assert.match(s.stdout(), /SIGTERM, draining 1 in-flight request/);
      assert.match(s.stdout(), /stopped \(1 cancelled at the deadline\)/);
    } finally {
      s.proc.kill("SIGKILL");
    }
  });

  it("a second signal while draining exits at once with a non-zero status", async () => {
    const s = await startCliServer(["--ttft", "0", "--itl", "100", "--shutdown-timeout-ms", "30000"]);
    try {
      const stream = await slowStream(s.httpUrl);
      s.proc.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 200));
      s.proc.kill("SIGINT");
      assert.equal(await s.exited, 1);
      assert.match(s.stderr(), /SIGINT again, exiting now/);
      await stream.rest;
    } finally {
      s.proc.kill("SIGKILL");
    }
  });

  it("a bad value in the --config file fails at startup with one line naming the key and the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "decoy-life-"));
    const file = join(dir, "decoy.yaml");
    writeFileSync(file, "port: 0\ngrpc-port: 0\nmax-num-seqs: 0\n");
    const r = await runCliToEnd(["serve", "--config", file]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "decoy: invalid configuration: max-num-seqs (from file): must be >= 1\n");
    assert.equal(r.stdout, "");
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
