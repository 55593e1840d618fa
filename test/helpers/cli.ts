import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/version.js";

export interface CliServer {
  proc: ChildProcessWithoutNullStreams;
  httpUrl: string;
  grpcAddress: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--import", "tsx", join(PROJECT_ROOT, "src/cli/main.ts"), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
  });
}

/** Run the CLI to completion and collect its output. */
export function runCliToEnd(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 20000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = runCli(args, env);
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d) => (stdout += d));
  proc.stderr.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) =>
    proc.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Start `decoy serve` as a child process and wait for its startup line. */
export function startCliServer(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliServer> {
  const proc = runCli(["serve", "--port", "0", "--grpc-port", "0", ...args], env);
  let out = "";
  let err = "";
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`server did not start: ${out} ${err}`));
    }, 20000);
    proc.stderr.on("data", (d) => (err += d));
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /listening: HTTP (\S+)\s+gRPC (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          proc,
          httpUrl: m[1] as string,
          grpcAddress: m[2] as string,
          stdout: () => out,
          stderr: () => err,
          exited,
        });
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
}
