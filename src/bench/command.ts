/** `decoy bench` and `decoy bench suite`: LLM benchmarks against any OpenAI-compatible server. */
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  CliError,
  collectPair,
  INTERRUPTED_EXIT_CODE,
  parseNonNegativeInt,
  parseNonNegativeNumber,
  parsePositiveInt,
  parsePositiveNumber,
  parseRatio,
  runCommand,
  trapInterrupt,
} from "../loadgen/common/cli.js";
import { type BenchOptions, runBench } from "./bench.js";
import { ENDPOINT_TYPES, type EndpointType } from "./openai.js";
import { parseScenarios, runSuite, SUITE_SCENARIOS, type SuiteOptions } from "./suite.js";

export const DEFAULT_BENCH_URL = "http://127.0.0.1:8000";
/** In-flight cap of --request-rate runs when --concurrency is not given: high enough not to throttle arrivals. */
export const RATE_MODE_MAX_INFLIGHT = 512;

function parseEndpointType(value: string): EndpointType {
  const v = value.toLowerCase();
  if ((ENDPOINT_TYPES as readonly string[]).includes(v)) return v as EndpointType;
  throw new InvalidArgumentError(`expected one of ${ENDPOINT_TYPES.join(", ")}`);
}

/** `--concurrency 1,4,16` or `--concurrency 1 4 16` (variadic), accumulated. */
function collectConcurrency(value: string, previous: number[] | undefined): number[] {
  const out = [...(previous ?? [])];
  for (const part of value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean))
    out.push(parsePositiveInt(part));
  return out;
}

function collectExtraInput(value: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const pair = collectPair(value);
  const [key, raw] = Object.entries(pair)[0] as [string, string];
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // Plain strings need no quoting on the command line.
  }
  return { ...previous, [key]: parsed };
}

function parseServiceKind(value: string): string {
  if (value !== "openai") throw new InvalidArgumentError("only openai is supported");
  return value;
}

/** Hidden aliases for flags as aiperf and genai-perf spell them. */
function alias(flags: string, description: string, parse?: (v: string) => unknown): Option {
  const o = new Option(flags, description).hideHelp();
  if (parse) o.argParser(parse as (v: string, p: unknown) => unknown);
  return o;
}

interface BenchFlags {
  url: string;
  model?: string;
  endpointType: EndpointType;
  endpoint?: string;
  streaming?: boolean;
  concurrency?: number[];
  requestRate?: number;
  requestCount?: number;
  numRequests?: number;
  duration?: number;
  benchmarkDuration?: number;
  warmupRequestCount: number;
  inputTokensMean: number;
  syntheticInputTokensMean?: number;
  syntheticTokensMean?: number;
  inputTokensStddev: number;
  syntheticInputTokensStddev?: number;
  syntheticTokensStddev?: number;
  outputTokensMean?: number;
  outputTokensStddev: number;
  sharedPrefixRatio: number;
  numPrefixPrompts: number;
  ignoreEos: boolean;
  extraInputs?: Record<string, unknown>;
  header?: Record<string, string>;
  apiKey?: string;
  requestTimeoutSeconds: number;
  timeout?: number;
  outputDir?: string;
  artifactDirectory?: string;
  artifactDir?: string;
  randomSeed?: string;
  seed?: string;
}

/**
 * A fresh seed by default: identical prompts across runs would turn into prefix-cache hits on
 * the server and flatter later runs. The seed used is recorded so a run can be repeated.
 */
function seedOf(v: string | undefined): number | string {
  if (v === undefined) return Math.floor(Math.random() * 2 ** 31);
  return /^-?\d+$/.test(v) ? Number(v) : v;
}

export function benchOptionsFromFlags(f: BenchFlags): BenchOptions {
  const requestCount = f.requestCount ?? f.numRequests;
  const durationS = f.duration ?? f.benchmarkDuration;
  return {
    url: f.url,
    model: f.model,
    endpointType: f.endpointType,
    endpoint: f.endpoint,
    streaming: f.streaming === true,
    concurrency:
      f.concurrency && f.concurrency.length > 0 ? f.concurrency : [f.requestRate ? RATE_MODE_MAX_INFLIGHT : 1],
    requestRate: f.requestRate,
    requestCount,
    durationS,
    warmupRequestCount: f.warmupRequestCount,
    inputTokensMean: f.syntheticInputTokensMean ?? f.syntheticTokensMean ?? f.inputTokensMean,
    inputTokensStddev: f.syntheticInputTokensStddev ?? f.syntheticTokensStddev ?? f.inputTokensStddev,
    outputTokensMean: f.outputTokensMean,
    outputTokensStddev: f.outputTokensStddev,
    sharedPrefixRatio: f.sharedPrefixRatio,
    numPrefixPrompts: f.numPrefixPrompts,
    ignoreEos: f.ignoreEos,
    extraInputs: f.extraInputs ?? {},
    headers: f.header ?? {},
    apiKey: f.apiKey,
    timeoutS: f.timeout ?? f.requestTimeoutSeconds,
    outputDir: f.outputDir ?? f.artifactDirectory ?? f.artifactDir,
    seed: seedOf(f.seed ?? f.randomSeed),
  };
}

/** Options both `bench` and `bench suite` take. */
function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "base URL of the OpenAI-compatible server", DEFAULT_BENCH_URL)
    .option("-m, --model <name>", "model name (default: the first one GET /v1/models lists)")
    .option("--api-key <key>", "sent as Authorization: Bearer <key>")
    .option("-H, --header <key:value>", "extra request header (repeatable)", collectPair)
    .option("--request-timeout-seconds <s>", "per-request timeout", parsePositiveNumber, 600)
    .addOption(alias("--timeout <s>", "alias of --request-timeout-seconds", parsePositiveNumber))
    .option("--random-seed <seed>", "seed for prompts, lengths and arrivals (default: random, recorded in the results)")
    .addOption(alias("--seed <seed>", "alias of --random-seed"))
    .option("--no-ignore-eos", "do not send ignore_eos with max_tokens (for servers that reject it)")
    .addOption(alias("--artifact-directory <dir>", "alias of --output-dir"))
    .addOption(alias("--artifact-dir <dir>", "alias of --output-dir"))
    .addOption(alias("--service-kind <kind>", "accepted for aiperf compatibility (openai only)", parseServiceKind));
}

const SHARED_KEYS = [
  "url",
  "model",
  "apiKey",
  "header",
  "requestTimeoutSeconds",
  "timeout",
  "randomSeed",
  "seed",
  "ignoreEos",
  "outputDir",
  "artifactDirectory",
  "artifactDir",
  "endpointType",
] as const;

/**
 * Unless the program enables positional options, options typed after `bench suite` that
 * `bench` also declares are parsed by `bench`; take them from there when the user set them.
 */
function mergedSuiteFlags(cmd: Command): Record<string, unknown> {
  const own = cmd.opts();
  const parent = cmd.parent;
  const merged: Record<string, unknown> = { ...own };
  if (!parent) return merged;
  for (const key of SHARED_KEYS) {
    if (cmd.getOptionValueSource(key) !== "cli" && parent.getOptionValueSource(key) === "cli")
      merged[key] = parent.getOptionValue(key);
  }
  return merged;
}

export function registerBenchCommand(program: Command): void {
  const bench = program
    .command("bench")
    .summary("benchmark an OpenAI-compatible LLM server (aiperf-style metrics and reports)")
    .description(
      "Send synthetic chat/completions/embeddings requests to an OpenAI-compatible server and report TTFT, " +
        "inter-token latency, request latency, throughput and errors (aiperf metric names), with a per-request " +
        "CSV, a Markdown report and SVG charts. A comma list for --concurrency runs a sweep. " +
        "`decoy bench suite` runs the throughput, concurrency, KV-cache and memory scenarios.",
    );
  addConnectionOptions(bench)
    .addOption(
      new Option("--endpoint-type <type>", `API to call: ${ENDPOINT_TYPES.join(", ")}`)
        .argParser(parseEndpointType)
        .default("chat"),
    )
    .option(
      "--endpoint <path>",
      "custom request path (default: /v1/chat/completions, /v1/completions or /v1/embeddings)",
    )
    .option("--streaming", "stream responses (SSE); required for TTFT and inter-token latency")
    .option(
      "--concurrency <n...>",
      "concurrent requests; several values (1,4,16 or 1 4 16) sweep; with --request-rate, the in-flight cap (default: 1; 512 with --request-rate)",
      collectConcurrency,
    )
    .option(
      "--request-rate <rps>",
      "Poisson arrivals at this rate instead of a closed loop (--concurrency caps in-flight)",
      parsePositiveNumber,
    )
    .option(
      "--request-count <n>",
      "measured requests per run (default: 100 unless --duration is set)",
      parsePositiveInt,
    )
    .addOption(alias("--num-requests <n>", "alias of --request-count", parsePositiveInt))
    .option(
      "--duration <seconds>",
      "stop sending after this long (with --request-count: whichever comes first)",
      parsePositiveNumber,
    )
    .addOption(alias("--benchmark-duration <seconds>", "alias of --duration", parsePositiveNumber))
    .option("--warmup-request-count <n>", "requests sent first and excluded from the results", parseNonNegativeInt, 0)
    .option("--input-tokens-mean <n>", "mean synthetic prompt length in tokens", parsePositiveInt, 128)
    .addOption(alias("--synthetic-input-tokens-mean <n>", "alias of --input-tokens-mean", parsePositiveInt))
    .addOption(alias("--synthetic-tokens-mean <n>", "alias of --input-tokens-mean", parsePositiveInt))
    .option("--input-tokens-stddev <n>", "standard deviation of the prompt length", parseNonNegativeNumber, 0)
    .addOption(alias("--synthetic-input-tokens-stddev <n>", "alias of --input-tokens-stddev", parseNonNegativeNumber))
    .addOption(alias("--synthetic-tokens-stddev <n>", "alias of --input-tokens-stddev", parseNonNegativeNumber))
    .option(
      "--output-tokens-mean <n>",
      "mean output length, sent as max_tokens with ignore_eos (default: server's choice)",
      parsePositiveInt,
    )
    .option("--output-tokens-stddev <n>", "standard deviation of the output length", parseNonNegativeNumber, 0)
    .option(
      "--shared-prefix-ratio <r>",
      "KV-cache mode: fraction (0-1) of each prompt that is a prefix shared across requests",
      parseRatio,
      0,
    )
    .option("--num-prefix-prompts <n>", "distinct shared prefixes requests rotate through", parsePositiveInt, 1)
    .option(
      "--extra-inputs <key:value>",
      "extra request body field, value parsed as JSON when possible (repeatable)",
      collectExtraInput,
    )
    .option(
      "--output-dir <dir>",
      "artifact directory (alias --artifact-directory; default: artifacts/<model>-openai-<type>-<load>)",
    )
    .action(async (flags: BenchFlags) => {
      await runCommand("bench", async () => {
        const options = benchOptionsFromFlags(flags);
        const controller = new AbortController();
        const release = trapInterrupt(controller, "bench");
        try {
          const result = await runBench({ ...options, signal: controller.signal, print: true });
          if (result.interrupted) return INTERRUPTED_EXIT_CODE;
          const all = result.runs.flatMap((r) => r.run.records);
          const failed = all.filter((r) => !r.ok);
          if (all.length > 0 && failed.length === all.length) {
            throw new CliError(
              `all ${all.length} requests to ${result.runs[0]?.run.path ?? options.url} failed: ${failed[0]?.error ?? "unknown error"}`,
            );
          }
          return 0;
        } finally {
          release();
        }
      });
    });

  addConnectionOptions(bench.command("suite"))
    .summary("run the throughput, concurrency, KV-cache and memory benchmark scenarios")
    .description(
      "Run the benchmark suite and write BENCHMARK_SUMMARY.md and benchmark_summary.json, with each run's " +
        "artifacts in a subfolder. --quick takes about a minute against a fast server; --full several minutes.",
    )
    .addOption(new Option("--quick", "small request counts and short runs (default)").conflicts("full"))
    .addOption(new Option("--full", "larger request counts, concurrency up to 200, a 2-minute memory run"))
    .addOption(
      new Option("--endpoint-type <type>", "chat or completions")
        .argParser((v) => {
          const t = parseEndpointType(v);
          if (t === "embeddings") throw new InvalidArgumentError("the suite needs chat or completions");
          return t;
        })
        .default("chat"),
    )
    .option(
      "--scenarios <list>",
      `comma list of scenarios to run: ${SUITE_SCENARIOS.join(", ")}`,
      SUITE_SCENARIOS.join(","),
    )
    .option("--skip-memory", "leave out the memory scenario")
    .option(
      "--output-dir <dir>",
      "where to write the suite's artifacts (alias --artifact-directory; default: artifacts/suite-<mode>)",
    )
    .action(async (_flags: unknown, cmd: Command) => {
      await runCommand("bench suite", async () => {
        const f = mergedSuiteFlags(cmd) as unknown as BenchFlags & {
          full?: boolean;
          scenarios: string;
          skipMemory?: boolean;
          endpointType: "chat" | "completions";
        };
        const mode = f.full ? "full" : "quick";
        let scenarios = parseScenarios(f.scenarios);
        if (f.skipMemory) scenarios = scenarios.filter((s) => s !== "memory");
        const options: SuiteOptions = {
          url: f.url,
          model: f.model,
          apiKey: f.apiKey,
          headers: f.header ?? {},
          endpointType: f.endpointType,
          outputDir: f.outputDir ?? f.artifactDirectory ?? f.artifactDir ?? `artifacts/suite-${mode}`,
          mode,
          scenarios,
          seed: seedOf(f.seed ?? f.randomSeed),
          timeoutS: f.timeout ?? f.requestTimeoutSeconds,
          ignoreEos: f.ignoreEos,
        };
        const controller = new AbortController();
        const release = trapInterrupt(controller, "bench suite");
        try {
          const result = await runSuite({ ...options, signal: controller.signal, print: true });
          return result.summary.interrupted ? INTERRUPTED_EXIT_CODE : 0;
        } finally {
          release();
        }
      });
    });
}
