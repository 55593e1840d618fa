import type { Random } from "../random.js";
import { stringForPattern } from "./regex-gen.js";
import { CITIES, WORDS } from "./text.js";

/**
 * Values that satisfy a JSON Schema: tool-call arguments and `response_format` content.
 * Covers what tool definitions use in practice — types (and type lists), enum/const,
 * numeric bounds (inclusive, exclusive, multipleOf), string length and common formats,
 * array length and items, object properties/required/additionalProperties, anyOf/oneOf/allOf
 * and local `$ref`s — with llm-d-inference-sim's knobs for unbounded numbers and arrays and
 * for how often optional properties appear.
 */

export type JsonSchema = Record<string, unknown>;

export interface JsonGenOptions {
  minInteger: number;
  maxInteger: number;
  minNumber: number;
  maxNumber: number;
  minArrayLength: number;
  maxArrayLength: number;
  /** 0..1: chance an optional top-level property is present. */
  optionalParamProbability: number;
  /** 0..1: chance an optional property of a nested object is present. */
  optionalFieldProbability: number;
}

export const DEFAULT_JSON_GEN: JsonGenOptions = {
  minInteger: 0,
  maxInteger: 100,
  minNumber: 0,
  maxNumber: 100,
  minArrayLength: 1,
  maxArrayLength: 5,
  optionalParamProbability: 0.5,
  optionalFieldProbability: 0.5,
};

const MAX_DEPTH = 8;

export function generateFromSchema(
  schema: JsonSchema | boolean | undefined,
  random: Random,
  options: JsonGenOptions = DEFAULT_JSON_GEN,
): unknown {
  const root = typeof schema === "object" && schema !== null ? schema : {};
  return gen(root, root, random, options, 0, "", true);
}

function resolveRef(root: JsonSchema, ref: string): JsonSchema {
  if (!ref.startsWith("#")) return {};
  let node: unknown = root;
  for (const part of ref.slice(1).split("/").filter(Boolean)) {
    const key = decodeURIComponent(part.replace(/~1/g, "/").replace(/~0/g, "~"));
    node = node && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node && typeof node === "object" ? (node as JsonSchema) : {};
}

function merge(root: JsonSchema, schemas: unknown[]): JsonSchema {
  const out: JsonSchema = {};
  for (const s of schemas) {
    if (!s || typeof s !== "object") continue;
    let part = s as JsonSchema;
    if (typeof part.$ref === "string") part = { ...resolveRef(root, part.$ref), ...part, $ref: undefined };
    for (const [k, v] of Object.entries(part)) {
      if (v === undefined) continue;
      if (k === "properties" && out.properties) out.properties = { ...(out.properties as object), ...(v as object) };
      else if (k === "required" && Array.isArray(out.required))
        out.required = [...new Set([...(out.required as string[]), ...(v as string[])])];
      else out[k] = v;
    }
  }
  return out;
}

function typeOf(schema: JsonSchema): string | undefined {
  const t = schema.type;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const nonNull = t.filter((x) => x !== "null");
    return (nonNull[0] as string | undefined) ?? "null";
  }
  if (schema.properties || schema.required || schema.additionalProperties) return "object";
  if (schema.items) return "array";
  if (schema.minimum !== undefined || schema.maximum !== undefined) return "number";
  if (schema.minLength !== undefined || schema.maxLength !== undefined || schema.format || schema.pattern)
    return "string";
  return undefined;
}

function gen(
  schema: JsonSchema,
  root: JsonSchema,
  random: Random,
  o: JsonGenOptions,
  depth: number,
  name: string,
  top: boolean,
): unknown {
  if (typeof schema.$ref === "string") {
    if (depth > MAX_DEPTH) return null;
    schema = { ...resolveRef(root, schema.$ref), ...schema, $ref: undefined };
  }
  if (Array.isArray(schema.allOf)) schema = merge(root, [{ ...schema, allOf: undefined }, ...schema.allOf]);
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return random.pick(schema.enum);
  const alternatives = (schema.anyOf ?? schema.oneOf) as unknown[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) {
    const usable = alternatives.filter(
      (a) => a && typeof a === "object" && (a as JsonSchema).type !== "null",
    ) as JsonSchema[];
    const choice = usable.length > 0 ? random.pick(usable) : (alternatives[0] as JsonSchema);
    const rest = { ...schema, anyOf: undefined, oneOf: undefined };
    return gen(merge(root, [rest, choice]), root, random, o, depth + 1, name, top);
  }
  switch (typeOf(schema)) {
    case "null":
      return null;
    case "boolean":
      return random.next() < 0.5;
    case "integer":
      return genInteger(schema, random, o);
    case "number":
      return genNumber(schema, random, o);
    case "string":
      return genString(schema, random, name);
    case "array":
      return depth > MAX_DEPTH ? [] : genArray(schema, root, random, o, depth, name);
    case "object":
      return depth > MAX_DEPTH ? {} : genObject(schema, root, random, o, depth, top);
    default:
      return genString({}, random, name);
  }
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Inclusive bounds from a schema's minimum/maximum/exclusive* (draft 4 booleans or draft 6+ numbers). */
function bounds(schema: JsonSchema, defMin: number, defMax: number, step: number): [number, number] {
  let lo = num(schema.minimum);
  let hi = num(schema.maximum);
  const exMin = schema.exclusiveMinimum;
  const exMax = schema.exclusiveMaximum;
  if (typeof exMin === "number") lo = lo === undefined ? exMin + step : Math.max(lo, exMin + step);
  else if (exMin === true && lo !== undefined) lo += step;
  if (typeof exMax === "number") hi = hi === undefined ? exMax - step : Math.min(hi, exMax - step);
  else if (exMax === true && hi !== undefined) hi -= step;
  if (lo === undefined && hi === undefined) return [defMin, defMax];
  if (lo === undefined) lo = Math.min(defMin, hi as number);
  if (hi === undefined) hi = Math.max(defMax, lo);
  if (hi < lo) hi = lo;
  return [lo, hi];
}

function genInteger(schema: JsonSchema, random: Random, o: JsonGenOptions): number {
  const [lo, hi] = bounds(schema, o.minInteger, o.maxInteger, 1);
  const min = Math.ceil(lo);
  const max = Math.floor(hi);
  const mult = num(schema.multipleOf);
  if (mult && mult > 0 && Number.isInteger(mult)) {
    const first = Math.ceil(min / mult);
    const last = Math.floor(max / mult);
    if (last >= first) return random.int(first, last) * mult;
  }
  return max < min ? min : random.int(min, max);
}

function genNumber(schema: JsonSchema, random: Random, o: JsonGenOptions): number {
  const exclusive = typeof schema.exclusiveMinimum === "number" || typeof schema.exclusiveMaximum === "number";
  const [lo, hi] = bounds(schema, o.minNumber, o.maxNumber, exclusive ? 0.01 : 0);
  const mult = num(schema.multipleOf);
  if (mult && mult > 0) {
    const first = Math.ceil(lo / mult);
    const last = Math.floor(hi / mult);
    if (last >= first) return Number((random.int(first, last) * mult).toFixed(10));
  }
  const v = Math.round(random.uniform(lo, hi) * 100) / 100;
  return Math.min(hi, Math.max(lo, v));
}

function genString(schema: JsonSchema, random: Random, name: string): string {
  const minLength = num(schema.minLength) ?? 0;
  const maxLength = num(schema.maxLength);
  if (typeof schema.pattern === "string") {
    const p = stringForPattern(schema.pattern, random);
    if (p !== undefined && p.length >= minLength && (maxLength === undefined || p.length <= maxLength)) return p;
  }
  let s: string;
  switch (schema.format) {
    case "date":
      s = `2025-${String(random.int(1, 12)).padStart(2, "0")}-${String(random.int(1, 28)).padStart(2, "0")}`;
      break;
    case "date-time":
      s = `2025-${String(random.int(1, 12)).padStart(2, "0")}-${String(random.int(1, 28)).padStart(2, "0")}T${String(random.int(0, 23)).padStart(2, "0")}:${String(random.int(0, 59)).padStart(2, "0")}:00Z`;
      break;
    case "time":
      s = `${String(random.int(0, 23)).padStart(2, "0")}:${String(random.int(0, 59)).padStart(2, "0")}:00`;
      break;
    case "email":
      s = `${random.pick(WORDS)}@example.com`;
      break;
    case "uri":
    case "url":
      s = `https://example.com/${random.pick(WORDS)}`;
      break;
    case "uuid":
      s = uuid(random);
      break;
    case "ipv4":
      s = `10.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`;
      break;
    default:
      s = /city|location|place|town/i.test(name)
        ? random.pick(CITIES)
        : `${random.pick(WORDS)} ${random.pick(WORDS)}`.trim();
  }
  while (s.length < minLength) s += ` ${random.pick(WORDS)}`;
  if (s.length < minLength) s = s.padEnd(minLength, "x");
  if (maxLength !== undefined && s.length > maxLength) s = s.slice(0, Math.max(minLength, maxLength));
  // a cut may end on the space between two words
  if (s.length > minLength && s.endsWith(" ")) s = s.slice(0, -1);
  return s;
}

function uuid(random: Random): string {
  const hex = (n: number) => Array.from({ length: n }, () => random.int(0, 15).toString(16)).join("");
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${"89ab"[random.int(0, 3)]}${hex(3)}-${hex(12)}`;
}

function genArray(
  schema: JsonSchema,
  root: JsonSchema,
  random: Random,
  o: JsonGenOptions,
  depth: number,
  name: string,
): unknown[] {
  const minItems = num(schema.minItems);
  const maxItems = num(schema.maxItems);
  const lo = minItems ?? Math.min(o.minArrayLength, maxItems ?? o.minArrayLength);
  const hi = Math.max(lo, maxItems ?? Math.max(o.maxArrayLength, lo));
  const length = random.int(lo, hi);
  const items = (typeof schema.items === "object" && schema.items !== null ? schema.items : {}) as JsonSchema;
  const out: unknown[] = [];
  const seen = new Set<string>();
  for (let attempts = 0; out.length < length && attempts < length * 10; attempts++) {
    const v = gen(items, root, random, o, depth + 1, name, false);
    if (schema.uniqueItems === true) {
      const key = JSON.stringify(v);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(v);
  }
  return out;
}

function genObject(
  schema: JsonSchema,
  root: JsonSchema,
  random: Random,
  o: JsonGenOptions,
  depth: number,
  top: boolean,
): Record<string, unknown> {
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const p = top ? o.optionalParamProbability : o.optionalFieldProbability;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(props)) {
    if (!required.has(key) && !random.chance(p)) continue;
    out[key] = gen(typeof sub === "object" && sub !== null ? sub : {}, root, random, o, depth + 1, key, false);
  }
  // required names without a property schema still have to be present
  for (const key of required) if (!(key in out)) out[key] = genString({}, random, key);
  const minProps = num(schema.minProperties) ?? 0;
  if (Object.keys(out).length < minProps && schema.additionalProperties !== false) {
    for (let i = 0; Object.keys(out).length < minProps; i++) out[`${WORDS[i % WORDS.length]}_${i}`] = random.int(0, 9);
  }
  return out;
}
