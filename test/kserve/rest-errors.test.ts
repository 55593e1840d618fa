import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";

const RESNET_DATA = new Array(150528).fill(0);
const resnetInput = (over: Record<string, unknown> = {}) => ({
  name: "input",
  datatype: "FP32",
  shape: [1, 3, 224, 224],
  data: RESNET_DATA,
  ...over,
});
const bertInputs = (batch = 1) =>
  ["input_ids", "attention_mask", "token_type_ids"].map((name) => ({
    name,
    datatype: "INT64",
    shape: [batch, 384],
    data: new Array(batch * 384).fill(1),
  }));

describe('KServe v2 REST errors: status codes and {"error": ...} messages', () => {
  let server: DecoyServer;
  let url: string;
  const req = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body);
      if (!Buffer.isBuffer(body)) (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    const r = await fetch(url + path, init);
    const json = (await r.json()) as { error: string };
    assert.deepEqual(Object.keys(json), ["error"], `KServe error shape: ${JSON.stringify(json)}`);
    assert.equal(typeof json.error, "string");
    return { status: r.status, error: json.error };
  };
  const infer = (model: string, body: unknown) => req("POST", `/v2/models/${model}/infer`, body);
  const expect400 = async (p: Promise<{ status: number; error: string }>, ...patterns: RegExp[]) => {
    const r = await p;
    assert.equal(r.status, 400, r.error);
    for (const re of patterns) assert.match(r.error, re);
  };

  before(async () => {
    server = await startTestServer({
      modelLatencyMs: 1,
      modelPerItemLatencyMs: 0,
      modelLatencyStdDevMs: 0,
      maxRequestBodySizeMb: 2,
    });
    url = server.httpUrl;
  });
  after(async () => {
    await server.close();
  });

  it("unknown model or version is 404 on every model route", async () => {
    for (const [method, path] of [
      ["GET", "/v2/models/nope"],
      ["GET", "/v2/models/resnet/versions/9"],
      ["GET", "/v2/models/nope/ready"],
      ["GET", "/v2/models/nope/config"],
      ["GET", "/v2/models/resnet/versions/9/config"],
      ["GET", "/v2/models/nope/stats"],
      ["GET", "/v2/models/resnet/versions/9/stats"],
      ["POST", "/v2/repository/models/nope/load"],
      ["POST", "/v2/repository/models/nope/unload"],
    ] as const) {
      const r = await req(method, path);
      assert.equal(r.status, 404, `${method} ${path}: ${r.error}`);
    }
    const r = await infer("nope", { inputs: [resnetInput()] });
    assert.equal(r.status, 404);
    assert.match(r.error, /'nope' is not found/);
    const v = await req("POST", "/v2/models/resnet/versions/2/infer", { inputs: [resnetInput()] });
    assert.equal(v.status, 404);
    assert.match(v.error, /'resnet' version 2 is not found/);
  });

  it("wrong input name, missing input, wrong datatype and wrong shape are 400s naming the input", async () => {
    await expect400(infer("resnet", { inputs: [resnetInput({ name: "img" })] }), /unexpected inference input 'img'/);
    await expect400(infer("bert", { inputs: bertInputs().slice(0, 2) }), /input 'token_type_ids' \(INT64 \[-1,384\]\)/);
    await expect400(
      infer("resnet", { inputs: [resnetInput({ datatype: "FP64" })] }),
      /input 'input'.*datatype FP64, expected FP32/,
    );
    await expect400(
      infer("resnet", { inputs: [resnetInput({ shape: [1, 224, 224, 3] })] }),
      /shape \[1,224,224,3\], expected \[-1,3,224,224\]/,
    );
    await expect400(infer("resnet", { inputs: [resnetInput({ datatype: "float32" })] }), /unknown datatype 'float32'/);
  });

  it("data whose element count does not match the shape is a 400 with the expected count", async () => {
    await expect400(
      infer("resnet", { inputs: [resnetInput({ data: [1, 2, 3] })] }),
      /input 'input' has 3 elements in data, expected 150528 for shape \[1,3,224,224\]/,
    );
    await expect400(
      infer("bert", { inputs: bertInputs().map((t) => ({ ...t, data: ["a", ...t.data.slice(1)] })) }),
      /input 'input_ids': element 0 is "a", expected an integer/,
    );
    await expect400(infer("resnet", { inputs: [resnetInput({ data: undefined })] }), /input 'input' has no data/);
  });

  it("binary data sizes that do not add up are 400s", async () => {
    const header = (size: number) =>
      Buffer.from(
        JSON.stringify({
          inputs: [
            { name: "input", datatype: "FP32", shape: [1, 3, 224, 224], parameters: { binary_data_size: size } },
          ],
        }),
      );
    const send = (h: Buffer, data: Buffer) =>
      req("POST", "/v2/models/resnet/infer", Buffer.concat([h, data]), {
        "content-type": "application/octet-stream",
        "inference-header-content-length": String(h.length),
      });
    await expect400(send(header(602112), Buffer.alloc(100)), /binary_data_size 602112 but only 100 bytes/);
    await expect400(send(header(100), Buffer.alloc(100)), /input 'input'.*100 bytes of data, expected 602112/);
    await expect400(send(header(100), Buffer.alloc(150)), /150 bytes of binary data.*add up to 100/);
    const bad = Buffer.from("{not json");
    await expect400(
      req("POST", "/v2/models/resnet/infer", bad, {
        "content-type": "application/octet-stream",
        "inference-header-content-length": String(bad.length),
      }),
      /not valid JSON/,
    );
    await expect400(
      req("POST", "/v2/models/resnet/infer", Buffer.from("{}"), {
        "content-type": "application/octet-stream",
        "inference-header-content-length": "99",
      }),
      /Inference-Header-Content-Length is 99/,
    );
  });

  it("batch above the max batch size is a 400 with the limit", async () => {
    await expect400(infer("bert", { inputs: bertInputs(17) }), /batch size 17, expected 1 to 16/);
  });

  it("an unknown requested output is a 400", async () => {
    await expect400(
      infer("resnet", { inputs: [resnetInput()], outputs: [{ name: "logits" }] }),
      /unexpected inference output 'logits'/,
    );
  });

  it("a body that fails the request schema is a 400", async () => {
    await expect400(infer("resnet", { inputs: "nope" }));
    await expect400(infer("resnet", { nothing: true }), /inputs/);
  });

  it("an oversized body is a 413 and the server keeps serving", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024);
    const r = await req("POST", "/v2/models/yolo/infer", big, {
      "content-type": "application/octet-stream",
      "inference-header-content-length": "10",
    });
    assert.equal(r.status, 413);
    const ok = await fetch(`${url}/v2/models/resnet/ready`);
    assert.equal(ok.status, 200);
  });

  it("an unloaded model is not ready (503) and 404 for inference until loaded again", async () => {
    await fetch(`${url}/v2/repository/models/bert/unload`, { method: "POST" });
    const ready = await fetch(`${url}/v2/models/bert/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { name: "bert", ready: false });
    const r = await infer("bert", { inputs: bertInputs() });
    assert.equal(r.status, 404);
    assert.match(r.error, /'bert' has no available versions \(unloaded\)/);
    assert.equal((await req("GET", "/v2/models/bert")).status, 404);
    await fetch(`${url}/v2/repository/models/bert/load`, { method: "POST" });
    assert.equal((await fetch(`${url}/v2/models/bert/ready`)).status, 200);
  });

  it("a malformed load config is a 400", async () => {
    const r = await req("POST", "/v2/repository/models/x/load", {
      parameters: { config: { max_batch_size: 2, input: [{ name: "a", data_type: "TYPE_FP32", dims: [4] }] } },
    });
    assert.equal(r.status, 400);
    assert.match(r.error, /outputs/);
  });
});
