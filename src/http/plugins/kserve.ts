import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppContext } from "../../context.js";
import { DecoyError } from "../../engine/errors.js";
import { CallSignal } from "../../engine/models/call-signal.js";
import { SERVER_EXTENSIONS } from "../../engine/models/extensions.js";
import type { DurationStat, ModelStatsSnapshot } from "../../engine/models/statistics.js";
import { modelMetadata } from "../../engine/models/types.js";
import { onResponseClose } from "../closing.js";
import { parseInferRequest, renderInferResponse } from "../kserve-tensors.js";
import type { OperationHandlers } from "../types.js";

type Params = { model: string; version?: string };

/**
 * Body parser for content types nothing else claims. Triton's Python client sends binary
 * requests without a Content-Type, SageMaker uses `application/vnd.sagemaker-triton.binary+json`
 * and urllib defaults to form encoding: KServe and legacy routes take such bodies as raw bytes;
 * everything else keeps answering 415.
 */
export function rawBodyParser(
  request: FastifyRequest,
  body: Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  const url = request.url;
  if (url.startsWith("/v2/") || /^\/(resnet|yolo|bert)\//.test(url)) {
    done(null, body);
    return;
  }
  const err = new Error(`Unsupported Media Type: ${request.headers["content-type"] ?? "(none)"}`) as Error & {
    statusCode: number;
    code: string;
  };
  err.statusCode = 415;
  err.code = "FST_ERR_CTP_INVALID_MEDIA_TYPE";
  done(err);
}

const dur = (d: DurationStat) => ({ count: d.count, ns: d.ns });

/** Engine snapshot → Triton's statistics JSON (snake_case). */
function statsJson(s: ModelStatsSnapshot) {
  const i = s.inferenceStats;
  const responseStats: Record<string, Record<string, ReturnType<typeof dur>>> = {};
  for (const [k, r] of Object.entries(s.responseStats)) {
    responseStats[k] = {
      compute_infer: dur(r.computeInfer),
      compute_output: dur(r.computeOutput),
      success: dur(r.success),
      fail: dur(r.fail),
      empty_response: dur(r.emptyResponse),
      cancel: dur(r.cancel),
    };
  }
  return {
    name: s.name,
    version: s.version,
    last_inference: s.lastInference,
    inference_count: s.inferenceCount,
    execution_count: s.executionCount,
    inference_stats: {
      success: dur(i.success),
      fail: dur(i.fail),
      queue: dur(i.queue),
      compute_input: dur(i.computeInput),
      compute_infer: dur(i.computeInfer),
      compute_output: dur(i.computeOutput),
      cache_hit: dur(i.cacheHit),
      cache_miss: dur(i.cacheMiss),
    },
    batch_stats: s.batchStats.map((b) => ({
      batch_size: b.batchSize,
      compute_input: dur(b.computeInput),
      compute_infer: dur(b.computeInfer),
      compute_output: dur(b.computeOutput),
    })),
    memory_usage: s.memoryUsage.map((m) => ({ type: m.type, id: m.id, byte_size: m.byteSize })),
    response_stats: responseStats,
  };
}

function bodyParams(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Buffer.isBuffer(body)) return {};
  const p = (body as { parameters?: unknown }).parameters;
  return typeof p === "object" && p !== null ? (p as Record<string, unknown>) : {};
}

export function kserveHandlers(ctx: AppContext): OperationHandlers {
  const models = ctx.models;
  const params = (req: FastifyRequest) => req.params as Params;

  const ready = (req: FastifyRequest, reply: FastifyReply) => {
    const { model, version = "" } = params(req);
    const ok = ctx.engine.ready && models.isReady(model, version);
    return reply.code(ok ? 200 : 503).send({ name: model, ready: ok });
  };

  const infer = async (req: FastifyRequest, reply: FastifyReply) => {
    const { model, version = "" } = params(req);
    const ac = new CallSignal();
    // A client that goes away releases the model instance and the scheduler deadline at once.
    onResponseClose(reply, () => {
      if (!reply.raw.writableFinished) ac.abort(new DecoyError("CANCELLED", "the client closed the connection"));
    });
    const parsed = parseInferRequest(req.body, req.headers, ac.signal);
    const out = await models.infer(model, version, parsed.input);
    const rendered = renderInferResponse(out, parsed);
    if (rendered.headerLength !== undefined) {
      return reply
        .header("Inference-Header-Content-Length", String(rendered.headerLength))
        .type("application/octet-stream")
        .send(rendered.body);
    }
    return reply.type("application/json").send(rendered.body);
  };

  const stats = (req: FastifyRequest) => {
    const { model = "", version = "" } = (req.params ?? {}) as Partial<Params>;
    return { model_stats: models.statistics(model, version).map(statsJson) };
  };

  return {
    kserveServerMetadata: () => ({ name: "decoy", version: ctx.version, extensions: [...SERVER_EXTENSIONS] }),
    kserveServerLive: () => ({ live: ctx.engine.live }),
    kserveServerReady: (_req, reply) => {
      const ok = ctx.engine.ready;
      return reply.code(ok ? 200 : 503).send({ ready: ok });
    },
    kserveModelList: () => ({ models: models.readyNames() }),
    kserveModelMetadata: (req) => modelMetadata(models.get(params(req).model)),
    kserveModelVersionMetadata: (req) => modelMetadata(models.get(params(req).model, params(req).version)),
    kserveModelReady: ready,
    kserveModelVersionReady: ready,
    kserveModelInfer: infer,
    kserveModelVersionInfer: infer,
    kserveModelConfig: (req) => models.get(params(req).model).config(),
    kserveModelVersionConfig: (req) => models.get(params(req).model, params(req).version).config(),
    kserveAllModelStats: stats,
    kserveModelStats: stats,
    kserveModelVersionStats: stats,
    kserveRepositoryIndex: (req) => {
      const body = req.body as { ready?: unknown } | undefined;
      return models.index(typeof body === "object" && body !== null && body.ready === true);
    },
    kserveRepositoryModelLoad: (req) => {
      const { model } = params(req);
      models.load(model, bodyParams(req.body));
      return { name: model, load: true };
    },
    kserveRepositoryModelUnload: (req) => {
      const { model } = params(req);
      models.unload(model);
      return { name: model, unload: true };
    },
  };
}
