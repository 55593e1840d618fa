import { createRequire } from "node:module";
import type { ValidateFunction } from "ajv";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from "fastify";
import { pino } from "pino";
import type { AppContext } from "../context.js";
import { DecoyError } from "../engine/errors.js";
import { trackClose } from "./closing.js";
import { type ErrorStyle, errorBody, sendError, styleForUrl } from "./errors.js";
import { allHandlers } from "./handlers.js";
import { forcedError, installPodHeaders } from "./plugins/admin.js";
import { rawBodyParser } from "./plugins/kserve.js";
import { allOperations, type Operation } from "./spec.js";
import type { OperationHandler } from "./types.js";

export interface BuildAppOptions {
  /** Operations to serve; defaults to every document in gen/schemas. */
  operations?: Operation[];
}

/**
 * The fastify app, without listening. Routes come from the OpenAPI documents: each
 * operation is registered with its request and response schemas and the handler of the
 * same operationId.
 */
export async function buildApp(ctx: AppContext, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const cfg = ctx.config.current;
  const pending = new Set<() => void>();
  const level = cfg.logLevel;
  const log: FastifyBaseLogger = pino({ level });
  // fastify logs each request at info. Given a logger, it also adds "finish" and "error"
  // listeners, two clock reads and two log calls to every response, even when nothing can
  // print. Below info it gets none, and Decoy's own messages go to `log` (decoyLog).
  const requestLogs = level === "info" || level === "debug" || level === "trace";
  const app = Fastify({
    ...(requestLogs ? { loggerInstance: log } : { logger: false }),
    // Per-request child loggers cost an allocation per request; request ids matter only
    // when requests are logged in detail, i.e. at debug and trace. Without a logger fastify
    // skips the factory only when it is its own.
    ...(level === "info" ? { childLoggerFactory: (logger: FastifyBaseLogger) => logger } : {}),
    bodyLimit: Math.floor(cfg.maxRequestBodySizeMb * 1024 * 1024),
    forceCloseConnections: "idle",
    return503OnClosing: true,
    ajv: {
      customOptions: { strict: false, removeAdditional: false, allErrors: false, coerceTypes: "array" },
    },
    schemaController: { compilersFactory: lazyCompilers(pending) as CompilersFactory },
  });
  pendingByApp.set(app, pending);
  app.decorate("decoyLog", log);

  // Every route registered on this app, whoever registers it: a test holds them to the specs.
  const served: { method: string; url: string }[] = [];
  app.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) served.push({ method, url: r.url });
  });
  app.decorate("servedRoutes", served);

  // Raw tensor bodies (KServe binary extension) arrive as Buffers.
  app.addContentTypeParser("application/octet-stream", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  // Bodies with no or an unclaimed Content-Type (Triton clients, SageMaker): raw bytes on
  // KServe and legacy routes, 415 elsewhere.
  app.addContentTypeParser("*", { parseAs: "buffer" }, rawBodyParser);

  const operations = options.operations ?? allOperations();
  const handlers = allHandlers(ctx);
  const missing = operations.filter((op) => !handlers[op.operationId]).map((op) => op.operationId);
  if (missing.length) throw new Error(`OpenAPI operations without a handler: ${missing.join(", ")}`);
  const declared = new Set(operations.map((o) => o.operationId));
  const orphans = Object.keys(handlers).filter((id) => !declared.has(id));
  if (orphans.length) throw new Error(`handlers without an OpenAPI operation: ${orphans.join(", ")}`);

  const validators = cfg.validateResponses ? await responseValidators(operations) : undefined;

  app.setErrorHandler((err, request, reply) => {
    const style = (request.routeOptions.config.errorStyle ?? styleForUrl(request.url)) as ErrorStyle;
    return sendError(reply, style, err, request);
  });
  app.setNotFoundHandler((request, reply) => {
    const style = styleForUrl(request.url);
    const err = new DecoyError("NOT_FOUND", `Route ${request.method} ${request.url.split("?")[0]} not found.`);
    return reply.code(404).send(style === "legacy" ? { detail: "Not Found" } : errorBody(style, err));
  });

  installPodHeaders(app, ctx);
  if (validators) {
    app.addHook("onSend", async (request, reply, payload) => {
      const id = request.routeOptions.config.operationId;
      if (!id || typeof payload !== "string") return payload;
      if (!String(reply.getHeader("content-type") ?? "").includes("application/json")) return payload;
      const v = validators(`${id} ${reply.statusCode}`);
      if (!v) return payload;
      if (v(JSON.parse(payload))) return payload;
      const msg = `response of ${id} (${reply.statusCode}) violates its OpenAPI schema: ${ajvText(v)}`;
      app.decoyLog.error(msg);
      reply.code(500);
      return JSON.stringify({ error: { message: msg, type: "InternalServerError", param: null, code: 500 } });
    });
  }

  for (const op of operations) {
    app.route({
      method: op.method,
      url: op.url,
      schema: op.schema,
      config: { operationId: op.operationId, errorStyle: op.errorStyle, drainExempt: op.drainExempt },
      handler: withEngineAccounting(ctx, op, handlers[op.operationId] as OperationHandler) as never,
    });
  }
  return app;
}

/**
 * What every handler does first, in the handler itself rather than in fastify hooks (two hook
 * runs were about 1 µs of a 20 µs request):
 *  - in-flight accounting for graceful drain: the request counts until its response closes,
 *    and is refused with 503 once the server drains. Probes and scrapes are exempt: they must
 *    keep answering while the server drains;
 *  - `X-Decoy-Return-Error`: the forced error instead of the handler.
 */
function withEngineAccounting(ctx: AppContext, op: Operation, handler: OperationHandler): OperationHandler {
  const id = op.operationId;
  if (op.drainExempt) {
    return (request, reply) => {
      const forced = forcedError(ctx, request, id);
      if (forced) throw forced;
      return handler(request, reply);
    };
  }
  return (request, reply) => {
    trackClose(reply, ctx.engine.begin());
    const forced = forcedError(ctx, request, id);
    if (forced) throw forced;
    return handler(request, reply);
  };
}

/** Test mode: each response schema is compiled by ajv the first time a response needs it. */
async function responseValidators(operations: Operation[]): Promise<(key: string) => ValidateFunction | undefined> {
  // ajv itself takes ~100 ms to load; production (no --validate-responses) never needs it.
  const { Ajv } = await import("ajv");
  const ajv = new Ajv({ strict: false, allErrors: true });
  const schemas = new Map<string, Record<string, unknown>>();
  for (const op of operations) {
    for (const [status, schema] of Object.entries(op.schema.response ?? {})) {
      schemas.set(`${op.operationId} ${status}`, schema);
    }
  }
  const compiled = new Map<string, ValidateFunction>();
  return (key) => {
    let v = compiled.get(key);
    if (!v) {
      const schema = schemas.get(key);
      if (!schema) return undefined;
      v = ajv.compile(schema);
      compiled.set(key, v);
    }
    return v;
  };
}

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>;
type Compiler = (route: { schema: unknown }) => (...args: unknown[]) => unknown;
type CompilerFactory = (externalSchemas: unknown, options: unknown) => Compiler;

// fastify's own default compilers (ajv for requests, fast-json-stringify for responses),
// resolved from fastify's install so they are the versions it ships with.
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve("fastify"));
const defaultValidatorFactory = (): CompilerFactory =>
  (fastifyRequire("@fastify/ajv-compiler") as () => CompilerFactory)();
const defaultSerializerFactory = (): CompilerFactory =>
  (fastifyRequire("@fastify/fast-json-stringify-compiler") as () => CompilerFactory)();

const pendingByApp = new WeakMap<FastifyInstance, Set<() => void>>();

/**
 * fastify compiles every route's request validators and response serializers at ready();
 * with ~70 operations that was about 190 ms of every start (ajv and fast-json-stringify code
 * generation). These factories hand fastify its default compilers wrapped so that each schema
 * is compiled on the first request that needs it, and cached. Behaviour is unchanged (same
 * compilers, same options); only the first request of a route pays its compile time.
 * `compilePendingSchemas` compiles the rest now (tests use it to prove every schema compiles).
 */
function lazyCompilers(pending: Set<() => void>): {
  buildValidator: CompilerFactory;
  buildSerializer: CompilerFactory;
} {
  const lazily = (makeFactory: () => CompilerFactory, validator: boolean): CompilerFactory => {
    return (externalSchemas, options) => {
      let compiler: Compiler | undefined;
      return (route) => {
        let fn: ((...args: unknown[]) => unknown) | undefined;
        const compile = () => {
          pending.delete(compile);
          compiler ??= makeFactory()(externalSchemas, options);
          fn = compiler(route);
          return fn;
        };
        pending.add(compile);
        if (!validator) return (data: unknown) => (fn ?? compile())(data);
        const validate = (data: unknown, dataCxt?: unknown): unknown => {
          const v = (fn ?? compile()) as ((d: unknown, c?: unknown) => unknown) & { errors?: unknown };
          const ok = v(data, dataCxt);
          validate.errors = v.errors;
          return ok;
        };
        validate.errors = null as unknown;
        // fastify passes the parent object to validators that have a schemaEnv (ajv's), so
        // type coercion can replace a root value; keep that for the wrapped ajv function.
        validate.schemaEnv = true;
        return validate;
      };
    };
  };
  return {
    buildValidator: lazily(defaultValidatorFactory, true),
    buildSerializer: lazily(defaultSerializerFactory, false),
  };
}

/** Compile every schema not compiled yet (after ready()); returns how many were compiled. */
export function compilePendingSchemas(app: FastifyInstance): number {
  const pending = pendingByApp.get(app);
  if (!pending) return 0;
  const all = [...pending];
  for (const compile of all) compile();
  return all.length;
}

function ajvText(v: ValidateFunction): string {
  return (v.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`).join("; ");
}
