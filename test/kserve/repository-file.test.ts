import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigError } from "../../src/config/load.js";
import { loadModelDefinitions } from "../../src/engine/models/repository-file.js";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";

const dir = mkdtempSync(join(tmpdir(), "decoy-models-"));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const REPO = `
defaults:
  latency: { base_ms: 1, per_item_ms: 0 }
models:
  - name: resnet
    max_batch_size: 64
    latency: { base_ms: 2 }
  - name: sentiment
    kind: generic
    platform: python
    versions: [1, 3]
    max_batch_size: 8
    instances: 2
    dynamic_batching: { preferred_batch_size: [4], max_queue_delay_microseconds: 50000 }
    inputs:
      - { name: TEXT, datatype: BYTES, shape: [-1, 1] }
    outputs:
      - { name: LABEL, datatype: BYTES, shape: [-1, 1] }
      - { name: SCORE, datatype: FP32, shape: [-1, 2] }
`;

describe("model repository file", () => {
  it("keeps the built-ins, overrides only the keys an entry sets, and adds user models", () => {
    const defs = loadModelDefinitions(file("repo.yaml", REPO));
    assert.deepEqual(
      defs.map((d) => d.name),
      ["resnet", "yolo", "bert", "sentiment"],
    );
    const resnet = defs[0]!;
    assert.equal(resnet.maxBatchSize, 64);
    assert.deepEqual(resnet.latency, { baseMs: 2, perItemMs: 1, stdDevMs: 0.3 });
    assert.deepEqual(resnet.inputs, [{ name: "input", datatype: "FP32", shape: [-1, 3, 224, 224] }]);
    const s = defs[3]!;
    assert.equal(s.platform, "python");
    assert.equal(s.backend, "python");
    assert.deepEqual(s.versions, ["1", "3"]);
    assert.equal(s.instances, 2);
    assert.deepEqual(s.dynamicBatching, { preferredBatchSizes: [4], maxQueueDelayUs: 50000 });
    assert.equal(resnet.dynamicBatching, undefined);
    assert.deepEqual(s.latency, { baseMs: 1, perItemMs: 0, stdDevMs: 0 });
  });

  it("reads JSON too and can drop the built-ins", () => {
    const defs = loadModelDefinitions(
      file(
        "repo.json",
        JSON.stringify({
          include_defaults: false,
          models: [
            {
              name: "tiny",
              inputs: [{ name: "x", datatype: "INT8", shape: [4] }],
              outputs: [{ name: "y", datatype: "BOOL", shape: [4] }],
            },
          ],
        }),
      ),
    );
    assert.deepEqual(
      defs.map((d) => [d.name, d.kind, d.maxBatchSize]),
      [["tiny", "generic", 0]],
    );
  });

  it("rejects mistakes with a message naming the file and the entry", () => {
    const bad = (text: string, re: RegExp) =>
      assert.throws(
        () => loadModelDefinitions(file("bad.yaml", text)),
        (e: Error) => e instanceof ConfigError && re.test(e.message) && e.message.includes("bad.yaml"),
      );
    bad(
      "models:\n  - name: m\n    inputs: [{name: x, datatype: FLOAT, shape: [1]}]\n    outputs: [{name: y, datatype: FP32, shape: [1]}]\n",
      /models\[0\]\.inputs\[0\]\.datatype must be one of/,
    );
    bad(
      "models:\n  - name: m\n    max_batch_size: 4\n    inputs: [{name: x, datatype: FP32, shape: [3]}]\n    outputs: [{name: y, datatype: FP32, shape: [-1, 1]}]\n",
      /first dimension is the batch dimension and must be -1/,
    );
    bad("models:\n  - name: m\n    colour: red\n", /unknown key "colour"/);
    bad(
      "models:\n  - name: m\n    outputs: [{name: y, datatype: FP32, shape: [1]}]\n",
      /models\[0\]\.inputs must be a non-empty list/,
    );
    bad(
      "models:\n  - name: m\n    dynamic_batching: {}\n    inputs: [{name: x, datatype: FP32, shape: [3]}]\n    outputs: [{name: y, datatype: FP32, shape: [1]}]\n",
      /dynamic_batching needs max_batch_size > 0/,
    );
    bad(
      "models:\n  - name: resnet\n    dynamic_batching: { preferred_batch_size: [64] }\n",
      /preferred_batch_size\[0\] \(64\) exceeds max_batch_size \(32\)/,
    );
    bad("models: [", /not valid YAML/);
    assert.throws(() => loadModelDefinitions(join(dir, "missing.yaml")), /cannot read model repository/);
  });
});

describe("a server started with --model-repository", () => {
  let server: DecoyServer;
  before(async () => {
    server = await startTestServer({ modelRepository: file("serve.yaml", REPO) });
  });
  after(async () => {
    await server.close();
  });

  it("serves the user's model over REST with its own tensors, versions and batch limit", async () => {
    const md = (await (await fetch(`${server.httpUrl}/v2/models/sentiment`)).json()) as Record<string, unknown>;
    assert.deepEqual(md.versions, ["1", "3"]);
    const res = await fetch(`${server.httpUrl}/v2/models/sentiment/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inputs: [{ name: "TEXT", datatype: "BYTES", shape: [2, 1], data: ["good", "bad"] }] }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      model_version: string;
      outputs: { name: string; shape: number[]; data: unknown[] }[];
    };
    assert.equal(body.model_version, "3");
    assert.deepEqual(
      body.outputs.map((o) => [o.name, o.shape, o.data.length]),
      [
        ["LABEL", [2, 1], 2],
        ["SCORE", [2, 2], 4],
      ],
    );
    assert.equal(typeof body.outputs[0]!.data[0], "string");
    const cfg = (await (await fetch(`${server.httpUrl}/v2/models/sentiment/config`)).json()) as {
      instance_group: { count: number }[];
      dynamic_batching: { preferred_batch_size: number[]; max_queue_delay_microseconds: number };
    };
    assert.equal(cfg.instance_group[0]!.count, 2);
    assert.deepEqual(cfg.dynamic_batching.preferred_batch_size, [4]);
    assert.equal(cfg.dynamic_batching.max_queue_delay_microseconds, 50000);
  });

  it("its dynamic batcher runs concurrent requests as fewer executions, in statistics and metrics alike", async () => {
    const infer = () =>
      fetch(`${server.httpUrl}/v2/models/sentiment/versions/1/infer`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs: [{ name: "TEXT", datatype: "BYTES", shape: [1, 1], data: ["ok"] }] }),
      }).then((r) => r.status);
    assert.deepEqual(await Promise.all(Array.from({ length: 8 }, infer)), Array(8).fill(200));
    const stats = (await (await fetch(`${server.httpUrl}/v2/models/sentiment/versions/1/stats`)).json()) as {
      model_stats: { inference_count: number; execution_count: number; batch_stats: { batch_size: number }[] }[];
    };
    const st = stats.model_stats[0]!;
    assert.equal(st.inference_count, 8);
    assert.ok(st.execution_count >= 2 && st.execution_count < 8, `executions: ${st.execution_count}`);
    assert.ok(st.batch_stats.some((b) => b.batch_size > 1));
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    const value = (name: string) =>
      Number(metrics.match(new RegExp(`^${name}\\{model="sentiment",version="1"\\} (\\S+)$`, "m"))?.[1]);
    assert.equal(value("nv_inference_count"), 8);
    assert.equal(value("nv_inference_request_success"), 8);
    assert.equal(value("nv_inference_exec_count"), st.execution_count);
  });
});
