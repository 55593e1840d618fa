/**
 * What the two client commands share on the command line: one-line errors instead of stacks,
 * Ctrl-C that stops the run but keeps what was measured, and argument parsers that reject bad
 * values before any request is sent.
 */
import { InvalidArgumentError } from "commander";

/** An error whose message is already fit for the user; printed as one line, no stack. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ECONNRESET: "connection reset by peer",
  EPIPE: "connection closed by peer",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "address not available (out of local ports?)",
  UND_ERR_SOCKET: "socket error",
  ERR_SSL_WRONG_VERSION_NUMBER: "TLS handshake failed (is the server plain http?)",
  EPROTO: "protocol error (TLS to a plain-http server?)",
  HPE_INVALID_CONSTANT: "the server did not answer with HTTP",
  HPE_INVALID_VERSION: "the server did not answer with HTTP",
};

function codeOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string") return e.code;
  // AggregateError from happy-eyeballs connects carries the per-address errors.
  if (Array.isArray(e.errors))
    for (const inner of e.errors) {
      const c = codeOf(inner);
      if (c) return c;
    }
  return e.cause === undefined ? undefined : codeOf(e.cause);
}

/** A short human description of a transport error (no stack, no object dump). */
export function describeError(err: unknown): string {
  const code = codeOf(err);
  if (code && NETWORK_CODES[code]) return NETWORK_CODES[code] as string;
  if (err instanceof Error) {
    const msg = err.message.split("\n")[0] ?? "";
    if (msg) return code && !msg.includes(code) ? `${msg} (${code})` : msg;
    return code ?? err.name;
  }
  return String(err);
}

/** True when an error means the server could not be reached at all. */
export function isConnectError(err: unknown): boolean {
  const code = codeOf(err);
  return (
    code === "ECONNREFUSED" ||
    code === "ENOTFOUND" ||
    code === "EAI_AGAIN" ||
    code === "EHOSTUNREACH" ||
    code === "ENETUNREACH" ||
    code === "ETIMEDOUT" ||
    code === "EADDRNOTAVAIL"
  );
}

/** Parses a base URL for the HTTP protocols; anything else is a one-line CliError. */
export function parseHttpUrl(raw: string, flag = "--url"): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`invalid ${flag} "${raw}": expected a URL such as http://127.0.0.1:8000`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(
      `invalid ${flag} "${raw}": expected an http:// or https:// URL such as http://127.0.0.1:8000` +
        (/^[a-z0-9.-]+:$/i.test(url.protocol) && /^\d+$/.test(url.pathname) ? " (the scheme is missing)" : ""),
    );
  }
  if (url.search || url.hash) throw new CliError(`invalid ${flag} "${raw}": a base URL takes no query or fragment`);
  return url;
}

/** Joins a base URL's path prefix (a reverse-proxy mount, say) with an API path. */
export function joinPath(base: URL, path: string): string {
  const prefix = base.pathname.replace(/\/+$/, "");
  return `${prefix}${path.startsWith("/") ? path : `/${path}`}`;
}

/**
 * Runs a command body, turning every failure into one line on stderr and an exit code. The
 * exit code goes to process.exitCode so that pending output is flushed before Node exits.
 */
export async function runCommand(name: string, body: () => Promise<number>): Promise<void> {
  try {
    const code = await body();
    if (code !== 0) process.exitCode = code;
  } catch (err) {
    const message = err instanceof CliError ? err.message : describeError(err);
    process.stderr.write(`decoy ${name}: error: ${message}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}

/** Exit code of a run cut short by Ctrl-C (128 + SIGINT), as shells expect. */
export const INTERRUPTED_EXIT_CODE = 130;

/**
 * While a run is active, the first Ctrl-C aborts it (results so far are still written), a
 * second one exits at once. Returns a function that removes the handler.
 */
export function trapInterrupt(controller: AbortController, name: string): () => void {
  let count = 0;
  const handler = (): void => {
    count++;
    if (count === 1) {
      if (process.stderr.isTTY) process.stderr.write("\n");
      process.stderr.write(`decoy ${name}: interrupted, writing the results collected so far (Ctrl-C again to quit)\n`);
      controller.abort(new Error("interrupted"));
    } else {
      process.exit(INTERRUPTED_EXIT_CODE);
    }
  };
  process.on("SIGINT", handler);
  return () => {
    process.off("SIGINT", handler);
  };
}

/** Waits `ms` unless the signal fires first; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// Commander argument parsers: they throw InvalidArgumentError so commander reports the flag.

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
}

export function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number");
  return n;
}

export function parseNonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError("expected a non-negative number");
  return n;
}

export function parseRatio(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError("expected a number between 0 and 1");
  return n;
}

/** `KEY:VALUE` pairs, repeatable; collected into a record. */
export function collectPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = value.indexOf(":");
  if (i <= 0) throw new InvalidArgumentError("expected KEY:VALUE");
  return { ...previous, [value.slice(0, i).trim()]: value.slice(i + 1).trim() };
}

/** Formats a duration in ms for humans. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}
