import type { FastifyReply } from "fastify";
import { onResponseClose } from "./closing.js";

/**
 * Server-Sent Events on a raw socket. Streams bypass fastify's serializer: every event text is
 * assembled from pre-escaped parts by the surface that owns the format, and each engine firing
 * results in exactly one `write` per socket, however many tokens were due.
 */

/** Set when a string passed to escapeJson had a character above U+007F; see `asciiSince`. */
let nonAscii = false;

/**
 * Start watching escapeJson's inputs. `asciiSince()` then tells whether every string escaped
 * since was ASCII, so an event built only from escapeJson/jsonString output, numbers and
 * literals is ASCII, and SseStream can write it without measuring or encoding it as UTF-8.
 */
export function watchAscii(): void {
  nonAscii = false;
}

export function asciiSince(): boolean {
  return !nonAscii;
}

function needsEscape(s: string): boolean {
  let special = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) special = true;
    else if (c > 0x7f) {
      nonAscii = true;
      if (c === 0x2028 || c === 0x2029) special = true;
    }
  }
  return special;
}

/** A string's JSON representation without the quotes; the input itself when nothing needs escaping. */
export function escapeJson(s: string): string {
  if (!needsEscape(s)) return s;
  return JSON.stringify(s)
    .slice(1, -1)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** `"..."` — a JSON string literal. */
export function jsonString(s: string): string {
  return `"${escapeJson(s)}"`;
}

export const SSE_DONE = "data: [DONE]\n\n";

export class SseStream {
  private open = false;
  private ended = false;
  /** Something went out after the header (which then went with it). */
  private wrote = false;
  /** The header has been handed to the response (written, or queued behind an earlier one). */
  private headerOut = false;
  private readonly closeHandlers: (() => void)[] = [];

  constructor(private readonly reply: FastifyReply) {
    // "close" fires when the response ends or when the connection goes away first
    onResponseClose(reply, () => {
      const wasEnded = this.ended;
      this.ended = true;
      if (!wasEnded) for (const fn of this.closeHandlers) fn();
    });
  }

  /** Take the socket from fastify and send the 200 header (with any headers set by hooks). */
  start(): void {
    if (this.open) return;
    this.open = true;
    this.reply.hijack();
    const headers: Record<string, string | number | string[]> = {};
    for (const [k, v] of Object.entries(this.reply.getHeaders())) {
      if (v !== undefined) headers[k] = v as string | number | string[];
    }
    headers["content-type"] = "text/event-stream; charset=utf-8";
    headers["cache-control"] = "no-cache";
    headers.connection = "keep-alive";
    headers["x-accel-buffering"] = "no";
    this.reply.raw.writeHead(200, headers);
    // The header goes out in this turn so clients see the stream open before the first token;
    // when that token is due at once (TTFT 0) it is written first and the header rides along.
    queueMicrotask(this.flushHeader);
  }

  private readonly flushHeader = (): void => {
    if (!this.wrote && !this.ended && !this.reply.raw.destroyed) {
      this.reply.raw.flushHeaders();
      this.headerOut = true;
    }
  };

  /** Whether the client is gone or the stream was ended. */
  get closed(): boolean {
    return this.ended || this.reply.raw.destroyed;
  }

  /** Called once if the client goes away before `end()`. */
  onClientGone(fn: () => void): void {
    this.closeHandlers.push(fn);
  }

  /** `ascii`: the caller guarantees every character of `text` is below U+0080. */
  write(text: string, ascii = false): void {
    if (this.closed || text === "") return;
    this.wrote = true;
    const res = this.reply.raw;
    const socket = res.socket;
    if (!this.headerOut || socket === null) {
      res.write(text);
      this.headerOut = true;
      return;
    }
    // Once the header is out and the socket is this response's, an event goes to the socket
    // as one framed write. `res.write` frames a chunk as four writes (size, CRLF, data, CRLF)
    // under a cork released on the next tick; at 1,000 streams that bookkeeping was a fifth
    // of the server's time. The bytes on the wire are the same.
    // An ASCII event's length is its byte count, and latin1 writes it as it is stored.
    if (ascii) {
      socket.write(res.chunkedEncoding ? `${text.length.toString(16)}\r\n${text}\r\n` : text, "latin1");
    } else if (res.chunkedEncoding) socket.write(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
    else socket.write(text);
  }

  end(last = ""): void {
    if (this.ended) return;
    this.ended = true;
    this.wrote = true;
    if (this.reply.raw.destroyed) return;
    if (last !== "") this.reply.raw.end(last);
    else this.reply.raw.end();
  }
}
