import { defineSettings } from "../define.js";

/**
 * Parses a duration in milliseconds: a plain number is milliseconds; `us`/`µs`, `ms` and `s`
 * suffixes are accepted so llm-d-inference-sim's YAML profiles (`250us`, `2ms`) load as is.
 */
export function parseMs(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(us|µs|ms|s)?\s*$/.exec(raw);
  if (!m) throw new Error("must be a duration in milliseconds (e.g. 20, 0.5, 250us, 2ms)");
  const n = Number(m[1]);
  switch (m[2]) {
    case "us":
    case "µs":
      return n / 1000;
    case "s":
      return n * 1000;
    default:
      return n;
  }
}

/**
 * A latency mean, optionally with its jitter as `MEAN:PCT` (FakeAI's form, e.g. `50:30` is
 * 50 ms with a standard deviation of 30 % of the mean). Plain values become numbers; the
 * `MEAN:PCT` form is kept as a normalised string and split by the latency model.
 */
export function parseLatencySpec(raw: string): number | string | null {
  const t = raw.trim();
  if (t === "" || t === "null") return null;
  const i = t.indexOf(":");
  if (i < 0) return parseMs(t);
  const mean = parseMs(t.slice(0, i));
  const pct = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(t.slice(i + 1));
  if (!pct) throw new Error("must be MEAN or MEAN:PCT (e.g. 50:30 for 50 ms ± 30 %)");
  return `${mean}:${Number(pct[1])}`;
}

/** Accepts a number (ms) or a `MEAN:PCT` string. */
const LATENCY_SPEC_SCHEMA = {
  anyOf: [
    { type: "number", minimum: 0 },
    { type: "string", pattern: "^\\s*\\d*\\.?\\d+\\s*(us|µs|ms|s)?\\s*(:\\s*\\d+(\\.\\d+)?\\s*%?\\s*)?$" },
  ],
};

const ms = (description: string, extra: Record<string, unknown> = {}) =>
  ({
    type: "number",
    default: null,
    nullable: true,
    minimum: 0,
    runtime: true,
    group: "Latency",
    placeholder: "MS",
    parse: (raw: string) => (raw.trim() === "" || raw.trim() === "null" ? null : parseMs(raw)),
    description,
    ...extra,
  }) as const;

/** A latency mean in ms, optionally `MEAN:PCT` (see parseLatencySpec). */
const latencySpec = (description: string, extra: Record<string, unknown> = {}) =>
  ({
    type: "json",
    default: null,
    nullable: true,
    runtime: true,
    group: "Latency",
    placeholder: "MS[:PCT]",
    schema: LATENCY_SPEC_SCHEMA,
    parse: parseLatencySpec,
    description,
    ...extra,
  }) as const;

/**
 * Simulated timing. Unset (null) values come from `--latency-profile` when one is chosen,
 * else from the built-in defaults listed in each description. All of them may change at
 * runtime through `/configure`; the latency model re-reads them for every request.
 */
export const latencySettings = defineSettings({
  latencyProfile: {
    type: "string",
    default: null,
    nullable: true,
    runtime: true,
    group: "Latency",
    placeholder: "NAME",
    description:
      "Named latency preset (README's latency profiles table lists the numbers): llama-8b-h100, llama-70b-h100-tp8, small-l40s-edge, qwen3-0.6b-l4 (each also as NAME-per-token) and instant. Explicit latency flags override its values.",
  },
  latencyCalculator: {
    type: "string",
    default: "auto",
    enum: ["auto", "constant", "per-token"],
    runtime: true,
    group: "Latency",
    description:
      "How the time to the first token is computed: constant (--ttft), per-token (--prefill-overhead + uncached prompt tokens × --prefill-time-per-token), or auto (per-token when a prefill time is set, else constant).",
  },
  ttft: latencySpec(
    "Time to first token in ms (constant calculator); MEAN:PCT adds a std-dev of PCT % of the mean (default 20).",
    { aliases: ["time-to-first-token"], short: "t", env: ["MOCK_SERVER_TTFT"] },
  ),
  ttftStdDev: ms("Standard deviation of the time to first token, ms; at most 30 % of it (default 0).", {
    aliases: ["time-to-first-token-std-dev"],
  }),
  itl: latencySpec("Inter-token latency in ms; MEAN:PCT adds a std-dev of PCT % of the mean (default 5).", {
    aliases: ["inter-token-latency"],
    short: "i",
    env: ["MOCK_SERVER_ITL"],
  }),
  itlStdDev: ms("Standard deviation of the inter-token latency, ms; at most 30 % of it (default 0).", {
    aliases: ["inter-token-latency-std-dev"],
  }),
  prefillOverhead: ms("Fixed prefill cost in ms for the per-token calculator (default 0)."),
  prefillTimePerToken: ms("Prefill time per uncached prompt token in ms for the per-token calculator (default 0)."),
  prefillTimeStdDev: ms("Standard deviation of the whole prefill time, ms (default 0)."),
  kvCacheTransferLatency: ms(
    "P/D: time to pull the KV cache from the prefill pod (requests with kv_transfer_params.do_remote_prefill), ms (default 0).",
  ),
  kvCacheTransferLatencyStdDev: ms(
    "Standard deviation of --kv-cache-transfer-latency, ms; at most 30 % of it (default 0).",
  ),
  kvCacheTransferTimePerToken: ms(
    "P/D with the per-token calculator: KV transfer time per prompt token, ms (default 0).",
  ),
  kvCacheTransferTimeStdDev: ms("Standard deviation of the whole per-token KV transfer time, ms (default 0)."),
  timeFactorUnderLoad: {
    type: "number",
    default: null,
    nullable: true,
    minimum: 1,
    runtime: true,
    group: "Latency",
    description:
      "TTFT, prefill and ITL are multiplied by 1 + (F − 1) × (running − 1) / (max-num-seqs − 1): F at a full batch (default 1, no slowdown).",
  },
  embeddingBaseLatency: {
    type: "number",
    default: 10,
    minimum: 0,
    runtime: true,
    group: "Latency",
    placeholder: "MS",
    description: "Embeddings: fixed latency per request, ms.",
  },
  embeddingPerInputLatency: {
    type: "number",
    default: 2,
    minimum: 0,
    runtime: true,
    group: "Latency",
    placeholder: "MS",
    description: "Embeddings: added latency per input, ms.",
  },
  rankingBaseLatency: {
    type: "number",
    default: 10,
    minimum: 0,
    runtime: true,
    group: "Latency",
    placeholder: "MS",
    description: "Rankings and rerank: fixed latency per request, ms.",
  },
  rankingPerPassageLatency: {
    type: "number",
    default: 1,
    minimum: 0,
    runtime: true,
    group: "Latency",
    placeholder: "MS",
    description: "Rankings and rerank: added latency per passage, ms.",
  },
});
