/** What a scenario file exports, and helpers every scenario shares. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DecoyProcess, discoverChatModel, latencyFlags, startDecoy } from "./decoy.js";
import { benchScript } from "./paths.js";
import { cpuSeconds, type Started, startProcess } from "./proc.js";
import type { Recorder } from "./report.js";
import { CHAT_PATH, chatRequest, replayHeaders, type SseSample, splitSse, syntheticSse } from "./samples.js";
import { tmpDir } from "./tools.js";

export interface BenchOptions {
  runs: number;
  durationS: number;
  quick: boolean;
  cpuProf: boolean;
  model?: string | undefined;
  textModel?: string | undefined;
}

export interface BenchContext extends BenchOptions {
  log(msg: string): void;
}

export interface ScenarioOutcome {
  decoySkipped?: string | undefined;
}

export interface Scenario {
  name: string;
  title: string;
  baselineName: string;
  run(ctx: BenchContext, rec: Recorder): Promise<ScenarioOutcome>;
}

/** Set by the runner for --cpu-prof: baselines are profiled next to Decoy, into this directory. */
let baselineProfileDir: string | undefined;
export function profileBaselines(dir: string | undefined): void {
  baselineProfileDir = dir;
}

/** Start a compiled baseline script pinned to core 0 and wait for its `ready` line. */
export function startBaseline(name: string, args: string[], ready = /^ready (?:grpc )?(?:http:\/\/)?([\d.]+):(\d+)/) {
  const prof: string[] = [];
  if (baselineProfileDir) {
    mkdirSync(baselineProfileDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const base = name.split("/").pop() as string;
    prof.push(
      "--cpu-prof",
      "--cpu-prof-dir",
      baselineProfileDir,
      "--cpu-prof-name",
      `base-${base}-${stamp}.cpuprofile`,
    );
  }
  return startProcess({
    name,
    cmd: process.execPath,
    args: [...prof, benchScript(name), ...args],
    cpu: 0,
    ready,
    env: { ...process.env, NODE_ENV: "production" },
  }).then((s) => Object.assign(s, { port: Number(s.match[2]) }));
}

export type BaselineProcess = Started & { port: number };

export interface DecoyStartResult {
  /** Undefined when this build of Decoy does not start; `reason` says why. */
  decoy?: DecoyProcess;
  reason?: string | undefined;
  /** Latency settings this build has no flag for. */
  missing: string[];
  stop(): Promise<void>;
}

/**
 * Start Decoy with the given TTFT/ITL (ms). A Decoy that does not start is not fatal: the
 * scenario still measures its baseline and reports why the Decoy side is missing.
 */
export async function startDecoyWith(
  ctx: BenchContext,
  label: string,
  ttftMs: number,
  itlMs: number,
  extra: string[] = [],
): Promise<DecoyStartResult> {
  const lat = latencyFlags(ttftMs, itlMs);
  try {
    const decoy = await startDecoy({ flags: [...lat.flags, ...extra], profile: ctx.cpuProf ? label : undefined });
    return { decoy, missing: lat.missing, stop: () => decoy.stop() };
  } catch (err) {
    const msg = (err as Error).message.replace(/\n--- decoy output ---\n/, ": ").replace(/\[stderr\] /g, "");
    return { reason: `Decoy did not start (${msg.slice(0, 300)})`, missing: lat.missing, stop: async () => {} };
  }
}

export function writeTmp(name: string, data: string | Buffer): string {
  const file = join(tmpDir(), name);
  writeFileSync(file, data);
  return file;
}

export interface Capture {
  ok: boolean;
  status: number;
  reason?: string | undefined;
  body: string;
  headers: Record<string, string>;
}

/** One request to a server, body kept as text. Bounded by `timeoutMs`. */
export async function capture(url: string, body: unknown, timeoutMs = 30_000): Promise<Capture> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const ok = res.status === 200;
    return {
      ok,
      status: res.status,
      body: text,
      headers: replayHeaders(res.headers),
      reason: ok ? undefined : `POST ${new URL(url).pathname} answered ${res.status}: ${text.slice(0, 160)}`,
    };
  } catch (err) {
    return { ok: false, status: 0, body: "", headers: {}, reason: `POST ${url} failed: ${(err as Error).message}` };
  }
}

/**
 * A 100-token stream captured from Decoy (or a synthetic one when Decoy cannot stream yet),
 * split for the baselines to replay.
 */
export async function captureStream(
  decoy: DecoyProcess | undefined,
  model: string,
  tokens: number,
): Promise<{ sample: SseSample; decoyReason?: string | undefined }> {
  const synthetic = () =>
    splitSse(syntheticSse(model, tokens), { "content-type": "text/event-stream", "cache-control": "no-cache" });
  if (!decoy) return { sample: synthetic(), decoyReason: "Decoy did not start" };
  const c = await capture(`${decoy.httpUrl}${CHAT_PATH}`, chatRequest(model, true, tokens));
  if (!c.ok) return { sample: synthetic(), decoyReason: c.reason };
  try {
    const sample = splitSse(c.body, c.headers);
    if (sample.tokens.length === tokens) return { sample };
    return {
      sample: synthetic(),
      decoyReason: `Decoy streamed ${sample.tokens.length} token events for max_tokens=${tokens} with ignore_eos`,
    };
  } catch (err) {
    return { sample: synthetic(), decoyReason: (err as Error).message };
  }
}

/** The chat model to use: --model, else the first of Decoy's GET /v1/models, else a guess. */
export async function chatModel(ctx: BenchContext, decoy: DecoyProcess | undefined): Promise<string> {
  if (ctx.model) return ctx.model;
  return (decoy ? await discoverChatModel(decoy.httpUrl) : undefined) ?? DEFAULT_MODEL_GUESS;
}

/** CPU cores a process used while `fn` ran. */
export async function withCpu<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; cores: number }> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  const value = await fn();
  const cores = (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000);
  return { value, cores };
}

/** Alternate which side goes first from run to run so slow drift hits both equally. */
export function sides(run: number): ("decoy" | "baseline")[] {
  return run % 2 === 0 ? ["decoy", "baseline"] : ["baseline", "decoy"];
}

export const DEFAULT_MODEL_GUESS = "decoy-llm";
