/**
 * A small HTTP/1.1 client over node:http with a keep-alive pool. It exists instead of fetch so
 * that connections can be opened before the measurement starts (a saturated server accepts
 * about one new connection per event-loop turn, which would otherwise show up as latency), and
 * so that streamed bodies can be timestamped chunk by chunk.
 */

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import http from "node:http";
import https from "node:https";

export interface HttpRequestOptions {
  method?: string;
  /** Path (with query) relative to the host; the base URL's own path is not added here. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * When given, the body of a 2xx response is handed over chunk by chunk as it arrives instead
   * of being collected; error bodies are always collected so they can be reported.
   */
  onChunk?: ((chunk: Buffer, at: number) => void) | undefined;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Empty when `onChunk` consumed the body. */
  body: Buffer;
  /** performance.now() when the response head arrived. */
  headersAt: number;
}

export class RequestTimeoutError extends Error {
  readonly code = "EREQUESTTIMEOUT";
  constructor(ms: number) {
    super(`timed out after ${ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`}`);
    this.name = "RequestTimeoutError";
  }
}

export class RequestAbortedError extends Error {
  readonly code = "EREQUESTABORTED";
  constructor() {
    super("aborted");
    this.name = "RequestAbortedError";
  }
}

export interface HttpClientOptions {
  /** Upper bound on open connections; requests beyond it queue in the agent. */
  maxSockets: number;
  /** Headers sent with every request (auth, say). */
  headers?: OutgoingHttpHeaders;
  defaultTimeoutMs?: number;
}

export class HttpClient {
  readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly headers: OutgoingHttpHeaders;
  private readonly defaultTimeoutMs: number;

  constructor(base: URL, opts: HttpClientOptions) {
    this.base = base;
    this.transport = base.protocol === "https:" ? https : http;
    const agentOpts: http.AgentOptions = {
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: opts.maxSockets,
      maxFreeSockets: opts.maxSockets,
      // FIFO spreads requests over every warmed connection instead of reusing the hottest one.
      scheduling: "fifo",
    };
    this.agent = base.protocol === "https:" ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    this.headers = opts.headers ?? {};
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 30_000;
  }

  request(opts: HttpRequestOptions): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const signal = opts.signal;
      if (signal?.aborted) {
        reject(new RequestAbortedError());
        return;
      }
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      // Why we destroyed the request ourselves; Node reports the fallout as a generic reset.
      let cause: Error | undefined;
      const finish = (err: Error | undefined, value?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(cause ?? err);
        else resolve(value as HttpResponse);
      };
      const headers: OutgoingHttpHeaders = { ...this.headers, ...opts.headers };
      if (opts.body !== undefined) headers["content-length"] = Buffer.byteLength(opts.body);
      const req = this.transport.request({
        protocol: this.base.protocol,
        hostname: this.base.hostname,
        port: this.base.port || (this.base.protocol === "https:" ? 443 : 80),
        method: opts.method ?? "GET",
        path: opts.path,
        headers,
        agent: this.agent,
      });
      const onAbort = (): void => {
        cause = new RequestAbortedError();
        req.destroy(cause);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          cause = new RequestTimeoutError(timeoutMs);
          req.destroy(cause);
        }, timeoutMs);
      }
      req.on("error", (err) => finish(err));
      req.on("response", (res) => {
        const headersAt = performance.now();
        const chunks: Buffer[] = [];
        const status = res.statusCode ?? 0;
        const onChunk = status >= 200 && status < 300 ? opts.onChunk : undefined;
        res.on("data", (chunk: Buffer) => {
          if (onChunk) onChunk(chunk, performance.now());
          else chunks.push(chunk);
        });
        res.on("error", (err) => finish(err));
        res.on("end", () =>
          finish(undefined, {
            status,
            headers: res.headers,
            body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
            headersAt,
          }),
        );
        res.on("close", () => {
          if (!res.complete) finish(new Error("connection closed before the response was complete"));
        });
      });
      req.end(opts.body);
    });
  }

  /**
   * Opens up to `count` connections by sending that many concurrent cheap requests, so that
   * the measured run starts on warm sockets. The first transport error is rethrown, which makes
   * this double as the reachability check.
   */
  async warm(count: number, path: string, timeoutMs = 10_000): Promise<void> {
    const n = Math.max(1, Math.floor(count));
    const results = await Promise.allSettled(
      Array.from({ length: n }, () => this.request({ method: "GET", path, timeoutMs })),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed && results.every((r) => r.status === "rejected")) throw failed.reason;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Status line text for an unexpected HTTP status, with the server's message when it sent one. */
export function describeHttpStatus(status: number, body: Buffer | string): string {
  const text = typeof body === "string" ? body : body.subarray(0, 2048).toString("utf8");
  let detail = "";
  try {
    const json = JSON.parse(text) as { error?: unknown; message?: unknown; detail?: unknown };
    const e = json.error;
    if (typeof e === "string") detail = e;
    else if (e && typeof e === "object" && typeof (e as { message?: unknown }).message === "string")
      detail = (e as { message: string }).message;
    else if (typeof json.message === "string") detail = json.message;
    else if (typeof json.detail === "string") detail = json.detail;
  } catch {
    detail = text.trim().split("\n")[0] ?? "";
  }
  const reason = http.STATUS_CODES[status] ?? "";
  const head = `HTTP ${status}${reason ? ` ${reason}` : ""}`;
  detail = detail.length > 160 ? `${detail.slice(0, 157)}...` : detail;
  return detail ? `${head}: ${detail}` : head;
}
