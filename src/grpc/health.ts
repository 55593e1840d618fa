import { type ServerWritableStream, status } from "@grpc/grpc-js";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
  HealthCheckResponse_ServingStatus as Serving,
} from "../../gen/proto/grpc/health/v1/health.js";
import type { Engine } from "../engine/engine.js";
import { DecoyError } from "../engine/errors.js";
import { grpcError } from "./status.js";

/** Services `grpc.health.v1.Health` knows about; "" is the whole server. */
const SERVICES = ["", "inference.GRPCInferenceService"];

export function healthService(engine: Engine): { impl: HealthServer; shutdown(): void } {
  const watchers = new Set<{ call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>; last: Serving }>();
  const current = (): Serving => (engine.ready ? Serving.SERVING : Serving.NOT_SERVING);
  const impl: HealthServer = {
    check(call, callback) {
      if (!SERVICES.includes(call.request.service)) {
        callback(grpcError(new DecoyError("NOT_FOUND", `unknown service ${call.request.service}`)));
        return;
      }
      callback(null, { status: current() });
    },
    list(_call, callback) {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const s of SERVICES) statuses[s] = { status: current() };
      callback(null, { statuses });
    },
    watch(call) {
      const known = SERVICES.includes(call.request.service);
      const w = { call, last: known ? current() : Serving.SERVICE_UNKNOWN };
      call.write({ status: w.last });
      watchers.add(w);
      call.on("cancelled", () => watchers.delete(w));
      call.on("close", () => watchers.delete(w));
    },
  };
  return {
    impl,
    /** Tell watchers the server is going away, then end their streams. */
    shutdown() {
      for (const w of watchers) {
        try {
          w.call.write({ status: Serving.NOT_SERVING });
          w.call.end();
        } catch {
          /* the peer may already be gone */
        }
      }
      watchers.clear();
    },
  };
}

export { status };
