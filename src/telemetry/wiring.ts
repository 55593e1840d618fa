import type { AppContext } from "../context.js";
import type { LlmService } from "../engine/llm/service.js";
import type { ModelRepository } from "../engine/models/repository.js";
import { TensorModel } from "../engine/models/tensor-model.js";
import type { LlmStatsProvider, TensorStatsProvider } from "./providers.js";
import { Telemetry } from "./telemetry.js";

/**
 * The KServe repository's live state in Triton's terms. Every loaded model gets nv_inference_*
 * series, the LLMs too (Triton reports its vLLM backend's models the same way); only the tensor
 * fakes have a queue of their own in front of execution.
 */
export function repositoryStats(repo: ModelRepository): TensorStatsProvider {
  const ready = () => repo.list().filter((m) => repo.isReady(m.name));
  const tensorModels = (): TensorModel[] => ready().filter((m): m is TensorModel => m instanceof TensorModel);
  return {
    models: () => ready().flatMap((m) => m.versions.map((version) => ({ model: m.name, version }))),
    pending: (model, version) => {
      const m = repo.peek(model);
      if (!(m instanceof TensorModel)) return 0;
      // One queue serves every version; Triton's scheduler is per version, and requests
      // without a version go to the latest one, so the queue is charged to that one.
      return repo.resolveVersion(m, "") === version ? m.queued : 0;
    },
    executing: () => tensorModels().reduce((n, m) => n + m.executing, 0),
  };
}

/**
 * The LLM server's scheduler state as vLLM reports it: one engine serving the primary served
 * name, whose running/waiting counts are the slots', whatever alias or adapter a request named.
 */
export function llmServiceStats(svc: LlmService, kvUsage: (() => number) | undefined): LlmStatsProvider {
  const primary = (): string => svc.models.primary();
  return {
    models: () => [primary()],
    running: () => svc.slots.running,
    waiting: () => svc.slots.waiting,
    kvCacheUsage: () => kvUsage?.() ?? 0,
    capacity: () => svc.engine.config.current.maxNumSeqs,
    loraInfo: () => {
      // vLLM registers lora_requests_info only with LoRA enabled; Decoy enables it with adapters.
      if (svc.models.loras().length === 0) return undefined;
      const s = svc.slots.stats();
      return { running: Object.keys(s.runningLoras), waiting: Object.keys(s.waitingLoras), maxLora: s.maxLoras };
    },
    modelLabel: (requested) =>
      svc.models.servedNames().includes(requested) || svc.models.lora(requested) ? primary() : requested,
  };
}

/** One server's telemetry, reading the surfaces in `ctx` that exist. */
export function createTelemetry(ctx: Omit<AppContext, "telemetry">): Telemetry {
  const t = new Telemetry(ctx.engine, ctx.config);
  t.setFakeMetrics(ctx.fakeMetrics);
  t.setTensorStats(repositoryStats(ctx.models));
  const kv = ctx.kv;
  const kvUsage = kv ? () => kv.usage() : undefined;
  t.setKvUsage(kvUsage);
  t.setLlmStats(llmServiceStats(ctx.llm, kvUsage));
  return t;
}
