import type { FastifyReply, FastifyRequest } from "fastify";
import { DecoyError, toDecoyError } from "../engine/errors.js";

/** Each HTTP surface answers errors in its own protocol's shape. */
export type ErrorStyle = "openai" | "kserve" | "legacy" | "anthropic";

/** vLLM names its error types after the HTTP status (`BadRequestError`, `NotFoundError`, ...). */
const OPENAI_TYPES: Record<number, string> = {
  400: "BadRequestError",
  401: "AuthenticationError",
  403: "PermissionDeniedError",
  404: "NotFoundError",
  405: "MethodNotAllowedError",
  409: "ConflictError",
  413: "RequestEntityTooLargeError",
  415: "UnsupportedMediaTypeError",
  422: "UnprocessableEntityError",
  429: "RateLimitError",
  499: "ClientClosedRequestError",
  500: "InternalServerError",
  501: "NotImplementedError",
  503: "ServiceUnavailableError",
  504: "GatewayTimeoutError",
};

export function openAiErrorBody(err: DecoyError): {
  error: { message: string; type: string; param: string | null; code: string | number | null };
} {
  return {
    error: {
      message: err.message,
      type: err.type ?? OPENAI_TYPES[err.httpStatus] ?? "Error",
      param: err.param,
      code: err.openaiCode ?? err.httpStatus,
    },
  };
}

/** Anthropic's error types by HTTP status (529 is its "overloaded"). */
const ANTHROPIC_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  503: "overloaded_error",
  529: "overloaded_error",
};

export function anthropicErrorBody(err: DecoyError): { type: "error"; error: { type: string; message: string } } {
  const status = err.httpStatus;
  const type = ANTHROPIC_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  return { type: "error", error: { type, message: err.message } };
}

export function errorBody(style: ErrorStyle, err: DecoyError): unknown {
  switch (style) {
    case "openai":
      return openAiErrorBody(err);
    case "anthropic":
      return anthropicErrorBody(err);
    case "kserve":
      return { error: err.message };
    case "legacy":
      return { detail: err.message };
  }
}

/** The error style for a URL when no route matched (404s, early parser errors). */
export function styleForUrl(url: string): ErrorStyle {
  if (url.startsWith("/v2")) return "kserve";
  if (url.startsWith("/resnet") || url.startsWith("/yolo") || url.startsWith("/bert") || url.startsWith("/health/"))
    return "legacy";
  return "openai";
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: { instancePath?: string; params?: Record<string, unknown>; message?: string }[];
  validationContext?: string;
}

/** Turn whatever a route threw into a DecoyError with a client-safe message. */
export function normalizeError(raw: unknown): DecoyError {
  if (raw instanceof DecoyError) return raw;
  const e = raw as FastifyLikeError;
  if (e && Array.isArray(e.validation)) {
    const first = e.validation[0];
    const missing = first?.params?.missingProperty as string | undefined;
    const path = (first?.instancePath ?? "").replace(/^\//, "").replace(/\//g, ".");
    const param = missing ? (path ? `${path}.${missing}` : missing) : path || null;
    return new DecoyError("INVALID_ARGUMENT", `Invalid request: ${e.message}`, { param });
  }
  const status = e?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    switch (e.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return new DecoyError("RESOURCE_EXHAUSTED", "Request body is too large.", { httpStatus: 413 });
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return new DecoyError("INVALID_ARGUMENT", `Unsupported Content-Type: ${e.message}`, { httpStatus: 415 });
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        return new DecoyError("INVALID_ARGUMENT", "Request body is empty; expected JSON.");
      default:
        // Body parse errors (invalid JSON) and other client-side failures.
        return new DecoyError("INVALID_ARGUMENT", e.message, { httpStatus: status });
    }
  }
  return toDecoyError(raw);
}

export function sendError(
  reply: FastifyReply,
  style: ErrorStyle,
  raw: unknown,
  request?: FastifyRequest,
): FastifyReply {
  const err = normalizeError(raw);
  if (err.code === "INTERNAL" || err.code === "UNKNOWN") {
    reply.server.decoyLog.error({ err: err.cause ?? err, url: request?.url }, "internal error");
  }
  // A body rejected before it was read leaves the rest of it on the socket: close the
  // connection rather than leave the client waiting on a keep-alive that cannot be reused.
  if (err.httpStatus === 413) reply.header("connection", "close");
  return reply.code(err.httpStatus).type("application/json").send(errorBody(style, err));
}
