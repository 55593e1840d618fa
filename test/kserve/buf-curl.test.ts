import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Datatype } from "../../src/engine/models/types.js";
import { DATATYPE_SIZE, elementCount } from "../../src/engine/tensors.js";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import { type BufResult, bufCurl } from "./buf.js";
import { inputsFor } from "./helpers.js";

interface Meta {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: string[] }[];
  outputs: { name: string; datatype: string; shape: string[] }[];
}

const ok = (r: BufResult) => {
  assert.equal(r.code, 0, r.stderr);
  return r.messages[0] as Record<string, unknown>;
};

/** A ModelInfer request in protojson (shape as numbers, raw contents base64) built from metadata. */
function inferJson(meta: Meta, batch: number, id: string) {
  const inputs = inputsFor({ inputs: meta.inputs.map((t) => ({ ...t, shape: t.shape.map(Number) })) }, batch);
  return {
    model_name: meta.name,
    id,
    inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    raw_input_contents: inputs.map((t) => t.data.toString("base64")),
  };
}

describe("KServe v2 gRPC through buf curl and server reflection", () => {
  let server: DecoyServer;
  let addr: string;
  const meta = new Map<string, Meta>();
  before(async () => {
    server = await startTestServer({ modelLatencyMs: 1, modelPerItemLatencyMs: 0, modelLatencyStdDevMs: 0 });
    addr = server.grpcAddress;
    await Promise.all(
      ["resnet", "yolo", "bert"].map(async (m) =>
        meta.set(m, ok(await bufCurl(addr, "ModelMetadata", { name: m })) as never),
      ),
    );
  });
  after(async () => {
    await server.close();
  });

  it("ServerLive, ServerReady, ServerMetadata and ModelReady", async () => {
    const [live, ready, md, model] = await Promise.all([
      bufCurl(addr, "ServerLive", {}),
      bufCurl(addr, "ServerReady", {}),
      bufCurl(addr, "ServerMetadata", {}),
      bufCurl(addr, "ModelReady", { name: "yolo" }),
    ]);
    assert.deepEqual(ok(live), { live: true });
    assert.deepEqual(ok(ready), { ready: true });
    assert.equal(ok(md).name, "decoy");
    assert.ok((ok(md).extensions as string[]).includes("binary_tensor_data"));
    assert.deepEqual(ok(model), { ready: true });
  });

  it("ModelMetadata gives each model's tensors (int64 shapes as JSON strings)", () => {
    assert.deepEqual(meta.get("resnet")!.inputs, [
      { name: "input", datatype: "FP32", shape: ["-1", "3", "224", "224"] },
    ]);
    assert.deepEqual(meta.get("yolo")!.outputs, [{ name: "output0", datatype: "FP32", shape: ["-1", "84", "8400"] }]);
    assert.deepEqual(
      meta.get("bert")!.inputs.map((t) => t.name),
      ["input_ids", "attention_mask", "token_type_ids"],
    );
  });

  it("ModelInfer on resnet, yolo and bert: outputs match ModelMetadata names, datatypes, shapes and byte sizes", async () => {
    const models = ["resnet", "yolo", "bert"];
    const results = await Promise.all(
      models.map((m) => bufCurl(addr, "ModelInfer", inferJson(meta.get(m)!, 1, `buf-${m}`))),
    );
    results.forEach((r, k) => {
      const model = models[k]!;
      const m = meta.get(model)!;
      const res = ok(r);
      assert.equal(res.modelName, model);
      assert.equal(res.id, `buf-${model}`);
      const outputs = res.outputs as { name: string; datatype: string; shape: string[] }[];
      const raw = res.rawOutputContents as string[];
      assert.deepEqual(
        outputs.map((o) => [o.name, o.datatype, o.shape]),
        m.outputs.map((o) => [o.name, o.datatype, o.shape.map((d) => (d === "-1" ? "1" : d))]),
      );
      outputs.forEach((o, i) => {
        const bytes = Buffer.from(raw[i]!, "base64").length;
        assert.equal(bytes, elementCount(o.shape.map(Number)) * DATATYPE_SIZE[o.datatype as Datatype]);
      });
    });
  });

  it("ModelInfer with typed contents and binary_data false returns typed contents", async () => {
    const res = ok(
      await bufCurl(addr, "ModelInfer", {
        model_name: "resnet",
        inputs: [
          {
            name: "input",
            datatype: "FP32",
            shape: [1, 3, 224, 224],
            contents: { fp32_contents: new Array(3 * 224 * 224).fill(0.25) },
          },
        ],
        outputs: [{ name: "output", parameters: { binary_data: { bool_param: false } } }],
      }),
    );
    const out = (res.outputs as { contents: { fp32Contents: number[] } }[])[0]!;
    assert.equal(out.contents.fp32Contents.length, 1000);
    const sum = out.contents.fp32Contents.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-3);
  });

  it("ModelStreamInfer answers every request of a bidirectional stream", async () => {
    const r = await bufCurl(
      addr,
      "ModelStreamInfer",
      inferJson(meta.get("resnet")!, 1, "s1"),
      inferJson(meta.get("bert")!, 2, "s2"),
    );
    assert.equal(r.code, 0, r.stderr);
    const ids = r.messages.map((m) => (m.inferResponse as { id: string }).id).sort();
    assert.deepEqual(ids, ["s1", "s2"]);
  });

  it("ModelConfig, ModelStatistics and RepositoryIndex", async () => {
    const [cfg, stats, index] = await Promise.all([
      bufCurl(addr, "ModelConfig", { name: "bert" }),
      bufCurl(addr, "ModelStatistics", { name: "resnet", version: "1" }),
      bufCurl(addr, "RepositoryIndex", { ready: true }),
    ]);
    const config = ok(cfg).config as {
      name: string;
      maxBatchSize: number;
      input: { dataType: string; dims: string[] }[];
    };
    assert.equal(config.name, "bert");
    assert.equal(config.input[0]!.dataType, "TYPE_INT64");
    assert.deepEqual(config.input[0]!.dims, ["384"]);
    const s = (
      ok(stats).modelStats as { name: string; inferenceCount: string; inferenceStats: { success: { count: string } } }[]
    )[0]!;
    assert.equal(s.name, "resnet");
    assert.ok(Number(s.inferenceStats.success.count) >= 1);
    const models = ok(index).models as { name: string; state: string }[];
    assert.ok(models.some((m) => m.name === "yolo" && m.state === "READY"));
  });

  it("RepositoryModelUnload then RepositoryModelLoad", async () => {
    ok(await bufCurl(addr, "RepositoryModelUnload", { model_name: "yolo" }));
    const [notReady, gone] = await Promise.all([
      bufCurl(addr, "ModelReady", { name: "yolo" }),
      bufCurl(addr, "ModelMetadata", { name: "yolo" }),
    ]);
    assert.deepEqual(ok(notReady), {});
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /not_found/i);
    ok(await bufCurl(addr, "RepositoryModelLoad", { model_name: "yolo" }));
    assert.deepEqual(ok(await bufCurl(addr, "ModelReady", { name: "yolo" })), { ready: true });
  });

  it("bad requests come back with their status code and message", async () => {
    const resnet = () => inferJson(meta.get("resnet")!, 1, "x");
    const bert = () => inferJson(meta.get("bert")!, 17, "x");
    const cases: [string, Record<string, unknown>, RegExp, RegExp][] = [
      ["unknown model", { ...resnet(), model_name: "nope" }, /not_found/i, /'nope' is not found/],
      ["unknown version", { ...resnet(), model_version: "3" }, /not_found/i, /'resnet' version 3 is not found/],
      [
        "raw byte size",
        { ...resnet(), raw_input_contents: [Buffer.alloc(12).toString("base64")] },
        /invalid_argument/i,
        /12 bytes of data, expected 602112/,
      ],
      [
        "wrong input name",
        { ...resnet(), inputs: [{ name: "pixels", datatype: "FP32", shape: [1, 3, 224, 224] }] },
        /invalid_argument/i,
        /unexpected inference input 'pixels'/,
      ],
      [
        "missing input",
        (() => {
          const b = inferJson(meta.get("bert")!, 1, "x");
          return { ...b, inputs: b.inputs.slice(0, 2), raw_input_contents: b.raw_input_contents.slice(0, 2) };
        })(),
        /invalid_argument/i,
        /input 'token_type_ids' \(INT64 \[-1,384\]\).*missing/,
      ],
      [
        "wrong datatype",
        {
          ...resnet(),
          inputs: [{ name: "input", datatype: "FP16", shape: [1, 3, 224, 224] }],
          raw_input_contents: [Buffer.alloc(3 * 224 * 224 * 2).toString("base64")],
        },
        /invalid_argument/i,
        /datatype FP16, expected FP32/,
      ],
      [
        "wrong shape",
        {
          ...resnet(),
          inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 224, 225] }],
          raw_input_contents: [Buffer.alloc(3 * 224 * 225 * 4).toString("base64")],
        },
        /invalid_argument/i,
        /shape \[1,3,224,225\], expected \[-1,3,224,224\]/,
      ],
      [
        "contents count",
        {
          ...resnet(),
          inputs: [
            { name: "input", datatype: "FP32", shape: [1, 3, 224, 224], contents: { fp32_contents: [1, 2, 3] } },
          ],
          raw_input_contents: [],
        },
        /invalid_argument/i,
        /3 elements in fp32_contents, expected 150528/,
      ],
      ["batch above max", bert(), /invalid_argument/i, /batch size 17, expected 1 to 16/],
      [
        "unknown output",
        { ...resnet(), outputs: [{ name: "probs" }] },
        /invalid_argument/i,
        /unexpected inference output 'probs'/,
      ],
    ];
    const results = await Promise.all(cases.map(([, msg]) => bufCurl(addr, "ModelInfer", msg)));
    cases.forEach(([what, , code, message], i) => {
      const r = results[i] as BufResult;
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, code, what);
      assert.match(r.stderr, message, what);
    });
  });

  it("an oversized message is RESOURCE_EXHAUSTED and the server keeps serving", async () => {
    const small = await startTestServer({ grpcMaxMessageSizeMb: 0.5, modelLatencyMs: 0 });
    try {
      const big = await bufCurl(small.grpcAddress, "ModelInfer", inferJson(meta.get("resnet")!, 1, "big"));
      assert.notEqual(big.code, 0);
      assert.match(big.stderr, /resource_exhausted/i);
      assert.deepEqual(ok(await bufCurl(small.grpcAddress, "ServerLive", {})), { live: true });
    } finally {
      await small.close();
    }
  });
});
