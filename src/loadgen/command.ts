/** `decoy loadgen`: MLPerf-LoadGen-style mixed vision workloads against Decoy or any KServe v2 server. */
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  CliError,
  INTERRUPTED_EXIT_CODE,
  parseNonNegativeInt,
  parsePositiveInt,
  parsePositiveNumber,
  runCommand,
  trapInterrupt,
} from "./common/cli.js";
import { DEFAULT_GRPC_URL, DEFAULT_URL, type LoadgenOptions, runLoadgen, SCENARIOS, type Scenario } from "./run.js";
import type { Protocol } from "./targets.js";
import { DEFAULT_MODELS } from "./workload.js";

function parseScenario(value: string): Scenario {
  const found = SCENARIOS.find((s) => s.toLowerCase() === value.toLowerCase().replace(/[-_ ]/g, ""));
  if (!found) throw new InvalidArgumentError(`expected one of ${SCENARIOS.join(", ")}`);
  return found;
}

function parseProtocol(value: string): Protocol {
  const v = value.toLowerCase();
  if (v === "rest" || v === "legacy" || v === "grpc") return v;
  throw new InvalidArgumentError("expected grpc, rest or legacy");
}

function parseModels(value: string): string[] {
  const list = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new InvalidArgumentError("expected a comma-separated list of model names");
  return list;
}

function parsePercentile(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n >= 100)
    throw new InvalidArgumentError("expected a percentile between 0 and 100");
  return n;
}

interface RawOptions {
  url?: string;
  protocol: Protocol;
  scenario: Scenario;
  models: string[];
  mix?: string;
  targetQps: number;
  schedule?: string;
  durationMs: number;
  maxDurationMs: number;
  minQueryCount: number;
  totalSamples: number;
  samplesPerQuery: number;
  maxInflight: number;
  timeout: number;
  latencyBoundMs?: number;
  latencyPercentile?: number;
  binaryData: boolean;
  workloadLog?: string;
  outputDir?: string;
  seed: string;
}

/** Maps parsed flags to runner options, filling the scenario-dependent defaults. */
export function loadgenOptionsFromFlags(raw: RawOptions): LoadgenOptions {
  const scenario = raw.scenario;
  return {
    url: raw.url ?? (raw.protocol === "grpc" ? DEFAULT_GRPC_URL : DEFAULT_URL),
    protocol: raw.protocol,
    scenario,
    models: raw.models,
    mix: raw.mix ?? raw.models.map(() => "1").join(","),
    targetQps: raw.targetQps,
    schedule: raw.schedule,
    durationMs: raw.durationMs,
    maxDurationMs: raw.maxDurationMs,
    minQueryCount: raw.minQueryCount,
    totalSamples: raw.totalSamples,
    samplesPerQuery: raw.samplesPerQuery,
    maxInflight: raw.maxInflight,
    timeoutS: raw.timeout,
    latencyBoundMs: raw.latencyBoundMs ?? (scenario === "Server" ? 500 : undefined),
    latencyPercentile: raw.latencyPercentile ?? (scenario === "SingleStream" ? 90 : 99),
    binaryData: raw.binaryData,
    workloadLog: raw.workloadLog,
    outputDir: raw.outputDir,
    seed: /^-?\d+$/.test(raw.seed) ? Number(raw.seed) : raw.seed,
  };
}

export function registerLoadgenCommand(program: Command): void {
  program
    .command("loadgen")
    .summary("drive a mixed ResNet/YOLO/BERT workload with MLPerf LoadGen scenarios")
    .description(
      "Send a mix of vision/NLP inference requests (resnet, yolo, bert by default) using MLPerf LoadGen's " +
        "scenarios, then print a mlperf_log_summary-style report. Works against Decoy and against any server " +
        "speaking KServe v2 REST/gRPC (Triton, KServe) or the legacy /resnet/ /yolo/ /bert/ routes. " +
        "Input tensors are built once from each model's metadata (GET /v2/models/{m}) and reused.",
    )
    .option("--url <url>", `server base URL (default: ${DEFAULT_URL}; ${DEFAULT_GRPC_URL} with --protocol grpc)`)
    .addOption(
      new Option("--protocol <protocol>", "grpc (KServe v2 gRPC), rest (KServe v2 REST) or legacy (POST /{model}/)")
        .argParser(parseProtocol)
        .default("rest"),
    )
    .addOption(
      new Option("--scenario <scenario>", `LoadGen scenario: ${SCENARIOS.join(", ")}`)
        .argParser(parseScenario)
        .default("Server"),
    )
    .addOption(
      new Option("--models <list>", "models the --mix ratios refer to")
        .argParser(parseModels)
        .default([...DEFAULT_MODELS], DEFAULT_MODELS.join(",")),
    )
    .option("--mix <ratios>", "sample ratios, one per model (2,1,1) or named (resnet=2,bert=1) (default: equal)")
    .option("--target-qps <qps>", "Server: mean Poisson arrival rate (queries/s)", parsePositiveNumber, 10)
    .option(
      "--schedule <spec>",
      'Server with time-varying QPS: "START-END:QPS,..." in seconds, e.g. "0-5:3,5-10:10,10-15:20" (overrides --target-qps and --duration-ms)',
    )
    .option("--duration-ms <ms>", "minimum test duration", parsePositiveInt, 10_000)
    .option(
      "--max-duration-ms <ms>",
      "hard stop for issuing queries (0: max(2 x duration, duration + 60 s))",
      parseNonNegativeInt,
      0,
    )
    .option(
      "--min-query-count <n>",
      "minimum number of queries (SingleStream, MultiStream, Server)",
      parseNonNegativeInt,
      100,
    )
    .option(
      "--total-samples <n>",
      "sample library size; Offline issues this many samples at once",
      parsePositiveInt,
      3000,
    )
    .option("--samples-per-query <n>", "MultiStream: samples per query", parsePositiveInt, 8)
    .option("--max-inflight <n>", "bound on concurrent requests (Offline window; Server cap)", parsePositiveInt, 256)
    .option("--timeout <seconds>", "per-request timeout", parsePositiveNumber, 30)
    .option(
      "--latency-bound-ms <ms>",
      "latency bound for the VALID/INVALID verdict (default: 500 for Server, none otherwise)",
      parsePositiveNumber,
    )
    .option(
      "--latency-percentile <p>",
      "percentile checked against the bound (default: 90 SingleStream, 99 otherwise)",
      parsePercentile,
    )
    .option("--no-binary-data", "rest: send tensors as JSON `data` instead of Triton's binary extension")
    .option(
      "--workload-log <path>",
      "write a per-request CSV: timestamp_issued,response_id,sample_index,model,tag,latency_ns,latency_ms",
    )
    .option("--output-dir <dir>", "write mlperf_log_summary.txt, mlperf_log_summary.json (and workload.csv) here")
    .option("--seed <seed>", "seed for sample choice, tags, arrivals and tensor values", "1")
    .action(async (raw: RawOptions) => {
      await runCommand("loadgen", async () => {
        const options = loadgenOptionsFromFlags(raw);
        const controller = new AbortController();
        const release = trapInterrupt(controller, "loadgen");
        try {
          const { summary, files } = await runLoadgen({ ...options, signal: controller.signal, print: true });
          for (const f of files) process.stderr.write(`decoy loadgen: wrote ${f}\n`);
          if (summary.interrupted) return INTERRUPTED_EXIT_CODE;
          if (summary.samples_completed === 0 && summary.errors > 0) {
            const [first] = Object.entries(summary.error_kinds).sort((a, b) => b[1] - a[1]);
            throw new CliError(
              `all ${summary.errors} requests to ${options.url} failed: ${first?.[0] ?? "unknown error"}`,
            );
          }
          return 0;
        } finally {
          release();
        }
      });
    });
}
