import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppContext } from "../../context.js";
import { LEGACY_MODELS, LegacyFakes } from "../../engine/models/legacy.js";
import { hashString } from "../../engine/random.js";
import { onResponseClose } from "../closing.js";
import type { OperationHandlers } from "../types.js";

const EMPTY = Buffer.alloc(0);

/** The bytes a legacy request's fake result is derived from. */
function bodyBytes(body: unknown): Uint8Array {
  if (body === undefined || body === null) return EMPTY;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === "string") return Buffer.from(body);
  return Buffer.from(JSON.stringify(body));
}

/**
 * The seed's routes: wait `--sleep` seconds on the engine scheduler (so a thousand concurrent
 * requests all finish after one sleep), then answer the seed's JSON shape.
 */
export function legacyHandlers(ctx: AppContext): OperationHandlers {
  const fakes = new LegacyFakes(hashString(`legacy:${ctx.config.current.seed ?? 0}`));

  const sleep = (reply: FastifyReply): Promise<void> =>
    new Promise((resolve) => {
      const ms = ctx.config.current.sleep * 1000;
      const deadline = ctx.engine.scheduler.after(ms, () => resolve());
      // A client that hangs up frees its timer at once; nothing is written to the closed socket.
      onResponseClose(reply, () => {
        if (!reply.raw.writableFinished) ctx.engine.scheduler.cancel(deadline);
      });
    });

  const route =
    <T>(make: (body: Uint8Array) => T) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<T> => {
      const bytes = bodyBytes(req.body);
      await sleep(reply);
      return make(bytes);
    };

  const resnet = route((b) => fakes.resnet(b));
  const yolo = route((b) => fakes.yolo(b));
  const bert = route((b) => fakes.bert(b));
  return {
    legacyResnetGet: resnet,
    legacyResnetPost: resnet,
    legacyYoloGet: yolo,
    legacyYoloPost: yolo,
    legacyBertGet: bert,
    legacyBertPost: bert,
    legacyHealth: () => ({ status: "ok", models: [...LEGACY_MODELS] }),
  };
}
