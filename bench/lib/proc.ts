/**
 * Child processes of the benchmark: servers pinned to core 0, load tools to core 1, every
 * wait bounded. Only processes started here are ever signalled, by pid.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

const live = new Set<ChildProcess>();

/** Kill everything still running when the runner itself exits. */
export function killAllStarted(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  live.clear();
}

let tasksetChecked: boolean | undefined;
/** `taskset` exists and there are at least two CPUs to split between server and load tool. */
export function canPin(): boolean {
  if (tasksetChecked === undefined) {
    const r = spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    tasksetChecked = r.status === 0 && availableParallelism() >= 2;
  }
  return tasksetChecked;
}

export let pinningDisabled = false;
export function disablePinning(): void {
  pinningDisabled = true;
}

/** Prefix a command with `taskset -c <cpu>` when pinning is possible. */
export function pinned(cpu: number, cmd: string, args: string[]): [string, string[]] {
  if (pinningDisabled || !canPin()) return [cmd, args];
  return ["taskset", ["-c", String(cpu), cmd, ...args]];
}

export interface Started {
  child: ChildProcess;
  pid: number;
  /** The stdout line that matched `ready`. */
  match: RegExpMatchArray;
  /** Milliseconds from spawn() to the ready line. */
  readyMs: number;
  /** Output lines kept for error messages. */
  log: string[];
  stop(timeoutMs?: number): Promise<void>;
}

export interface StartSpec {
  name: string;
  cmd: string;
  args: string[];
  cpu?: number;
  ready: RegExp;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Spawn a long-running process and wait (bounded) for a stdout line matching `ready`. */
export function startProcess(spec: StartSpec): Promise<Started> {
  const [cmd, args] = spec.cpu === undefined ? [spec.cmd, spec.args] : pinned(spec.cpu, spec.cmd, spec.args);
  const opts: SpawnOptions = { stdio: ["pipe", "pipe", "pipe"], env: spec.env ?? process.env, cwd: spec.cwd };
  const t0 = performance.now();
  const child = spawn(cmd, args, opts);
  live.add(child);
  child.once("exit", () => live.delete(child));
  const log: string[] = [];
  const timeoutMs = spec.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    let done = false;
    let buf = "";
    const timer = setTimeout(() => fail(new Error(`${spec.name}: not ready after ${timeoutMs} ms`)), timeoutMs);
    const stop = async (ms = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      if (!(await waitExit(child, ms))) {
        child.kill("SIGKILL");
        await waitExit(child, 5_000);
      }
    };
    function fail(err: Error) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const tail = log.slice(-15).join("\n");
      void stop(2_000);
      reject(new Error(`${err.message}${tail ? `\n--- ${spec.name} output ---\n${tail}` : ""}`));
    }
    const onLine = (line: string) => {
      if (log.length > 200) log.shift();
      log.push(line);
      if (done) return;
      const m = line.match(spec.ready);
      if (m) {
        done = true;
        clearTimeout(timer);
        resolve({ child, pid: child.pid as number, match: m, readyMs: performance.now() - t0, log, stop });
      }
    };
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      buf += chunk;
      let i = buf.indexOf("\n");
      while (i >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
        i = buf.indexOf("\n");
      }
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      for (const l of chunk.split("\n")) if (l) log.push(`[stderr] ${l}`);
      while (log.length > 200) log.shift();
    });
    child.once("error", (err) => fail(new Error(`${spec.name}: ${err.message}`)));
    child.once("exit", (code, signal) =>
      fail(new Error(`${spec.name} exited (${signal ?? code}) before it was ready`)),
    );
  });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run a command to completion, killing it after `timeoutMs`. */
export function runCommand(
  cmd: string,
  args: string[],
  options: { timeoutMs: number; cpu?: number; input?: string; onStderr?: (line: string) => void },
): Promise<RunResult> {
  const [c, a] = options.cpu === undefined ? [cmd, args] : pinned(options.cpu, cmd, args);
  const child = spawn(c, a, { stdio: ["pipe", "pipe", "pipe"] });
  live.add(child);
  let stdout = "";
  let stderr = "";
  let timedOut = false;
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.on("data", (d: string) => {
    stderr += d;
    if (options.onStderr) for (const l of d.split("\n")) if (l.trim()) options.onStderr(l);
  });
  if (options.input !== undefined) child.stdin.end(options.input);
  else child.stdin.end();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.once("error", (err) => {
      stderr += String(err.message);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** Run a bench client (compiled JS) pinned to core 1; its last stdout line is a JSON result. */
export async function runClient<T>(script: string, args: string[], timeoutMs: number): Promise<T> {
  const r = await runCommand(process.execPath, [script, ...args], { timeoutMs, cpu: 1 });
  const lines = r.stdout.trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  if (r.timedOut) throw new Error(`${script} timed out after ${timeoutMs} ms\n${r.stderr.slice(-2000)}`);
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${script} exited ${r.code} without a result\n${r.stderr.slice(-2000)}${r.stdout.slice(-500)}`);
  }
}

/** Resident set size of a process in bytes (Linux /proc), NaN elsewhere. */
export function rssBytes(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)\s+kB/);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Process CPU seconds (user+system) from /proc/<pid>/stat, NaN when unavailable. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 (1-based) of the whole line; 12 and 13 after the comm.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}
