/**
 * Non-streaming chat completion at zero latency, wrk c=50, against bare fastify answering
 * the same bytes (its response schema is inferred from the body Decoy sent).
 * Target: Decoy ≥ 0.90 × bare fastify req/s.
 */
import type { Recorder } from "../lib/report.js";
import { CHAT_PATH, chatRequest, syntheticChatResponse } from "../lib/samples.js";
import {
  type BaselineProcess,
  type BenchContext,
  capture,
  chatModel,
  type Scenario,
  type ScenarioOutcome,
  sides,
  startBaseline,
  startDecoyWith,
  withCpu,
  writeTmp,
} from "../lib/scenario.js";
import { ensureTool, runWrk } from "../lib/tools.js";

const CONNECTIONS = 50;
const TOKENS = 16;

export const chat: Scenario = {
  name: "chat",
  title: `non-streaming chat completion, zero latency, ${TOKENS} tokens, wrk c=${CONNECTIONS}`,
  baselineName: "bare fastify (response schema, same bytes)",
  async run(ctx: BenchContext, rec: Recorder): Promise<ScenarioOutcome> {
    if (!ensureTool("wrk", "wrk", ctx.log)) throw new Error("wrk is not installed (apt-get install -y wrk)");
    rec.metric({ id: "rps", label: "req/s", unit: "req/s", target: { kind: "ratio-min", value: 0.9 } });
    rec.metric({ id: "perCore", label: "req/s per server core (CPU-normalised)", unit: "req/s" });
    rec.metric({ id: "p50", label: "latency p50", unit: "ms" });
    rec.metric({ id: "p99", label: "latency p99", unit: "ms" });
    rec.metric({ id: "cpu", label: "server CPU", unit: "cores" });

    const started = await startDecoyWith(ctx, "chat", 0, 0);
    const { decoy, missing } = started;
    let base: BaselineProcess | undefined;
    try {
      let decoySkipped = started.reason;
      if (missing.length) rec.note(`this Decoy build has no flag for ${missing.join(", ")}; its defaults apply`);
      const model = await chatModel(ctx, decoy);
      const body = JSON.stringify(chatRequest(model, false, TOKENS));
      const got = decoy
        ? await capture(`${decoy.httpUrl}${CHAT_PATH}`, JSON.parse(body))
        : { ok: false, body: "", reason: started.reason };
      let sample = got.body;
      if (!got.ok) {
        decoySkipped = got.reason;
        sample = syntheticChatResponse(model, TOKENS);
      }
      base = await startBaseline("baselines/fastify-chat", ["--response", writeTmp("chat-response.json", sample)]);
      const check = await capture(`http://127.0.0.1:${base.port}${CHAT_PATH}`, JSON.parse(body));
      if (!check.ok) throw new Error(`baseline: ${check.reason}`);
      rec.note(
        `response body: Decoy ${got.ok ? Buffer.byteLength(got.body) : "n/a"} B, baseline ${Buffer.byteLength(check.body)} B`,
      );

      const urls: Record<string, { url: string; pid: number } | undefined> = {
        decoy: decoy && !decoySkipped ? { url: `${decoy.httpUrl}${CHAT_PATH}`, pid: decoy.pid } : undefined,
        baseline: { url: `http://127.0.0.1:${base.port}${CHAT_PATH}`, pid: base.pid },
      };
      const secs = ctx.durationS;
      for (const side of ["decoy", "baseline"] as const) {
        const u = urls[side];
        if (u) await runWrk(u.url, body, CONNECTIONS, ctx.quick ? 1 : 2);
      }
      for (let run = 0; run < ctx.runs; run++) {
        for (const side of sides(run)) {
          const u = urls[side];
          if (!u) {
            for (const id of ["rps", "perCore", "p50", "p99", "cpu"]) rec.add(id, side, null);
            continue;
          }
          const { value: r, cores } = await withCpu(u.pid, () => runWrk(u.url, body, CONNECTIONS, secs));
          if (r.non2xx || r.socketErrors)
            rec.note(`${side} run ${run + 1}: ${r.non2xx} non-2xx, ${r.socketErrors} socket errors`);
          ctx.log(`chat ${side} run ${run + 1}: ${r.rps.toFixed(0)} req/s (server ${cores.toFixed(2)} cores)`);
          rec.add("rps", side, r.non2xx ? null : r.rps);
          rec.add("perCore", side, r.non2xx ? null : r.rps / cores);
          rec.add("p50", side, r.latP50Ms);
          rec.add("p99", side, r.latP99Ms);
          rec.add("cpu", side, cores);
        }
      }
      return { decoySkipped };
    } finally {
      await Promise.all([started.stop(), base?.stop()]);
    }
  },
};
