import { Command, InvalidArgumentError, Option } from "commander";
import { envName, kebab, type SettingSpec } from "../config/define.js";
import { ConfigError, parseRaw } from "../config/load.js";
import { settingEntries } from "../config/schema.js";

function formatDefault(v: unknown): string {
  if (v === null) return "unset";
  if (typeof v === "string") return v === "" ? '""' : v;
  return JSON.stringify(v);
}

/** Attach one commander option per setting (plus hidden aliases) to `cmd`. */
export function addSettingOptions(cmd: Command): void {
  const groups = new Map<string, [string, SettingSpec][]>();
  for (const [key, spec] of settingEntries()) {
    const list = groups.get(spec.group) ?? [];
    list.push([key, spec]);
    groups.set(spec.group, list);
  }
  for (const [group, list] of groups) {
    for (const [key, spec] of list) {
      const names = [kebab(key), ...(spec.aliases ?? [])];
      names.forEach((name, i) => {
        const value =
          spec.type === "boolean" ? "" : ` <${spec.placeholder ?? (spec.type === "string[]" ? "items..." : "value")}>`;
        const flags = `${i === 0 && spec.short ? `-${spec.short}, ` : ""}--${name}${value}`;
        const extra = [
          `default: ${formatDefault(spec.default)}`,
          `env ${[envName(key), ...(spec.env ?? [])].join(", ")}`,
          ...(spec.runtime ? ["runtime"] : []),
          ...(i === 0 && spec.aliases?.length ? [`alias --${spec.aliases.join(", --")}`] : []),
        ];
        const opt = new Option(flags, `${spec.description} (${extra.join("; ")})`);
        opt.attributeName = () => (i === 0 ? key : `alias:${key}:${name}`);
        if (spec.type === "string[]") {
          opt.argParser((raw: string, prev: unknown) => {
            const parsed = parse(key, spec, raw, name) as string[];
            return Array.isArray(prev) ? [...(prev as string[]), ...parsed] : parsed;
          });
        } else if (spec.type !== "boolean") {
          opt.argParser((raw: string) => parse(key, spec, raw, name));
        }
        if (i > 0 || spec.hidden) opt.hideHelp();
        opt.helpGroup(`${group}:`);
        cmd.addOption(opt);
        if (spec.type === "boolean") {
          const neg = new Option(`--no-${name}`).hideHelp();
          neg.attributeName = () => (i === 0 ? key : `alias:${key}:${name}`);
          cmd.addOption(neg);
        }
      });
    }
  }
}

function parse(key: string, spec: SettingSpec, raw: string, flag: string): unknown {
  try {
    return parseRaw(key, spec, raw, `--${flag}`);
  } catch (err) {
    if (err instanceof ConfigError) throw new InvalidArgumentError(err.message.replace(/^invalid configuration: /, ""));
    throw err;
  }
}

/** Collapse alias attributes onto their setting keys; explicit main flags win. */
export function flagValues(opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined || !k.startsWith("alias:")) continue;
    out[k.split(":")[1] as string] = v;
  }
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined || k.startsWith("alias:") || k === "config") continue;
    out[k] = v;
  }
  return out;
}

export { Command };
