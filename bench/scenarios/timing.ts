/**
 * Timing fidelity: TTFT 5 ms and ITL 5 ms × 100 tokens at 100, 1,000 and 5,000 concurrent
 * streams (back-to-back streams on pre-opened connections, first requests spread over one
 * stream lifetime so the load is steady, not lockstep waves), against a bare server driven by
 * one shared 1 ms tick with absolute deadlines. Client-observed: gap p50/p99/mean, TTFT
 * p50/p99, stream duration vs ideal (ttft + 99 × itl), tokens per socket write (bare: counted
 * server-side; Decoy: estimated as tokens per client read, an upper bound).
 * Targets: at 100 streams gap p50 within 0.1 ms of ITL, p99 ≤ 1.5 × ITL, duration within 1 %;
 * at 1,000 streams mean gap within 2 % of ITL and p99 no worse than bare.
 */
import { benchScript } from "../lib/paths.js";
import { runClient } from "../lib/proc.js";
import type { Recorder, Target } from "../lib/report.js";
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

const ITL = 5;
const TTFT = 5;
const TOKENS = 100;
const IDEAL = TTFT + (TOKENS - 1) * ITL;

interface TimingResult {
  streams: number;
  gapP50: number;
  gapP99: number;
  gapMean: number;
  ttftP50: number;
  ttftP99: number;
  durationMean: number;
  tokensPerRead: number | null;
  clientCpu: number;
  clientLoopDelayP99Ms: number;
  unfinished: number;
  errors: number;
  errorSamples: string[];
  error?: string;
}

function targets(n: number): Record<string, Target | undefined> {
  if (n === 100)
    return {
      gapP50: { kind: "abs-within", center: ITL, tol: 0.1 },
      gapP99: { kind: "abs-max", value: 1.5 * ITL },
      duration: { kind: "abs-within", center: 0, tol: 1 },
    };
  if (n === 1000)
    return { gapMean: { kind: "abs-within", center: ITL, tol: 0.02 * ITL }, gapP99: { kind: "ratio-max", value: 1 } };
  return {};
}

export const timing: Scenario = {
  name: "timing",
  title: `timing fidelity, TTFT ${TTFT} ms, ITL ${ITL} ms × ${TOKENS} tokens`,
  baselineName: "bare node:http, shared 1 ms tick, absolute deadlines",
  async run(ctx: BenchContext, rec: Recorder): Promise<ScenarioOutcome> {
    const counts = ctx.quick ? [100, 1000] : [100, 1000, 5000];
    const seconds = ctx.quick ? 2 : Math.min(ctx.durationS, 5);
    const started = await startDecoyWith(ctx, "timing", TTFT, ITL);
    const { decoy, missing } = started;
    let base: BaselineProcess | undefined;
    try {
      let decoySkipped: string | undefined = started.reason;
      if (!decoySkipped && missing.length) decoySkipped = `this Decoy build has no flag for ${missing.join(", ")}`;
      const model = await chatModel(ctx, decoy);
      const { sample, decoyReason } = await captureStream(decoy, model, TOKENS);
      decoySkipped ??= decoyReason;
      base = await startBaseline("baselines/tick-sse", [
        "--events",
        writeTmp("timing-sample.json", JSON.stringify(sample)),
        `--ttft=${TTFT}`,
        `--itl=${ITL}`,
      ]);
      const bodyFile = writeTmp("timing-request.json", JSON.stringify(chatRequest(model, true, TOKENS)));
      const basePort = base.port;
      const ports: Record<string, { port: number; pid: number } | undefined> = {
        decoy: decoy && !decoySkipped ? { port: decoy.httpPort, pid: decoy.pid } : undefined,
        baseline: { port: base.port, pid: base.pid },
      };
      // Largest stream count whose p99 gap stays ≤ 2 × ITL, per run and side.
      const maxOk: Record<string, { max: number; broken: boolean }[]> = { decoy: [], baseline: [] };

      for (const n of counts) {
        const t = targets(n);
        const m = (id: string, label: string, unit: string) =>
          rec.metric({ id: `${id}@${n}`, label: `${n} streams: ${label}`, unit, target: t[id] });
        m("gapP50", "gap p50", "ms");
        m("gapP99", "gap p99", "ms");
        m("gapMean", "gap mean", "ms");
        m("ttftP50", "TTFT p50", "ms");
        m("ttftP99", "TTFT p99", "ms");
        m("duration", `duration vs ideal ${IDEAL} ms`, "%");
        m("perWrite", "tokens/socket write (B: server count, D: per client read)", "tokens");
        m("perRead", "tokens per client read", "tokens");
        m("client", "client CPU", "cores");
        m("cpu", "server CPU", "cores");
        for (let run = 0; run < ctx.runs; run++) {
          for (const side of sides(run)) {
            const add = (id: string, v: number | null | undefined) => rec.add(`${id}@${n}`, side, v);
            const p = ports[side];
            if (!p) {
              for (const id of ["gapP50", "gapP99", "gapMean", "ttftP50", "ttftP99", "duration", "perWrite", "perRead"])
                add(id, null);
              add("client", null);
              add("cpu", null);
              continue;
            }
            const before = side === "baseline" ? await stats(basePort) : undefined;
            const { value: r, cores } = await withCpu(p.pid, () =>
              runClient<TimingResult>(
                benchScript("clients/sse-client"),
                [
                  "--mode=timing",
                  `--port=${p.port}`,
                  `--body-file=${bodyFile}`,
                  `--connections=${n}`,
                  `--duration=${seconds}`,
                  "--warmup=1",
                  `--stagger=${IDEAL}`,
                  `--prefix=${sample.prefix.length}`,
                  `--tokens=${TOKENS}`,
                ],
                (seconds + 120) * 1000,
              ),
            );
            if (r.error) throw new Error(`${side} @${n}: sse client: ${r.error}`);
            if (r.errors || r.unfinished)
              rec.note(`${side} @${n} run ${run + 1}: ${r.errors} errors, ${r.unfinished} unfinished streams`);
            const after = side === "baseline" ? await stats(basePort) : undefined;
            add("gapP50", r.gapP50);
            add("gapP99", r.gapP99);
            add("gapMean", r.gapMean);
            add("ttftP50", r.ttftP50);
            add("ttftP99", r.ttftP99);
            add("duration", (r.durationMean / IDEAL - 1) * 100);
            add(
              "perWrite",
              before && after
                ? (after.tokens - before.tokens) / Math.max(1, after.writes - before.writes)
                : r.tokensPerRead,
            );
            add("perRead", r.tokensPerRead);
            add("client", r.clientCpu);
            add("cpu", cores);
            if (r.clientCpu > 0.9)
              rec.note(
                `${n} streams (${side}): the client used ${r.clientCpu.toFixed(2)} cores (loop delay p99 ${r.clientLoopDelayP99Ms.toFixed(1)} ms): ` +
                  "it is saturated, so gaps include client lag",
              );
            ctx.log(
              `timing ${side} @${n} run ${run + 1}: gap p50 ${r.gapP50.toFixed(2)} p99 ${r.gapP99.toFixed(2)} mean ${r.gapMean.toFixed(3)} ms, ` +
                `ttft p99 ${r.ttftP99.toFixed(1)} ms, ${r.streams} streams, client ${r.clientCpu.toFixed(2)} cores, server ${cores.toFixed(2)}`,
            );
            // Counts run in increasing order; the first one over 2 × ITL ends the streak.
            const ok = (maxOk[side] as { max: number; broken: boolean }[])[run] ?? { max: 0, broken: false };
            (maxOk[side] as { max: number; broken: boolean }[])[run] = ok;
            if (!ok.broken) {
              if (r.gapP99 <= 2 * ITL) ok.max = n;
              else ok.broken = true;
            }
          }
        }
      }
      rec.metric({ id: "maxStreams", label: `largest stream count with gap p99 ≤ ${2 * ITL} ms`, unit: "streams" });
      for (let run = 0; run < ctx.runs; run++) {
        rec.add("maxStreams", "decoy", ports.decoy ? (maxOk.decoy?.[run]?.max ?? 0) : null);
        rec.add("maxStreams", "baseline", maxOk.baseline?.[run]?.max ?? 0);
      }
      return { decoySkipped };
    } finally {
      await Promise.all([started.stop(), base?.stop()]);
    }
  },
};

async function stats(port: number): Promise<{ writes: number; tokens: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as { writes: number; tokens: number };
}
