import { defineSettings } from "../define.js";

export const FAILURE_TYPES = [
  "rate_limit",
  "invalid_api_key",
  "context_length",
  "server_error",
  "invalid_request",
  "model_not_found",
] as const;

/** "a,b" or '["a","b"]' → list. */
function parseList(raw: string): string[] {
  const t = raw.trim();
  if (t.startsWith("[")) {
    const arr = JSON.parse(t) as unknown;
    if (!Array.isArray(arr)) throw new Error("must be a list");
    return arr.map(String);
  }
  return t === "" ? [] : t.split(",").map((s) => s.trim());
}

const NUM = { type: "number" };

/** One fake metric: a number, an llm-d "fun:start:end:period" string, or a curve object. */
function metricSchema(max?: number): Record<string, unknown> {
  const bound = (s: Record<string, unknown>) => ({ ...s, minimum: 0, ...(max === undefined ? {} : { maximum: max }) });
  const period = { type: "number", exclusiveMinimum: 0 };
  const curve = (name: string, props: Record<string, unknown>, required: string[]) => ({
    type: "object",
    additionalProperties: false,
    required: [name],
    properties: { [name]: { type: "object", additionalProperties: false, required, properties: props } },
  });
  return {
    anyOf: [
      bound(NUM),
      {
        type: "string",
        pattern:
          "^(ramp|rampreset|oscillate|squarewave):-?[0-9.]+(e-?[0-9]+)?:-?[0-9.]+(e-?[0-9]+)?:[0-9.]+(ms|s|m|h)$",
      },
      curve("ramp", { from: bound(NUM), to: bound(NUM), periodS: period, repeat: { type: "boolean" } }, [
        "from",
        "to",
        "periodS",
      ]),
      curve("oscillate", { min: bound(NUM), max: bound(NUM), periodS: period }, ["min", "max", "periodS"]),
      curve(
        "square",
        {
          low: bound(NUM),
          high: bound(NUM),
          periodS: period,
          duty: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 },
        },
        ["low", "high", "periodS"],
      ),
    ],
  };
}

/** Seed 004's fake-metrics document; other llm-d keys (histogram values, counters) pass through. */
function fakeMetricsSchema(): Record<string, unknown> {
  return {
    type: "object",
    properties: {
      "running-requests": metricSchema(),
      "waiting-requests": metricSchema(),
      "kv-cache-usage": metricSchema(1),
      loras: {
        type: "array",
        items: {
          type: "object",
          additionalProperties: false,
          properties: { running: { type: "string" }, waiting: { type: "string" }, timestamp: NUM },
        },
      },
    },
  };
}

/** Failure injection, fake metrics and pod identity: what a test harness turns on to see a server misbehave. */
export const faultSettings = defineSettings({
  failureInjectionRate: {
    type: "number",
    default: 0,
    minimum: 0,
    maximum: 100,
    description: "Percentage of inference requests answered with an injected error (one of --failure-types).",
    group: "Failures",
    runtime: true,
    aliases: ["error-rate"],
    placeholder: "PERCENT",
  },
  failureTypes: {
    type: "json",
    default: [],
    schema: { type: "array", items: { type: "string", enum: [...FAILURE_TYPES] }, uniqueItems: true },
    parse: (raw: string) => parseList(raw),
    placeholder: "TYPES",
    description: `Injected error kinds, picked uniformly; empty means all of ${FAILURE_TYPES.join(", ")}.`,
    group: "Failures",
    runtime: true,
  },
  midStreamFailureRate: {
    type: "number",
    default: 0,
    minimum: 0,
    maximum: 100,
    description: "Percentage of streamed responses cut after a random number of tokens.",
    group: "Failures",
    runtime: true,
    placeholder: "PERCENT",
  },
  latencySpikeRate: {
    type: "number",
    default: 0,
    minimum: 0,
    maximum: 100,
    description: "Percentage of requests whose first token is delayed by --latency-spike-ms.",
    group: "Failures",
    runtime: true,
    placeholder: "PERCENT",
  },
  latencySpikeMs: {
    type: "number",
    default: 1000,
    minimum: 0,
    description: "Extra time to first token of a latency spike, in milliseconds.",
    group: "Failures",
    runtime: true,
    placeholder: "MS",
  },
  fakeMetrics: {
    type: "json",
    default: null,
    nullable: true,
    description:
      'Report these values instead of measured ones, e.g. {"running-requests":10,"waiting-requests":30,"kv-cache-usage":0.4}; a value may follow a curve: {"ramp":{"from":0,"to":40,"periodS":60}}, {"oscillate":{...}}, {"square":{...}} or "ramp:0:40:60s".',
    group: "Fake metrics",
    runtime: true,
    placeholder: "JSON",
    schema: fakeMetricsSchema(),
  },
  fakeMetricsRefreshInterval: {
    type: "number",
    default: 100,
    exclusiveMinimum: 0,
    description: "Step of fake metric curves, in milliseconds: values change at most this often.",
    group: "Fake metrics",
    runtime: true,
    placeholder: "MS",
  },
  podName: {
    type: "string",
    default: "",
    description: "Pod name sent as the x-inference-pod response header (when set).",
    group: "Server",
    env: ["POD_NAME"],
  },
  podNamespace: {
    type: "string",
    default: "",
    description: "Pod namespace sent as the x-inference-namespace response header (when set).",
    group: "Server",
    env: ["POD_NAMESPACE"],
  },
});
