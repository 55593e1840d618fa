import { type ConfigOf, envName, kebab, type SettingSpec } from "./define.js";
import { faultSettings } from "./settings/faults.js";
import { kvSettings } from "./settings/kv.js";
import { latencySettings } from "./settings/latency.js";
import { llmSettings } from "./settings/llm.js";
import { modelSettings } from "./settings/models.js";
import { serverSettings } from "./settings/server.js";
import { telemetrySettings } from "./settings/telemetry.js";

/** Every setting Decoy understands. Each area keeps its entries in `settings/<area>.ts`. */
export const SETTINGS = {
  ...serverSettings,
  ...modelSettings,
  ...kvSettings,
  ...faultSettings,
  ...llmSettings,
  ...latencySettings,
  ...telemetrySettings,
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
export type Config = ConfigOf<typeof SETTINGS>;

export function settingEntries(): [SettingKey, SettingSpec][] {
  return Object.entries(SETTINGS) as [SettingKey, SettingSpec][];
}

/** JSON Schema (draft-07 subset) for one setting's value. */
export function settingSchema(spec: SettingSpec): Record<string, unknown> {
  let s: Record<string, unknown>;
  switch (spec.type) {
    case "string[]":
      s = { type: "array", items: { type: "string" } };
      break;
    case "json":
      s = spec.schema ?? {};
      break;
    default:
      s = { type: spec.type };
  }
  for (const k of ["minimum", "maximum", "exclusiveMinimum", "enum", "pattern"] as const) {
    if (spec[k] !== undefined) s[k] = spec[k];
  }
  if (spec.nullable) {
    return { anyOf: [s, { type: "null" }] };
  }
  return s;
}

/** JSON Schema for a whole config object (all keys optional when `partial`). */
export function configSchema(partial: boolean, onlyRuntime = false): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [key, spec] of settingEntries()) {
    if (onlyRuntime && !spec.runtime) continue;
    properties[key] = settingSchema(spec);
    if (!partial) required.push(key);
  }
  return { type: "object", additionalProperties: false, properties, required };
}

export function defaults(): Config {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of settingEntries()) out[key] = structuredClone(spec.default);
  return out as Config;
}

export { envName, kebab };
