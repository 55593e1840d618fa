import type { AppContext } from "../../context.js";
import type { OperationHandlers } from "../types.js";

export function kserveHandlers(ctx: AppContext): OperationHandlers {
  return {
    kserveServerLive: () => ({ live: ctx.engine.live }),
    kserveServerReady: (_req, reply) => {
      const ready = ctx.engine.ready;
      return reply.code(ready ? 200 : 503).send({ ready });
    },
  };
}
