/**
 * A tiny in-process stand-in for an inference server, for the client tests: the legacy
 * routes, KServe v2 REST (metadata + binary-extension infer, validated against the metadata),
 * OpenAI chat/completions/embeddings with SSE, a prefix cache reporting cached_tokens, and a
 * /metrics page whose RSS can be made to grow.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeServerOptions {
  /** Latency of legacy, KServe and embeddings requests, ms. */
  latencyMs?: number;
  /** Time to first token, ms (reduced on prefix-cache hits). */
  ttftMs?: number;
  /** Gap between streamed tokens, ms. */
  itlMs?: number;
  /** Completion length when the request sets no max_tokens. */
  tokens?: number;
  /** RSS growth reported by /metrics, bytes per second. */
  rssSlopeBytesPerSec?: number;
  /** Requests naming this model fail with HTTP 500. */
  failModel?: string;
}

export interface FakeServer {
  url: string;
  port: number;
  /** Requests seen per path. */
  hits: Map<string, number>;
  /** Bodies of OpenAI requests, for assertions on what the client sent. */
  openaiBodies: Record<string, unknown>[];
  /**
   * Gaps between consecutive token writes of each stream as the server made them (ms): the
   * ground truth a client's ITL is checked against, since timers on a busy machine run late.
   */
  tokenGapsMs: number[];
  close(): Promise<void>;
}

const METADATA: Record<string, unknown> = {
  resnet: {
    name: "resnet",
    versions: ["1"],
    platform: "onnxruntime_onnx",
    inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3, 224, 224] }],
    outputs: [{ name: "output", datatype: "FP32", shape: [-1, 1000] }],
  },
  yolo: {
    name: "yolo",
    versions: ["1"],
    platform: "onnxruntime_onnx",
    inputs: [{ name: "images", datatype: "FP32", shape: [-1, 3, 640, 640] }],
    outputs: [{ name: "output0", datatype: "FP32", shape: [-1, 84, 8400] }],
  },
  bert: {
    name: "bert",
    versions: ["1"],
    platform: "onnxruntime_onnx",
    inputs: [
      { name: "input_ids", datatype: "INT64", shape: [-1, 384] },
      { name: "attention_mask", datatype: "INT64", shape: [-1, 384] },
      { name: "token_type_ids", datatype: "INT64", shape: [-1, 384] },
    ],
    outputs: [
      { name: "start_logits", datatype: "FP32", shape: [-1, 384] },
      { name: "end_logits", datatype: "FP32", shape: [-1, 384] },
    ],
  },
};

const SIZES: Record<string, number> = { FP32: 4, INT64: 8 };

interface Meta {
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function bytesOf(shape: number[], datatype: string): number {
  return shape.map((d) => (d < 0 ? 1 : d)).reduce((a, b) => a * b, 1) * (SIZES[datatype] ?? 4);
}

/** Checks a KServe infer body against the model's metadata; returns an error message or undefined. */
function checkInfer(meta: Meta, req: http.IncomingMessage, body: Buffer): string | undefined {
  const headerLen = req.headers["inference-header-content-length"];
  const n = headerLen === undefined ? body.length : Number(headerLen);
  let doc: {
    inputs?: {
      name: string;
      datatype: string;
      shape: number[];
      data?: unknown[];
      parameters?: Record<string, number>;
    }[];
  };
  try {
    doc = JSON.parse(body.subarray(0, n).toString("utf8"));
  } catch {
    return "header is not JSON";
  }
  let offset = n;
  for (const want of meta.inputs) {
    const got = doc.inputs?.find((i) => i.name === want.name);
    if (!got) return `missing input ${want.name}`;
    if (got.datatype !== want.datatype) return `input ${want.name}: datatype ${got.datatype}`;
    const expected = bytesOf(want.shape, want.datatype);
    if (bytesOf(got.shape, got.datatype) !== expected) return `input ${want.name}: shape ${got.shape.join("x")}`;
    if (got.parameters?.binary_data_size !== undefined) {
      if (got.parameters.binary_data_size !== expected) return `input ${want.name}: binary_data_size`;
      offset += expected;
    } else if (!Array.isArray(got.data) || got.data.length !== expected / (SIZES[want.datatype] ?? 4)) {
      return `input ${want.name}: data length`;
    }
  }
  if (offset !== body.length) return `body length ${body.length}, expected ${offset}`;
  return undefined;
}

export async function startFakeServer(opts: FakeServerOptions = {}): Promise<FakeServer> {
  const latency = opts.latencyMs ?? 5;
  const ttft = opts.ttftMs ?? 20;
  const itl = opts.itlMs ?? 2;
  const defaultTokens = opts.tokens ?? 8;
  const started = performance.now();
  const hits = new Map<string, number>();
  const openaiBodies: Record<string, unknown>[] = [];
  const tokenGapsMs: number[] = [];
  const seenBlocks = new Set<string>();

  /** Cached prompt tokens: leading 16-word blocks already seen, vLLM-style block granularity. */
  const cacheLookup = (words: string[]): number => {
    let cached = 0;
    let key = "";
    let missed = false;
    for (let i = 0; i + 16 <= words.length; i += 16) {
      key += `${words.slice(i, i + 16).join(" ")}|`;
      if (!missed && seenBlocks.has(key)) cached += 16;
      else missed = true;
      seenBlocks.add(key);
    }
    return cached;
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const body = await readBody(req);
    try {
      if (path === "/health/") return json(res, 200, { status: "ok", models: ["resnet", "yolo", "bert"] });
      const legacy = /^\/(resnet|yolo|bert)\/$/.exec(path);
      if (legacy) {
        await wait(latency);
        return json(res, 200, { model: legacy[1], class_id: 1, score: 0.9 });
      }
      if (path === "/v2/health/ready") return json(res, 200, { ready: true });
      const meta = /^\/v2\/models\/([^/]+)$/.exec(path);
      if (meta) {
        const m = METADATA[decodeURIComponent(meta[1] as string)];
        return m ? json(res, 200, m) : json(res, 404, { error: `model not found` });
      }
      const infer = /^\/v2\/models\/([^/]+)\/infer$/.exec(path);
      if (infer) {
        const m = METADATA[decodeURIComponent(infer[1] as string)] as Meta | undefined;
        if (!m) return json(res, 404, { error: "model not found" });
        const problem = checkInfer(m, req, body);
        if (problem) return json(res, 400, { error: problem });
        await wait(latency);
        const header = Buffer.from(
          JSON.stringify({
            model_name: infer[1],
            outputs: m.outputs.map((o) => ({
              name: o.name,
              datatype: o.datatype,
              shape: o.shape.map((d) => (d < 0 ? 1 : d)),
              parameters: { binary_data_size: 16 },
            })),
          }),
        );
        res.writeHead(200, {
          "content-type": "application/octet-stream",
          "inference-header-content-length": header.length,
        });
        return res.end(Buffer.concat([header, Buffer.alloc(16 * m.outputs.length)]));
      }
      if (path === "/v1/models")
        return json(res, 200, { object: "list", data: [{ id: "fake-model", object: "model" }] });
      if (path === "/metrics") {
        const rss = 100e6 + ((performance.now() - started) / 1000) * (opts.rssSlopeBytesPerSec ?? 0);
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
        return res.end(
          `# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ${Math.round(rss)}\n`,
        );
      }
      if (path === "/v1/chat/completions" || path === "/v1/completions" || path === "/v1/embeddings") {
        const doc = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
        openaiBodies.push(doc);
        if (opts.failModel && doc.model === opts.failModel) return json(res, 500, { error: { message: "boom" } });
        const chat = path === "/v1/chat/completions";
        const text = chat
          ? String((doc.messages as { content: string }[] | undefined)?.[0]?.content ?? "")
          : String(doc.prompt ?? doc.input ?? "");
        const words = text.split(/\s+/).filter(Boolean);
        const promptTokens = words.length;
        if (path === "/v1/embeddings") {
          await wait(latency);
          return json(res, 200, {
            object: "list",
            data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }],
            usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
          });
        }
        const cached = cacheLookup(words);
        const n = typeof doc.max_tokens === "number" ? doc.max_tokens : defaultTokens;
        const usage = {
          prompt_tokens: promptTokens,
          completion_tokens: n,
          total_tokens: promptTokens + n,
          prompt_tokens_details: { cached_tokens: cached },
        };
        const firstDelay = ttft * (1 - 0.8 * (promptTokens ? cached / promptTokens : 0));
        const piece = (i: number): Record<string, unknown> =>
          chat
            ? { index: 0, delta: i === 0 ? { role: "assistant", content: "tok" } : { content: " tok" } }
            : { index: 0, text: " tok" };
        if (!doc.stream) {
          await wait(firstDelay + itl * Math.max(0, n - 1));
          return json(res, 200, {
            id: "x",
            object: chat ? "chat.completion" : "text_completion",
            choices: [
              chat
                ? { index: 0, message: { role: "assistant", content: "tok ".repeat(n) } }
                : { index: 0, text: "tok ".repeat(n) },
            ],
            usage,
          });
        }
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        await wait(firstDelay);
        let last = 0;
        for (let i = 0; i < n; i++) {
          if (i > 0) await wait(itl);
          res.write(`data: ${JSON.stringify({ id: "x", choices: [piece(i)] })}\n\n`);
          const now = performance.now();
          if (i > 0) tokenGapsMs.push(now - last);
          last = now;
        }
        const includeUsage = (doc.stream_options as { include_usage?: boolean } | undefined)?.include_usage;
        if (includeUsage) res.write(`data: ${JSON.stringify({ id: "x", choices: [], usage })}\n\n`);
        res.write("data: [DONE]\n\n");
        return res.end();
      }
      json(res, 404, { error: "not found" });
    } catch (err) {
      if (!res.headersSent) json(res, 500, { error: String(err) });
      else res.end();
    }
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hits,
    openaiBodies,
    tokenGapsMs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
