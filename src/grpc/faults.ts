import { Metadata, ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";
import type { AppContext } from "../context.js";
import { FORCE_ERROR_HEADER, FORCE_ERROR_HEADER_COMPAT } from "../engine/faults.js";

const INFERENCE_SERVICE = "/inference.GRPCInferenceService/";

/**
 * gRPC side of `X-Decoy-Return-Error`: the same key as request metadata makes a KServe call
 * fail with the forced error's gRPC status (429 → RESOURCE_EXHAUSTED, 401 → UNAUTHENTICATED,
 * 400 → INVALID_ARGUMENT, 503 → UNAVAILABLE, 404 → NOT_FOUND). It answers once the request
 * message has arrived, so error texts can name the requested model; the handler never runs.
 */
export function forcedErrorInterceptor(ctx: AppContext): ServerInterceptor {
  return (method, call) => {
    if (!method.path.startsWith(INFERENCE_SERVICE)) return new ServerInterceptingCall(call);
    let forced: string | undefined;
    let failed = false;
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const v = metadata.get(FORCE_ERROR_HEADER)[0] ?? metadata.get(FORCE_ERROR_HEADER_COMPAT)[0];
            forced = v === undefined ? undefined : v.toString();
            mdNext(metadata);
          },
          onReceiveMessage: (message: { modelName?: unknown; name?: unknown } | undefined, msgNext) => {
            if (failed) return;
            const model = typeof message?.modelName === "string" ? message.modelName : String(message?.name ?? "");
            const err = forced ? ctx.faults.forced(forced, model) : null;
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
