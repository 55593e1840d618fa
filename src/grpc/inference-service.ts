import type { Metadata, ServerDuplexStream } from "@grpc/grpc-js";
import type {
  GRPCInferenceServiceServer,
  ModelInferRequest,
  ModelStatistics,
  ModelStreamInferResponse,
  StatisticDuration,
} from "../../gen/proto/inference/grpc_service.js";
import { ModelConfig } from "../../gen/proto/inference/model_config.js";
import type { AppContext } from "../context.js";
import { DecoyError, toDecoyError } from "../engine/errors.js";
import { CallSignal } from "../engine/models/call-signal.js";
import { SERVER_EXTENSIONS } from "../engine/models/extensions.js";
import type { ModelStatsSnapshot } from "../engine/models/statistics.js";
import { modelMetadata } from "../engine/models/types.js";
import { forcedFor } from "./faults.js";
import { unary } from "./status.js";
import { inferInputFromProto, inferResponseToProto, paramFromProto } from "./tensors.js";

export { SERVER_EXTENSIONS };

type Call = { cancelled: boolean; metadata?: Metadata; on(event: "cancelled", cb: () => void): unknown };

/** Built only when a call really is cancelled: a DecoyError captures a stack. */
const cancelled = (what: string) => new DecoyError("CANCELLED", `${what}: the client cancelled the call`);

function statsToProto(s: ModelStatsSnapshot): ModelStatistics {
  const d = (x: StatisticDuration): StatisticDuration => ({ count: x.count, ns: x.ns });
  const i = s.inferenceStats;
  const responseStats: ModelStatistics["responseStats"] = {};
  for (const [k, r] of Object.entries(s.responseStats)) {
    responseStats[k] = {
      computeInfer: d(r.computeInfer),
      computeOutput: d(r.computeOutput),
      success: d(r.success),
      fail: d(r.fail),
      emptyResponse: d(r.emptyResponse),
      cancel: d(r.cancel),
    };
  }
  return {
    name: s.name,
    version: s.version,
    lastInference: s.lastInference,
    inferenceCount: s.inferenceCount,
    executionCount: s.executionCount,
    inferenceStats: {
      success: d(i.success),
      fail: d(i.fail),
      queue: d(i.queue),
      computeInput: d(i.computeInput),
      computeInfer: d(i.computeInfer),
      computeOutput: d(i.computeOutput),
      cacheHit: d(i.cacheHit),
      cacheMiss: d(i.cacheMiss),
    },
    batchStats: s.batchStats.map((b) => ({
      batchSize: b.batchSize,
      computeInput: d(b.computeInput),
      computeInfer: d(b.computeInfer),
      computeOutput: d(b.computeOutput),
    })),
    memoryUsage: s.memoryUsage,
    responseStats,
  };
}

/**
 * `inference.GRPCInferenceService`. Inference routes generically through the model
 * repository, so tensor fakes and the LLM surface's models answer the same RPCs. Every
 * in-flight inference is registered with the engine so SIGTERM drains it. Methods not listed
 * here (shared memory, trace, log settings) are answered UNIMPLEMENTED by grpc-js itself.
 */
export function inferenceService(ctx: AppContext): Partial<GRPCInferenceServiceServer> {
  const models = ctx.models;
  /** A unary KServe method: `X-Decoy-Return-Error` metadata fails it before it runs. */
  const kserve = <Req, Res>(fn: (req: Req, call: Call) => Res | Promise<Res>) =>
    unary((req: Req, call: Call) => {
      const forced = forcedFor(ctx, call.metadata, req as { modelName?: unknown; name?: unknown });
      if (forced) throw forced;
      return fn(req, call);
    });

  return {
    serverLive: kserve(() => ({ live: ctx.engine.live })),
    serverReady: kserve(() => ({ ready: ctx.engine.ready })),
    serverMetadata: kserve(() => ({ name: "decoy", version: ctx.version, extensions: [...SERVER_EXTENSIONS] })),
    modelReady: kserve((req) => ({ ready: ctx.engine.ready && models.isReady(req.name, req.version) })),
    modelMetadata: kserve((req) => modelMetadata(models.get(req.name, req.version))),
    modelConfig: kserve((req) => ({ config: ModelConfig.fromJSON(models.get(req.name, req.version).config()) })),
    modelStatistics: kserve((req) => ({ modelStats: models.statistics(req.name, req.version).map(statsToProto) })),
    repositoryIndex: kserve((req) => ({ models: models.index(req.ready) })),
    repositoryModelLoad: kserve((req) => {
      const params: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(req.parameters)) {
        const c = v.parameterChoice;
        if (c) params[k] = c.$case === "bytesParam" ? c.value.toString("utf8") : c.value;
      }
      models.load(req.modelName, params);
      return {};
    }),
    repositoryModelUnload: kserve((req) => {
      models.unload(req.modelName);
      return {};
    }),

    modelInfer: kserve((req: ModelInferRequest, call: Call) => {
      const ac = new CallSignal();
      let settled = false;
      const release = ctx.engine.begin(ac.canceller());
      // grpc-js emits `cancelled` whenever the stream closes, also after a normal reply.
      call.on("cancelled", () => {
        if (!settled) ac.abort(cancelled("ModelInfer"));
      });
      let input: ReturnType<typeof inferInputFromProto>;
      try {
        input = inferInputFromProto(req, ac.signal);
      } catch (err) {
        settled = true;
        release();
        throw err;
      }
      return models.infer(req.modelName, req.modelVersion, input).then(
        (out) => {
          settled = true;
          release();
          return inferResponseToProto(out, req);
        },
        (err: unknown) => {
          settled = true;
          release();
          throw err;
        },
      );
    }),

    modelStreamInfer: (call: ServerDuplexStream<ModelInferRequest, ModelStreamInferResponse>) => {
      const active = new Set<CallSignal>();
      let inflight = 0;
      let ended = false;
      let closed = false;
      const write = (msg: ModelStreamInferResponse) => {
        if (closed) return;
        try {
          call.write(msg);
        } catch {
          closed = true;
        }
      };
      const maybeEnd = () => {
        if (ended && inflight === 0 && !closed) {
          closed = true;
          call.end();
        }
      };
      const abortAll = () => {
        closed = true;
        for (const ac of active) ac.abort(cancelled("ModelStreamInfer"));
      };
      call.on("cancelled", abortAll);
      call.on("error", abortAll);
      call.on("end", () => {
        ended = true;
        maybeEnd();
      });
      call.on("data", (req: ModelInferRequest) => {
        const fail = (err: unknown) =>
          write({
            errorMessage: toDecoyError(err).message,
            inferResponse: {
              modelName: req.modelName,
              modelVersion: req.modelVersion,
              id: req.id,
              parameters: {},
              outputs: [],
              rawOutputContents: [],
            },
          });
        const ac = new CallSignal();
        let release: () => void;
        try {
          // Counted per request so SIGTERM drains it; the drain deadline aborts it.
          release = ctx.engine.begin(ac.canceller());
        } catch (err) {
          fail(err);
          return;
        }
        active.add(ac);
        inflight++;
        const enableEmptyFinal = paramFromProto(req.parameters.triton_enable_empty_final_response) === true;
        const done = () => {
          release();
          active.delete(ac);
          inflight--;
          maybeEnd();
        };
        let input: ReturnType<typeof inferInputFromProto>;
        try {
          input = inferInputFromProto(req, ac.signal);
        } catch (err) {
          fail(err);
          done();
          return;
        }
        models
          .stream(req.modelName, req.modelVersion, input, (out, final) => {
            if (final && out.outputs.length === 0 && !enableEmptyFinal) return;
            const res = inferResponseToProto(out, req);
            if (enableEmptyFinal)
              res.parameters.triton_final_response = { parameterChoice: { $case: "boolParam", value: final } };
            write({ errorMessage: "", inferResponse: res });
          })
          .catch((err: unknown) => {
            if (!closed) fail(err);
          })
          .finally(done);
      });
    },
  };
}
