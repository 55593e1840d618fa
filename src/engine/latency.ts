import { addConfigRule } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { LATENCY_PROFILE_NAMES, LATENCY_PROFILES, type LatencyProfile } from "./latency-profiles.js";
import type { Random } from "./random.js";

/**
 * The one latency model every LLM surface uses (chat, completions, generate, KServe text
 * models), after llm-d-inference-sim's:
 *
 * - first token: a constant TTFT, or `prefill-overhead + uncached prompt tokens ×
 *   prefill-time-per-token` (the per-token calculator); a P/D decode request
 *   (`do_remote_prefill`) pays the KV transfer instead of prefill;
 * - then one inter-token latency per further token;
 * - each sample is Gaussian around its mean and clamped to [0.3, 1.7] × mean (±70 %), with
 *   sub-millisecond resolution (llm-d truncates to whole milliseconds; Decoy keeps the
 *   fraction, so a 0.4 ms jitter on a 5 ms ITL is real);
 * - under load, TTFT, prefill and ITL (not KV transfer) are multiplied by
 *   `1 + (F − 1) × (running − 1) / (max-num-seqs − 1)`.
 *
 * Parameters are re-read from the live configuration for every request, so `/configure`
 * changes the next request's timing.
 */

/** A mean and a standard deviation, in milliseconds. */
export interface Dist {
  mean: number;
  stdDev: number;
}

export type Calculator = "constant" | "per-token";

export interface LatencyParams {
  calculator: Calculator;
  ttft: Dist;
  itl: Dist;
  prefillOverhead: number;
  prefillTimePerToken: number;
  prefillTimeStdDev: number;
  kvTransfer: Dist;
  kvTransferTimePerToken: number;
  kvTransferTimeStdDev: number;
  timeFactorUnderLoad: number;
  embeddingBase: number;
  embeddingPerInput: number;
  rankingBase: number;
  rankingPerPassage: number;
}

/** Built-in values for settings left unset and not given by a profile. */
export const LATENCY_DEFAULTS = {
  ttft: 20,
  itl: 5,
} as const;

/** Largest std-dev allowed, as a fraction of the mean (seed 004's rule). */
export const MAX_STD_DEV_FRACTION = 0.3;
/** Samples are clamped to mean × [1 − CLAMP, 1 + CLAMP]. */
export const CLAMP_FRACTION = 0.7;

class LatencyConfigError extends Error {}

/** A latency setting's value: a number of ms, or "MEAN:PCT". */
function splitSpec(value: unknown, key: string): { mean: number; pct: number | undefined } | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "number") return { mean: value, pct: undefined };
  if (typeof value === "string") {
    const [m, p] = value.split(":");
    const mean = Number.parseFloat(m ?? "");
    const pct = p === undefined ? undefined : Number.parseFloat(p);
    if (Number.isFinite(mean) && (pct === undefined || Number.isFinite(pct))) return { mean, pct };
  }
  throw new LatencyConfigError(`${key} must be milliseconds or MEAN:PCT, got ${JSON.stringify(value)}`);
}

function profileOf(cfg: Config): LatencyProfile | undefined {
  const name = cfg.latencyProfile;
  if (name === null || name === undefined) return undefined;
  const p = LATENCY_PROFILES[name];
  if (!p) {
    throw new LatencyConfigError(
      `latency-profile: unknown profile "${name}"; known profiles: ${LATENCY_PROFILE_NAMES.join(", ")}`,
    );
  }
  return p;
}

function dist(
  cfg: Config,
  key: "ttft" | "itl",
  stdKey: "ttftStdDev" | "itlStdDev",
  profile: LatencyProfile | undefined,
): Dist {
  const spec = splitSpec(cfg[key], key);
  const mean = spec?.mean ?? profile?.[key] ?? LATENCY_DEFAULTS[key];
  const explicitStd = cfg[stdKey];
  let stdDev: number;
  if (explicitStd !== null && explicitStd !== undefined) stdDev = explicitStd;
  else if (spec?.pct !== undefined) {
    if (spec.pct > MAX_STD_DEV_FRACTION * 100) {
      throw new LatencyConfigError(
        `${key}: the jitter in ${String(cfg[key])} is ${spec.pct} % of the mean; at most ${MAX_STD_DEV_FRACTION * 100} % is allowed`,
      );
    }
    stdDev = (mean * spec.pct) / 100;
  } else stdDev = spec === undefined ? (profile?.[stdKey] ?? 0) : 0;
  return { mean, stdDev };
}

function pick(v: number | null | undefined, profileValue: number | undefined, fallback = 0): number {
  return v ?? profileValue ?? fallback;
}

/** Resolves settings, profile and defaults into one parameter set; throws on rule violations. */
export function latencyParams(cfg: Config): LatencyParams {
  const profile = profileOf(cfg);
  const ttft = dist(cfg, "ttft", "ttftStdDev", profile);
  const itl = dist(cfg, "itl", "itlStdDev", profile);
  const prefillOverhead = pick(cfg.prefillOverhead, profile?.prefillOverhead);
  const prefillTimePerToken = pick(cfg.prefillTimePerToken, profile?.prefillTimePerToken);
  const kvTransfer = {
    mean: pick(cfg.kvCacheTransferLatency, profile?.kvCacheTransferLatency),
    stdDev: pick(cfg.kvCacheTransferLatencyStdDev, profile?.kvCacheTransferLatencyStdDev),
  };
  const explicitCalc = cfg.latencyCalculator;
  let calculator: Calculator;
  if (explicitCalc === "constant" || explicitCalc === "per-token") calculator = explicitCalc;
  else if (cfg.prefillOverhead !== null || cfg.prefillTimePerToken !== null) calculator = "per-token";
  else if (cfg.ttft !== null) calculator = "constant";
  else calculator = profile?.calculator ?? "constant";

  const pairs: [string, Dist][] = [
    ["ttft", ttft],
    ["itl", itl],
    ["kv-cache-transfer-latency", kvTransfer],
  ];
  for (const [name, d] of pairs) {
    if (d.stdDev > MAX_STD_DEV_FRACTION * d.mean + 1e-9) {
      throw new LatencyConfigError(
        `${name}-std-dev (${d.stdDev} ms) must be at most ${MAX_STD_DEV_FRACTION * 100} % of ${name} (${d.mean} ms)`,
      );
    }
  }
  return {
    calculator,
    ttft,
    itl,
    prefillOverhead,
    prefillTimePerToken,
    prefillTimeStdDev: pick(cfg.prefillTimeStdDev, profile?.prefillTimeStdDev),
    kvTransfer,
    kvTransferTimePerToken: pick(cfg.kvCacheTransferTimePerToken, profile?.kvCacheTransferTimePerToken),
    kvTransferTimeStdDev: pick(cfg.kvCacheTransferTimeStdDev, profile?.kvCacheTransferTimeStdDev),
    timeFactorUnderLoad: pick(cfg.timeFactorUnderLoad, profile?.timeFactorUnderLoad, 1),
    embeddingBase: cfg.embeddingBaseLatency,
    embeddingPerInput: cfg.embeddingPerInputLatency,
    rankingBase: cfg.rankingBaseLatency,
    rankingPerPassage: cfg.rankingPerPassageLatency,
  };
}

/** The latency rules as a config rule: startup and `/configure` reject what the model would. */
export function checkLatencyConfig(cfg: Config): string | undefined {
  try {
    latencyParams(cfg);
    return undefined;
  } catch (err) {
    if (err instanceof LatencyConfigError) return err.message;
    throw err;
  }
}

addConfigRule(checkLatencyConfig);

/** Gaussian sample around `mean`, clamped to ±70 % of it; `mean` itself when there is no jitter. */
export function sampleClamped(random: Random, mean: number, stdDev: number): number {
  if (!(stdDev > 0) || !(mean > 0)) return Math.max(mean, 0);
  const x = random.normal(mean, stdDev);
  const lo = mean * (1 - CLAMP_FRACTION);
  const hi = mean * (1 + CLAMP_FRACTION);
  return Math.min(Math.max(x, lo), hi);
}

/** llm-d's load factor: 1 with one running request, F with a full batch, linear between. */
export function loadFactor(timeFactorUnderLoad: number, running: number, maxNumSeqs: number): number {
  if (!(timeFactorUnderLoad > 1) || maxNumSeqs <= 1 || running <= 1) return 1;
  const r = Math.min(running, maxNumSeqs);
  return 1 + ((timeFactorUnderLoad - 1) * (r - 1)) / (maxNumSeqs - 1);
}

export interface FirstTokenInput {
  promptTokens: number;
  /** Prompt tokens found in the prefix cache; they skip prefill (per-token calculator). */
  cachedTokens: number;
  /** P/D decode side: the KV cache comes from the prefill pod instead of being computed. */
  remotePrefill: boolean;
  running: number;
  maxNumSeqs: number;
}

export interface FirstTokenTiming {
  /** Time from getting a running slot to the first token, ms. */
  ms: number;
  kind: "prefill" | "kv-transfer";
}

export class LatencyModel {
  private cachedFor: Config | undefined;
  private cached: LatencyParams | undefined;

  constructor(
    private readonly config: { readonly current: Config },
    private readonly random: Random,
  ) {}

  /** Parameters for the live configuration (recomputed only when it changed). */
  params(): LatencyParams {
    const cfg = this.config.current;
    if (cfg !== this.cachedFor || this.cached === undefined) {
      this.cached = latencyParams(cfg);
      this.cachedFor = cfg;
    }
    return this.cached;
  }

  firstToken(input: FirstTokenInput, p: LatencyParams = this.params()): FirstTokenTiming {
    if (input.remotePrefill) {
      if (p.calculator === "per-token") {
        const mean = input.promptTokens * p.kvTransferTimePerToken;
        return { ms: sampleClamped(this.random, mean, p.kvTransferTimeStdDev), kind: "kv-transfer" };
      }
      return { ms: sampleClamped(this.random, p.kvTransfer.mean, p.kvTransfer.stdDev), kind: "kv-transfer" };
    }
    const factor = loadFactor(p.timeFactorUnderLoad, input.running, input.maxNumSeqs);
    if (p.calculator === "per-token") {
      const uncached = Math.max(0, input.promptTokens - input.cachedTokens);
      const mean = p.prefillOverhead + uncached * p.prefillTimePerToken;
      return { ms: sampleClamped(this.random, mean, p.prefillTimeStdDev) * factor, kind: "prefill" };
    }
    return { ms: sampleClamped(this.random, p.ttft.mean, p.ttft.stdDev) * factor, kind: "prefill" };
  }

  interToken(running: number, maxNumSeqs: number, p: LatencyParams = this.params()): number {
    const base = sampleClamped(this.random, p.itl.mean, p.itl.stdDev);
    return base * loadFactor(p.timeFactorUnderLoad, running, maxNumSeqs);
  }

  embedding(inputs: number): number {
    const p = this.params();
    return p.embeddingBase + p.embeddingPerInput * inputs;
  }

  ranking(passages: number): number {
    const p = this.params();
    return p.rankingBase + p.rankingPerPassage * passages;
  }
}
