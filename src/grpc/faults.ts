import { Metadata, ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import type { AppContext } from "../context.js";
import type { DecoyError } from "../engine/errors.js";
import { FORCE_ERROR_HEADER, FORCE_ERROR_HEADER_COMPAT } from "../engine/faults.js";

/** The streaming method: unary methods check the header in their handler (`forcedFor`). */
const STREAM_INFER = "/inference.GRPCInferenceService/ModelStreamInfer";

/** The model a request message names (`model_name` or `name`), for error texts. */
function modelOf(message: { modelName?: unknown; name?: unknown } | undefined): string {
  return typeof message?.modelName === "string" ? message.modelName : String(message?.name ?? "");
}

/**
 * gRPC side of `X-Decoy-Return-Error` for unary KServe calls: the same key as request
 * metadata makes the call fail with the forced error's gRPC status (429 → RESOURCE_EXHAUSTED,
 * 401 → UNAUTHENTICATED, 400 → INVALID_ARGUMENT, 503 → UNAVAILABLE, 404 → NOT_FOUND),
 * before the handler does any work. Null when the metadata does not ask for one.
 */
export function forcedFor(
  ctx: AppContext,
  metadata: Metadata | undefined,
  message: { modelName?: unknown; name?: unknown } | undefined,
): DecoyError | null {
  const v = forcedHeader(metadata);
  return v === undefined ? null : ctx.faults.forced(v, modelOf(message));
}

function forcedHeader(metadata: Metadata | undefined): string | undefined {
  const v = metadata?.get(FORCE_ERROR_HEADER)[0] ?? metadata?.get(FORCE_ERROR_HEADER_COMPAT)[0];
  return v === undefined ? undefined : v.toString();
}

/**
 * The same for ModelStreamInfer, as an interceptor: it answers once the first request
 * message has arrived, so error texts can name the requested model; the handler never sees
 * the message. Every other call passes through untouched (no extra intercepting layer on
 * the unary hot path).
 */
export function forcedErrorInterceptor(ctx: AppContext): ServerInterceptor {
  return (method, call) => {
    // grpc-js chains interceptors by whatever they return; its type asks for the wrapper
    // class, but the call itself is the interface every layer implements.
    if (method.path !== STREAM_INFER) return call as ServerInterceptingCall;
    let forced: string | undefined;
    let failed = false;
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (md, mdNext) => {
            forced = forcedHeader(md);
            mdNext(md);
          },
          onReceiveMessage: (message: { modelName?: unknown; name?: unknown } | undefined, msgNext) => {
            if (failed) return;
            const err = forced === undefined ? null : ctx.faults.forced(forced, modelOf(message));
            if (!err) {
              msgNext(message);
              return;
            }
            failed = true;
            call.sendStatus({ code: err.grpcCode, details: err.message, metadata: new Metadata() });
          },
        });
      },
    });
  };
}
