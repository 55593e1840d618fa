/**
 * The realism features as LLM pipeline hooks (src/engine/llm/hooks.ts):
 *  - admit: a forcing header (when a transport passes headers) or an injected failure;
 *  - prefill: prefix-cache lookup — cached tokens skip prefill time and are reported as
 *    cached_tokens; the lease on the blocks ends with the request;
 *  - decode: mid-stream cut (streamed responses only) and latency spike.
 * Draws use the failure injector's own seeded stream, so turning faults on does not change
 * the texts a seed produces.
 */
import { FORCE_ERROR_HEADER, FORCE_ERROR_HEADER_COMPAT } from "./faults.js";
import type { LlmHooks } from "./llm/hooks.js";
import type { Realism } from "./realism.js";

export function realismHooks(r: Pick<Realism, "faults" | "kv">): LlmHooks {
  const { faults, kv } = r;
  const hooks: LlmHooks = {
    admit(job) {
      const h = job.request.headers;
      const forced = h?.[FORCE_ERROR_HEADER] ?? h?.[FORCE_ERROR_HEADER_COMPAT];
      if (forced !== undefined) {
        const err = faults.forced(forced, job.model);
        if (err) return err;
      }
      return faults.draw(faults.random, job.model);
    },
    decode(job) {
      if (!faults.active) return null;
      const spike = faults.latencySpike(faults.random);
      const cut = job.request.stream ? faults.midStream(faults.random, job.plan.steps) : null;
      if (!spike && !cut) return null;
      return {
        ...(spike ? { extraFirstTokenMs: spike } : {}),
        ...(cut ? { cutAfterTokens: cut.afterTokens, error: cut.error } : {}),
      };
    },
  };
  if (kv) {
    hooks.prefill = (job) => {
      // Blocks are keyed by the engine's model (its served name); adapters are told apart by
      // the hash, as in vLLM, and reported in the events.
      const lora = job.plan.model.lora;
      const opts = { model: job.plan.model.served, lora: lora?.name ?? null, loraId: lora?.id ?? null };
      let cachedTokens = 0;
      const leases = job.plan.prompts.map((_, i) => kv.lookupAndRetain(job.promptTokenIds(i), opts));
      for (const l of leases) cachedTokens += l.cachedTokens;
      return {
        cachedTokens,
        release: () => {
          for (const l of leases) l.release();
        },
      };
    };
  }
  return hooks;
}
