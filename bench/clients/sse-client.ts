/**
 * SSE load client, run as its own process pinned to core 1 by the runner.
 *   load:   C connections, back-to-back streams for D seconds; token chunks/s.
 *   timing: N connections, back-to-back streams; client-observed TTFT, inter-token gaps,
 *           stream duration and tokens per read.
 *   idle:   N streams opened and held after their first token; prints `opened` and waits
 *           for a line on stdin (or --hold seconds) before closing.
 * Every connection is open before the first request is written; `--stagger MS` spreads the first
 * requests over MS so streams reach a steady state instead of starting in one wave. The last
 * stdout line is JSON.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { buildPost, openAll, SseConnection } from "../lib/sse-conn.js";
import { mean, percentileSorted, sortedCopy } from "../lib/stats.js";

const { values: a } = parseArgs({
  options: {
    mode: { type: "string", default: "load" },
    port: { type: "string" },
    path: { type: "string", default: "/v1/chat/completions" },
    body: { type: "string" },
    "body-file": { type: "string" },
    connections: { type: "string", default: "50" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "1" },
    prefix: { type: "string", default: "0" },
    tokens: { type: "string", default: "100" },
    hold: { type: "string", default: "120" },
    stagger: { type: "string", default: "0" },
  },
});

const port = Number(a.port);
const body = a.body ?? readFileSync(String(a["body-file"]), "utf8");
const conns = Number(a.connections);
const durationMs = Number(a.duration) * 1000;
const warmupMs = Number(a.warmup) * 1000;
/** Events before the first token (role chunk) and the number of token events per stream. */
const prefix = Number(a.prefix);
const tokens = Number(a.tokens);
const request = buildPost(port, a.path as string, body);
/** Milliseconds over which the first requests are spread (0: all at once). */
const staggerMs = Number(a.stagger);

function out(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

interface Stream {
  sentAt: number;
  events: number;
  firstTokenAt: number;
  lastTokenAt: number;
}

async function main(): Promise<void> {
  const mode = a.mode;
  const errors: string[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  let measuring = false;
  let stopping = false;
  let t0 = 0;
  let tEnd = Number.POSITIVE_INFINITY;
  let tokenEvents = 0;
  let tokenReads = 0;
  let streamsDone = 0;
  let opened = 0;
  const cap = Math.min(8_000_000, Math.max(1000, conns * tokens * Math.ceil(durationMs / 400 + 2)));
  const gaps = mode === "timing" ? new Float64Array(cap) : new Float64Array(0);
  let nGaps = 0;
  const ttfts: number[] = [];
  const durations: number[] = [];
  const state: Stream[] = [];
  let idleResolve: (() => void) | undefined;

  const onEvents = (s: Stream, n: number, now: number) => {
    const before = s.events;
    s.events += n;
    // Token events are those with index in [prefix, prefix + tokens).
    const first = Math.max(before, prefix);
    const last = Math.min(s.events, prefix + tokens);
    const k = last - first;
    if (k <= 0) return;
    if (mode === "idle") {
      if (s.firstTokenAt === 0) {
        s.firstTokenAt = now;
        opened++;
        if (opened === conns) idleResolve?.();
      }
      return;
    }
    const inWindow = measuring && now <= tEnd;
    if (inWindow) {
      tokenEvents += k;
      tokenReads++;
    }
    // Timing: only streams that started inside the measured window count.
    const record = mode === "timing" && s.sentAt >= t0 && s.sentAt <= tEnd;
    if (s.firstTokenAt === 0) {
      s.firstTokenAt = now;
      if (record) ttfts.push(now - s.sentAt);
    } else if (record && nGaps < cap) gaps[nGaps++] = now - s.lastTokenAt;
    // Tokens after the first in the same read arrived with no gap at all.
    if (record) for (let j = 1; j < k && nGaps < cap; j++) gaps[nGaps++] = 0;
    s.lastTokenAt = now;
  };

  const connections = await openAll(conns, (i) => {
    const s: Stream = { sentAt: 0, events: 0, firstTokenAt: 0, lastTokenAt: 0 };
    state[i] = s;
    const c: SseConnection = new SseConnection(port, request, {
      onEvents: (n, now) => onEvents(s, n, now),
      onEnd: (now) => {
        if (mode === "timing" && s.sentAt >= t0 && s.sentAt <= tEnd && s.events >= prefix + tokens)
          durations.push(s.lastTokenAt - s.sentAt);
        if (measuring && now <= tEnd) streamsDone++;
        if (!stopping && now < tEnd) next(c, s);
      },
      onError: (err) => {
        if (errors.length < 5) errors.push(err.message);
        else errors.push("");
        if (!stopping && !c.closed && performance.now() < tEnd) next(c, s);
      },
    });
    return c;
  });
  process.stderr.write(`sse-client: ${connections.length} connections open\n`);

  function next(c: SseConnection, s: Stream): void {
    s.sentAt = performance.now();
    s.events = 0;
    s.firstTokenAt = 0;
    s.lastTokenAt = 0;
    c.send();
  }

  if (mode === "idle") {
    const openedAll = new Promise<void>((r) => {
      idleResolve = r;
    });
    const startedAt = performance.now();
    for (const [i, c] of connections.entries()) next(c, state[i] as Stream);
    const timeout = new Promise<void>((r) => setTimeout(r, 60_000).unref());
    await Promise.race([openedAll, timeout]);
    process.stdout.write(
      `opened ${opened} ${JSON.stringify({ opened, wanted: conns, ms: performance.now() - startedAt, errors: errors.filter(Boolean) })}\n`,
    );
    await new Promise<void>((r) => {
      const t = setTimeout(r, Number(a.hold) * 1000);
      process.stdin.on("data", () => {
        clearTimeout(t);
        r();
      });
      process.stdin.on("end", () => {
        clearTimeout(t);
        r();
      });
    });
    stopping = true;
    for (const c of connections) c.close();
    out({ opened, errors: errors.filter(Boolean).slice(0, 5) });
    return;
  }

  const start = performance.now();
  tEnd = start + warmupMs + durationMs;
  t0 = start + warmupMs;
  if (staggerMs > 0) {
    // Spread first requests over one stream lifetime so the streams do not run in lockstep waves.
    for (const [i, c] of connections.entries())
      setTimeout(() => next(c, state[i] as Stream), (i / connections.length) * staggerMs);
  } else for (const [i, c] of connections.entries()) next(c, state[i] as Stream);
  // Warm-up, then the measured window.
  await new Promise((r) => setTimeout(r, warmupMs));
  measuring = true;
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, Math.max(0, tEnd - performance.now())));
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - w0;
  loopDelay.disable();
  stopping = true;
  // Let in-flight timing streams finish (bounded) so their durations count.
  if (mode === "timing") {
    const limit = performance.now() + 5_000 + tokens * 50;
    while (connections.some((c) => c.busy) && performance.now() < limit) await new Promise((r) => setTimeout(r, 20));
  }
  const unfinished = connections.filter((c) => c.busy).length;
  for (const c of connections) c.close();

  const secs = durationMs / 1000;
  const result: Record<string, unknown> = {
    mode,
    connections: conns,
    seconds: secs,
    tokenEvents,
    chunksPerSec: tokenEvents / secs,
    streamsPerSec: streamsDone / secs,
    tokensPerRead: tokenReads ? tokenEvents / tokenReads : null,
    clientCpu: (cpu.user + cpu.system) / 1000 / wall,
    clientLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    unfinished,
    errors: errors.length,
    errorSamples: errors.filter(Boolean).slice(0, 5),
  };
  if (mode === "timing") {
    const g = sortedCopy(gaps.subarray(0, nGaps));
    const t = sortedCopy(ttfts);
    result.streams = durations.length;
    result.gaps = nGaps;
    result.gapP50 = percentileSorted(g, 50);
    result.gapP99 = percentileSorted(g, 99);
    result.gapMean = mean(g);
    result.gapMax = g.length ? g[g.length - 1] : null;
    result.gapPercentiles = Object.fromEntries([1, 5, 10, 25, 75, 90, 95].map((q) => [q, percentileSorted(g, q)]));
    result.ttftP50 = percentileSorted(t, 50);
    result.ttftP99 = percentileSorted(t, 99);
    result.durationMean = mean(durations);
    result.durationP50 = percentileSorted(sortedCopy(durations), 50);
    result.durationP99 = percentileSorted(sortedCopy(durations), 99);
  }
  out(result);
}

const hardLimit = setTimeout(
  () => {
    process.stderr.write("sse-client: hard time limit reached\n");
    process.exit(3);
  },
  Number(a.duration) * 1000 + Number(a.warmup) * 1000 + 240_000,
);
hardLimit.unref();

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`sse-client: ${(err as Error).stack ?? String(err)}\n`);
    out({ error: (err as Error).message });
    process.exit(1);
  },
);
