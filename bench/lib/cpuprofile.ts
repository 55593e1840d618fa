/** Top self-time frames of a V8 .cpuprofile (what `node --cpu-prof` writes). */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Frame {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  frames: Frame[];
}

/** Shorten file:///…/node_modules/pkg/x.js to pkg/x.js and repo paths to repo-relative ones. */
function shortUrl(url: string, root?: string): string {
  let u = url.replace(/^file:\/\//, "");
  const nm = u.lastIndexOf("/node_modules/");
  if (nm >= 0) return u.slice(nm + "/node_modules/".length);
  if (root && u.startsWith(root)) u = u.slice(root.length + 1);
  return u || "(native)";
}

export type Grouping = "function" | "file" | "inclusive";

/**
 * Self time per function (or per file); `inclusive` gives each function the time of every
 * sample with it anywhere on the stack (counted once per sample even when recursive).
 */
export function summarize(file: string, by: Grouping = "function", root?: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  if (samples.length) {
    // timeDeltas[i] is the time before sample i; the time after it belongs to sample i.
    for (let i = 0; i < samples.length; i++) {
      const dt = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000;
      self.set(samples[i] as number, (self.get(samples[i] as number) ?? 0) + dt);
    }
  } else {
    const total = (p.endTime - p.startTime) / 1000;
    const hits = p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0) || 1;
    for (const n of p.nodes) self.set(n.id, ((n.hitCount ?? 0) / hits) * total);
  }
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const perFile = by === "file";
  const keyOf = (n: ProfileNode): { key: string; name: string; where: string } => {
    const name = n.callFrame.functionName || "(anonymous)";
    const where = n.callFrame.url
      ? `${shortUrl(n.callFrame.url, root)}${perFile ? "" : `:${n.callFrame.lineNumber + 1}`}`
      : "";
    return perFile ? { key: where || name, name: where || name, where } : { key: `${name} ${where}`, name, where };
  };
  const agg = new Map<string, Frame>();
  const credit = (n: ProfileNode, ms: number) => {
    const k = keyOf(n);
    const f = agg.get(k.key) ?? { name: k.name, where: k.where, selfMs: 0, share: 0 };
    f.selfMs += ms;
    agg.set(k.key, f);
  };
  let totalMs = 0;
  let idleMs = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    totalMs += ms;
    if (n.callFrame.functionName === "(idle)") {
      idleMs += ms;
      continue;
    }
    if (by !== "inclusive") {
      credit(n, ms);
      continue;
    }
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node || node.callFrame.functionName === "(root)") continue;
      const k = keyOf(node).key;
      if (seen.has(k)) continue;
      seen.add(k);
      credit(node, ms);
    }
  }
  const busy = totalMs - idleMs || 1;
  const frames = [...agg.values()].sort((a, b) => b.selfMs - a.selfMs);
  for (const f of frames) f.share = f.selfMs / busy;
  return { totalMs, idleMs, frames };
}

export function formatTop(s: ProfileSummary, top: number, by: Grouping = "function"): string {
  const busy = s.totalMs - s.idleMs;
  const lines = [
    `profile ${(s.totalMs / 1000).toFixed(1)} s, busy ${(busy / 1000).toFixed(1)} s (${((busy / (s.totalMs || 1)) * 100).toFixed(0)} %); ` +
      `top ${by === "inclusive" ? "inclusive (total)" : "self"} time${by === "file" ? " by file" : ""}:`,
  ];
  for (const f of s.frames.slice(0, top)) {
    const label = by === "file" ? f.name : `${f.name}  ${f.where}`;
    lines.push(`${(f.share * 100).toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(0).padStart(7)} ms  ${label}`);
  }
  return lines.join("\n");
}
