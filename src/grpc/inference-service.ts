import type { GRPCInferenceServiceServer } from "../../gen/proto/inference/grpc_service.js";
import type { AppContext } from "../context.js";
import { unary } from "./status.js";

/** Protocol extensions this server implements, as Triton lists them in ServerMetadata. */
export const SERVER_EXTENSIONS = ["grpc_health", "server_reflection"];

/**
 * `inference.GRPCInferenceService`. Methods not listed here are answered UNIMPLEMENTED by
 * grpc-js itself.
 */
export function inferenceService(ctx: AppContext): Partial<GRPCInferenceServiceServer> {
  return {
    serverLive: unary(() => ({ live: ctx.engine.live })),
    serverReady: unary(() => ({ ready: ctx.engine.ready })),
    serverMetadata: unary(() => ({ name: "decoy", version: ctx.version, extensions: SERVER_EXTENSIONS })),
  };
}
