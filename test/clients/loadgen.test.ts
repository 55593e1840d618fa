import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { LoadgenOptions } from "../../src/loadgen/run.js";
import { runLoadgen } from "../../src/loadgen/run.js";
import { parseMix, parseSchedule } from "../../src/loadgen/workload.js";
import { startFakeGrpcServer } from "./fake-grpc-server.js";
import { type FakeServer, startFakeServer } from "./fake-server.js";

const HEADER = "timestamp_issued,response_id,sample_index,model,tag,latency_ns,latency_ms";

let server: FakeServer;
let dir: string;

before(async () => {
  server = await startFakeServer({ latencyMs: 5 });
  dir = await mkdtemp(join(tmpdir(), "decoy-loadgen-"));
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function options(over: Partial<LoadgenOptions>): LoadgenOptions {
  return {
    url: server.url,
    protocol: "rest",
    scenario: "Server",
    models: ["resnet", "yolo", "bert"],
    mix: "1,0,1",
    targetQps: 10,
    durationMs: 500,
    maxDurationMs: 0,
    minQueryCount: 1,
    totalSamples: 1000,
    samplesPerQuery: 4,
    maxInflight: 64,
    timeoutS: 5,
    seed: 7,
    latencyPercentile: 99,
    binaryData: true,
    progress: false,
    ...over,
  };
}

interface Row {
  timestamp_issued: number;
  response_id: number;
  sample_index: number;
  model: string;
  tag: number;
  latency_ns: number;
  latency_ms: number;
}

async function readLog(path: string): Promise<{ header: string; rows: Row[] }> {
  const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
  const header = lines[0] ?? "";
  const rows = lines.slice(1).map((l) => {
    const [ts, id, idx, model, tag, ns, ms] = l.split(",");
    return {
      timestamp_issued: Number(ts),
      response_id: Number(id),
      sample_index: Number(idx),
      model: model as string,
      tag: Number(tag),
      latency_ns: Number(ns),
      latency_ms: Number(ms),
    };
  });
  return { header, rows };
}

describe("loadgen workload parsing", () => {
  test("mix: bare ratios follow --models, zero drops a model, named ratios work", () => {
    assert.deepEqual(parseMix("2,1,1", ["resnet", "yolo", "bert"]), {
      models: ["resnet", "yolo", "bert"],
      weights: [2, 1, 1],
    });
    assert.deepEqual(parseMix("1,0,3", ["resnet", "yolo", "bert"]).models, ["resnet", "bert"]);
    assert.deepEqual(parseMix("bert=2,resnet:1", ["resnet"]), { models: ["bert", "resnet"], weights: [2, 1] });
    assert.throws(() => parseMix("1,1", ["resnet", "yolo", "bert"]), /2 ratio\(s\) for 3 model/);
    assert.throws(() => parseMix("0,0,0", ["a", "b", "c"]), /at least one ratio/);
  });

  test("schedule: phases in seconds, sorted, overlaps rejected", () => {
    assert.deepEqual(parseSchedule("5-10:10,0-5:3"), [
      { startMs: 0, endMs: 5000, qps: 3 },
      { startMs: 5000, endMs: 10000, qps: 10 },
    ]);
    assert.throws(() => parseSchedule("0-5:3,4-8:2"), /overlap/);
    assert.throws(() => parseSchedule("0-5"), /START-END:QPS/);
  });
});

describe("loadgen scenarios against a fake server", () => {
  test("SingleStream over legacy routes: one request at a time, exact CSV columns", async () => {
    const log = join(dir, "single.csv");
    const { summary, run } = await runLoadgen(
      options({ protocol: "legacy", scenario: "SingleStream", durationMs: 400, workloadLog: log }),
    );
    const { header, rows } = await readLog(log);
    assert.equal(header, HEADER);
    assert.equal(rows.length, summary.samples_completed);
    assert.equal(summary.errors, 0);
    assert.ok(rows.length >= 10, `only ${rows.length} samples in 400 ms at 5 ms each`);
    assert.ok(rows.every((r) => r.model === "resnet" || r.model === "bert"));
    assert.ok(rows.every((r) => r.tag >= 1 && r.tag <= 3));
    assert.ok(new Set(rows.map((r) => r.tag)).size === 3);
    assert.ok(rows.every((r) => Math.abs(r.latency_ns / 1e6 - r.latency_ms) < 0.001));
    // Closed loop: a sample is never sent before the previous one completed.
    const sorted = [...run.records].sort((a, b) => a.sentAt - b.sentAt);
    for (let i = 1; i < sorted.length; i++) assert.ok((sorted[i]?.sentAt ?? 0) >= (sorted[i - 1]?.doneAt ?? 0));
    const p50 = summary.latency_ms?.p50 ?? 0;
    assert.ok(p50 >= 5 && p50 < 25, `p50 ${p50} ms for a 5 ms server`);
    assert.equal(server.hits.get("/health/") !== undefined, true);
  });

  test("MultiStream over KServe REST: queries of N samples, tensors shaped from metadata", async () => {
    const { summary, run } = await runLoadgen(
      options({ scenario: "MultiStream", samplesPerQuery: 4, durationMs: 300 }),
    );
    assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
    assert.equal(summary.samples_issued, run.queries.length * 4);
    assert.ok(summary.query_latency_ms !== null);
    assert.ok((summary.query_latency_ms?.p50 ?? 0) >= (summary.latency_ms?.p50 ?? 0) - 0.5);
    assert.equal(summary.result, "VALID");
  });

  test("Server: Poisson arrivals reach the target QPS and latency tracks the server's", async () => {
    const out = join(dir, "server");
    const { summary } = await runLoadgen(
      options({ scenario: "Server", targetQps: 200, durationMs: 1500, outputDir: out, latencyBoundMs: 200 }),
    );
    assert.equal(summary.errors, 0);
    assert.ok(Math.abs((summary.scheduled_qps ?? 0) - 200) / 200 < 0.2, `scheduled ${summary.scheduled_qps}`);
    assert.ok(Math.abs(summary.achieved_qps - 200) / 200 < 0.25, `achieved ${summary.achieved_qps}`);
    const p50 = summary.latency_ms?.p50 ?? 0;
    assert.ok(p50 >= 5 && p50 < 30, `p50 ${p50}`);
    assert.equal(summary.result, "VALID", summary.invalid_reasons.join("; "));
    const txt = await readFile(join(out, "mlperf_log_summary.txt"), "utf8");
    assert.match(txt, /Scenario\s+: Server/);
    assert.match(txt, /Result is\s+: VALID/);
    assert.match(txt, /99\.90 percentile latency \(ns\)/);
    const json = JSON.parse(await readFile(join(out, "mlperf_log_summary.json"), "utf8"));
    assert.deepEqual(Object.keys(json.per_model).sort(), ["bert", "resnet"]);
    for (const k of ["min", "mean", "p50", "p90", "p95", "p97", "p99", "p99.9"])
      assert.equal(typeof json.latency_ms[k], "number");
    assert.ok(existsSync(join(out, "workload.csv")));
  });

  test("Server: a tight latency bound makes the result INVALID", async () => {
    const { summary } = await runLoadgen(options({ targetQps: 50, durationMs: 300, latencyBoundMs: 1 }));
    assert.equal(summary.result, "INVALID");
    assert.ok(summary.invalid_reasons.some((r) => r.includes("exceeds the bound")));
  });

  test("Offline: every sample issued once, through a bounded window", async () => {
    const log = join(dir, "offline.csv");
    const { summary, run } = await runLoadgen(
      options({ scenario: "Offline", totalSamples: 120, maxInflight: 8, workloadLog: log, mix: "1,1,1" }),
    );
    const { rows } = await readLog(log);
    assert.equal(rows.length, 120);
    assert.equal(summary.samples_completed, 120);
    assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
    assert.equal(new Set(rows.map((r) => r.model)).size, 3);
    // The window: never more than 8 requests in flight.
    const events = run.records.flatMap((r) => [
      [r.sentAt, 1],
      [r.doneAt, -1],
    ]);
    events.sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number));
    let live = 0;
    let peak = 0;
    for (const [, d] of events) {
      live += d as number;
      peak = Math.max(peak, live);
    }
    assert.ok(peak <= 8, `peak in flight ${peak}`);
    assert.equal(summary.result, "VALID");
  });

  test("schedule: phases with different QPS are visible in the workload log", async () => {
    const log = join(dir, "schedule.csv");
    const out = join(dir, "schedule");
    const { summary } = await runLoadgen(
      options({ schedule: "0-0.6:20,0.6-1.2:120", workloadLog: log, outputDir: out, mix: "3,0,1" }),
    );
    const { rows } = await readLog(log);
    const t0 = Math.min(...rows.map((r) => r.timestamp_issued));
    const start = t0 - 0.05;
    const first = rows.filter((r) => r.timestamp_issued - start < 0.6).length;
    const second = rows.length - first;
    assert.ok(second > 2.5 * first, `phase counts ${first} then ${second}`);
    assert.equal(summary.phases?.length, 2);
    const [p1, p2] = summary.phases ?? [];
    assert.ok(Math.abs((p1?.scheduled_qps ?? 0) - 20) < 12, `phase 1 ${p1?.scheduled_qps}`);
    assert.ok(Math.abs((p2?.scheduled_qps ?? 0) - 120) < 36, `phase 2 ${p2?.scheduled_qps}`);
    const models = rows.map((r) => r.model);
    const resnet = models.filter((m) => m === "resnet").length;
    assert.ok(resnet > 2 * (models.length - resnet), "mix 3:1 of resnet:bert");
    assert.match(await readFile(join(out, "mlperf_log_summary.txt"), "utf8"), /Schedule phases/);
  });

  test("an abort mid-run still yields a summary, marked INVALID", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 250);
    const out = join(dir, "aborted");
    const { summary } = await runLoadgen(
      options({ durationMs: 5000, targetQps: 50, outputDir: out, signal: controller.signal }),
    );
    assert.equal(summary.interrupted, true);
    assert.equal(summary.result, "INVALID");
    assert.ok(summary.samples_completed > 0);
    assert.ok(existsSync(join(out, "mlperf_log_summary.json")));
  });

  test("JSON tensors (--no-binary-data) are accepted too", async () => {
    const { summary } = await runLoadgen(options({ binaryData: false, mix: "0,0,1", durationMs: 200, targetQps: 20 }));
    assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
    assert.ok(summary.samples_completed > 0);
  });

  test("gRPC: raw_input_contents built from ModelMetadata", async () => {
    const grpc = await startFakeGrpcServer(3);
    try {
      const { summary } = await runLoadgen(
        options({ protocol: "grpc", url: grpc.address, scenario: "Server", targetQps: 100, durationMs: 400 }),
      );
      assert.equal(summary.errors, 0, JSON.stringify(summary.error_kinds));
      assert.equal(grpc.calls, summary.samples_completed);
      assert.ok(summary.samples_completed > 15);
      const p50 = summary.latency_ms?.p50 ?? 0;
      assert.ok(p50 >= 3 && p50 < 250, `p50 ${p50}`);
      await assert.rejects(
        runLoadgen(options({ protocol: "grpc", url: grpc.address, models: ["nope"], mix: "1" })),
        /not found/,
      );
    } finally {
      await grpc.close();
    }
    await assert.rejects(
      runLoadgen(options({ protocol: "grpc", url: "grpc://127.0.0.1:9" })),
      /^CliError: cannot reach the gRPC server at 127\.0\.0\.1:9/,
    );
  });

  test("unknown model and unreachable server are one-line errors", async () => {
    await assert.rejects(runLoadgen(options({ models: ["nope"], mix: "1" })), /model "nope" not found/);
    await assert.rejects(runLoadgen(options({ url: "http://127.0.0.1:9" })), (err: Error) => {
      assert.equal(err.name, "CliError");
      assert.match(err.message, /^cannot reach the server at http:\/\/127\.0\.0\.1:9: connection refused$/);
      return true;
    });
    await assert.rejects(runLoadgen(options({ url: "localhost:8000" })), /invalid --url/);
  });
});
