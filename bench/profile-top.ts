/**
 * Print the top self-time frames of one or more .cpuprofile files:
 *   node dist/bench/profile-top.js bench/results/prof/decoy-chat-*.cpuprofile [--top 25] [--by function|file|inclusive]
 */
import { parseArgs } from "node:util";
import { formatTop, type Grouping, summarize } from "./lib/cpuprofile.js";
import { ROOT } from "./lib/paths.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "20" }, by: { type: "string", default: "function" } },
});
if (!positionals.length) {
  process.stderr.write(
    "usage: node dist/bench/profile-top.js FILE.cpuprofile... [--top N] [--by function|file|inclusive]\n",
  );
  process.exit(2);
}
const by: Grouping = values.by === "file" || values.by === "inclusive" ? values.by : "function";
for (const file of positionals) {
  process.stdout.write(`\n== ${file}\n${formatTop(summarize(file, by, ROOT), Number(values.top), by)}\n`);
}
