/**
 * Memory: RSS per idle open SSE stream. N streams are opened (each gets its first token and
 * then waits: Decoy with ITL 10 minutes, the bare node:http server simply never writes
 * again), and the server's RSS growth over its warmed-up idle RSS is divided by N.
 * Target: Decoy ≤ 2 × bare per stream.
 */
import { benchScript } from "../lib/paths.js";
import { rssBytes, type Started, sleep, startProcess } from "../lib/proc.js";
import type { Recorder } from "../lib/report.js";
import { chatRequest } from "../lib/samples.js";
import {
  type BenchContext,
  captureStream,
  chatModel,
  type Scenario,
  type ScenarioOutcome,
  sides,
  startBaseline,
  startDecoyWith,
  writeTmp,
} from "../lib/scenario.js";
import { median } from "../lib/stats.js";

const TOKENS = 100;
const IDLE_ITL = 600_000;

interface Server {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function openIdle(port: number, n: number, bodyFile: string, prefix: number): Promise<Started> {
  return startProcess({
    name: "sse-client idle",
    cmd: process.execPath,
    args: [
      benchScript("clients/sse-client"),
      "--mode=idle",
      `--port=${port}`,
      `--body-file=${bodyFile}`,
      `--connections=${n}`,
      `--prefix=${prefix}`,
      `--tokens=${TOKENS}`,
      "--hold=120",
    ],
    cpu: 1,
    ready: /^opened (\d+) (.*)$/,
    timeoutMs: 120_000,
  });
}

async function closeIdle(client: Started): Promise<void> {
  client.child.stdin?.end("close\n");
  await client.stop(10_000);
}

async function sampleRss(pid: number): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < 3; i++) {
    v.push(rssBytes(pid));
    await sleep(300);
  }
  return median(v);
}

export const memory: Scenario = {
  name: "memory",
  title: "memory: RSS per idle open SSE stream",
  baselineName: "bare node:http holding the same stream",
  async run(ctx: BenchContext, rec: Recorder): Promise<ScenarioOutcome> {
    const n = ctx.quick ? 1000 : 5000;
    rec.metric({
      id: "perStream",
      label: `${n} idle streams: RSS per stream`,
      unit: "KB",
      target: { kind: "ratio-max", value: 2 },
    });
    rec.metric({ id: "idleRss", label: "RSS before the streams", unit: "MB" });
    rec.metric({ id: "openRss", label: `RSS with ${n} streams`, unit: "MB" });

    // One short-lived Decoy to capture the stream shape and learn whether it can stream.
    const probe = await startDecoyWith(ctx, "memory-probe", 0, 0);
    let model: string;
    let prefix: number;
    let eventsFile: string;
    let decoySkipped: string | undefined;
    try {
      decoySkipped = probe.reason;
      if (!decoySkipped && probe.missing.includes("itl"))
        decoySkipped = "this Decoy build has no ITL flag, so a stream cannot be held idle";
      model = await chatModel(ctx, probe.decoy);
      const { sample, decoyReason } = await captureStream(probe.decoy, model, TOKENS);
      decoySkipped ??= decoyReason;
      prefix = sample.prefix.length;
      eventsFile = writeTmp("memory-sample.json", JSON.stringify(sample));
    } finally {
      await probe.stop();
    }
    const bodyFile = writeTmp("memory-request.json", JSON.stringify(chatRequest(model, true, TOKENS)));

    const start = async (side: "decoy" | "baseline"): Promise<Server> => {
      if (side === "baseline") return startBaseline("baselines/sse-http", ["--events", eventsFile, "--mode=idle"]);
      const { decoy, reason } = await startDecoyWith(ctx, "memory", 0, IDLE_ITL);
      if (!decoy) throw new Error(reason);
      return { pid: decoy.pid, port: decoy.httpPort, stop: () => decoy.stop() };
    };

    for (let run = 0; run < ctx.runs; run++) {
      for (const side of sides(run)) {
        if (side === "decoy" && decoySkipped) {
          for (const id of ["perStream", "idleRss", "openRss"]) rec.add(id, side, null);
          continue;
        }
        const server = await start(side);
        try {
          // Warm the code paths and the heap with a few hundred streams first.
          const warm = await openIdle(server.port, 200, bodyFile, prefix);
          await closeIdle(warm);
          await sleep(1000);
          const idle = await sampleRss(server.pid);
          const client = await openIdle(server.port, n, bodyFile, prefix);
          const opened = Number(client.match[1]);
          await sleep(1500);
          const open = await sampleRss(server.pid);
          await closeIdle(client);
          if (opened < n) rec.note(`${side} run ${run + 1}: only ${opened} of ${n} streams got their first token`);
          const per = (open - idle) / Math.max(1, opened) / 1024;
          ctx.log(
            `memory ${side} run ${run + 1}: ${per.toFixed(1)} KB/stream (idle ${(idle / 2 ** 20).toFixed(1)} MB)`,
          );
          rec.add("perStream", side, per);
          rec.add("idleRss", side, idle / 2 ** 20);
          rec.add("openRss", side, open / 2 ** 20);
        } finally {
          await server.stop();
        }
      }
    }
    return { decoySkipped };
  },
};
