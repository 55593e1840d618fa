import { DecoyError } from "../errors.js";
import type { LlmRequest } from "./types.js";

/**
 * Triton-style text generation (the HTTP generate extension and KServe text models) as an
 * engine request: `text_input` plus loosely typed parameters, from tensors, the request's
 * `parameters` map, or vLLM backend's `sampling_parameters` JSON.
 */

function int(v: unknown, name: string): number | null {
  if (v === undefined || v === null || v === "") return null;
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n === "bigint") return Number(n);
  if (typeof n !== "number" || !Number.isFinite(n) || !Number.isInteger(n)) {
    throw new DecoyError("INVALID_ARGUMENT", `parameter '${name}' must be an integer, got ${JSON.stringify(v)}`, {
      param: name,
    });
  }
  return n;
}

function bool(v: unknown): boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v === "true" || v === "1";
  return null;
}

function stops(v: unknown): string[] | null {
  if (typeof v === "string") return v === "" ? null : [v];
  if (Array.isArray(v)) return v.filter((s): s is string => typeof s === "string" && s !== "");
  return null;
}

/** Merge the parameter sources, later ones winning: sampling_parameters JSON < parameters < explicit fields. */
export function mergeGenerateParams(...sources: (Record<string, unknown> | undefined)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const src of sources) {
    if (!src) continue;
    const sp = src.sampling_parameters;
    if (typeof sp === "string" && sp.trim().startsWith("{")) {
      try {
        Object.assign(out, JSON.parse(sp) as Record<string, unknown>);
      } catch {
        throw new DecoyError("INVALID_ARGUMENT", "sampling_parameters must be a JSON object", {
          param: "sampling_parameters",
        });
      }
    }
    for (const [k, v] of Object.entries(src)) if (k !== "sampling_parameters" && v !== undefined) out[k] = v;
  }
  return out;
}

export function generateRequest(
  model: string,
  text: string,
  params: Record<string, unknown>,
  stream: boolean,
  headers?: LlmRequest["headers"],
): LlmRequest {
  const req: LlmRequest = {
    api: "generate",
    model,
    prompts: [text],
    maxTokens: int(params.max_tokens ?? params.max_new_tokens, "max_tokens"),
    minTokens: int(params.min_tokens ?? params.min_length, "min_tokens"),
    ignoreEos: bool(params.ignore_eos),
    seed: int(params.seed ?? params.random_seed, "seed"),
    stop: stops(params.stop ?? params.stop_words),
    stream,
  };
  if (headers) req.headers = headers;
  return req;
}
