import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { kebab, type SettingSpec } from "../../config/define.js";
import { ConfigError } from "../../config/load.js";
import { type Config, settingEntries } from "../../config/schema.js";
import type { AppContext } from "../../context.js";
import { DecoyError } from "../../engine/errors.js";
import { FORCE_ERROR_HEADER, FORCE_ERROR_HEADER_COMPAT } from "../../engine/faults.js";
import type { OperationHandlers } from "../types.js";

const ADMIN_OPERATIONS = new Set(["getConfiguration", "patchConfiguration"]);

function snapshot(cfg: Config): { config: Record<string, unknown>; runtime: string[] } {
  const config: Record<string, unknown> = {};
  const runtime: string[] = [];
  for (const [key, spec] of settingEntries() as [keyof Config, SettingSpec][]) {
    config[kebab(key)] = cfg[key];
    if (spec.runtime) runtime.push(kebab(key));
  }
  return { config, runtime };
}

/** The setting a ConfigError message names, for OpenAI's `param`. */
function paramOf(message: string): string | null {
  return /setting "([^"]+)"/.exec(message)?.[1] ?? /^invalid configuration: ([a-z0-9-]+)/.exec(message)?.[1] ?? null;
}

/** `GET/POST /configure` (openapi/admin.yaml). */
export function adminHandlers(ctx: AppContext): OperationHandlers {
  return {
    getConfiguration: () => snapshot(ctx.config.current),
    patchConfiguration: (request: FastifyRequest) => {
      let changed: string[];
      try {
        changed = ctx.config.patch(request.body as Record<string, unknown>);
      } catch (err) {
        if (err instanceof ConfigError) {
          throw new DecoyError("INVALID_ARGUMENT", err.message, { param: paramOf(err.message) });
        }
        throw err;
      }
      request.server.decoyLog.info({ changed }, "configuration changed");
      return { status: "ok", changed: changed.map(kebab), ...snapshot(ctx.config.current) };
    },
  };
}

function modelOf(request: FastifyRequest): string {
  const body = request.body as { model?: unknown } | undefined;
  if (body && typeof body === "object" && typeof body.model === "string") return body.model;
  const params = request.params as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(params ?? {})) if (/model/i.test(k) && typeof v === "string") return v;
  return "";
}

/**
 * Pod identity (seed 004): `x-inference-pod` / `x-inference-namespace` on every response, set
 * on the raw response so streamed and error responses carry them too.
 */
export function installPodHeaders(app: FastifyInstance, ctx: AppContext): void {
  const { podName, podNamespace } = ctx.config.current;
  if (!podName && !podNamespace) return;
  app.addHook("onRequest", (_request, reply: FastifyReply, done) => {
    if (podName) reply.raw.setHeader("x-inference-pod", podName);
    if (podNamespace) reply.raw.setHeader("x-inference-namespace", podNamespace);
    done();
  });
}

/**
 * `X-Decoy-Return-Error: <status|failure type>` (and llm-d's `X-Return-Error`): the error a
 * request is to be answered with instead of running its handler; /configure itself is exempt.
 * Undefined when the request asks for none.
 */
export function forcedError(ctx: AppContext, request: FastifyRequest, operationId: string): DecoyError | undefined {
  const header = request.headers[FORCE_ERROR_HEADER] ?? request.headers[FORCE_ERROR_HEADER_COMPAT];
  if (header === undefined || ADMIN_OPERATIONS.has(operationId)) return undefined;
  return ctx.faults.forced(header, modelOf(request)) ?? undefined;
}
