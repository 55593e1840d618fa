/**
 * Startup: spawn to the ready line (Decoy's `listening:` line, the bare server's `ready`),
 * both pinned to core 0, alternating, several spawns per run. Target: Decoy ≤ 2 × bare fastify.
 */
import { startDecoy } from "../lib/decoy.js";
import type { Recorder } from "../lib/report.js";
import type { BenchContext, Scenario, ScenarioOutcome } from "../lib/scenario.js";
import { sides, startBaseline } from "../lib/scenario.js";
import { median } from "../lib/stats.js";

export const startup: Scenario = {
  name: "startup",
  title: "startup: spawn to ready",
  baselineName: "bare fastify (one route)",
  async run(ctx: BenchContext, rec: Recorder): Promise<ScenarioOutcome> {
    const spawns = ctx.quick ? 3 : 5;
    rec.metric({
      id: "ready",
      label: `spawn to ready (median of ${spawns})`,
      unit: "ms",
      target: { kind: "ratio-max", value: 2 },
    });
    for (let run = 0; run < ctx.runs; run++) {
      const times: Record<string, number[]> = { decoy: [], baseline: [] };
      for (let i = 0; i < spawns; i++) {
        for (const side of sides(run + i)) {
          const p =
            side === "decoy"
              ? await startDecoy({ timeoutMs: 60_000 })
              : await startBaseline("baselines/fastify-chat", []);
          times[side]?.push(p.readyMs);
          await p.stop();
        }
      }
      const d = median(times.decoy ?? []);
      const b = median(times.baseline ?? []);
      ctx.log(`startup run ${run + 1}: Decoy ${d.toFixed(0)} ms, bare fastify ${b.toFixed(0)} ms`);
      rec.add("ready", "decoy", d);
      rec.add("ready", "baseline", b);
    }
    return {};
  },
};
