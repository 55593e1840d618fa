import { spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/version.js";

export interface BufResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every JSON message buf printed, in order. */
  messages: Record<string, unknown>[];
}

/** Split concatenated pretty-printed JSON documents. */
function splitJson(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
  }
  return out;
}

/**
 * `buf curl` against the gRPC server using reflection only (no proto files); request
 * messages go through stdin so large tensors fit.
 */
export function bufCurl(address: string, method: string, ...messages: unknown[]): Promise<BufResult> {
  const bin = join(PROJECT_ROOT, "node_modules/.bin/buf");
  const url = `http://${address}/inference.GRPCInferenceService/${method}`;
  const proc = spawn(bin, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", url, "-d", "@-"], {
    cwd: PROJECT_ROOT,
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d) => (stdout += d));
  proc.stderr.on("data", (d) => (stderr += d));
  proc.stdin.end(messages.map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join("\n"));
  return new Promise((resolve) =>
    proc.on("close", (code) => resolve({ code, stdout, stderr, messages: splitJson(stdout) })),
  );
}
