/**
 * A minimal HTTP/1.1 keep-alive client for chunked SSE responses, cheap enough that one
 * process can follow thousands of streams: it never parses JSON, it counts `\ndata: `
 * event starts and spots the chunked terminator with Buffer.indexOf, carrying a few bytes
 * across reads so a pattern split between two reads still counts once.
 */
import { connect, type Socket } from "node:net";

const EVENT = Buffer.from("\ndata: ");
const END = Buffer.from("\r\n0\r\n\r\n");
const HEADER_END = "\r\n\r\n";

export class PatternCounter {
  private carry: Buffer = Buffer.alloc(0);
  constructor(private readonly pattern: Buffer) {}

  reset(prefix?: Buffer): void {
    this.carry = prefix ? Buffer.from(prefix.subarray(-(this.pattern.length - 1))) : Buffer.alloc(0);
  }

  /** Matches in `buf`, including one that started in the previous read. */
  count(buf: Buffer): number {
    const p = this.pattern;
    let n = 0;
    if (this.carry.length) {
      const joined = Buffer.concat([this.carry, buf.subarray(0, p.length - 1)]);
      let i = joined.indexOf(p);
      while (i >= 0 && i < this.carry.length) {
        n++;
        i = joined.indexOf(p, i + 1);
      }
    }
    let i = buf.indexOf(p);
    while (i >= 0) {
      n++;
      i = buf.indexOf(p, i + p.length);
    }
    const keep = p.length - 1;
    if (buf.length >= keep) this.carry = Buffer.from(buf.subarray(buf.length - keep));
    else this.carry = Buffer.concat([this.carry, buf]).subarray(-keep);
    return n;
  }
}

export interface SseCallbacks {
  /** `events` event starts arrived in one read at `now` (performance.now()). */
  onEvents(events: number, now: number): void;
  /** The response ended (chunked terminator seen). */
  onEnd(now: number): void;
  onError(err: Error): void;
}

export class SseConnection {
  readonly socket: Socket;
  private headerText = "";
  private inBody = false;
  private readonly events = new PatternCounter(EVENT);
  private readonly end = new PatternCounter(END);
  busy = false;
  closed = false;

  constructor(
    port: number,
    private readonly request: Buffer,
    private readonly cb: SseCallbacks,
  ) {
    this.socket = connect({ host: "127.0.0.1", port, noDelay: true });
    this.socket.on("data", (buf: Buffer) => this.onData(buf));
    this.socket.on("error", (err) => {
      this.closed = true;
      if (this.busy) cb.onError(err);
    });
    this.socket.on("close", () => {
      this.closed = true;
      if (this.busy) {
        this.busy = false;
        cb.onError(new Error("connection closed mid-response"));
      }
    });
  }

  connected(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("connect timeout")), timeoutMs);
      this.socket.once("connect", () => {
        clearTimeout(t);
        resolve();
      });
      this.socket.once("error", (err) => {
        clearTimeout(t);
        reject(err);
      });
    });
  }

  send(): void {
    this.busy = true;
    this.inBody = false;
    this.headerText = "";
    this.socket.write(this.request);
  }

  private onData(buf: Buffer): void {
    if (!this.busy) return;
    const now = performance.now();
    let body = buf;
    if (!this.inBody) {
      this.headerText += buf.toString("latin1");
      const i = this.headerText.indexOf(HEADER_END);
      if (i < 0) {
        if (this.headerText.length > 16384) this.fail("response headers too long");
        return;
      }
      const head = this.headerText.slice(0, i);
      const status = Number(head.slice(9, 12));
      if (status !== 200) {
        this.fail(`HTTP ${status}: ${this.headerText.slice(i + 4, i + 300)}`);
        return;
      }
      if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        this.fail("SSE response is not chunked");
        return;
      }
      this.inBody = true;
      // Body bytes start after the blank line; the CRLF before it lets an empty body terminate.
      const consumed =
        Buffer.byteLength(this.headerText.slice(0, i + 4), "latin1") - (this.headerText.length - buf.length);
      body = buf.subarray(Math.max(0, consumed));
      this.events.reset(Buffer.from("\r\n"));
      this.end.reset(Buffer.from("\r\n"));
    }
    const n = this.events.count(body);
    if (n) this.cb.onEvents(n, now);
    if (this.end.count(body)) {
      this.busy = false;
      this.cb.onEnd(now);
    }
  }

  private fail(msg: string): void {
    this.busy = false;
    this.cb.onError(new Error(msg));
    this.socket.destroy();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

export function buildPost(port: number, path: string, body: string, accept = "text/event-stream"): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
        `Accept: ${accept}\r\nContent-Length: ${b.length}\r\n\r\n`,
      "latin1",
    ),
    b,
  ]);
}

/** Open `n` connections, at most `parallel` handshakes at a time, all before any load starts. */
export async function openAll<T extends SseConnection>(
  n: number,
  make: (i: number) => T,
  parallel = 200,
  timeoutMs = 60_000,
): Promise<T[]> {
  const out: T[] = [];
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < n; i += parallel) {
    const batch: T[] = [];
    for (let j = i; j < Math.min(n, i + parallel); j++) batch.push(make(j));
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`opened only ${out.length} of ${n} connections in ${timeoutMs} ms`);
    await Promise.all(batch.map((c) => c.connected(left)));
    out.push(...batch);
  }
  return out;
}
