/**
 * One error type for the whole engine, carrying a canonical gRPC-style code. Transports map
 * the code to their own status (HTTP status + body shape, gRPC status); the engine never
 * speaks HTTP.
 */
export const ERROR_CODES = {
  CANCELLED: { grpc: 1, http: 499, description: "The client went away or cancelled the request." },
  UNKNOWN: { grpc: 2, http: 500, description: "An error with no better classification." },
  INVALID_ARGUMENT: { grpc: 3, http: 400, description: "The request is malformed or violates a limit." },
  DEADLINE_EXCEEDED: { grpc: 4, http: 504, description: "The request's deadline passed before it finished." },
  NOT_FOUND: { grpc: 5, http: 404, description: "The model, version, adapter or route does not exist." },
  ALREADY_EXISTS: { grpc: 6, http: 409, description: "The resource (e.g. a LoRA adapter) is already loaded." },
  PERMISSION_DENIED: { grpc: 7, http: 403, description: "The caller may not perform this operation." },
  RESOURCE_EXHAUSTED: { grpc: 8, http: 429, description: "A queue, rate or size limit was reached." },
  FAILED_PRECONDITION: { grpc: 9, http: 400, description: "The server is not in a state to run this request." },
  ABORTED: { grpc: 10, http: 409, description: "The operation was aborted." },
  OUT_OF_RANGE: { grpc: 11, http: 400, description: "A value is outside its allowed range." },
  UNIMPLEMENTED: { grpc: 12, http: 501, description: "The operation is not implemented." },
  INTERNAL: { grpc: 13, http: 500, description: "A bug in Decoy; details are logged, not sent." },
  UNAVAILABLE: { grpc: 14, http: 503, description: "The server is not ready, draining or overloaded." },
  DATA_LOSS: { grpc: 15, http: 500, description: "Unrecoverable data loss." },
  UNAUTHENTICATED: { grpc: 16, http: 401, description: "Missing or invalid credentials." },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface DecoyErrorOptions {
  /** The request field the error is about (OpenAI's `param`). */
  param?: string | null;
  /** Override of the HTTP status when a surface needs a specific one (e.g. 413). */
  httpStatus?: number;
  /** OpenAI error `type` (e.g. "invalid_request_error", "BadRequestError"). */
  type?: string;
  /** OpenAI error `code` (e.g. "model_not_found"). */
  openaiCode?: string | null;
  cause?: unknown;
}

export class DecoyError extends Error {
  readonly code: ErrorCode;
  readonly param: string | null;
  readonly httpStatus: number;
  readonly type: string | undefined;
  readonly openaiCode: string | null;

  constructor(code: ErrorCode, message: string, options: DecoyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DecoyError";
    this.code = code;
    this.param = options.param ?? null;
    this.httpStatus = options.httpStatus ?? ERROR_CODES[code].http;
    this.type = options.type;
    this.openaiCode = options.openaiCode ?? null;
  }

  get grpcCode(): number {
    return ERROR_CODES[this.code].grpc;
  }
}

export function isDecoyError(err: unknown): err is DecoyError {
  return err instanceof DecoyError;
}

/** Any thrown value as a DecoyError; unknown errors become INTERNAL with a generic message. */
export function toDecoyError(err: unknown): DecoyError {
  if (err instanceof DecoyError) return err;
  return new DecoyError("INTERNAL", "Internal server error", { cause: err });
}
