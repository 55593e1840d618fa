import type { Config } from "../../config/schema.js";
import { DecoyError } from "../errors.js";
import { LoraCpuCache } from "./lora-cache.js";

/**
 * The names the LLM surface answers to: the base model (or its served names), LoRA adapters
 * (static from `--lora-modules`, or loaded at runtime), and the extra embedding and ranking
 * model names. Resolution turns a request's `model` into the base model and adapter.
 */

export interface LoraAdapter {
  name: string;
  path: string;
  /** Served name of the model the adapter applies to (`parent` in /v1/models). */
  base: string;
  /** vLLM's integer LoRA id (1-based, in load order), reported in KV events. */
  id: number;
  /** Seconds since the epoch. */
  created: number;
  /** From --lora-modules (true) or /v1/load_lora_adapter (false). */
  static: boolean;
}

export interface ResolvedModel {
  /** The name the client asked for; echoed as `model` in responses. */
  requested: string;
  /** `--model`: picks the tokenizer. */
  base: string;
  /** The primary served name (the parent of adapters). */
  served: string;
  lora: LoraAdapter | undefined;
  /** Not a configured name, served because --accept-any-model is on. */
  wildcard: boolean;
}

export type ModelKind = "llm" | "embedding" | "ranking";

export function modelNotFound(name: string): DecoyError {
  return new DecoyError("NOT_FOUND", `The model \`${name}\` does not exist.`, {
    param: "model",
    type: "NotFoundError",
    openaiCode: "model_not_found",
  });
}

interface LoraModuleEntry {
  name: string;
  path?: string;
  base_model_name?: string;
}

export class LlmModels {
  private readonly adapters = new Map<string, LoraAdapter>();
  /** Adapters whose weights are loaded (vLLM's CPU LoRA cache). */
  readonly loraCache: LoraCpuCache;
  private nextLoraId = 1;
  private namesCfg: Config | undefined;
  private names: readonly string[] = [];

  constructor(
    private readonly config: { readonly current: Config },
    private readonly wallNow: () => number,
  ) {
    this.loraCache = new LoraCpuCache(() => {
      const c = this.config.current;
      return c.maxCpuLoras ?? c.maxLoras;
    });
    const cfg = config.current;
    for (const raw of cfg.loraModules as (string | LoraModuleEntry)[]) {
      const entry = typeof raw === "string" ? parseEntry(raw) : raw;
      this.add(entry.name, entry.path ?? entry.name, entry.base_model_name, true);
    }
  }

  /** Names the base model is served under, primary first. */
  servedNames(cfg: Config = this.config.current): readonly string[] {
    if (cfg.servedModelName.length > 0) return cfg.servedModelName;
    // asked on every request and event: one array per configuration snapshot
    if (cfg !== this.namesCfg) {
      this.namesCfg = cfg;
      this.names = [cfg.model];
    }
    return this.names;
  }

  primary(cfg: Config = this.config.current): string {
    return this.servedNames(cfg)[0] as string;
  }

  loras(): LoraAdapter[] {
    return [...this.adapters.values()];
  }

  lora(name: string): LoraAdapter | undefined {
    return this.adapters.get(name);
  }

  /** The base model and adapter for a request's `model`; NOT_FOUND (404 model_not_found) otherwise. */
  resolve(name: string | undefined, kind: ModelKind = "llm"): ResolvedModel {
    const cfg = this.config.current;
    const served = this.primary(cfg);
    const requested = name === undefined || name === "" ? served : name;
    if (this.servedNames(cfg).includes(requested)) {
      return { requested, base: cfg.model, served, lora: undefined, wildcard: false };
    }
    const lora = this.adapters.get(requested);
    if (lora && kind === "llm") return { requested, base: cfg.model, served, lora, wildcard: false };
    if (kind === "embedding" && cfg.embeddingModels.includes(requested)) {
      return { requested, base: requested, served: requested, lora: undefined, wildcard: false };
    }
    if (kind === "ranking" && cfg.rankingModels.includes(requested)) {
      return { requested, base: requested, served: requested, lora: undefined, wildcard: false };
    }
    if (cfg.acceptAnyModel) return { requested, base: requested, served, lora: undefined, wildcard: true };
    throw modelNotFound(requested);
  }

  /** vLLM's /v1/load_lora_adapter. */
  load(name: string | undefined, path: string | undefined): LoraAdapter {
    if (!name || !path) {
      throw new DecoyError("INVALID_ARGUMENT", "Both 'lora_name' and 'lora_path' must be provided.", {
        type: "BadRequestError",
      });
    }
    if (this.adapters.has(name) || this.servedNames().includes(name)) {
      throw new DecoyError("INVALID_ARGUMENT", `The lora adapter '${name}' has already been loaded.`, {
        type: "BadRequestError",
        param: "lora_name",
      });
    }
    return this.add(name, path, undefined, false);
  }

  /** vLLM's /v1/unload_lora_adapter. */
  unload(name: string | undefined): LoraAdapter {
    if (!name) {
      throw new DecoyError("INVALID_ARGUMENT", "'lora_name' needs to be provided to unload a LoRA adapter.", {
        type: "BadRequestError",
      });
    }
    const a = this.adapters.get(name);
    if (!a) {
      throw new DecoyError("NOT_FOUND", `The lora adapter '${name}' cannot be found.`, {
        type: "NotFoundError",
        param: "lora_name",
      });
    }
    this.adapters.delete(name);
    this.loraCache.forget(name);
    return a;
  }

  private add(name: string, path: string, base: string | undefined, isStatic: boolean): LoraAdapter {
    const adapter: LoraAdapter = {
      name,
      path,
      base: base ?? this.primary(),
      id: this.nextLoraId++,
      created: Math.floor(this.wallNow() / 1000),
      static: isStatic,
    };
    this.adapters.set(name, adapter);
    return adapter;
  }
}

function parseEntry(raw: string): LoraModuleEntry {
  const t = raw.trim();
  if (t.startsWith("{")) return JSON.parse(t) as LoraModuleEntry;
  const eq = t.indexOf("=");
  return eq < 0 ? { name: t } : { name: t.slice(0, eq), path: t.slice(eq + 1) };
}
