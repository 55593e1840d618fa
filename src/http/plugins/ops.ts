import type { AppContext } from "../../context.js";
import type { OperationHandlers } from "../types.js";

export function opsHandlers(ctx: AppContext): OperationHandlers {
  const uptime = () => (ctx.engine.clock.wallNow() - ctx.engine.startedAt) / 1000;
  return {
    getHealth: () => ({ status: "ok", uptime_s: uptime() }),
    getReady: (_req, reply) => {
      if (!ctx.engine.ready) return reply.code(503).send({ status: "not_ready", uptime_s: uptime() });
      return { status: "ready", uptime_s: uptime() };
    },
  };
}
