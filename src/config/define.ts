/**
 * Declarative settings: every option Decoy understands is one entry here, with its type,
 * default, description and whether it may change at runtime. CLI flags, environment
 * variables, the YAML file, `/configure` patches and the README flag table all derive from
 * these entries, so an option cannot exist in one place and be missing from another.
 */
export type SettingType = "string" | "integer" | "number" | "boolean" | "string[]" | "json";

export interface SettingSpec {
  type: SettingType;
  default: unknown;
  description: string;
  /** Help group, e.g. "Server", "Latency". */
  group: string;
  /** May be patched at runtime through `/configure`. */
  runtime?: boolean;
  /** `null` is a valid value (an unset optional). */
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  enum?: readonly (string | number)[];
  pattern?: string;
  /** Extra long flags without the leading dashes, e.g. ["port"]. */
  aliases?: readonly string[];
  /** One-letter short flag, e.g. "p". */
  short?: string;
  /** Extra environment variable names read besides DECOY_<KEY>. */
  env?: readonly string[];
  /** Value placeholder in help, e.g. "MS". */
  placeholder?: string;
  /** Hide from --help (still documented in README). */
  hidden?: boolean;
  /** JSON Schema used for "json" settings. */
  schema?: Record<string, unknown>;
  /** Parses a CLI/env string into the setting's value (e.g. "50:30" forms). */
  parse?: (raw: string) => unknown;
}

type ValueOfType<T extends SettingType> = T extends "string"
  ? string
  : T extends "integer" | "number"
    ? number
    : T extends "boolean"
      ? boolean
      : T extends "string[]"
        ? string[]
        : unknown;

export type ValueOf<S extends SettingSpec> = S["nullable"] extends true
  ? ValueOfType<S["type"]> | null
  : ValueOfType<S["type"]>;

export type ConfigOf<T extends Record<string, SettingSpec>> = {
  readonly [K in keyof T]: ValueOf<T[K]>;
};

/** Identity helper that keeps literal types so `ConfigOf` can infer value types. */
export function defineSettings<const T extends Record<string, SettingSpec>>(settings: T): T {
  return settings;
}

/** camelCase key → kebab-case flag name. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** camelCase key → DECOY_SNAKE_CASE environment variable. */
export function envName(key: string): string {
  return `DECOY_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
