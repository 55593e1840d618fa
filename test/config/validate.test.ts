import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import { ConfigError, ConfigStore, loadConfig } from "../../src/config/load.js";
import { settingEntries, settingSchema } from "../../src/config/schema.js";
import { compileSchema, type SchemaError } from "../../src/config/validate.js";

/** Values of every shape, plus each setting's default and bounds, to run through both validators. */
function samples(spec: ReturnType<typeof settingEntries>[number][1]): unknown[] {
  const out: unknown[] = [
    null,
    true,
    false,
    0,
    -1,
    1,
    0.5,
    1.5,
    70000,
    "",
    "x",
    "12",
    "50:30",
    "250us",
    "ramp:0:40:60s",
    [],
    ["a"],
    ["rate_limit", "rate_limit"],
    ["rate_limit", "server_error"],
    [1],
    {},
    { a: 1 },
    { a: "llama3" },
    { a: "" },
    { low: 1, medium: 2, high: 3 },
    { low: -1, medium: 2, high: 3 },
    { low: 1, medium: 2, high: 3, extra: 4 },
    [{ name: "a", path: "/x" }],
    [{ path: "/x" }],
    [""],
    { "running-requests": 3, "kv-cache-usage": 0.5 },
    { "kv-cache-usage": 1.5 },
    { "running-requests": { ramp: { from: 0, to: 40, periodS: 60 } } },
    { "running-requests": { ramp: { from: 0, to: 40 } } },
    { "waiting-requests": { square: { low: 0, high: 5, periodS: 1, duty: 1 } } },
    { loras: [{ running: "a", waiting: "", timestamp: 1 }] },
    { loras: [{ running: 1 }] },
    structuredClone(spec.default),
  ];
  for (const k of ["minimum", "maximum", "exclusiveMinimum"] as const) {
    const v = spec[k];
    if (v !== undefined) out.push(v, v - 1, v + 1, v - 0.5, v + 0.5);
  }
  for (const v of spec.enum ?? []) out.push(v, typeof v === "string" ? `${v}!` : v + 1);
  return out;
}

describe("settings validator", () => {
  it("accepts and rejects the same values as ajv for every setting", () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    let compared = 0;
    for (const [key, spec] of settingEntries()) {
      const schema = settingSchema(spec);
      const ref = ajv.compile(schema);
      const mine = compileSchema(schema);
      for (const value of samples(spec)) {
        const errs: SchemaError[] = [];
        assert.equal(mine(value, "", errs), ref(value), `${key} = ${JSON.stringify(value)}`);
        assert.equal(errs.length === 0, ref(value), `${key} = ${JSON.stringify(value)}: errors iff invalid`);
        compared++;
      }
    }
    assert.ok(compared > 1000);
  });

  it("rejects NaN and infinite numbers, which ajv would take (a YAML .nan or .inf)", () => {
    assert.equal(compileSchema({ type: "number" })(Number.NaN, "", []), false);
    const errs: SchemaError[] = [];
    assert.equal(compileSchema({ type: "integer", minimum: 0 })(Number.POSITIVE_INFINITY, "", errs), false);
    assert.deepEqual(
      errs.map((e) => e.message),
      ["must be integer"],
    );
    assert.throws(() => loadConfig({ flags: { shutdownTimeoutMs: Number.POSITIVE_INFINITY } }), /must be integer/);
  });

  it("words errors as ajv does for the simple keywords", () => {
    const cases: [Record<string, unknown>, unknown, string][] = [
      [{ type: "integer", maximum: 65535 }, 70000, "must be <= 65535"],
      [{ type: "integer", minimum: 0 }, -1, "must be >= 0"],
      [{ type: "number", exclusiveMinimum: 0 }, 0, "must be > 0"],
      [{ type: "number", exclusiveMaximum: 1 }, 1, "must be < 1"],
      [{ type: "integer" }, 1.5, "must be integer"],
      [{ type: "string", enum: ["a", "b"] }, "c", "must be equal to one of the allowed values"],
      [{ type: "string", minLength: 1 }, "", "must NOT have fewer than 1 characters"],
      [{ type: "object", required: ["low"] }, {}, "must have required property 'low'"],
      [{ type: "object", additionalProperties: false }, { x: 1 }, "must NOT have additional properties"],
      [{ type: "array", uniqueItems: true }, [1, 1], "must NOT have duplicate items (items ## 0 and 1 are identical)"],
      [{ type: "string", pattern: "^a+$" }, "b", 'must match pattern "^a+$"'],
    ];
    const ajv = new Ajv({ allErrors: true, strict: false });
    for (const [schema, value, message] of cases) {
      const errs: SchemaError[] = [];
      compileSchema(schema)(value, "", errs);
      assert.deepEqual(
        errs.map((e) => e.message),
        [message],
      );
      const ref = ajv.compile(schema);
      ref(value);
      assert.equal(ref.errors?.[0]?.message, message, "same wording as ajv");
    }
  });

  it("names the setting, its source and the rule, including inside JSON settings and nullable ones", () => {
    const fails = (opts: Parameters<typeof loadConfig>[0], re: RegExp) =>
      assert.throws(
        () => loadConfig(opts),
        (e: unknown) => e instanceof ConfigError && re.test(e.message),
      );
    fails({ flags: { metricsPort: 70000 } }, /^invalid configuration: metrics-port \(from flag\): must be <= 65535$/);
    fails({ flags: { metricsPort: "x" } }, /metrics-port \(from flag\): must be integer or null$/);
    fails(
      { flags: { reasoningEffortTokens: { low: -1, medium: 1, high: 2 } } },
      /reasoning-effort-tokens \(from flag\): \/low must be >= 0$/,
    );
    fails(
      { flags: { reasoningEffortTokens: { low: 1, medium: 1, high: 2, max: 3 } } },
      /reasoning-effort-tokens \(from flag\): must NOT have additional properties "max"$/,
    );
    fails({ flags: { ttft: -5 } }, /ttft \(from flag\): must be >= 0$/);
    fails({ flags: { failureTypes: ["nope"] } }, /failure-types \(from flag\): \/0 must be equal to one of/);
  });

  it("a runtime patch is checked with the same rules and a bad one changes nothing", () => {
    const store = new ConfigStore(loadConfig().config);
    const before = store.current;
    assert.throws(() => store.patch({ itl: -1 }), /itl \(from configure\): must be >= 0/);
    assert.throws(() => store.patch({ failureInjectionRate: 101 }), /must be <= 100/);
    assert.throws(() => store.patch({ fakeMetrics: { "kv-cache-usage": 2 } }), /fake-metrics/);
    assert.equal(store.current, before);
    assert.deepEqual(store.patch({ itl: 7 }), ["itl"]);
    assert.equal(store.current.itl, 7);
  });
});
