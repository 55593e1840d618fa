/**
 * `npm run docs`: writes the settings table in README.md (between the settings-table markers)
 * from the settings schema, so every flag is documented with its default. `--check` fails
 * when README's table is stale.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { envName, kebab, type SettingSpec } from "../src/config/define.js";
import { settingEntries } from "../src/config/schema.js";
import { PROJECT_ROOT } from "../src/version.js";

const START = "<!-- settings-table:start -->";
const END = "<!-- settings-table:end -->";

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

const readmePath = join(PROJECT_ROOT, "README.md");
const readme = readFileSync(readmePath, "utf8");
const a = readme.indexOf(START);
const b = readme.indexOf(END);
if (a < 0 || b < a) {
  console.error("README.md lacks the settings-table markers");
  process.exit(1);
}
const next = `${readme.slice(0, a + START.length)}\n\n${settingsTable()}\n${readme.slice(b)}`;
if (process.argv.includes("--check")) {
  if (next !== readme) {
    console.error("README.md settings table is stale: run npm run docs");
    process.exitCode = 1;
  } else console.log("README settings table is current");
} else {
  writeFileSync(readmePath, next);
  console.log("README settings table written");
}
