import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { envName, kebab, type SettingSpec } from "./define.js";
import { type Config, configSchema, defaults, SETTINGS, type SettingKey, settingEntries } from "./schema.js";
import { type Check, compileSchema, type SchemaError } from "./validate.js";

/** Where a value came from, so that error messages point at the right place. */
export type Source = "default" | "file" | "env" | "flag" | "configure";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Cross-field rules that JSON Schema cannot express; each returns a message or undefined. */
export type ConfigRule = (cfg: Config) => string | undefined;
const rules: ConfigRule[] = [];

/** Areas register their cross-field checks here at module load. */
export function addConfigRule(rule: ConfigRule): void {
  rules.push(rule);
}

// Built once per process from the settings table (see validate.ts for why not ajv).
let fullCheck: Check | undefined;
let patchCheck: Check | undefined;

function describe(err: SchemaError, origin: (key: string) => string): string {
  const extra = err.params.additionalProperty as string | undefined;
  if (err.keyword === "additionalProperties" && err.instancePath === "" && extra !== undefined) {
    return `unknown setting "${extra}"${origin(extra)}`;
  }
  const [, key = "", ...rest] = err.instancePath.split("/");
  const where = key ? `${kebab(key)}${origin(key)}` : "config";
  // Inside a JSON setting, say where: `reasoning-effort-tokens (from flag): /low must be >= 0`.
  const inner = rest.length ? `/${rest.join("/")} ` : "";
  const detail = extra !== undefined ? ` "${extra}"` : "";
  return `${where}: ${inner}${err.message}${detail}`;
}

function check(cfg: Record<string, unknown>, partial: boolean, origin: (key: string) => string): void {
  const validate = partial
    ? (patchCheck ??= compileSchema(configSchema(true, true)))
    : (fullCheck ??= compileSchema(configSchema(false)));
  const errors: SchemaError[] = [];
  if (!validate(cfg, "", errors)) {
    const msgs = errors.filter((e) => e.keyword !== "anyOf").map((e) => describe(e, origin));
    throw new ConfigError(`invalid configuration: ${[...new Set(msgs)].join("; ")}`);
  }
}

/** Parse a raw string (flag or env) into a setting's type. */
export function parseRaw(key: string, spec: SettingSpec, raw: string, origin: string): unknown {
  const fail = (rule: string): never => {
    throw new ConfigError(`invalid configuration: ${kebab(key)} (${origin}): ${rule}, got "${raw}"`);
  };
  if (spec.parse) {
    try {
      return spec.parse(raw);
    } catch (err) {
      return fail((err as Error).message);
    }
  }
  if (spec.nullable && (raw === "" || raw === "null")) return null;
  switch (spec.type) {
    case "string":
      return raw;
    case "integer": {
      const n = Number(raw);
      return raw.trim() !== "" && Number.isInteger(n) ? n : fail("must be an integer");
    }
    case "number": {
      const n = Number(raw);
      return raw.trim() !== "" && Number.isFinite(n) ? n : fail("must be a number");
    }
    case "boolean": {
      const v = raw.toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      return fail("must be true or false");
    }
    case "string[]": {
      const t = raw.trim();
      if (t.startsWith("[")) {
        try {
          const arr = JSON.parse(t) as unknown;
          if (Array.isArray(arr)) return arr.map(String);
        } catch {
          /* fall through to the comma form */
        }
      }
      return t === "" ? [] : t.split(",").map((s) => s.trim());
    }
    case "json":
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        return fail("must be valid JSON");
      }
  }
}

const keyByName = new Map<string, SettingKey>();
for (const [key, spec] of settingEntries()) {
  keyByName.set(key, key);
  keyByName.set(kebab(key), key);
  keyByName.set(kebab(key).replace(/-/g, "_"), key);
  for (const a of spec.aliases ?? []) keyByName.set(a, key);
}

/** Resolve a YAML/JSON/patch key written as camelCase, kebab-case or snake_case. */
export function resolveKey(name: string): SettingKey | undefined {
  return keyByName.get(name);
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    // yaml takes ~50 ms to load; only a --config file needs it.
    const { parse: parseYaml } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc))
    throw new ConfigError(`config file ${path} must be a mapping of settings`);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
    const key = resolveKey(name);
    if (!key) throw new ConfigError(`invalid configuration: unknown setting "${name}" (file ${path})`);
    const spec = SETTINGS[key] as SettingSpec;
    out[key] =
      typeof value === "string" && spec.type !== "string" && spec.type !== "json"
        ? parseRaw(key, spec, value, `file ${path}`)
        : value;
  }
  return out;
}

export function readEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of settingEntries()) {
    // DECOY_ wins over compatibility names from other servers.
    for (const name of [...(spec.env ?? []), envName(key)]) {
      const raw = env[name];
      if (raw !== undefined) out[key] = parseRaw(key, spec, raw, `env ${name}`);
    }
  }
  return out;
}

export interface LoadOptions {
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  file?: string | undefined;
}

export interface LoadedConfig {
  config: Config;
  sources: Record<string, Source>;
}

/** defaults < file < env < flags, validated once and frozen. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const cfg: Record<string, unknown> = { ...defaults() };
  const sources: Record<string, Source> = {};
  for (const k of Object.keys(cfg)) sources[k] = "default";
  const layer = (values: Record<string, unknown>, src: Source) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) continue;
      cfg[k] = v;
      sources[k] = src;
    }
  };
  if (opts.file) layer(readConfigFile(opts.file), "file");
  layer(readEnv(opts.env ?? {}), "env");
  layer(opts.flags ?? {}, "flag");
  const origin = (k: string) => (sources[k] && sources[k] !== "default" ? ` (from ${sources[k]})` : "");
  check(cfg, false, origin);
  const config = deepFreeze(cfg) as Config;
  for (const rule of rules) {
    const msg = rule(config);
    if (msg) throw new ConfigError(`invalid configuration: ${msg}`);
  }
  return { config, sources };
}

/**
 * Holds the live configuration. `/configure` patches go through copy → merge → validate →
 * swap, so a bad patch changes nothing and readers never see a half-applied update.
 */
export class ConfigStore {
  private cfg: Config;
  private readonly listeners = new Set<(next: Config, prev: Config, changed: string[]) => void>();

  constructor(initial: Config) {
    this.cfg = initial;
  }

  get current(): Config {
    return this.cfg;
  }

  get<K extends SettingKey>(key: K): Config[K] {
    return this.cfg[key];
  }

  /** Apply a partial patch of runtime settings; throws ConfigError and changes nothing if invalid. */
  patch(raw: Record<string, unknown>): string[] {
    const patch: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(raw)) {
      const key = resolveKey(name);
      if (!key) throw new ConfigError(`unknown setting "${name}"`);
      const spec = SETTINGS[key] as SettingSpec;
      if (!spec.runtime) throw new ConfigError(`setting "${kebab(key)}" cannot change at runtime`);
      patch[key] = typeof value === "string" && spec.parse ? parseRaw(key, spec, value, "configure") : value;
    }
    check(patch, true, () => " (from configure)");
    const next = { ...(structuredClone(this.cfg) as Record<string, unknown>), ...patch };
    const frozen = deepFreeze(next) as Config;
    for (const rule of rules) {
      const msg = rule(frozen);
      if (msg) throw new ConfigError(msg);
    }
    const prev = this.cfg;
    this.cfg = frozen;
    const changed = Object.keys(patch);
    for (const l of this.listeners) l(frozen, prev, changed);
    return changed;
  }

  onChange(fn: (next: Config, prev: Config, changed: string[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
