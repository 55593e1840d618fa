/** The commands as users run them: exit codes, one-line errors, Ctrl-C keeping partial results. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type FakeServer, startFakeServer } from "./fake-server.js";

const ENTRY = new URL("./cli-entry.ts", import.meta.url).pathname;

let server: FakeServer;
let dir: string;

before(async () => {
  server = await startFakeServer({ latencyMs: 5, ttftMs: 10, itlMs: 1, failModel: "bad-model" });
  dir = await mkdtemp(join(tmpdir(), "decoy-cli-"));
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], onStart?: (child: ChildProcess) => void): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ENTRY, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NODE_NO_WARNINGS: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
    onStart?.(child);
  });
}

/** Sends SIGINT once the server has seen `n` requests matching `seen` (the run is under way). */
function interruptWhen(seen: () => number, n: number): (child: ChildProcess) => void {
  return (child) => {
    const started = performance.now();
    const poll = setInterval(() => {
      if (seen() >= n || performance.now() - started > 10_000) {
        clearInterval(poll);
        setTimeout(() => child.kill("SIGINT"), 200);
      }
    }, 20);
  };
}

describe("decoy loadgen / bench commands", () => {
  test("unreachable server: one line on stderr, exit code 1", async () => {
    const [lg, bench] = await Promise.all([
      run(["loadgen", "--url", "http://127.0.0.1:9", "--duration-ms", "100"]),
      run(["bench", "--url", "http://127.0.0.1:9", "--request-count", "2"]),
    ]);
    assert.equal(lg.code, 1);
    assert.equal(
      lg.stderr,
      "decoy loadgen: error: cannot reach the server at http://127.0.0.1:9: connection refused\n",
    );
    assert.equal(lg.stdout, "");
    assert.equal(bench.code, 1);
    assert.equal(
      bench.stderr,
      "decoy bench: error: cannot reach the server at http://127.0.0.1:9: connection refused\n",
    );
  });

  test("malformed URL and all-failing requests: one line, exit code 1, files still written", async () => {
    const out = join(dir, "bad");
    const [badUrl, failing] = await Promise.all([
      run(["bench", "--url", "localhost:8000"]),
      run(["bench", "--url", server.url, "--model", "bad-model", "--request-count", "3", "--output-dir", out]),
    ]);
    assert.equal(badUrl.code, 1);
    assert.match(
      badUrl.stderr,
      /^decoy bench: error: invalid --url "localhost:8000": expected an http:\/\/ or https:\/\/ URL[^\n]*\n$/,
    );
    assert.equal(failing.code, 1);
    assert.match(
      failing.stderr,
      /^decoy bench: error: all 3 requests to \/v1\/chat\/completions failed: HTTP 500 Internal Server Error: boom\n$/,
    );
    assert.ok(existsSync(join(out, "profile_export.json")));
  });

  test("Ctrl-C writes what was collected and exits 130", async () => {
    const lgOut = join(dir, "lg-int");
    const benchOut = join(dir, "bench-int");
    const [lg, bench] = await Promise.all([
      run(
        [
          "loadgen",
          "--url",
          server.url,
          "--mix",
          "1,0,1",
          "--target-qps",
          "50",
          "--duration-ms",
          "20000",
          "--output-dir",
          lgOut,
        ],
        interruptWhen(() => server.hits.get("/v2/models/resnet/infer") ?? 0, 3),
      ),
      run(
        [
          "bench",
          "--url",
          server.url,
          "--model",
          "interrupted",
          "--streaming",
          "--duration",
          "20",
          "--concurrency",
          "2",
          "--output-dir",
          benchOut,
        ],
        interruptWhen(() => server.openaiBodies.filter((b) => b.model === "interrupted").length, 3),
      ),
    ]);
    assert.equal(lg.code, 130, lg.stderr);
    assert.match(lg.stderr, /interrupted, writing the results collected so far/);
    assert.match(lg.stdout, /Result is\s+: INVALID/);
    const summary = JSON.parse(await readFile(join(lgOut, "mlperf_log_summary.json"), "utf8"));
    assert.equal(summary.interrupted, true);
    assert.ok(summary.samples_completed > 0);
    const csv = (await readFile(join(lgOut, "workload.csv"), "utf8")).trimEnd().split("\n");
    assert.equal(csv[0], "timestamp_issued,response_id,sample_index,model,tag,latency_ns,latency_ms");
    assert.ok(csv.length > 1);

    assert.equal(bench.code, 130, bench.stderr);
    const doc = JSON.parse(await readFile(join(benchOut, "profile_export.json"), "utf8"));
    assert.equal(doc.interrupted, true);
    assert.ok(doc.request_count.avg > 0);
    assert.ok(existsSync(join(benchOut, "report.md")));
  });

  test("quiet on a non-TTY: no progress line on stderr", async () => {
    const r = await run(["bench", "--url", server.url, "--request-count", "4", "--output-dir", join(dir, "quiet")]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /Request latency/);
  });
});
