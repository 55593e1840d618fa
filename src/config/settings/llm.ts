import { defineSettings } from "../define.js";

/**
 * `--lora-modules` accepts vLLM's and llm-d's spellings: a JSON list, one JSON object, or
 * comma/space-separated `name=path` pairs (a bare `name` is an adapter without a path).
 */
export function parseLoraModules(raw: string): unknown[] {
  const t = raw.trim();
  if (t === "") return [];
  if (t.startsWith("[") || t.startsWith("{")) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw new Error("must be JSON (a list or one object) or name=path pairs");
    }
    return Array.isArray(v) ? v : [v];
  }
  return t
    .split(/[\s,]+/)
    .filter((s) => s !== "")
    .map((entry) => {
      const eq = entry.indexOf("=");
      return eq < 0 ? { name: entry } : { name: entry.slice(0, eq), path: entry.slice(eq + 1) };
    });
}

const LORA_MODULE_SCHEMA = {
  type: "array",
  items: {
    anyOf: [
      { type: "string", minLength: 1 },
      {
        type: "object",
        required: ["name"],
        properties: {
          name: { type: "string", minLength: 1 },
          path: { type: "string" },
          base_model_name: { type: "string" },
        },
      },
    ],
  },
};

const probability = (description: string, def: number) =>
  ({ type: "number", default: def, minimum: 0, maximum: 100, group: "Tools", runtime: true, description }) as const;

/** The simulated LLM: served names, limits, what it says, LoRA, tools, tokenizers, embeddings. */
export const llmSettings = defineSettings({
  model: {
    type: "string",
    default: "decoy-llm",
    group: "LLM",
    env: ["SIM_MODEL"],
    description:
      "The simulated model (vLLM's --model). Its name picks the tokenizer (qwen, llama-3, deepseek, gpt-oss → real vocabularies; else approx) and whether it reasons.",
  },
  servedModelName: {
    type: "string[]",
    default: [],
    group: "LLM",
    description:
      "Names the API answers to instead of --model (vLLM semantics: when set, --model itself is not served).",
  },
  acceptAnyModel: {
    type: "boolean",
    default: false,
    group: "LLM",
    runtime: true,
    description:
      "Answer requests for any model name as the base model (like aiperf's mock server) instead of 404 model_not_found.",
  },
  enableForceIncludeUsage: {
    type: "boolean",
    default: false,
    group: "LLM",
    runtime: true,
    description:
      "Every stream carries usage: a final usage chunk and the usage so far on every chunk, as if each request asked for stream_options include_usage and continuous_usage_stats (vLLM's --enable-force-include-usage).",
  },
  enableResponsesStore: {
    type: "boolean",
    default: false,
    group: "LLM",
    env: ["VLLM_ENABLE_RESPONSES_API_STORE"],
    description:
      "Keep Responses API results (store: true) for GET /v1/responses/{id}, previous_response_id and background mode, as vLLM with VLLM_ENABLE_RESPONSES_API_STORE=1; the newest 10,000 are kept. Off: store is ignored, as in vLLM.",
  },
  maxModelLen: {
    type: "integer",
    default: 1024,
    minimum: 1,
    group: "LLM",
    description: "Context window: prompt + max_tokens above it is rejected with vLLM's 400.",
  },
  maxNumSeqs: {
    type: "integer",
    default: 256,
    minimum: 1,
    group: "LLM",
    description:
      "Running slots (vLLM's batch size). Requests beyond it wait in a FIFO queue. vLLM's default is 256 on most GPUs; llm-d-inference-sim uses 5.",
  },
  maxWaitingQueueLength: {
    type: "integer",
    default: 1000,
    minimum: 0,
    group: "LLM",
    description: "Waiting requests allowed beyond the running slots; the next one gets 429.",
  },
  mode: {
    type: "string",
    default: "deterministic",
    enum: ["deterministic", "echo", "random"],
    group: "LLM",
    runtime: true,
    description:
      "What the model says: deterministic (the same request gives the same text), echo (the last user message / the prompt), random (corpus text and lengths drawn per request).",
  },
  maxLogprobs: {
    type: "integer",
    default: 20,
    minimum: 0,
    group: "LLM",
    description: "Largest top_logprobs / logprobs a request may ask for (vLLM's --max-logprobs).",
  },
  reasoningModels: {
    type: "string[]",
    default: ["gpt-oss", "qwen"],
    group: "LLM",
    runtime: true,
    description:
      "Model names containing any of these (case-insensitive) emit reasoning_content before content on chat completions.",
  },
  reasoningEffortTokens: {
    type: "json",
    default: { low: 100, medium: 250, high: 500 },
    group: "LLM",
    runtime: true,
    placeholder: "JSON",
    schema: {
      type: "object",
      required: ["low", "medium", "high"],
      additionalProperties: false,
      properties: {
        low: { type: "integer", minimum: 0 },
        medium: { type: "integer", minimum: 0 },
        high: { type: "integer", minimum: 0 },
      },
    },
    description: "Reasoning tokens per reasoning_effort (counted within max_tokens); minimal is a quarter of low.",
  },
  defaultReasoningEffort: {
    type: "string",
    default: "medium",
    enum: ["none", "minimal", "low", "medium", "high"],
    group: "LLM",
    runtime: true,
    description: "reasoning_effort for reasoning-model requests that do not send one.",
  },
  speculativeConfig: {
    type: "json",
    default: null,
    nullable: true,
    group: "LLM",
    runtime: true,
    placeholder: "JSON",
    schema: {
      type: ["object", "null"],
      required: ["num_speculative_tokens"],
      additionalProperties: true,
      properties: {
        method: { type: "string" },
        model: { type: "string" },
        num_speculative_tokens: { type: "integer", minimum: 1, maximum: 16 },
      },
    },
    description:
      'Speculative decoding, as vLLM\'s --speculative-config (e.g. {"method":"ngram","num_speculative_tokens":4}): each decode step emits 1 + the accepted draft tokens in one chunk, and the vllm:spec_decode_* families are exported.',
  },
  specAcceptanceRate: {
    type: "number",
    default: 0.7,
    minimum: 0,
    maximum: 1,
    group: "LLM",
    runtime: true,
    description:
      "With --speculative-config: chance that each draft token is accepted when the ones before it were (the first rejection ends the step).",
  },
  loraModules: {
    type: "json",
    default: [],
    group: "LoRA",
    placeholder: "JSON|NAME=PATH,...",
    schema: LORA_MODULE_SCHEMA,
    parse: parseLoraModules,
    description:
      'LoRA adapters served from the start: a JSON list of {"name","path","base_model_name"} objects, or name=path pairs.',
  },
  maxLoras: {
    type: "integer",
    default: 1,
    minimum: 1,
    group: "LoRA",
    description: "Adapters active in the running batch at once; a request for another adapter waits until one is idle.",
  },
  maxCpuLoras: {
    type: "integer",
    default: null,
    nullable: true,
    minimum: 1,
    group: "LoRA",
    description:
      "Adapters whose weights are held loaded (vLLM's CPU LoRA cache, least recently used out); must be ≥ --max-loras. Registration is unlimited. Unset: --max-loras, as in vLLM.",
  },
  loraLoadLatencyMs: {
    type: "number",
    default: 0,
    minimum: 0,
    group: "LoRA",
    runtime: true,
    description:
      "Time to load an adapter that is not in the CPU LoRA cache (--max-cpu-loras) when its request is scheduled, added to that request's first token, ms.",
    placeholder: "MS",
  },
  tokenizer: {
    type: "string",
    default: "auto",
    group: "Tokenizer",
    runtime: true,
    env: ["MOCK_SERVER_TOKENIZER"],
    description:
      "Tokenizer for every model: auto (--tokenizer-map, then the model name's family: qwen, llama-3, deepseek, gpt-oss; else --fallback-tokenizer), or one of approx, qwen3, llama3, deepseek-v3, gpt-oss, or a path to a tokenizer.json.",
  },
  fallbackTokenizer: {
    type: "string",
    default: "approx",
    group: "Tokenizer",
    runtime: true,
    env: ["MOCK_SERVER_FALLBACK_TOKENIZER"],
    description: "With --tokenizer auto: the tokenizer for model names no built-in pattern matches.",
  },
  tokenizerMap: {
    type: "json",
    default: {},
    group: "Tokenizer",
    runtime: true,
    placeholder: "JSON",
    schema: { type: "object", additionalProperties: { type: "string", minLength: 1 } },
    description:
      'With --tokenizer auto: model name (exact, else case-insensitive substring) → tokenizer, checked before the built-in patterns, e.g. {"my-llama":"llama3"}.',
  },
  tokenizerModels: {
    type: "string[]",
    default: [],
    group: "Tokenizer",
    runtime: true,
    env: ["MOCK_SERVER_TOKENIZER_MODELS"],
    description:
      "Tokenizers (names, Hugging Face repo ids or paths) to load at startup instead of on first use; /configure loads new ones at once.",
  },
  defaultEmbeddingDimensions: {
    type: "integer",
    default: 768,
    minimum: 1,
    maximum: 65536,
    group: "Embeddings",
    description: "Embedding length when a request does not ask for `dimensions`.",
  },
  embeddingModels: {
    type: "string[]",
    default: ["decoy-embedding"],
    group: "Embeddings",
    description: "Extra model names served by /v1/embeddings and as KServe embedding models (the LLM names work too).",
  },
  rankingModels: {
    type: "string[]",
    default: ["decoy-reranker"],
    group: "Embeddings",
    description:
      "Extra model names served by /v1/ranking, /v1/rerank and as KServe ranking models (the LLM names work too).",
  },
  maxToolCallIntegerParam: {
    type: "integer",
    default: 100,
    group: "Tools",
    runtime: true,
    description: "Largest integer generated for a tool-call argument without its own bounds.",
  },
  minToolCallIntegerParam: {
    type: "integer",
    default: 0,
    group: "Tools",
    runtime: true,
    description: "Smallest integer generated for a tool-call argument without its own bounds.",
  },
  maxToolCallNumberParam: {
    type: "number",
    default: 100,
    group: "Tools",
    runtime: true,
    description: "Largest number generated for a tool-call argument without its own bounds.",
  },
  minToolCallNumberParam: {
    type: "number",
    default: 0,
    group: "Tools",
    runtime: true,
    description: "Smallest number generated for a tool-call argument without its own bounds.",
  },
  maxToolCallArrayParamLength: {
    type: "integer",
    default: 5,
    minimum: 0,
    group: "Tools",
    runtime: true,
    description: "Longest array generated for a tool-call argument without its own bounds.",
  },
  minToolCallArrayParamLength: {
    type: "integer",
    default: 1,
    minimum: 0,
    group: "Tools",
    runtime: true,
    description: "Shortest array generated for a tool-call argument without its own bounds.",
  },
  toolCallNotRequiredParamProbability: probability(
    "Probability (0-100) that an optional tool parameter is included.",
    50,
  ),
  objectToolCallNotRequiredFieldProbability: probability(
    "Probability (0-100) that an optional field of an object argument is included.",
    50,
  ),
  toolCallExtraCallProbability: probability(
    "Probability (0-100) of each further tool call in one response (parallel_tool_calls permitting).",
    45,
  ),
});
