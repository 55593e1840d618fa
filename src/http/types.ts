import type { FastifyReply, FastifyRequest } from "fastify";

/** A route handler; thrown DecoyErrors are rendered in the route's error style. */
export type OperationHandler = (request: FastifyRequest, reply: FastifyReply) => unknown;
export type OperationHandlers = Record<string, OperationHandler>;

declare module "fastify" {
  interface FastifyInstance {
    /** Every route registered on the app (method, URL), for the spec-coverage test. */
    servedRoutes: { method: string; url: string }[];
    /** Decoy's own log (errors, configuration changes), also when fastify logs no requests. */
    decoyLog: import("fastify").FastifyBaseLogger;
  }
  interface FastifyContextConfig {
    operationId?: string;
    errorStyle?: import("./errors.js").ErrorStyle;
    /** Health probes and metrics: answered while draining and not counted as in-flight work. */
    drainExempt?: boolean;
  }
}
