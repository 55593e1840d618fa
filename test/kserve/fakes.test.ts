import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { builtinModels } from "../../src/engine/models/defaults.js";
import type { ModelDefinition } from "../../src/engine/models/definition.js";
import { decodeBytesElements } from "../../src/engine/tensors.js";
import { argmax, engineWithModels, floats, int64Rows, request, settle, tensor } from "./helpers.js";

describe("tensor fakes", () => {
  it("resnet returns per-item probabilities that sum to 1 with a clear top class", async () => {
    const { clock, repo } = engineWithModels();
    const out = await settle(clock, repo.infer("resnet", "", request([tensor("input", "FP32", [2, 3, 224, 224])])));
    const t = out.outputs[0]!;
    assert.deepEqual(t.shape, [2, 1000]);
    assert.equal(t.data.length, 2 * 1000 * 4);
    const v = floats(t.data);
    for (let b = 0; b < 2; b++) {
      const row = v.subarray(b * 1000, (b + 1) * 1000);
      const sum = row.reduce((a, x) => a + x, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `sum ${sum}`);
      const sorted = [...row].sort((a, c) => c - a);
      assert.ok(sorted[0]! > 0.5 && sorted[0]! > 10 * sorted[1]!, `top ${sorted[0]} second ${sorted[1]}`);
      assert.ok(row.every((x) => x > 0));
    }
  });

  it("is deterministic: the same input bytes and seed give the same output, other inputs another class", async () => {
    const { clock, repo } = engineWithModels();
    const run = async (fill: number) =>
      (await settle(clock, repo.infer("resnet", "", request([tensor("input", "FP32", [1, 3, 224, 224], fill)]))))
        .outputs[0]!.data;
    const a = await run(1);
    const b = await run(1);
    assert.ok(a.equals(b));
    const tops = new Set<number>();
    for (let fill = 1; fill <= 8; fill++) tops.add(argmax(floats(await run(fill))));
    assert.ok(tops.size >= 6, `top classes ${[...tops]}`);
    const again = async (seed: number) => {
      const other = engineWithModels(builtinModels(), {}, seed);
      const p = other.repo.infer("resnet", "", request([tensor("input", "FP32", [1, 3, 224, 224], 1)]));
      return (await settle(other.clock, p)).outputs[0]!.data;
    };
    assert.ok((await again(1)).equals(a), "the same seed in another engine gives the same bytes");
    assert.ok(!(await again(2)).equals(a), "another seed gives other bytes");
  });

  it("yolo boxes stay inside the 640x640 image, class ids < 80 and scores in (0,1)", async () => {
    const { clock, repo } = engineWithModels();
    const out = await settle(clock, repo.infer("yolo", "", request([tensor("images", "FP32", [1, 3, 640, 640])])));
    const t = out.outputs[0]!;
    assert.deepEqual(t.shape, [1, 84, 8400]);
    const v = floats(t.data);
    const A = 8400;
    let confident = 0;
    for (let a = 0; a < A; a++) {
      const [cx, cy, w, h] = [v[a]!, v[A + a]!, v[2 * A + a]!, v[3 * A + a]!];
      assert.ok(cx - w / 2 >= -1e-3 && cx + w / 2 <= 640 + 1e-3, `x box ${cx},${w}`);
      assert.ok(cy - h / 2 >= -1e-3 && cy + h / 2 <= 640 + 1e-3, `y box ${cy},${h}`);
      let best = 0;
      let bestClass = 0;
      for (let c = 0; c < 80; c++) {
        const s = v[(4 + c) * A + a]!;
        assert.ok(s > 0 && s < 1, `score ${s}`);
        if (s > best) [best, bestClass] = [s, c];
      }
      assert.ok(bestClass < 80);
      if (best > 0.5) confident++;
    }
    assert.ok(confident >= 1 && confident <= 6, `${confident} confident detections`);
  });

  it("bert puts start <= end inside the attention mask and the context segment", async () => {
    const { clock, repo } = engineWithModels();
    for (const fill of [1, 2, 3, 4, 5]) {
      const inputs = [
        int64Rows("input_ids", 2, 384, (i) => 100 + ((i * fill) % 900)),
        int64Rows("attention_mask", 2, 384, (i) => (i < 120 ? 1 : 0)),
        int64Rows("token_type_ids", 2, 384, (i) => (i >= 30 && i < 120 ? 1 : 0)),
      ];
      const out = await settle(clock, repo.infer("bert", "", request(inputs)));
      assert.deepEqual(
        out.outputs.map((o) => [o.name, o.shape]),
        [
          ["start_logits", [2, 384]],
          ["end_logits", [2, 384]],
        ],
      );
      const s = floats(out.outputs[0]!.data);
      const e = floats(out.outputs[1]!.data);
      for (let b = 0; b < 2; b++) {
        const start = argmax(s, b * 384, (b + 1) * 384);
        const end = argmax(e, b * 384, (b + 1) * 384);
        assert.ok(start <= end, `start ${start} end ${end}`);
        assert.ok(start >= 30 && end < 119, `span ${start}..${end}`);
      }
    }
  });

  it("honours the requested outputs and their order", async () => {
    const { clock, repo } = engineWithModels();
    const inputs = [
      int64Rows("input_ids", 1, 384, () => 1),
      int64Rows("attention_mask", 1, 384, () => 1),
      int64Rows("token_type_ids", 1, 384, () => 0),
    ];
    const out = await settle(clock, repo.infer("bert", "", request(inputs, { requestedOutputs: ["end_logits"] })));
    assert.deepEqual(
      out.outputs.map((o) => o.name),
      ["end_logits"],
    );
  });

  it("serves user-declared models of any datatype and shape without code", async () => {
    const custom: ModelDefinition = {
      name: "ranker",
      kind: "generic",
      platform: "python",
      backend: "python",
      versions: ["1", "2"],
      maxBatchSize: 4,
      instances: 0,
      latency: { baseMs: 1, perItemMs: 0, stdDevMs: 0 },
      inputs: [{ name: "features", datatype: "INT32", shape: [-1, 16] }],
      outputs: [
        { name: "scores", datatype: "FP16", shape: [-1, 5] },
        { name: "labels", datatype: "BYTES", shape: [-1, 2] },
      ],
      loaded: true,
    };
    const { clock, repo } = engineWithModels([custom]);
    const out = await settle(clock, repo.infer("ranker", "", request([tensor("features", "INT32", [3, 16])])));
    assert.equal(out.modelVersion, "2");
    assert.deepEqual(out.outputs[0]!.shape, [3, 5]);
    assert.equal(out.outputs[0]!.data.length, 3 * 5 * 2);
    assert.deepEqual(out.outputs[1]!.shape, [3, 2]);
    assert.equal(decodeBytesElements(out.outputs[1]!.data).length, 6);
  });

  it("applies Triton's classification extension to a requested output", async () => {
    const { clock, repo } = engineWithModels();
    const out = await settle(
      clock,
      repo.infer(
        "resnet",
        "",
        request([tensor("input", "FP32", [2, 3, 224, 224])], {
          requestedOutputs: ["output"],
          outputParameters: { output: { classification: 3 } },
        }),
      ),
    );
    const t = out.outputs[0]!;
    assert.equal(t.datatype, "BYTES");
    assert.deepEqual(t.shape, [2, 3]);
    const entries = decodeBytesElements(t.data).map((b) => b.toString());
    assert.equal(entries.length, 6);
    assert.match(entries[0]!, /^0\.\d{6}:\d+$/);
    assert.ok(Number(entries[0]!.split(":")[0]) > Number(entries[1]!.split(":")[0]));
  });
});
