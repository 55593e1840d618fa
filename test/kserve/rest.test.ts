import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import type { Datatype } from "../../src/engine/models/types.js";
import { DATATYPE_SIZE, elementCount, floatToHalf } from "../../src/engine/tensors.js";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import { argmax, binaryResponse, concrete, inputsFor } from "./helpers.js";

type Meta = {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
};
type Out = { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: Record<string, unknown> };

/** A binary-extension body: JSON header followed by the raw inputs. */
function binaryBody(meta: Meta, batch: number, extra: Record<string, unknown> = {}) {
  const inputs = inputsFor(meta, batch);
  const header = Buffer.from(
    JSON.stringify({
      inputs: inputs.map((t) => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        parameters: { binary_data_size: t.data.length },
      })),
      ...extra,
    }),
  );
  return { body: Buffer.concat([header, ...inputs.map((t) => t.data)]), headerLength: header.length };
}

describe("KServe v2 REST routes", () => {
  let server: DecoyServer;
  let url: string;
  const meta = new Map<string, Meta>();
  const get = async (path: string) => {
    const r = await fetch(url + path);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const post = async (path: string, body?: unknown) => {
    const r = await fetch(url + path, {
      method: "POST",
      ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as unknown };
  };
  before(async () => {
    server = await startTestServer({ modelLatencyMs: 1, modelPerItemLatencyMs: 0, modelLatencyStdDevMs: 0 });
    url = server.httpUrl;
    for (const m of ["resnet", "yolo", "bert"]) meta.set(m, (await get(`/v2/models/${m}`)).body as Meta);
  });
  after(async () => {
    await server.close();
  });

  it("GET /v2, /v2/health/live, /v2/health/ready and /v2/models", async () => {
    const md = await get("/v2");
    assert.equal(md.body.name, "decoy");
    assert.ok((md.body.extensions as string[]).includes("binary_tensor_data"));
    assert.deepEqual((await get("/v2/health/live")).body, { live: true });
    assert.deepEqual(await get("/v2/health/ready"), { status: 200, body: { ready: true } });
    const list = (await get("/v2/models")).body.models as string[];
    for (const m of ["resnet", "yolo", "bert"]) assert.ok(list.includes(m));
  });

  it("GET model metadata and readiness, with and without a version", async () => {
    assert.deepEqual(meta.get("resnet"), {
      name: "resnet",
      versions: ["1"],
      platform: "onnxruntime_onnx",
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3, 224, 224] }],
      outputs: [{ name: "output", datatype: "FP32", shape: [-1, 1000] }],
    });
    assert.deepEqual((await get("/v2/models/yolo/versions/1")).body, meta.get("yolo"));
    assert.deepEqual(await get("/v2/models/bert/ready"), { status: 200, body: { name: "bert", ready: true } });
    assert.deepEqual(await get("/v2/models/bert/versions/1/ready"), {
      status: 200,
      body: { name: "bert", ready: true },
    });
  });

  for (const model of ["resnet", "yolo", "bert"]) {
    it(`POST /v2/models/${model}/infer with JSON tensors returns JSON outputs matching the metadata`, async () => {
      const m = meta.get(model)!;
      const inputs = inputsFor(m, 1).map((t) => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        // Small models get nested data (row-major), the large image flat data.
        data:
          model === "bert"
            ? [Array.from({ length: 384 }, (_, i) => (i < 50 ? 1 : 0))]
            : new Array(elementCount(t.shape)).fill(0.5),
      }));
      // YOLO's 705,600 output floats come back as binary data: JSON that size only slows the suite.
      const binary = model === "yolo";
      const r = await fetch(`${url}/v2/models/${model}/infer`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: `rest-${model}`, inputs, parameters: { binary_data_output: binary } }),
      });
      assert.equal(r.status, 200);
      const { json, tail } = binary ? await binaryResponse(r) : { json: await r.json(), tail: Buffer.alloc(0) };
      const body = json as { model_name: string; model_version: string; id: string; outputs: Out[] };
      assert.equal(body.model_name, model);
      assert.equal(body.model_version, "1");
      assert.equal(body.id, `rest-${model}`);
      const size = (o: { datatype: string; shape: number[] }) =>
        elementCount(concrete(o.shape, 1)) * (binary ? DATATYPE_SIZE[o.datatype as Datatype] : 1);
      assert.deepEqual(
        body.outputs.map((o) => [
          o.name,
          o.datatype,
          o.shape,
          binary ? o.parameters!.binary_data_size : o.data!.length,
        ]),
        m.outputs.map((o) => [o.name, o.datatype, concrete(o.shape, 1), size(o)]),
      );
      if (binary) assert.equal(tail.length, size(m.outputs[0]!));
    });
  }

  it("POST .../versions/{v}/infer picks the version and honours the output selection", async () => {
    const data = new Array(384).fill(1);
    const r = await post("/v2/models/bert/versions/1/infer", {
      inputs: ["input_ids", "attention_mask", "token_type_ids"].map((name) => ({
        name,
        datatype: "INT64",
        shape: [1, 384],
        data,
      })),
      outputs: [{ name: "end_logits" }],
    });
    const body = r.body as { model_version: string; outputs: Out[] };
    assert.equal(body.model_version, "1");
    assert.deepEqual(
      body.outputs.map((o) => o.name),
      ["end_logits"],
    );
  });

  it("accepts the binary tensor data extension and returns binary outputs with Inference-Header-Content-Length", async () => {
    const m = meta.get("yolo")!;
    const { body, headerLength } = binaryBody(m, 2, { parameters: { binary_data_output: true } });
    const res = await fetch(`${url}/v2/models/yolo/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(headerLength) },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    const { json, tail } = await binaryResponse(res);
    const out = (json.outputs as Out[])[0]!;
    assert.deepEqual(out.shape, [2, 84, 8400]);
    assert.equal(out.data, undefined);
    assert.equal(out.parameters!.binary_data_size, 2 * 84 * 8400 * 4);
    assert.equal(tail.length, 2 * 84 * 8400 * 4);
  });

  it("mixes binary and JSON outputs as each output's binary_data asks", async () => {
    const m = meta.get("bert")!;
    const { body, headerLength } = binaryBody(m, 1, {
      outputs: [
        { name: "start_logits", parameters: { binary_data: true } },
        { name: "end_logits", parameters: { binary_data: false } },
      ],
    });
    const res = await fetch(`${url}/v2/models/bert/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(headerLength) },
      body,
    });
    const { json, tail } = await binaryResponse(res);
    const [start, end] = json.outputs as Out[];
    assert.equal(start!.parameters!.binary_data_size, 384 * 4);
    assert.equal(tail.length, 384 * 4);
    assert.equal(end!.data!.length, 384);
  });

  it("takes binary bodies without a Content-Type (Triton's Python client) and gzip-encoded ones", async () => {
    const m = meta.get("resnet")!;
    const { body, headerLength } = binaryBody(m, 1);
    const plain = await fetch(`${url}/v2/models/resnet/infer`, {
      method: "POST",
      headers: { "inference-header-content-length": String(headerLength) },
      body: new Uint8Array(body),
    });
    assert.equal(plain.status, 200, await plain.clone().text());
    const probs = ((await plain.json()) as { outputs: Out[] }).outputs[0]!.data as number[];
    const gz = await fetch(`${url}/v2/models/resnet/infer`, {
      method: "POST",
      headers: { "inference-header-content-length": String(headerLength), "content-encoding": "gzip" },
      body: new Uint8Array(gzipSync(body)),
    });
    assert.equal(gz.status, 200);
    assert.deepEqual(((await gz.json()) as { outputs: Out[] }).outputs[0]!.data, probs, "same bytes, same output");
    const sagemaker = await fetch(`${url}/v2/models/resnet/infer`, {
      method: "POST",
      headers: { "content-type": `application/vnd.sagemaker-triton.binary+json;json-header-size=${headerLength}` },
      body: new Uint8Array(body),
    });
    assert.equal(sagemaker.status, 200);
    assert.equal(argmax(probs), argmax(((await sagemaker.json()) as { outputs: Out[] }).outputs[0]!.data as number[]));
  });

  it("accepts FP16 inputs as raw bytes (binary extension) on a model declared through a load config", async () => {
    const load = await post("/v2/repository/models/halfnet/load", {
      parameters: {
        config: {
          max_batch_size: 4,
          input: [{ name: "x", data_type: "TYPE_FP16", dims: [8] }],
          output: [{ name: "y", data_type: "TYPE_FP16", dims: [2] }],
        },
      },
    });
    assert.deepEqual(load, { status: 200, body: { name: "halfnet", load: true } });
    const raw = Buffer.alloc(3 * 8 * 2);
    for (let i = 0; i < 24; i++) raw.writeUInt16LE(floatToHalf(i / 10), i * 2);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: "x", datatype: "FP16", shape: [3, 8], parameters: { binary_data_size: raw.length } }],
        outputs: [{ name: "y", parameters: { binary_data: true } }],
      }),
    );
    const res = await fetch(`${url}/v2/models/halfnet/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
      body: Buffer.concat([header, raw]),
    });
    const { json, tail } = await binaryResponse(res);
    assert.deepEqual((json.outputs as Out[])[0]!.shape, [3, 2]);
    assert.equal(tail.length, 3 * 2 * DATATYPE_SIZE["FP16" as Datatype]);
  });

  it("returns top-k classes with the classification extension", async () => {
    const r = await post("/v2/models/resnet/infer", {
      inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 224, 224], data: new Array(150528).fill(0.1) }],
      outputs: [{ name: "output", parameters: { classification: 2 } }],
    });
    const out = (r.body as { outputs: Out[] }).outputs[0]!;
    assert.equal(out.datatype, "BYTES");
    assert.deepEqual(out.shape, [1, 2]);
    assert.match(String(out.data![0]), /^0\.\d{6}:\d+$/);
  });

  it("GET .../config gives Triton's model configuration", async () => {
    const { body } = await get("/v2/models/yolo/config");
    assert.equal(body.name, "yolo");
    assert.equal(body.max_batch_size, 16);
    assert.deepEqual(body.input, [
      {
        name: "images",
        data_type: "TYPE_FP32",
        format: "FORMAT_NCHW",
        dims: [3, 640, 640],
        is_shape_tensor: false,
        allow_ragged_batch: false,
        optional: false,
      },
    ]);
    assert.deepEqual((await get("/v2/models/yolo/versions/1/config")).body, body);
  });

  it("GET .../stats for all models, one model and one version", async () => {
    await post("/v2/models/resnet/infer", {
      inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 224, 224], data: new Array(150528).fill(0) }],
    });
    type Stat = {
      name: string;
      version: string;
      inference_count: number;
      inference_stats: Record<string, { count: number; ns: number }>;
    };
    const all = (await get("/v2/models/stats")).body.model_stats as Stat[];
    for (const m of ["resnet", "yolo", "bert"]) assert.ok(all.some((s) => s.name === m));
    const one = (await get("/v2/models/resnet/stats")).body.model_stats as Stat[];
    assert.equal(one.length, 1);
    assert.ok(one[0]!.inference_count >= 1);
    assert.ok(one[0]!.inference_stats.success!.count >= 1);
    assert.ok(one[0]!.inference_stats.compute_infer!.ns > 0);
    const v = (await get("/v2/models/resnet/versions/1/stats")).body.model_stats as Stat[];
    assert.equal(v[0]!.version, "1");
  });

  it("POST /v2/repository/index, unload and load (with or without a body)", async () => {
    const index = (await post("/v2/repository/index")).body as { name: string; version: string; state: string }[];
    assert.ok(index.some((m) => m.name === "resnet" && m.version === "1" && m.state === "READY"));
    assert.deepEqual(await post("/v2/repository/models/resnet/unload"), {
      status: 200,
      body: { name: "resnet", unload: true },
    });
    assert.deepEqual(await get("/v2/models/resnet/ready"), { status: 503, body: { name: "resnet", ready: false } });
    const infer = await post("/v2/models/resnet/infer", {
      inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 224, 224], data: new Array(150528).fill(0) }],
    });
    assert.equal(infer.status, 404);
    const readyOnly = (await post("/v2/repository/index", { ready: true })).body as { name: string }[];
    assert.ok(!readyOnly.some((m) => m.name === "resnet"));
    const all = (await post("/v2/repository/index", {})).body as { name: string; state: string; reason: string }[];
    assert.deepEqual(
      all.find((m) => m.name === "resnet"),
      { name: "resnet", version: "1", state: "UNAVAILABLE", reason: "unloaded" },
    );
    assert.deepEqual(await post("/v2/repository/models/resnet/load", {}), {
      status: 200,
      body: { name: "resnet", load: true },
    });
    assert.equal((await get("/v2/models/resnet/ready")).status, 200);
  });
});
