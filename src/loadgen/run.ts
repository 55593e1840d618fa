/**
 * The loadgen runner: MLPerf LoadGen's four scenarios played against a Target.
 *
 * - SingleStream: one sample per query, the next query when the previous one completes.
 * - MultiStream: `samplesPerQuery` samples per query, issued together, back to back.
 * - Server: Poisson arrivals at the target QPS (or a schedule's phases). Latency runs from the
 *   scheduled arrival, not from the actual send, so a slow server cannot hide its queueing by
 *   slowing the client down (coordinated omission).
 * - Offline: all samples issued at once, drained through a bounded in-flight window; the
 *   result is throughput, and latency is per request (from its send).
 *
 * Every loop is bounded: by the sample count, by `maxDurationMs`, and by the abort signal.
 */
import { setMaxListeners } from "node:events";
import { Random } from "../engine/random.js";
import { CliError, describeError, parseHttpUrl, sleep } from "./common/cli.js";
import { bar, Progress } from "./common/progress.js";
import { formatSummary, type LoadgenSummary, summarizeRun, writeOutputDir, writeWorkloadLog } from "./report.js";
import { LegacyTarget, type Protocol, RestTarget, type Target } from "./targets.js";
import { buildSampleLibrary, type Mix, type Phase, PoissonArrivals, parseMix, parseSchedule } from "./workload.js";

export const SCENARIOS = ["SingleStream", "MultiStream", "Server", "Offline"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface LoadgenOptions {
  url: string;
  protocol: Protocol;
  scenario: Scenario;
  /** Models the bare `--mix` ratios refer to. */
  models: string[];
  mix: string;
  targetQps: number;
  durationMs: number;
  /** Hard stop for issuing; 0 picks max(2 × durationMs, durationMs + 60 s). */
  maxDurationMs: number;
  minQueryCount: number;
  /** Size of the sample library, and the number of samples an Offline run issues. */
  totalSamples: number;
  samplesPerQuery: number;
  maxInflight: number;
  timeoutS: number;
  schedule?: string | undefined;
  seed: number | string;
  latencyBoundMs?: number | undefined;
  latencyPercentile: number;
  binaryData: boolean;
  workloadLog?: string | undefined;
  outputDir?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Progress line on/off; defaults to whether stderr is a TTY. */
  progress?: boolean | undefined;
  /** Print the summary to stdout (the CLI does; tests need not). */
  print?: boolean | undefined;
}

export type SampleStatus = "pending" | "ok" | "error" | "aborted";

export interface SampleRecord {
  responseId: number;
  sampleIndex: number;
  model: string;
  tag: number;
  queryId: number;
  /** performance.now() of the due time: the arrival for Server (or the send, if earlier), the send otherwise. */
  scheduledAt: number;
  sentAt: number;
  doneAt: number;
  status: SampleStatus;
  error?: string;
}

export interface QueryRecord {
  id: number;
  issuedAt: number;
  doneAt: number;
  ok: boolean;
}

export interface LoadgenRun {
  options: LoadgenOptions;
  mix: Mix;
  phases: Phase[] | undefined;
  records: SampleRecord[];
  queries: QueryRecord[];
  perfStart: number;
  wallStart: number;
  /** ms from the start at which issuing stopped (the offered-load window). */
  issueEndMs: number;
  /** ms from the start to the last completion. */
  endMs: number;
  interrupted: boolean;
}

export interface LoadgenResult {
  run: LoadgenRun;
  summary: LoadgenSummary;
  files: string[];
}

export const DEFAULT_URL = "http://127.0.0.1:8000";
export const DEFAULT_GRPC_URL = "127.0.0.1:8001";

function autoMaxDuration(o: LoadgenOptions, phases: Phase[] | undefined): number {
  if (o.maxDurationMs > 0) return o.maxDurationMs;
  const base = phases ? (phases[phases.length - 1] as Phase).endMs : o.durationMs;
  return Math.max(2 * base, base + 60_000);
}

async function makeTarget(o: LoadgenOptions, connections: number): Promise<Target> {
  if (o.protocol === "grpc") {
    const { GrpcTarget } = await import("./grpc-target.js");
    return new GrpcTarget(o.url, Math.min(8, Math.max(1, Math.ceil(connections / 32))));
  }
  const base = parseHttpUrl(o.url);
  return o.protocol === "legacy"
    ? new LegacyTarget(base, o.maxInflight)
    : new RestTarget(base, o.maxInflight, o.binaryData);
}

function validate(o: LoadgenOptions): void {
  if (!SCENARIOS.includes(o.scenario)) throw new CliError(`unknown scenario "${o.scenario}"`);
  if (o.schedule && o.scenario !== "Server")
    throw new CliError(`--schedule needs the Server scenario (got ${o.scenario})`);
  for (const [name, v] of [
    ["--duration-ms", o.durationMs],
    ["--total-samples", o.totalSamples],
    ["--samples-per-query", o.samplesPerQuery],
    ["--max-inflight", o.maxInflight],
    ["--timeout", o.timeoutS],
  ] as const) {
    if (!(v > 0)) throw new CliError(`${name} must be positive`);
  }
  if (o.scenario === "Server" && !o.schedule && !(o.targetQps > 0)) throw new CliError("--target-qps must be positive");
  if (!(o.latencyPercentile > 0 && o.latencyPercentile < 100))
    throw new CliError("--latency-percentile must be in (0, 100)");
}

export async function runLoadgen(opts: LoadgenOptions): Promise<LoadgenResult> {
  const o = opts;
  validate(o);
  const mix = parseMix(o.mix, o.models);
  const phases = o.schedule ? parseSchedule(o.schedule) : undefined;
  const maxDurationMs = autoMaxDuration(o, phases);
  const rng = new Random(o.seed);
  const library = buildSampleLibrary(mix.weights, o.totalSamples);
  const timeoutMs = o.timeoutS * 1000;
  const peakQps = phases ? Math.max(...phases.map((p) => p.qps)) : o.targetQps;
  const connections = Math.min(
    o.maxInflight,
    o.scenario === "SingleStream"
      ? 1
      : o.scenario === "MultiStream"
        ? o.samplesPerQuery
        : o.scenario === "Offline"
          ? o.totalSamples
          : Math.min(64, Math.ceil(peakQps / 10) + 4),
  );

  const target = await makeTarget(o, connections);
  const external = o.signal;
  const controller = new AbortController();
  const onExternalAbort = (): void => controller.abort();
  external?.addEventListener("abort", onExternalAbort, { once: true });
  if (external?.aborted) controller.abort();
  const signal = controller.signal;
  // Every in-flight request listens for the abort; thousands of listeners are expected here.
  setMaxListeners(0, signal);

  const records: SampleRecord[] = [];
  const queries: QueryRecord[] = [];
  let perfStart = performance.now();
  let wallStart = Date.now();
  let issueEndMs = 0;
  let inflight = 0;
  let okCount = 0;
  let errCount = 0;
  let responseId = 0;
  const progress = new Progress(o.progress === undefined ? {} : { enabled: o.progress });

  const issueSample = async (queryId: number, scheduledAt: number): Promise<SampleRecord> => {
    const sampleIndex = rng.int(0, library.length - 1);
    const rec: SampleRecord = {
      responseId: ++responseId,
      sampleIndex,
      model: mix.models[library[sampleIndex] as number] as string,
      tag: rng.int(1, 3),
      queryId,
      scheduledAt,
      sentAt: performance.now(),
      doneAt: 0,
      status: "pending",
    };
    records.push(rec);
    inflight++;
    try {
      await target.infer(rec.model, rec.tag, signal, timeoutMs);
      rec.status = "ok";
      okCount++;
    } catch (err) {
      if (signal.aborted) rec.status = "aborted";
      else {
        rec.status = "error";
        rec.error = describeError(err);
        errCount++;
      }
    } finally {
      rec.doneAt = performance.now();
      inflight--;
    }
    return rec;
  };

  const elapsed = (): number => performance.now() - perfStart;
  const minimumsMet = (): boolean => elapsed() >= o.durationMs && queries.length >= o.minQueryCount;

  const runClosedLoop = async (samplesPerQuery: number): Promise<void> => {
    while (!signal.aborted && !minimumsMet() && elapsed() < maxDurationMs) {
      const issuedAt = performance.now();
      const q: QueryRecord = { id: queries.length + 1, issuedAt, doneAt: 0, ok: false };
      queries.push(q);
      const recs = await Promise.all(
        Array.from({ length: samplesPerQuery }, () => issueSample(q.id, performance.now())),
      );
      q.doneAt = Math.max(...recs.map((r) => r.doneAt));
      q.ok = recs.every((r) => r.status === "ok");
      progress.tick();
    }
    issueEndMs = elapsed();
  };

  const runServer = async (): Promise<void> => {
    const plan = phases ?? [{ startMs: 0, endMs: maxDurationMs, qps: o.targetQps }];
    const arrivals = new PoissonArrivals(rng.fork("arrivals"), plan);
    const pending = new Set<Promise<unknown>>();
    const slotWaiters: (() => void)[] = [];
    for (;;) {
      if (signal.aborted) {
        issueEndMs = elapsed();
        break;
      }
      const t = arrivals.next();
      if (t === undefined) {
        issueEndMs = phases ? (phases[phases.length - 1] as Phase).endMs : maxDurationMs;
        break;
      }
      if (!phases && ((t >= o.durationMs && queries.length >= o.minQueryCount) || t >= maxDurationMs)) {
        issueEndMs = t;
        break;
      }
      const due = perfStart + t;
      const wait = due - performance.now();
      if (wait > 0.5) await sleep(wait, signal);
      if (signal.aborted) continue;
      // Over the in-flight cap the arrival waits for a slot; its latency still counts from `due`.
      while (inflight >= o.maxInflight && !signal.aborted) await new Promise<void>((r) => slotWaiters.push(r));
      if (signal.aborted) continue;
      // The timer may wake (and the send happen) up to ~1 ms before `due`; timing such a sample
      // from `due` would understate its latency, so it counts from the send instead.
      const origin = Math.min(due, performance.now());
      const q: QueryRecord = { id: queries.length + 1, issuedAt: origin, doneAt: 0, ok: false };
      queries.push(q);
      const p = issueSample(q.id, origin).then((rec) => {
        q.doneAt = rec.doneAt;
        q.ok = rec.status === "ok";
        pending.delete(p);
        slotWaiters.shift()?.();
        progress.tick();
      });
      pending.add(p);
    }
    for (const w of slotWaiters.splice(0)) w();
    await Promise.all(pending);
  };

  const runOffline = async (): Promise<void> => {
    const q: QueryRecord = { id: 1, issuedAt: performance.now(), doneAt: 0, ok: false };
    queries.push(q);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < o.totalSamples && !signal.aborted && elapsed() < maxDurationMs) {
        next++;
        await issueSample(q.id, performance.now());
        progress.tick();
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.maxInflight, o.totalSamples) }, worker));
    issueEndMs = elapsed();
    q.doneAt = performance.now();
    q.ok = records.every((r) => r.status === "ok");
  };

  let interrupted = false;
  try {
    await target.prepare(mix.models, rng.fork("tensors"));
    await target.warm(connections);
    const planned = phases ? (phases[phases.length - 1] as Phase).endMs : o.durationMs;
    progress.start(() => {
      const done = okCount + errCount;
      const frac = o.scenario === "Offline" ? done / o.totalSamples : elapsed() / planned;
      return `${o.scenario} ${bar(frac)}  ${(elapsed() / 1000).toFixed(1)} s  done ${done}  errors ${errCount}  in flight ${inflight}`;
    });
    perfStart = performance.now();
    wallStart = Date.now();
    if (o.scenario === "SingleStream") await runClosedLoop(1);
    else if (o.scenario === "MultiStream") await runClosedLoop(o.samplesPerQuery);
    else if (o.scenario === "Server") await runServer();
    else await runOffline();
    interrupted = signal.aborted;
  } finally {
    progress.stop();
    external?.removeEventListener("abort", onExternalAbort);
    target.close();
  }

  const lastDone = records.reduce(
    (m, r) => (r.status === "ok" || r.status === "error" ? Math.max(m, r.doneAt) : m),
    perfStart,
  );
  const run: LoadgenRun = {
    options: { ...o, maxDurationMs, signal: undefined },
    mix,
    phases,
    records,
    queries: queries.filter((q) => q.doneAt > 0 || !interrupted),
    perfStart,
    wallStart,
    issueEndMs,
    endMs: Math.max(lastDone - perfStart, interrupted ? 0 : issueEndMs),
    interrupted,
  };
  const summary = summarizeRun(run);
  const files: string[] = [];
  if (o.workloadLog) {
    await writeWorkloadLog(o.workloadLog, run);
    files.push(o.workloadLog);
  }
  if (o.outputDir) {
    const written = await writeOutputDir(o.outputDir, summary);
    files.push(written.summaryTxt, written.summaryJson);
    if (!o.workloadLog) {
      const path = `${o.outputDir.replace(/\/+$/, "")}/workload.csv`;
      await writeWorkloadLog(path, run);
      files.push(path);
    }
  }
  if (o.print) process.stdout.write(formatSummary(summary));
  return { run, summary, files };
}
