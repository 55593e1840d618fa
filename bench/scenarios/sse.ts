/**
 * SSE streaming, 100 tokens per stream, zero ITL, 50 connections driven by the bench SSE
 * client in its own process; token chunks/s against bare node:http writing the same events
 * with one res.write each. Target: Decoy ≥ 0.80 × bare.
 */
import { benchScript } from "../lib/paths.js";
import { runClient } from "../lib/proc.js";
import type { Recorder } from "../lib/report.js";
import { chatRequest } from "../lib/samples.js";
import {
  type BaselineProcess,
  type BenchContext,
  captureStream,
  chatModel,
  type Scenario,
  type ScenarioOutcome,
  sides,
  startBaseline,
  startDecoyWith,
  withCpu,
  writeTmp,
} from "../lib/scenario.js";

const CONNECTIONS = 50;
const TOKENS = 100;

interface LoadResult {
  chunksPerSec: number;
  streamsPerSec: number;
  tokensPerRead: number | null;
  clientCpu: number;
  errors: number;
  errorSamples: string[];
  error?: string;
}

export const sse: Scenario = {
  name: "sse",
  title: `SSE streaming, ${TOKENS} tokens/stream, zero ITL, c=${CONNECTIONS}`,
  baselineName: "bare node:http, one res.write per event",
  async run(ctx: BenchContext, rec: Recorder): Promise<ScenarioOutcome> {
    rec.metric({ id: "chunks", label: "token chunks/s", unit: "chunks/s", target: { kind: "ratio-min", value: 0.8 } });
    rec.metric({ id: "perCore", label: "chunks/s per server core (CPU-normalised)", unit: "chunks/s" });
    rec.metric({ id: "streams", label: "streams/s", unit: "streams/s" });
    rec.metric({ id: "cpu", label: "server CPU", unit: "cores" });
    rec.metric({ id: "client", label: "client CPU", unit: "cores" });

    const started = await startDecoyWith(ctx, "sse", 0, 0);
    const { decoy, missing } = started;
    let base: BaselineProcess | undefined;
    try {
      if (missing.length) rec.note(`this Decoy build has no flag for ${missing.join(", ")}; its defaults apply`);
      const model = await chatModel(ctx, decoy);
      const { sample, decoyReason } = await captureStream(decoy, model, TOKENS);
      base = await startBaseline("baselines/sse-http", [
        "--events",
        writeTmp("sse-sample.json", JSON.stringify(sample)),
      ]);
      const bodyFile = writeTmp("sse-request.json", JSON.stringify(chatRequest(model, true, TOKENS)));
      const bytes = [...sample.prefix, ...sample.tokens, ...sample.suffix].join("").length;
      rec.note(`stream: ${sample.prefix.length} event(s) before the first token, ${TOKENS} tokens, ${bytes} B of SSE`);

      const ports: Record<string, { port: number; pid: number } | undefined> = {
        decoy: decoy && !decoyReason ? { port: decoy.httpPort, pid: decoy.pid } : undefined,
        baseline: { port: base.port, pid: base.pid },
      };
      const drive = (port: number, seconds: number) =>
        runClient<LoadResult>(
          benchScript("clients/sse-client"),
          [
            "--mode=load",
            `--port=${port}`,
            `--body-file=${bodyFile}`,
            `--connections=${CONNECTIONS}`,
            `--duration=${seconds}`,
            `--warmup=${ctx.quick ? 0.5 : 1}`,
            `--prefix=${sample.prefix.length}`,
            `--tokens=${TOKENS}`,
          ],
          (seconds + 90) * 1000,
        );
      for (let run = 0; run < ctx.runs; run++) {
        for (const side of sides(run)) {
          const p = ports[side];
          if (!p) {
            for (const id of ["chunks", "perCore", "streams", "cpu", "client"]) rec.add(id, side, null);
            continue;
          }
          const { value: r, cores } = await withCpu(p.pid, () => drive(p.port, ctx.durationS));
          if (r.error) throw new Error(`${side}: sse client: ${r.error}`);
          if (r.errors) rec.note(`${side} run ${run + 1}: ${r.errors} stream errors (${r.errorSamples.join("; ")})`);
          ctx.log(
            `sse ${side} run ${run + 1}: ${r.chunksPerSec.toFixed(0)} chunks/s, client ${r.clientCpu.toFixed(2)} cores, server ${cores.toFixed(2)}`,
          );
          rec.add("chunks", side, r.chunksPerSec);
          rec.add("perCore", side, r.chunksPerSec / cores);
          rec.add("streams", side, r.streamsPerSec);
          rec.add("cpu", side, cores);
          rec.add("client", side, r.clientCpu);
          if (r.clientCpu > 0.9)
            rec.note(`${side}: the SSE client used ${r.clientCpu.toFixed(2)} cores: near saturation`);
        }
      }
      return { decoySkipped: decoyReason };
    } finally {
      await Promise.all([started.stop(), base?.stop()]);
    }
  },
};
