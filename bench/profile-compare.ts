/**
 * Where one profile spends more than another, per unit of work:
 *   node dist/bench/profile-compare.js DECOY.cpuprofile REQUESTS BASE.cpuprofile REQUESTS [--top 30] [--by file|function]
 * Each side's self time is divided by the requests (or tokens) it served, so a Decoy profile
 * and its baseline's, taken under the same load, line up frame by frame: the first rows are
 * what Decoy does that the baseline does not, in µs per unit.
 */
import { parseArgs } from "node:util";
import { type Grouping, summarize } from "./lib/cpuprofile.js";
import { ROOT } from "./lib/paths.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "30" }, by: { type: "string", default: "file" } },
});
const [fileA, unitsA, fileB, unitsB] = positionals;
const nA = Number(unitsA);
const nB = Number(unitsB);
if (!fileA || !fileB || !(nA > 0) || !(nB > 0)) {
  process.stderr.write(
    "usage: node dist/bench/profile-compare.js A.cpuprofile UNITS_A B.cpuprofile UNITS_B [--top N] [--by file|function]\n",
  );
  process.exit(2);
}
const by: Grouping = values.by === "function" ? "function" : "file";
const label = (f: { name: string; where: string }) => (by === "file" ? f.name : `${f.name}  ${f.where}`);
const a = summarize(fileA, by, ROOT);
const b = summarize(fileB, by, ROOT);
const rows = new Map<string, { a: number; b: number }>();
for (const f of a.frames) rows.set(label(f), { a: (f.selfMs * 1000) / nA, b: 0 });
for (const f of b.frames) {
  const r = rows.get(label(f)) ?? { a: 0, b: 0 };
  r.b = (f.selfMs * 1000) / nB;
  rows.set(label(f), r);
}
const busy = (s: typeof a, n: number) => (((s.totalMs - s.idleMs) * 1000) / n).toFixed(2);
const out = [
  `busy µs per unit: A ${busy(a, nA)}, B ${busy(b, nB)} (A: ${fileA}, ${nA} units; B: ${fileB}, ${nB} units)`,
  "   A − B        A        B  (µs per unit)",
];
const sorted = [...rows].sort((x, y) => y[1].a - y[1].b - (x[1].a - x[1].b));
for (const [name, r] of sorted.slice(0, Number(values.top))) {
  out.push(
    `${(r.a - r.b).toFixed(3).padStart(8)} ${r.a.toFixed(3).padStart(8)} ${r.b.toFixed(3).padStart(8)}  ${name}`,
  );
}
process.stdout.write(`${out.join("\n")}\n`);
