import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, ConfigStore, loadConfig } from "../../src/config/load.js";
import { defaults, SETTINGS } from "../../src/config/schema.js";

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "decoy-cfg-"));
  const p = join(dir, "decoy.yaml");
  writeFileSync(p, text);
  return p;
}

describe("configuration", () => {
  it("defaults need no file, flags or env", () => {
    const { config } = loadConfig();
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.port, 8000);
    assert.equal(config.grpcPort, 8001);
    assert.deepEqual(config, defaults());
  });

  it("precedence is flags > env > file > defaults", () => {
    const file = yamlFile("port: 9000\ngrpc-port: 9001\nlog-level: info\nshutdown_timeout_ms: 5\n");
    const { config, sources } = loadConfig({
      file,
      env: { DECOY_GRPC_PORT: "9101", DECOY_LOG_LEVEL: "debug" },
      flags: { logLevel: "error" },
    });
    assert.equal(config.port, 9000);
    assert.equal(config.grpcPort, 9101);
    assert.equal(config.logLevel, "error");
    assert.equal(config.shutdownTimeoutMs, 5);
    assert.equal(sources.port, "file");
    assert.equal(sources.grpcPort, "env");
    assert.equal(sources.logLevel, "flag");
  });

  it("compatibility env names are read, and DECOY_ names win over them", () => {
    assert.equal(loadConfig({ env: { MOCK_SERVER_PORT: "7000" } }).config.port, 7000);
    assert.equal(loadConfig({ env: { MOCK_SERVER_PORT: "7000", DECOY_PORT: "7001" } }).config.port, 7001);
  });

  it("the config is frozen", () => {
    const { config } = loadConfig();
    assert.throws(() => {
      (config as { port: number }).port = 1;
    });
  });

  const invalid: [string, Parameters<typeof loadConfig>[0], RegExp][] = [
    ["port above range", { flags: { port: 70000 } }, /port \(from flag\): must be <= 65535/],
    ["negative port from env", { env: { DECOY_PORT: "-1" } }, /port \(from env\): must be >= 0/],
    [
      "non-integer env",
      { env: { DECOY_GRPC_PORT: "abc" } },
      /grpc-port \(env DECOY_GRPC_PORT\): must be an integer, got "abc"/,
    ],
    [
      "unknown log level",
      { flags: { logLevel: "loud" } },
      /log-level \(from flag\): must be equal to one of the allowed values/,
    ],
    ["unknown file key", { file: "" }, /unknown setting "no-such-thing"/],
    ["zero body limit", { flags: { maxRequestBodySizeMb: 0 } }, /max-request-body-size-mb \(from flag\): must be > 0/],
    ["bad boolean env", { env: { DECOY_VALIDATE_RESPONSES: "maybe" } }, /must be true or false/],
  ];
  for (const [name, opts, re] of invalid) {
    it(`rejects ${name} with a message naming the key and rule`, () => {
      const o = name === "unknown file key" ? { file: yamlFile("no-such-thing: 1\n") } : opts;
      assert.throws(
        () => loadConfig(o),
        (err: unknown) => err instanceof ConfigError && re.test(err.message),
      );
    });
  }

  it("a YAML file that is not a mapping is rejected clearly", () => {
    assert.throws(() => loadConfig({ file: yamlFile("- 1\n- 2\n") }), /must be a mapping/);
    assert.throws(() => loadConfig({ file: "/nonexistent/decoy.yaml" }), /cannot read config file/);
  });

  it("every setting has a description, a group and a default of its type", () => {
    for (const [key, spec] of Object.entries(SETTINGS)) {
      assert.ok(spec.description.length > 10, `${key} description`);
      assert.ok(spec.group, `${key} group`);
      assert.doesNotThrow(() => loadConfig(), key);
    }
  });
});

describe("runtime patches", () => {
  it("a patch of a setting that is not runtime-changeable is refused and changes nothing", () => {
    const store = new ConfigStore(loadConfig().config);
    const before = store.current;
    assert.throws(() => store.patch({ port: 1234 }), /cannot change at runtime/);
    assert.throws(() => store.patch({ nope: 1 }), /unknown setting/);
    assert.equal(store.current, before);
  });
});
