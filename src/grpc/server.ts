import {
  logVerbosity,
  Server,
  ServerCredentials,
  type ServerOptions,
  setLogVerbosity,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { HealthService } from "../../gen/proto/grpc/health/v1/health.js";
import { ServerReflectionService as ReflectionV1 } from "../../gen/proto/grpc/reflection/v1/reflection.js";
import { ServerReflectionService as ReflectionV1Alpha } from "../../gen/proto/grpc/reflection/v1alpha/reflection.js";
import type { AppContext } from "../context.js";
import { InferenceServiceDefinition } from "./codec.js";
import { forcedErrorInterceptor } from "./faults.js";
import { healthService } from "./health.js";
import { inferenceService } from "./inference-service.js";
import { DescriptorIndex, reflectionHandler } from "./reflection.js";

export interface GrpcServer {
  server: Server;
  /** Stop health watchers before the server shuts down. */
  beforeShutdown(): void;
}

export function buildGrpcServer(ctx: AppContext): GrpcServer {
  // grpc-js logs bind failures itself; Decoy reports them in one line of its own.
  const level = ctx.config.current.logLevel;
  setLogVerbosity(level === "debug" || level === "trace" ? logVerbosity.DEBUG : logVerbosity.NONE);
  const maxBytes = Math.floor(ctx.config.current.grpcMaxMessageSizeMb * 1024 * 1024);
  // grpc-js's server honours only a few HTTP/2 options (no window or frame sizes: those are
  // set in bindGrpc), and its default session memory is unlimited, which is what we want:
  // Node rejects new streams once a session passes `grpc-node.max_session_memory`.
  const server = new Server({
    "grpc.max_receive_message_length": maxBytes,
    "grpc.max_send_message_length": maxBytes,
    // Decoy serves no channelz service; tracking costs a few objects and clock reads per call.
    "grpc.enable_channelz": 0,
    interceptors: [forcedErrorInterceptor(ctx)],
  } satisfies ServerOptions);
  server.addService(InferenceServiceDefinition, inferenceService(ctx) as UntypedServiceImplementation);
  const health = healthService(ctx.engine);
  server.addService(HealthService, health.impl);
  const services = [
    "inference.GRPCInferenceService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
  ];
  const reflect = reflectionHandler(() => DescriptorIndex.load(), services);
  server.addService(ReflectionV1, { serverReflectionInfo: reflect });
  server.addService(ReflectionV1Alpha, { serverReflectionInfo: reflect as never });
  return { server, beforeShutdown: () => health.shutdown() };
}

/**
 * HTTP/2 flow-control windows for received data. Node's default (65,535 bytes, the HTTP/2
 * initial value) makes a 602 KB resnet input wait for ~10 WINDOW_UPDATE round trips and a
 * 4.9 MB yolo input for ~75, each costing the server a wakeup and a write; with a window
 * larger than the message the client sends it in one go (measured: ~1.7× the resnet RPCs
 * per server core on a bare grpc-js server). The window is a credit, not a buffer: grpc-js
 * reads unary requests as they arrive, and messages above the max size are refused anyway.
 */
export const STREAM_WINDOW_BYTES = 8 << 20;
export const SESSION_WINDOW_BYTES = 32 << 20;

interface Http2ServerLike {
  updateSettings?(settings: { initialWindowSize: number }): void;
  on(event: "session", cb: (session: { setLocalWindowSize?(size: number): void }) => void): unknown;
}

/**
 * grpc-js has no option for window sizes, so they are set on the HTTP/2 servers it created
 * (its `http2Servers` map, private, hence the defensive checks: without it Decoy still
 * works with Node's defaults). Returns whether the windows were applied.
 */
export function widenFlowControlWindows(server: Server): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return false;
  let applied = false;
  for (const h of servers.keys() as IterableIterator<Http2ServerLike>) {
    if (typeof h?.updateSettings !== "function" || typeof h.on !== "function") continue;
    // Stream windows come from the SETTINGS frame each new session sends first.
    h.updateSettings({ initialWindowSize: STREAM_WINDOW_BYTES });
    // The connection window is per session and starts at 65,535 whatever the settings.
    h.on("session", (session) => {
      try {
        session.setLocalWindowSize?.(SESSION_WINDOW_BYTES);
      } catch {
        /* the session closed before we got to it */
      }
    });
    applied = true;
  }
  return applied;
}

/** Bind, widen the HTTP/2 windows, and resolve the bound port. */
export function bindGrpc(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else {
        widenFlowControlWindows(server);
        resolve(bound);
      }
    });
  });
}
