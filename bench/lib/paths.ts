import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** `dist/bench` when compiled, `bench` when run through tsx. */
export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function findRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the repository root above ${start}`);
}

export const ROOT = findRoot(BENCH_DIR);
export const RESULTS_DIR = join(ROOT, "bench", "results");
export const DECOY_MAIN = join(ROOT, "dist", "src", "cli", "main.js");

/** Compiled script of a baseline or client, e.g. `benchScript("baselines/sse-http")`. */
export function benchScript(name: string): string {
  const js = join(BENCH_DIR, `${name}.js`);
  if (existsSync(js)) return js;
  throw new Error(`${js} is missing: run \`npm run build\` first (npm run bench does it)`);
}
