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
import { GRPCInferenceServiceService } from "../../gen/proto/inference/grpc_service.js";
import type { AppContext } from "../context.js";
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
  const server = new Server({
    "grpc.max_receive_message_length": maxBytes,
    "grpc.max_send_message_length": maxBytes,
    // Large tensors (a yolo input is ~4.9 MB) move faster with bigger HTTP/2 windows.
    "grpc-node.max_session_memory": 256,
    "grpc.http2.max_frame_size": 1 << 20,
    interceptors: [forcedErrorInterceptor(ctx)],
  } as ServerOptions);
  server.addService(GRPCInferenceServiceService, inferenceService(ctx) as UntypedServiceImplementation);
  const health = healthService(ctx.engine);
  server.addService(HealthService, health.impl);
  const index = DescriptorIndex.load();
  const services = [
    "inference.GRPCInferenceService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
  ];
  const reflect = reflectionHandler(index, services);
  server.addService(ReflectionV1, { serverReflectionInfo: reflect });
  server.addService(ReflectionV1Alpha, { serverReflectionInfo: reflect as never });
  return { server, beforeShutdown: () => health.shutdown() };
}

/** Bind and resolve the bound port. */
export function bindGrpc(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err);
      else resolve(bound);
    });
  });
}
