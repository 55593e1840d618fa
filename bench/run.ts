/**
 * `npm run bench`: every scenario measures Decoy and a bare-Node baseline doing the same wire
 * work in the same run, and reports medians, ranges and the Decoy/baseline ratio against the
 * targets in README (Performance).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { formatTop, summarize } from "./lib/cpuprofile.js";
import { DECOY_MAIN, RESULTS_DIR, ROOT } from "./lib/paths.js";
import { canPin, disablePinning, killAllStarted } from "./lib/proc.js";
import {
  compareTable,
  markdownTable,
  Recorder,
  type ResultsFile,
  type ScenarioResult,
  textTable,
} from "./lib/report.js";
import { type BenchContext, profileBaselines, type Scenario } from "./lib/scenario.js";
import { chat } from "./scenarios/chat.js";
import { grpc } from "./scenarios/grpc.js";
import { memory } from "./scenarios/memory.js";
import { sse } from "./scenarios/sse.js";
import { startup } from "./scenarios/startup.js";
import { timing } from "./scenarios/timing.js";

const SCENARIOS: Scenario[] = [chat, sse, timing, grpc, memory, startup];

const USAGE = `usage: npm run bench -- [options]
  --runs N          measured runs per scenario (default 3; 1 with --quick)
  --duration S      seconds per measurement (default 10; 3 with --quick; timing and gRPC use at most 5)
  --only a,b        scenarios to run: ${SCENARIOS.map((s) => s.name).join(", ")}
  --quick           short smoke run (under ~3 minutes)
  --compare FILE    compare with an earlier results JSON
  --cpu-prof        run Decoy and the baselines under node --cpu-prof (bench/results/prof) and print top frames
  --model NAME      chat model (default: first of GET /v1/models)
  --text-model NAME gRPC text model (default: the chat model)
  --no-pin          do not pin with taskset
  --out FILE        results JSON path (default bench/results/bench-<time>.json)
  --list            list scenarios`;

const { values: a } = parseArgs({
  options: {
    runs: { type: "string" },
    duration: { type: "string" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    compare: { type: "string" },
    "cpu-prof": { type: "boolean", default: false },
    model: { type: "string" },
    "text-model": { type: "string" },
    "no-pin": { type: "boolean", default: false },
    out: { type: "string" },
    list: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (a.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (a.list) {
  for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(8)} ${s.title}  vs ${s.baselineName}\n`);
  process.exit(0);
}

const quick = a.quick ?? false;
const runs = Number(a.runs ?? (quick ? 1 : 3));
const durationS = Number(a.duration ?? (quick ? 3 : 10));
if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error("--runs must be an integer 1..20");
if (!(durationS > 0 && durationS <= 120)) throw new Error("--duration must be in (0, 120] seconds");
const only = a.only ? a.only.split(",").map((s) => s.trim()) : undefined;
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(", ")}; try --list`);
const selected = SCENARIOS.filter((s) => !only || only.includes(s.name));
if (a["no-pin"]) disablePinning();
if (!existsSync(DECOY_MAIN)) throw new Error(`${DECOY_MAIN} missing: run npm run build`);

const startedAt = new Date();
const log = (msg: string) => process.stderr.write(`  · ${msg}\n`);
const ctx: BenchContext = {
  runs,
  durationS,
  quick,
  cpuProf: a["cpu-prof"] ?? false,
  model: a.model,
  textModel: a["text-model"] ?? a.model,
  log,
};

// Baselines are profiled too, so each Decoy profile has its bare counterpart (profile-compare.ts).
if (ctx.cpuProf) profileBaselines(join(RESULTS_DIR, "prof"));

process.on("SIGINT", () => {
  killAllStarted();
  process.exit(130);
});
process.on("exit", killAllStarted);

const pinned = canPin() && !a["no-pin"];
process.stderr.write(
  `decoy bench: ${selected.map((s) => s.name).join(", ")}; ${runs} run(s) × ${durationS} s; ` +
    `${pinned ? "server on core 0, load tool on core 1 (taskset)" : "no CPU pinning"}; node ${process.version}\n`,
);

const results: ScenarioResult[] = [];
for (const s of selected) {
  process.stderr.write(`\n▶ ${s.name}: ${s.title} (vs ${s.baselineName})\n`);
  const rec = new Recorder();
  const t0 = performance.now();
  const load0 = loadavg()[0] ?? 0;
  const r: ScenarioResult = {
    name: s.name,
    title: s.title,
    baselineName: s.baselineName,
    metrics: [],
    notes: [],
    seconds: 0,
  };
  try {
    const out = await s.run(ctx, rec);
    if (out.decoySkipped) r.decoySkipped = out.decoySkipped;
  } catch (err) {
    r.error = (err as Error).message;
    process.stderr.write(`  ✗ ${s.name} failed: ${r.error}\n`);
  }
  killAllStarted();
  // Other work on a shared machine shows up here; the ratios are the figures to trust.
  rec.note(
    `1-min load average ${load0.toFixed(1)} at start, ${(loadavg()[0] ?? 0).toFixed(1)} at end (${cpus().length} CPUs)`,
  );
  r.metrics = rec.metrics;
  r.notes = rec.notes;
  r.seconds = (performance.now() - t0) / 1000;
  if (r.decoySkipped) process.stderr.write(`  ! Decoy side not run: ${r.decoySkipped}\n`);
  process.stderr.write(`  (${r.seconds.toFixed(0)} s)\n`);
  results.push(r);
}

const file: ResultsFile = {
  version: 1,
  startedAt: startedAt.toISOString(),
  node: process.version,
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`,
  pinned,
  options: { runs, durationS, quick, only: only ?? "all", cpuProf: ctx.cpuProf },
  scenarios: results,
};
mkdirSync(RESULTS_DIR, { recursive: true });
const outFile = a.out ?? join(RESULTS_DIR, `bench-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(outFile, `${JSON.stringify(file, null, 2)}\n`);
copyFileSync(outFile, join(RESULTS_DIR, "latest.json"));
const md = [
  `Decoy bench ${file.startedAt}, node ${file.node}, ${file.cpus}, ${pinned ? "pinned (server core 0, load core 1)" : "not pinned"}, ` +
    `${runs} run(s) × ${durationS} s. Cells: median [min–max] over runs; ratio = Decoy / baseline per run.`,
  "",
  markdownTable(results),
  "",
  ...results.flatMap((r) => [
    `- **${r.name}**: ${r.title}; baseline: ${r.baselineName}.${r.decoySkipped ? ` Decoy side not run: ${r.decoySkipped}.` : ""}`,
    ...r.notes.map((n) => `  - ${n}`),
  ]),
].join("\n");
writeFileSync(join(RESULTS_DIR, "latest.md"), `${md}\n`);

process.stdout.write(`\n${textTable(results)}\n\n`);
for (const r of results) {
  if (r.decoySkipped) process.stdout.write(`${r.name}: Decoy side not run: ${r.decoySkipped}\n`);
  for (const n of r.notes) process.stdout.write(`${r.name}: ${n}\n`);
}
process.stdout.write(`\nresults: ${outFile} (also latest.json, latest.md)\n`);

if (a.compare) {
  const old = JSON.parse(readFileSync(a.compare, "utf8")) as ResultsFile;
  process.stdout.write(`\n${compareTable(old, results)}\n`);
}

if (ctx.cpuProf) {
  const dir = join(RESULTS_DIR, "prof");
  const fresh = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => join(dir, f))
        .filter((f) => statSync(f).mtimeMs >= startedAt.getTime())
    : [];
  for (const f of fresh.sort()) {
    try {
      process.stdout.write(`\n== ${f}\n${formatTop(summarize(f, "function", ROOT), 15)}\n`);
    } catch (err) {
      process.stdout.write(`\n== ${f}: ${(err as Error).message}\n`);
    }
  }
}
process.exit(results.some((r) => r.error) ? 1 : 0);
