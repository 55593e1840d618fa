/**
 * Starting Decoy the way users do (compiled CLI, production settings) and finding out what
 * the build in front of us supports: flags from `serve --help`, routes by probing.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DECOY_MAIN, RESULTS_DIR, ROOT } from "./paths.js";
import { type Started, startProcess } from "./proc.js";

export const READY_LINE = /listening: HTTP http:\/\/([^\s:]+):(\d+)\s+gRPC\s+(\S+):(\d+)/;

let helpText: string | undefined;
export function decoyHelp(): string {
  if (helpText === undefined) {
    const r = spawnSync(process.execPath, [DECOY_MAIN, "serve", "--help"], { encoding: "utf8", timeout: 30_000 });
    helpText = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  }
  return helpText;
}

/** The first of `candidates` that `serve --help` lists, or undefined. */
export function findFlag(candidates: string[]): string | undefined {
  const help = decoyHelp();
  return candidates.find((c) => new RegExp(`(^|[\\s,])${c.replace(/[-]/g, "\\-")}([\\s,=<]|$)`, "m").test(help));
}

const LATENCY_FLAGS = {
  ttft: ["--ttft-ms", "--ttft", "--time-to-first-token-ms", "--time-to-first-token"],
  itl: ["--itl-ms", "--itl", "--inter-token-latency-ms", "--inter-token-latency", "--tpot-ms", "--tpot"],
};
/** Flags that add randomness or extra delay on top of ttft/itl; zeroed for the benchmark. */
const JITTER_FLAGS = ["--ttft-std-dev", "--itl-std-dev", "--ttft-jitter", "--itl-jitter", "--latency-jitter"];
/**
 * Settings every scenario needs, applied when this build has them: enough running slots that
 * 5,000 streams run concurrently instead of queueing (vLLM's default of 256 would queue), and
 * zero execution time for tensor models so gRPC measures the transport.
 */
const BENCH_FLAGS: [string, string][] = [
  ["--max-num-seqs", "10000"],
  ["--max-waiting-queue-length", "10000"],
  ["--model-latency-ms", "0"],
  ["--model-per-item-latency-ms", "0"],
  ["--model-latency-std-dev-ms", "0"],
  ["--model-instances", "0"],
];

export interface LatencyFlags {
  flags: string[];
  /** What could not be expressed with this build's flags. */
  missing: string[];
}

/** Flags for a given TTFT and ITL (ms), jitter off, plus the benchmark's capacity settings. */
export function latencyFlags(ttftMs: number, itlMs: number): LatencyFlags {
  const flags: string[] = [];
  const missing: string[] = [];
  const ttft = findFlag(LATENCY_FLAGS.ttft);
  const itl = findFlag(LATENCY_FLAGS.itl);
  if (ttft) flags.push(ttft, String(ttftMs));
  else missing.push("ttft");
  if (itl) flags.push(itl, String(itlMs));
  else missing.push("itl");
  for (const j of JITTER_FLAGS) if (findFlag([j])) flags.push(j, "0");
  for (const [f, v] of BENCH_FLAGS) if (findFlag([f])) flags.push(f, v);
  return { flags, missing };
}

export interface DecoyProcess extends Started {
  httpUrl: string;
  httpPort: number;
  grpcAddress: string;
  grpcPort: number;
}

export interface DecoyStart {
  flags?: string[];
  /** Run under `node --cpu-prof`, the profile named after this label. */
  profile?: string | undefined;
  cpu?: number;
  timeoutMs?: number;
}

export async function startDecoy(opts: DecoyStart = {}): Promise<DecoyProcess> {
  const nodeArgs: string[] = [];
  if (opts.profile) {
    const dir = join(RESULTS_DIR, "prof");
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    nodeArgs.push("--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-name", `decoy-${opts.profile}-${stamp}.cpuprofile`);
  }
  const started = await startProcess({
    name: "decoy",
    cmd: process.execPath,
    args: [
      ...nodeArgs,
      DECOY_MAIN,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--grpc-port",
      "0",
      "--shutdown-timeout-ms",
      "2000",
      ...(opts.flags ?? []),
    ],
    cpu: opts.cpu ?? 0,
    ready: READY_LINE,
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: "production" },
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
  const m = started.match;
  return Object.assign(started, {
    httpUrl: `http://${m[1]}:${m[2]}`,
    httpPort: Number(m[2]),
    grpcAddress: `${m[3]}:${m[4]}`,
    grpcPort: Number(m[4]),
  });
}

/** Status of a request, or 0 when the connection failed. Bounded by `timeoutMs`. */
export async function probe(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<number> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** A chat-capable model name: the first of GET /v1/models, or undefined when the route is missing. */
export async function discoverChatModel(httpUrl: string, preferred?: string): Promise<string | undefined> {
  if (preferred) return preferred;
  try {
    const res = await fetch(`${httpUrl}/v1/models`, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { data?: { id: string }[] };
    return body.data?.[0]?.id;
  } catch {
    return undefined;
  }
}
