import type { ServerErrorResponse, status } from "@grpc/grpc-js";
import { DecoyError, toDecoyError } from "../engine/errors.js";

/** DecoyError → gRPC status. Unknown errors become INTERNAL without leaking details. */
export function grpcError(raw: unknown): ServerErrorResponse {
  const err = raw instanceof DecoyError ? raw : toDecoyError(raw);
  const e = new Error(err.message) as ServerErrorResponse;
  e.code = err.grpcCode as status;
  e.details = err.message;
  return e;
}

/** Wrap a unary implementation so thrown/rejected errors become gRPC statuses. */
export function unary<Req, Res>(
  fn: (
    request: Req,
    call: { cancelled: boolean; on(event: "cancelled", cb: () => void): unknown },
  ) => Res | Promise<Res>,
) {
  return (
    call: { request: Req; cancelled: boolean; on(event: "cancelled", cb: () => void): unknown },
    callback: (err: ServerErrorResponse | null, value?: Res) => void,
  ): void => {
    let result: Res | Promise<Res>;
    try {
      result = fn(call.request, call);
    } catch (err) {
      callback(grpcError(err));
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (v) => callback(null, v),
        (err: unknown) => callback(grpcError(err)),
      );
    } else {
      callback(null, result);
    }
  };
}
