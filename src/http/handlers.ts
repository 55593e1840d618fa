import type { AppContext } from "../context.js";
import { kserveHandlers } from "./plugins/kserve.js";
import { opsHandlers } from "./plugins/ops.js";
import type { OperationHandlers } from "./types.js";

/**
 * Every surface's handlers, keyed by the operationId its OpenAPI document declares.
 * `buildApp` refuses to start when an operation has no handler or a handler no operation.
 */
export function allHandlers(ctx: AppContext): OperationHandlers {
  const parts: OperationHandlers[] = [opsHandlers(ctx), kserveHandlers(ctx)];
  const out: OperationHandlers = {};
  for (const part of parts) {
    for (const [id, h] of Object.entries(part)) {
      if (out[id]) throw new Error(`operationId ${id} has two handlers`);
      out[id] = h;
    }
  }
  return out;
}
