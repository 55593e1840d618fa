/**
 * `npm run docs`: writes README.md's generated tables: the settings table (from the settings
 * schema, so every flag is documented with its default) and the endpoints table (from the
 * OpenAPI documents, so every route is listed). `--check` fails when either is stale.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { envName, kebab, type SettingSpec } from "../src/config/define.js";
import { settingEntries } from "../src/config/schema.js";
import { loadSpecDocuments, operationsOf } from "../src/http/spec.js";
import { PROJECT_ROOT } from "../src/version.js";

function fmt(v: unknown): string {
  if (v === null) return "unset";
  if (typeof v === "string") return v === "" ? '`""`' : `\`${v}\``;
  return `\`${JSON.stringify(v)}\``;
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function settingsTable(): string {
  const groups = new Map<string, [string, SettingSpec][]>();
  for (const [key, spec] of settingEntries()) {
    const list = groups.get(spec.group) ?? [];
    list.push([key, spec]);
    groups.set(spec.group, list);
  }
  const out: string[] = [];
  for (const [group, list] of groups) {
    out.push(`### ${group}`, "", "| flag | default | env | runtime | description |", "|---|---|---|---|---|");
    for (const [key, spec] of list) {
      const flags = [`--${kebab(key)}`, ...(spec.aliases ?? []).map((a) => `--${a}`)];
      if (spec.short) flags.unshift(`-${spec.short}`);
      const env = [envName(key), ...(spec.env ?? [])].map((e) => `\`${e}\``).join(", ");
      const rules: string[] = [];
      if (spec.enum) rules.push(`one of ${spec.enum.join(", ")}`);
      if (spec.minimum !== undefined) rules.push(`≥ ${spec.minimum}`);
      if (spec.exclusiveMinimum !== undefined) rules.push(`> ${spec.exclusiveMinimum}`);
      if (spec.maximum !== undefined) rules.push(`≤ ${spec.maximum}`);
      const desc = cell(spec.description + (rules.length ? ` (${rules.join("; ")})` : ""));
      out.push(
        `| ${flags.map((f) => `\`${f}\``).join(" ")} | ${cell(fmt(spec.default))} | ${env} | ${spec.runtime ? "yes" : ""} | ${desc} |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

export function endpointsTable(): string {
  const out = ["| method | path | operation | what |", "|---|---|---|---|"];
  for (const spec of loadSpecDocuments()) {
    const paths = (spec.doc.paths ?? {}) as Record<string, Record<string, { summary?: string }>>;
    for (const op of operationsOf(spec)) {
      const summary = paths[op.path]?.[op.method.toLowerCase()]?.summary ?? "";
      out.push(
        `| ${op.method} | \`${op.path}\` | \`${op.operationId}\` | ${cell(summary)} (openapi/${spec.name}.yaml) |`,
      );
    }
  }
  return `${out.join("\n")}\n`;
}

function replaceBlock(text: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    console.error(`README.md lacks the ${name} markers`);
    process.exit(1);
  }
  return `${text.slice(0, a + start.length)}\n\n${body}\n${text.slice(b)}`;
}

const readmePath = join(PROJECT_ROOT, "README.md");
const readme = readFileSync(readmePath, "utf8");
const next = replaceBlock(replaceBlock(readme, "settings-table", settingsTable()), "endpoints-table", endpointsTable());
if (process.argv.includes("--check")) {
  if (next !== readme) {
    console.error("README.md's generated tables are stale: run npm run docs");
    process.exitCode = 1;
  } else console.log("README tables are current");
} else {
  writeFileSync(readmePath, next);
  console.log("README tables written");
}
