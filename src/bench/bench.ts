/**
 * `decoy bench` without the command-line layer: one profile, or a sweep over concurrency
 * levels, with artifacts written per run and a comparison report for sweeps.
 */
import { join } from "node:path";
import { CliError } from "../loadgen/common/cli.js";
import { describeHttpStatus } from "../loadgen/common/http.js";
import { computeMetrics, errorSummary, type Metrics } from "./metrics.js";
import { connect, type ProfileOptions, type ProfileRun, runProfile } from "./profile.js";
import { metricsTable, type SweepPoint, writeProfileArtifacts, writeSweepArtifacts } from "./report.js";

export interface BenchOptions extends Omit<ProfileOptions, "concurrency" | "model"> {
  /** Empty: the first model the server lists under GET /v1/models. */
  model?: string | undefined;
  /** One level, or several to sweep. */
  concurrency: number[];
  outputDir?: string | undefined;
  /** Print the metrics tables to stdout. */
  print?: boolean | undefined;
}

export interface BenchRunResult {
  concurrency: number;
  dir: string;
  run: ProfileRun;
  metrics: Metrics;
}

export interface BenchResult {
  outputDir: string;
  runs: BenchRunResult[];
  /** The report to open: the sweep's when sweeping, else the single run's. */
  report: string;
  interrupted: boolean;
}

export function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^_+|_+$/g, "") || "model";
}

export function defaultOutputDir(
  model: string,
  o: Pick<BenchOptions, "endpointType" | "concurrency" | "requestRate">,
): string {
  const load = o.requestRate
    ? `rate${o.requestRate}`
    : o.concurrency.length > 1
      ? `sweep${o.concurrency.join("_")}`
      : `concurrency${o.concurrency[0] ?? 1}`;
  return join("artifacts", `${sanitize(model)}-openai-${o.endpointType}-${load}`);
}

/** Resolves the model to benchmark, asking the server when none was given. */
export async function resolveModel(o: Pick<BenchOptions, "url" | "model" | "apiKey" | "headers">): Promise<string> {
  const { client, models, modelsStatus } = await connect(o.url, {
    apiKey: o.apiKey,
    headers: o.headers,
    maxSockets: 1,
  });
  client.close();
  if (o.model) return o.model;
  const first = models[0];
  if (!first) {
    const why = modelsStatus === 200 ? "listed no model" : `answered ${describeHttpStatus(modelsStatus, "")}`;
    throw new CliError(`--model is required: GET /v1/models on ${o.url} ${why}`);
  }
  return first;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  if (o.concurrency.length === 0) throw new CliError("--concurrency needs at least one value");
  if (o.requestRate && o.concurrency.length > 1)
    throw new CliError("--request-rate takes one --concurrency value (the in-flight cap), not a list");
  const model = await resolveModel(o);
  const outputDir = o.outputDir ?? defaultOutputDir(model, o);
  const sweep = o.concurrency.length > 1;
  const runs: BenchRunResult[] = [];
  let interrupted = false;
  for (const c of o.concurrency) {
    if (o.signal?.aborted) break;
    const dir = sweep ? join(outputDir, `concurrency_${c}`) : outputDir;
    const run = await runProfile({
      ...o,
      model,
      concurrency: c,
      // Distinct prompts per level: a server's prefix cache must not favour later levels.
      seed: sweep ? `${o.seed}:concurrency${c}` : o.seed,
      label: sweep ? `[${runs.length + 1}/${o.concurrency.length}]` : o.label,
    });
    const metrics = computeMetrics(run);
    await writeProfileArtifacts(dir, run, metrics);
    runs.push({ concurrency: c, dir, run, metrics });
    if (o.print) {
      const load = o.requestRate ? `request rate ${o.requestRate}/s` : `concurrency ${c}`;
      process.stdout.write(`\n${model} — ${o.endpointType}${o.streaming ? " (streaming)" : ""}, ${load}\n`);
      process.stdout.write(metricsTable(metrics, false));
      const errors = errorSummary(run);
      if (errors[0])
        process.stdout.write(
          `errors: ${errors
            .map((e) => `${e.count}x ${e.message}`)
            .slice(0, 3)
            .join("; ")}\n`,
        );
    }
    if (run.interrupted) {
      interrupted = true;
      break;
    }
  }
  let report = join(outputDir, "report.md");
  if (sweep && runs.length > 0) {
    const points: SweepPoint[] = runs.map((r) => ({
      concurrency: r.concurrency,
      dir: `concurrency_${r.concurrency}`,
      metrics: r.metrics,
      latencies: r.run.records.filter((x) => x.ok).map((x) => x.latencyMs),
      interrupted: r.run.interrupted,
    }));
    report = await writeSweepArtifacts(outputDir, `decoy bench sweep: ${model}`, points, [
      `Server: ${o.url}, endpoint ${o.endpointType}${o.streaming ? " (streaming)" : ""}`,
      `Concurrency levels: ${o.concurrency.join(", ")}${interrupted ? " — **interrupted**, partial results" : ""}`,
    ]);
  }
  if (o.print) process.stdout.write(`\nReport: ${report}\n`);
  return { outputDir, runs, report, interrupted };
}
