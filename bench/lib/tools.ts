/** External load tools: found on PATH, installed with apt-get when possible, or explained. */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RESULTS_DIR } from "./paths.js";
import { runCommand } from "./proc.js";

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

const checked = new Map<string, string | null>();

/**
 * Resolve `cmd`, installing Debian package `pkg` when it is missing and we are root with
 * apt-get. Returns null (and why, via `why`) when the tool cannot be had.
 */
export function ensureTool(cmd: string, pkg: string, log: (s: string) => void): string | null {
  if (checked.has(cmd)) return checked.get(cmd) ?? null;
  let ok = onPath(cmd);
  if (!ok && process.getuid?.() === 0 && onPath("apt-get")) {
    log(`${cmd} not found; installing Debian package ${pkg} (apt-get install -y ${pkg})`);
    let r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", pkg], {
      stdio: "ignore",
      timeout: 180_000,
    });
    if (r.status !== 0) {
      spawnSync("apt-get", ["update"], { stdio: "ignore", timeout: 180_000 });
      r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", pkg], {
        stdio: "ignore",
        timeout: 180_000,
      });
    }
    ok = onPath(cmd);
  }
  if (!ok) log(`${cmd} is not installed: run \`sudo apt-get install -y ${pkg}\` (Debian/Ubuntu) and rerun`);
  checked.set(cmd, ok ? cmd : null);
  return ok ? cmd : null;
}

export function tmpDir(): string {
  const dir = join(RESULTS_DIR, "tmp");
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface WrkResult {
  rps: number;
  latP50Ms: number;
  latP99Ms: number;
  non2xx: number;
  socketErrors: number;
  requests: number;
}

function ms(v: string, unit: string): number {
  const x = Number(v);
  return unit === "us" ? x / 1000 : unit === "s" ? x * 1000 : unit === "m" ? x * 60_000 : x;
}

/** wrk POSTing a JSON body, one thread, `connections` keep-alive connections, pinned to core 1. */
export async function runWrk(url: string, body: string, connections: number, seconds: number): Promise<WrkResult> {
  const script = join(tmpDir(), "wrk-post.lua");
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`,
  );
  const r = await runCommand("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, url], {
    timeoutMs: (seconds + 30) * 1000,
    cpu: 1,
  });
  const out = r.stdout;
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`wrk failed: ${r.stderr || out}`);
  const lat = (p: string) => {
    const m = out.match(new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`));
    return m ? ms(m[1] as string, m[2] as string) : Number.NaN;
  };
  const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    rps,
    latP50Ms: lat("50"),
    latP99Ms: lat("99"),
    non2xx: Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
    socketErrors: sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0,
    requests: Number(out.match(/(\d+) requests in/)?.[1] ?? 0),
  };
}

export interface H2loadResult {
  rps: number;
  succeeded: number;
  failed: number;
  /** Response DATA bytes per request: a gRPC error answers with trailers only, so this exposes them. */
  dataBytesPerReq: number;
}

/** h2load POSTing a length-prefixed gRPC body file, pinned to core 1. */
export async function runH2load(
  url: string,
  dataFile: string,
  clients: number,
  streams: number,
  seconds: number,
  warmup = 1,
): Promise<H2loadResult> {
  const r = await runCommand(
    "h2load",
    [
      "-t1",
      `-c${clients}`,
      `-m${streams}`,
      `-D${seconds}`,
      `--warm-up-time=${warmup}`,
      "-d",
      dataFile,
      "-H",
      "content-type: application/grpc",
      "-H",
      "te: trailers",
      url,
    ],
    { timeoutMs: (seconds + warmup + 30) * 1000, cpu: 1 },
  );
  const out = r.stdout;
  const rps = Number(out.match(/finished in [\d.]+\w*, ([\d.]+) req\/s/)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`h2load failed: ${r.stderr || out}`);
  const req = out.match(
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/,
  );
  const data = out.match(/traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?, .*?\((\d+)\) data/);
  const succeeded = Number(req?.[4] ?? 0);
  return {
    rps,
    succeeded,
    failed: Number(req?.[5] ?? 0) + Number(req?.[6] ?? 0),
    dataBytesPerReq: data && succeeded ? Number(data[3]) / Number(req?.[3] ?? succeeded) : Number.NaN,
  };
}
