/**
 * Bare node:http SSE ceilings.
 *   burst: one res.write per captured event, no delay (the streaming scenario's baseline);
 *   idle:  headers and the events up to the first token, then the stream stays open
 *          (the memory scenario's baseline).
 * Events come from a stream captured from Decoy (`--events sample.json`), replayed byte for byte.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import type { SseSample } from "../lib/samples.js";

const { values: a } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    events: { type: "string" },
    mode: { type: "string", default: "burst" },
  },
});

const sample = JSON.parse(readFileSync(String(a.events), "utf8")) as SseSample;
const all = [...sample.prefix, ...sample.tokens, ...sample.suffix];
const opening = [...sample.prefix, sample.tokens[0] ?? ""].join("");
const headers = { ...sample.headers, "content-type": sample.headers["content-type"] ?? "text/event-stream" };
const idle = new Set<ServerResponse>();

function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
    return;
  }
  JSON.parse(raw || "{}");
  res.writeHead(200, headers);
  if (a.mode === "idle") {
    res.write(opening);
    idle.add(res);
    res.once("close", () => idle.delete(res));
    return;
  }
  for (const ev of all) res.write(ev);
  res.end();
}

const server = createServer((req, res) => {
  let raw = "";
  req.setEncoding("utf8");
  req.on("data", (d: string) => {
    raw += d;
  });
  req.on("end", () => handle(req, res, raw));
});
server.keepAliveTimeout = 60_000;
server.listen(Number(a.port), "127.0.0.1", () => {
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  process.stdout.write(`ready http://127.0.0.1:${port}\n`);
});
const stop = () => {
  for (const res of idle) res.destroy();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
