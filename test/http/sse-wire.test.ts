import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";

/** Raw HTTP on one socket: the bytes as the server framed them, until it closes or `until` matches. */
function rawExchange(port: number, request: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out; got:\n${got}`));
    }, 10_000);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      got += d;
      if (until.test(got)) {
        clearTimeout(timer);
        socket.end();
        resolve(got);
      }
    });
    socket.on("end", () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.on("error", reject);
    socket.write(request);
  });
}

function chatStreamRequest(content: string, version = "1.1", extra = ""): string {
  const body = JSON.stringify({
    model: "decoy-llm",
    messages: [{ role: "user", content }],
    max_tokens: 6,
    stream: true,
  });
  return `POST /v1/chat/completions HTTP/${version}\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

/** Decode an HTTP/1.1 chunked body, failing on any malformed chunk. */
function dechunk(body: string): { text: string; terminated: boolean } {
  const buf = Buffer.from(body, "utf8");
  let at = 0;
  let text = "";
  for (;;) {
    const eol = buf.indexOf("\r\n", at);
    if (eol < 0) return { text, terminated: false };
    const size = Number.parseInt(buf.toString("latin1", at, eol), 16);
    assert.ok(Number.isInteger(size), `chunk size line at byte ${at}`);
    if (size === 0) return { text, terminated: true };
    const start = eol + 2;
    text += buf.toString("utf8", start, start + size);
    assert.equal(buf.toString("latin1", start + size, start + size + 2), "\r\n", "chunk data ends with CRLF");
    at = start + size + 2;
  }
}

function events(text: string): string[] {
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice(6));
}

describe("SSE framing on the wire", () => {
  let server: DecoyServer;
  before(async () => {
    // echo mode: the multi-byte prompt comes back in the chunks
    server = await startTestServer({ ttft: 2, itl: 2, ttftStdDev: 0, itlStdDev: 0, mode: "echo" });
  });
  after(async () => {
    await server.close();
  });

  it("frames every event as a valid HTTP/1.1 chunk, multi-byte text counted in bytes", async () => {
    const raw = await rawExchange(
      server.httpPort,
      chatStreamRequest("héllo wörld ✓ — ünïcödé", "1.1", "Connection: close\r\n"),
      /\r\n0\r\n\r\n$/,
    );
    const [head, body] = raw.split("\r\n\r\n", 2) as [string, string];
    assert.match(head, /^HTTP\/1.1 200/);
    assert.match(head, /transfer-encoding: chunked/i);
    const { text, terminated } = dechunk(raw.slice(head.length + 4));
    assert.ok(body.length > 0);
    assert.ok(terminated, "the stream ends with the zero-length chunk");
    const ev = events(text);
    assert.equal(ev.at(-1), "[DONE]");
    const chunks = ev
      .slice(0, -1)
      .map((e) => JSON.parse(e) as { object: string; choices: { delta: { content?: string } }[] });
    assert.ok(chunks.length >= 7, `role chunk + 6 tokens, got ${chunks.length}`);
    for (const c of chunks) assert.equal(c.object, "chat.completion.chunk");
    const said = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    assert.ok(Buffer.byteLength(said) > said.length, "the streamed text has multi-byte characters");
  });

  it("answers two pipelined streaming requests on one connection, each whole and in order", async () => {
    const req = chatStreamRequest("first") + chatStreamRequest("second", "1.1", "Connection: close\r\n");
    const raw = await rawExchange(server.httpPort, req, /\r\n0\r\n\r\n[\s\S]*\r\n0\r\n\r\n$/);
    const parts = raw.split(/(?=HTTP\/1\.1 )/);
    assert.equal(parts.length, 2, "two responses");
    const ids: string[] = [];
    for (const part of parts) {
      const head = part.slice(0, part.indexOf("\r\n\r\n"));
      assert.match(head, /^HTTP\/1.1 200/);
      const { text, terminated } = dechunk(part.slice(head.length + 4));
      assert.ok(terminated);
      const ev = events(text);
      assert.equal(ev.at(-1), "[DONE]");
      const chunks = ev.slice(0, -1).map((e) => JSON.parse(e) as { id: string });
      assert.equal(new Set(chunks.map((c) => c.id)).size, 1, "one response's chunks never mix with the other's");
      ids.push(chunks[0]?.id ?? "");
    }
    assert.notEqual(ids[0], ids[1]);
  });

  it("streams to an HTTP/1.0 client without chunked framing, ending with the connection", async () => {
    const raw = await rawExchange(server.httpPort, chatStreamRequest("old client", "1.0"), /data: \[DONE\]\n\n$/);
    const head = raw.slice(0, raw.indexOf("\r\n\r\n"));
    assert.match(head, /^HTTP\/1.1 200/);
    assert.doesNotMatch(head, /transfer-encoding/i);
    const ev = events(raw.slice(head.length + 4));
    assert.equal(ev.at(-1), "[DONE]");
    for (const e of ev.slice(0, -1)) JSON.parse(e);
  });
});
