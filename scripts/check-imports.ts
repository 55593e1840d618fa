/**
 * `npm run check:imports`: the engine stays transport-neutral. Files under src/engine may not
 * import gen/, src/http, src/grpc, fastify or grpc-js, so both transports can share it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const root = resolve(process.argv[2] ?? process.cwd());
const engineDir = join(root, "src", "engine");
const FORBIDDEN = [
  /^fastify/,
  /^@fastify\//,
  /^@grpc\//,
  /(^|\/)gen\//,
  /\/http\//,
  /\/grpc\//,
  /^\.\.\/(\.\.\/)*(http|grpc)\//,
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const problems: string[] = [];
for (const file of files(engineDir)) {
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
    const spec = (m[1] ?? m[2]) as string;
    if (FORBIDDEN.some((re) => re.test(spec))) problems.push(`${relative(root, file)} imports "${spec}"`);
  }
}
if (problems.length) {
  console.error(`src/engine must not depend on transports or generated code:\n  ${problems.join("\n  ")}`);
  process.exitCode = 1;
} else {
  console.log("engine import rule holds");
}
