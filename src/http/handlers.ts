import type { AppContext } from "../context.js";
import { adminHandlers } from "./plugins/admin.js";
import { anthropicHandlers } from "./plugins/anthropic.js";
import { generateHandlers } from "./plugins/generate.js";
import { kserveHandlers } from "./plugins/kserve.js";
import { legacyHandlers } from "./plugins/legacy.js";
import { metricsHandlers } from "./plugins/metrics.js";
import { openaiHandlers } from "./plugins/openai.js";
import { opsHandlers } from "./plugins/ops.js";
import { vllmHandlers } from "./plugins/vllm.js";
import type { OperationHandlers } from "./types.js";

/**
 * Every surface's handlers, keyed by the operationId its OpenAPI document declares.
 * `buildApp` refuses to start when an operation has no handler or a handler no operation.
 */
export function allHandlers(ctx: AppContext): OperationHandlers {
  const parts: OperationHandlers[] = [
    opsHandlers(ctx),
    kserveHandlers(ctx),
    legacyHandlers(ctx),
    adminHandlers(ctx),
    metricsHandlers(ctx),
    openaiHandlers(ctx),
    anthropicHandlers(ctx),
    vllmHandlers(ctx),
    generateHandlers(ctx),
  ];
  const out: OperationHandlers = {};
  for (const part of parts) {
    for (const [id, h] of Object.entries(part)) {
      if (out[id]) throw new Error(`operationId ${id} has two handlers`);
      out[id] = h;
    }
  }
  return out;
}
