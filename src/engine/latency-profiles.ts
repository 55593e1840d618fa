/**
 * Named latency presets. Numbers follow the ranges llm-d-inference-sim publishes from public
 * vLLM / MLPerf / vendor benchmarks (docs/latency-profiles.md there), picked near the middle;
 * they are order-of-magnitude realistic, not a measurement of any one deployment. All values
 * in milliseconds.
 */
export interface LatencyProfile {
  description: string;
  calculator: "constant" | "per-token";
  ttft: number;
  ttftStdDev: number;
  itl: number;
  itlStdDev: number;
  prefillOverhead: number;
  prefillTimePerToken: number;
  prefillTimeStdDev: number;
  kvCacheTransferLatency: number;
  kvCacheTransferLatencyStdDev: number;
  kvCacheTransferTimePerToken: number;
  kvCacheTransferTimeStdDev: number;
  timeFactorUnderLoad: number;
}

const NONE = {
  ttft: 0,
  ttftStdDev: 0,
  itl: 0,
  itlStdDev: 0,
  prefillOverhead: 0,
  prefillTimePerToken: 0,
  prefillTimeStdDev: 0,
  kvCacheTransferLatency: 0,
  kvCacheTransferLatencyStdDev: 0,
  kvCacheTransferTimePerToken: 0,
  kvCacheTransferTimeStdDev: 0,
  timeFactorUnderLoad: 1,
};

type Base = Omit<LatencyProfile, "calculator" | "description">;

/** One hardware/model pair as a constant and a per-token preset. */
function pair(name: string, description: string, base: Partial<Base>): Record<string, LatencyProfile> {
  const b = { ...NONE, ...base };
  return {
    [name]: { ...b, calculator: "constant", description },
    [`${name}-per-token`]: {
      ...b,
      calculator: "per-token",
      description: `${description}; TTFT grows with prompt length`,
    },
  };
}

export const LATENCY_PROFILES: Readonly<Record<string, LatencyProfile>> = {
  ...pair("llama-8b-h100", "Llama-3-8B on one H100, balanced load", {
    ttft: 100,
    ttftStdDev: 20,
    itl: 12,
    itlStdDev: 2,
    prefillOverhead: 30,
    prefillTimePerToken: 0.25,
    prefillTimeStdDev: 5,
    kvCacheTransferLatency: 2,
    kvCacheTransferLatencyStdDev: 0.4,
    kvCacheTransferTimePerToken: 0.003,
    kvCacheTransferTimeStdDev: 0.2,
    timeFactorUnderLoad: 2,
  }),
  ...pair("llama-70b-h100-tp8", "Llama-3-70B on 8×H100 (TP=8), throughput-optimised", {
    ttft: 200,
    ttftStdDev: 40,
    itl: 25,
    itlStdDev: 4,
    prefillOverhead: 80,
    prefillTimePerToken: 0.5,
    prefillTimeStdDev: 15,
    kvCacheTransferLatency: 2,
    kvCacheTransferLatencyStdDev: 0.4,
    kvCacheTransferTimePerToken: 0.008,
    kvCacheTransferTimeStdDev: 0.5,
    timeFactorUnderLoad: 3,
  }),
  ...pair("small-l40s-edge", "a 1-3B model on one L40S at the edge, low concurrency", {
    ttft: 110,
    ttftStdDev: 15,
    itl: 15,
    itlStdDev: 2,
    prefillOverhead: 20,
    prefillTimePerToken: 0.35,
    prefillTimeStdDev: 3,
    kvCacheTransferLatency: 5,
    kvCacheTransferLatencyStdDev: 1,
    kvCacheTransferTimePerToken: 0.012,
    kvCacheTransferTimeStdDev: 0.5,
    timeFactorUnderLoad: 1.5,
  }),
  ...pair("qwen3-0.6b-l4", "Qwen3-0.6B on one L4, a small interactive deployment", {
    ttft: 35,
    ttftStdDev: 6,
    itl: 8,
    itlStdDev: 1,
    prefillOverhead: 15,
    prefillTimePerToken: 0.08,
    prefillTimeStdDev: 2,
    kvCacheTransferLatency: 3,
    kvCacheTransferLatencyStdDev: 0.6,
    kvCacheTransferTimePerToken: 0.002,
    kvCacheTransferTimeStdDev: 0.2,
    timeFactorUnderLoad: 1.5,
  }),
  instant: { ...NONE, calculator: "constant", description: "no simulated latency at all (aiperf's --fast)" },
};

export const LATENCY_PROFILE_NAMES: readonly string[] = Object.keys(LATENCY_PROFILES);
