/**
 * A small validator for the JSON Schema subset the settings use (type, enum, minimum/maximum,
 * exclusive bounds, pattern, minLength, items, uniqueItems, properties, required,
 * additionalProperties, anyOf). Compiling the whole settings schema with ajv cost about
 * 145 ms of every start; walking these few keywords costs well under a millisecond. Messages
 * follow ajv's wording so errors read the same as the route validators'. A test checks that
 * it accepts and rejects the same values as ajv on the settings' schemas.
 */

type Json = Record<string, unknown>;

export interface SchemaError {
  /** JSON pointer of the offending value, e.g. `/port` or `/reasoningEffortTokens/low`. */
  instancePath: string;
  keyword: string;
  message: string;
  params: Record<string, unknown>;
}

/** Appends the errors for `data` at `path` to `out`; returns true when valid. */
export type Check = (data: unknown, path: string, out: SchemaError[]) => boolean;

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : Number.isFinite(v) ? "number" : "nonfinite";
  return typeof v;
}

/** ajv's notion of `type`: integers are numbers, non-finite numbers are neither. */
function hasType(v: unknown, type: string): boolean {
  const t = typeOf(v);
  return t === type || (type === "number" && t === "integer");
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && equal((a as Json)[k], (b as Json)[k]));
}

const err = (out: SchemaError[], instancePath: string, keyword: string, message: string, params: Json = {}) => {
  out.push({ instancePath, keyword, message, params });
  return false;
};

const pointerPart = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");

/** Turns a schema into a check function once; the function is then run per value. */
export function compileSchema(schema: Json): Check {
  const checks: Check[] = [];
  const types = schema.type === undefined ? undefined : ([schema.type].flat() as string[]);
  if (types) {
    checks.push((v, p, out) =>
      types.some((t) => hasType(v, t)) ? true : err(out, p, "type", `must be ${types.join(",")}`, { type: types }),
    );
  }
  // Like ajv, a keyword only judges values of the types it applies to.
  const num = (name: string, fails: (v: number, limit: number) => boolean, op: string) => {
    const limit = schema[name];
    if (typeof limit !== "number") return;
    checks.push((v, p, out) =>
      typeof v !== "number" || !fails(v, limit)
        ? true
        : err(out, p, name, `must be ${op} ${limit}`, { comparison: op, limit }),
    );
  };
  num("minimum", (v, l) => v < l, ">=");
  num("maximum", (v, l) => v > l, "<=");
  num("exclusiveMinimum", (v, l) => v <= l, ">");
  num("exclusiveMaximum", (v, l) => v >= l, "<");
  if (Array.isArray(schema.enum)) {
    const allowed = schema.enum as unknown[];
    checks.push((v, p, out) =>
      allowed.some((a) => equal(a, v))
        ? true
        : err(out, p, "enum", "must be equal to one of the allowed values", { allowedValues: allowed }),
    );
  }
  if (typeof schema.pattern === "string") {
    const pattern = schema.pattern;
    const re = new RegExp(pattern, "u");
    checks.push((v, p, out) =>
      typeof v !== "string" || re.test(v)
        ? true
        : err(out, p, "pattern", `must match pattern "${pattern}"`, { pattern }),
    );
  }
  if (typeof schema.minLength === "number") {
    const limit = schema.minLength;
    checks.push((v, p, out) =>
      typeof v !== "string" || [...v].length >= limit
        ? true
        : err(out, p, "minLength", `must NOT have fewer than ${limit} characters`, { limit }),
    );
  }
  if (schema.items !== undefined) {
    const item = compileSchema(schema.items as Json);
    checks.push((v, p, out) => {
      if (!Array.isArray(v)) return true;
      let ok = true;
      for (let i = 0; i < v.length; i++) ok = item(v[i], `${p}/${i}`, out) && ok;
      return ok;
    });
  }
  if (schema.uniqueItems === true) {
    checks.push((v, p, out) => {
      if (!Array.isArray(v)) return true;
      for (let i = v.length - 1; i > 0; i--) {
        for (let j = i - 1; j >= 0; j--) {
          if (equal(v[i], v[j]))
            return err(out, p, "uniqueItems", `must NOT have duplicate items (items ## ${j} and ${i} are identical)`, {
              i,
              j,
            });
        }
      }
      return true;
    });
  }
  if (Array.isArray(schema.required)) {
    const required = schema.required as string[];
    checks.push((v, p, out) => {
      if (typeOf(v) !== "object") return true;
      let ok = true;
      for (const name of required) {
        if (!Object.hasOwn(v as Json, name))
          ok = err(out, p, "required", `must have required property '${name}'`, { missingProperty: name });
      }
      return ok;
    });
  }
  const props = (schema.properties ?? {}) as Record<string, Json>;
  const propChecks = new Map(Object.entries(props).map(([k, s]) => [k, compileSchema(s)]));
  const extra = schema.additionalProperties;
  const extraCheck = typeof extra === "object" && extra !== null ? compileSchema(extra as Json) : undefined;
  if (propChecks.size > 0 || extra !== undefined) {
    checks.push((v, p, out) => {
      if (typeOf(v) !== "object") return true;
      let ok = true;
      for (const [k, value] of Object.entries(v as Json)) {
        const at = `${p}/${pointerPart(k)}`;
        const c = propChecks.get(k) ?? extraCheck;
        if (c) ok = c(value, at, out) && ok;
        else if (extra === false && !propChecks.has(k))
          ok = err(out, p, "additionalProperties", "must NOT have additional properties", { additionalProperty: k });
      }
      return ok;
    });
  }
  if (Array.isArray(schema.anyOf)) {
    const branches = (schema.anyOf as Json[]).map((s) => ({ s, check: compileSchema(s) }));
    checks.push((v, p, out) => {
      const tried: SchemaError[][] = [];
      for (const b of branches) {
        const errs: SchemaError[] = [];
        if (b.check(v, p, errs)) return true;
        tried.push(errs);
      }
      // Report the branches meant for this value's type (a number that is too small, not
      // "must be string" as well); when no branch takes its type, name the types.
      const fitting = branches
        .map((b, i) => ({ b, errs: tried[i] as SchemaError[] }))
        .filter(({ b }) => b.s.type === undefined || [b.s.type].flat().some((t) => hasType(v, t as string)));
      if (fitting.length === 0) {
        const names = [...new Set(branches.flatMap(({ s }) => [s.type ?? []].flat() as string[]))];
        return err(out, p, "type", `must be ${names.join(" or ")}`, { type: names });
      }
      for (const f of fitting) out.push(...f.errs);
      return err(out, p, "anyOf", "must match a schema in anyOf");
    });
  }
  if (checks.length === 1) return checks[0] as Check;
  return (v, p, out) => {
    let ok = true;
    for (const c of checks) ok = c(v, p, out) && ok;
    return ok;
  };
}
