/**
 * Failure injection: errors a real inference server gives under pressure, on demand. The
 * kinds and messages are llm-d-inference-sim's (`--failure-injection-rate`, `--failure-types`);
 * `--error-rate` is seed 001's name for the rate. Beyond those: streams cut after k tokens,
 * latency spikes, and a request header that forces a chosen error. Every draw takes the
 * caller's Random, so a seeded server fails the same requests in the same way each run.
 */
import type { ConfigStore } from "../config/load.js";
import { FAILURE_TYPES } from "../config/settings/faults.js";
import { DecoyError, type ErrorCode } from "./errors.js";
import { Random } from "./random.js";

export type FailureType = (typeof FAILURE_TYPES)[number];
export { FAILURE_TYPES };

/** Header (HTTP) and metadata key (gRPC) that force an error: a status code or a failure type. */
export const FORCE_ERROR_HEADER = "x-decoy-return-error";
/** llm-d-inference-sim's name for the same header. */
export const FORCE_ERROR_HEADER_COMPAT = "x-return-error";

interface FailureSpec {
  code: ErrorCode;
  httpStatus: number;
  /** vLLM names error types after the status. */
  type: string;
  param: string | null;
  message: (model: string) => string;
}

const FAILURES: Record<FailureType, FailureSpec> = {
  rate_limit: {
    code: "RESOURCE_EXHAUSTED",
    httpStatus: 429,
    type: "RateLimitError",
    param: null,
    message: (m) =>
      `Rate limit reached for ${m} in organization org-xxx on requests per min (RPM): Limit 3, Used 3, Requested 1.`,
  },
  invalid_api_key: {
    code: "UNAUTHENTICATED",
    httpStatus: 401,
    type: "AuthenticationError",
    param: null,
    message: () => "Incorrect API key provided.",
  },
  context_length: {
    code: "INVALID_ARGUMENT",
    httpStatus: 400,
    type: "BadRequestError",
    param: "messages",
    message: () =>
      "This model's maximum context length is 4096 tokens. However, your messages resulted in 4500 tokens.",
  },
  server_error: {
    code: "UNAVAILABLE",
    httpStatus: 503,
    type: "ServiceUnavailableError",
    param: null,
    message: () => "The server is overloaded or not ready yet.",
  },
  invalid_request: {
    code: "INVALID_ARGUMENT",
    httpStatus: 400,
    type: "BadRequestError",
    param: "model",
    message: () => "Invalid request: missing required parameter 'model'.",
  },
  model_not_found: {
    code: "NOT_FOUND",
    httpStatus: 404,
    type: "NotFoundError",
    param: "model",
    message: (m) => `The model '${m}-nonexistent' does not exist`,
  },
};

/** Marks errors produced by injection, so logs and metrics can tell them from real ones. */
export const INJECTED = Symbol.for("decoy.injectedFailure");

/** The error of one failure type, as the anchors word it. */
export function failureError(type: FailureType, model: string): DecoyError {
  const f = FAILURES[type];
  const err = new DecoyError(f.code, f.message(model || "model"), {
    httpStatus: f.httpStatus,
    type: f.type,
    param: f.param,
  });
  Object.defineProperty(err, INJECTED, { value: type });
  return err;
}

const STATUS_TO_TYPE: Record<number, FailureType> = {
  400: "invalid_request",
  401: "invalid_api_key",
  404: "model_not_found",
  429: "rate_limit",
  503: "server_error",
};

const STATUS_TO_CODE: Record<number, ErrorCode> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  408: "DEADLINE_EXCEEDED",
  409: "ABORTED",
  413: "RESOURCE_EXHAUSTED",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  501: "UNIMPLEMENTED",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

/**
 * The error a forcing header asks for: a failure type name ("rate_limit") or an HTTP status
 * (4xx/5xx). Null when the header is absent or empty; an unusable value is itself reported
 * as a 400 so that a typo in a test does not pass silently.
 */
export function forcedError(headerValue: string | string[] | undefined | null, model: string): DecoyError | null {
  const raw = (Array.isArray(headerValue) ? headerValue[0] : headerValue)?.trim();
  if (!raw) return null;
  if ((FAILURE_TYPES as readonly string[]).includes(raw)) return failureError(raw as FailureType, model);
  const status = Number(raw);
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    return new DecoyError(
      "INVALID_ARGUMENT",
      `${FORCE_ERROR_HEADER} must be an HTTP status between 400 and 599 or one of ${FAILURE_TYPES.join(", ")}; got "${raw}".`,
      { param: FORCE_ERROR_HEADER },
    );
  }
  const type = STATUS_TO_TYPE[status];
  if (type) return failureError(type, model);
  const code = STATUS_TO_CODE[status] ?? (status >= 500 ? "UNKNOWN" : "FAILED_PRECONDITION");
  const err = new DecoyError(code, `Forced error ${status} (${FORCE_ERROR_HEADER}).`, { httpStatus: status });
  Object.defineProperty(err, INJECTED, { value: "forced" });
  return err;
}

/** A stream cut: the engine stops after `afterTokens` tokens and ends the request with `error`. */
export interface MidStreamCut {
  afterTokens: number;
  error: DecoyError;
}

/**
 * Reads the live (runtime-patchable) failure settings on every draw, so `/configure` takes
 * effect on the next request.
 */
export class Faults {
  /** A stream of its own for callers without a per-request Random (seeded from the engine's). */
  readonly random: Random;

  constructor(
    private readonly config: Pick<ConfigStore, "current">,
    random?: Random,
  ) {
    this.random = random ?? new Random(Date.now());
  }

  /** Whether any random injection is configured (lets hot paths skip the draws). */
  get active(): boolean {
    const c = this.config.current;
    return c.failureInjectionRate > 0 || c.midStreamFailureRate > 0 || c.latencySpikeRate > 0;
  }

  /** Per request, at admission: an injected error or null. */
  draw(random: Random, model: string): DecoyError | null {
    const c = this.config.current;
    if (!(c.failureInjectionRate > 0)) return null;
    if (random.next() * 100 >= c.failureInjectionRate) return null;
    const types = (c.failureTypes as FailureType[] | null)?.length
      ? (c.failureTypes as FailureType[])
      : [...FAILURE_TYPES];
    return failureError(random.pick(types), model);
  }

  /** The error a forcing header asks for (see `forcedError`). */
  forced(headerValue: string | string[] | undefined | null, model = ""): DecoyError | null {
    return forcedError(headerValue, model);
  }

  /**
   * For a streamed response of `plannedTokens` tokens: where to cut it, or null. The cut lands
   * after at least one token and before the last, so the client sees a started, unfinished stream.
   */
  midStream(random: Random, plannedTokens: number): MidStreamCut | null {
    const rate = this.config.current.midStreamFailureRate;
    if (!(rate > 0) || plannedTokens < 2) return null;
    if (random.next() * 100 >= rate) return null;
    const afterTokens = random.int(1, plannedTokens - 1);
    const error = new DecoyError("UNAVAILABLE", `Simulated failure: the stream was cut after ${afterTokens} tokens.`, {
      httpStatus: 503,
      type: "ServiceUnavailableError",
    });
    Object.defineProperty(error, INJECTED, { value: "mid_stream" });
    return { afterTokens, error };
  }

  /** Extra milliseconds before the first token (0 when this request gets no spike). */
  latencySpike(random: Random): number {
    const c = this.config.current;
    if (!(c.latencySpikeRate > 0) || !(c.latencySpikeMs > 0)) return 0;
    return random.next() * 100 < c.latencySpikeRate ? c.latencySpikeMs : 0;
  }
}

/** True for errors produced by failure injection or a forcing header. */
export function isInjected(err: unknown): boolean {
  return typeof err === "object" && err !== null && INJECTED in err;
}
