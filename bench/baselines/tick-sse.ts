/**
 * Bare tick-driven SSE server: the timing-fidelity ceiling. One shared 1 ms timer walks the
 * open streams; each stream's token deadlines are absolute (ttft + i × itl from its request),
 * so a late tick never pushes later tokens back. Tokens that are due together leave in one
 * res.write; `GET /stats` reports writes and tokens so the runner gets tokens per socket write.
 */
import { readFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import type { SseSample } from "../lib/samples.js";

const { values: a } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    events: { type: "string" },
    ttft: { type: "string", default: "5" },
    itl: { type: "string", default: "5" },
    tick: { type: "string", default: "1" },
  },
});

const sample = JSON.parse(readFileSync(String(a.events), "utf8")) as SseSample;
const ttft = Number(a.ttft);
const itl = Number(a.itl);
const tickMs = Number(a.tick);
const prefix = sample.prefix.join("");
const suffix = sample.suffix.join("");
const n = sample.tokens.length;
const headers = { ...sample.headers, "content-type": sample.headers["content-type"] ?? "text/event-stream" };

interface Stream {
  res: ServerResponse;
  next: number;
  sent: number;
}
let streams: Stream[] = [];
let writes = 0;
let tokens = 0;
let armed = false;

function arm(): void {
  armed = true;
  setTimeout(tick, tickMs);
}

function tick(): void {
  armed = false;
  const now = performance.now();
  const keep: Stream[] = [];
  for (const s of streams) {
    if (s.res.destroyed) continue;
    if (s.next > now) {
      keep.push(s);
      continue;
    }
    let out = s.sent === 0 ? prefix : "";
    let k = 0;
    while (s.sent < n && s.next <= now) {
      out += sample.tokens[s.sent];
      s.sent++;
      k++;
      s.next += itl;
    }
    writes++;
    tokens += k;
    if (s.sent >= n) s.res.end(out + suffix);
    else {
      s.res.write(out);
      keep.push(s);
    }
  }
  streams = keep;
  if (streams.length) arm();
}

const server = createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ writes, tokens, tokensPerWrite: writes ? tokens / writes : null }));
    return;
  }
  if (req.url === "/stats/reset") {
    writes = 0;
    tokens = 0;
    res.end("{}");
    return;
  }
  let raw = "";
  req.setEncoding("utf8");
  req.on("data", (d: string) => {
    raw += d;
  });
  req.on("end", () => {
    JSON.parse(raw || "{}");
    res.writeHead(200, headers);
    // The same wire work as Decoy (and vLLM behind uvicorn): the header leaves at once, so the
    // client sees the stream open before the first token, in a packet of its own.
    if (ttft > 0) res.flushHeaders();
    streams.push({ res, next: performance.now() + ttft, sent: 0 });
    if (!armed) arm();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(a.port), "127.0.0.1", () => {
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  process.stdout.write(`ready http://127.0.0.1:${port}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
