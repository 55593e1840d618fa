import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type InferParameter,
  ModelInferRequest,
  ModelInferResponse,
  ModelStreamInferResponse,
} from "../../gen/proto/inference/grpc_service.js";
import {
  decodeModelInferRequest,
  encodeModelInferResponse,
  encodeModelStreamInferResponse,
} from "../../src/grpc/codec.js";

const generated = (m: ModelInferResponse) => Buffer.from(ModelInferResponse.encode(m).finish());

const PARAMS: { [key: string]: InferParameter } = {
  finish_reason: { parameterChoice: { $case: "stringParam", value: "stop" } },
  flag: { parameterChoice: { $case: "boolParam", value: true } },
  off: { parameterChoice: { $case: "boolParam", value: false } },
  small: { parameterChoice: { $case: "int64Param", value: 7 } },
  big: { parameterChoice: { $case: "int64Param", value: 2 ** 40 + 3 } },
  negative: { parameterChoice: { $case: "int64Param", value: -5 } },
  ratio: { parameterChoice: { $case: "doubleParam", value: -0.125 } },
  unsigned: { parameterChoice: { $case: "uint64Param", value: 2 ** 35 } },
  "ünïcode key": { parameterChoice: { $case: "stringParam", value: "héllo ✓ \u{1f600}" } },
  "": { parameterChoice: { $case: "stringParam", value: "" } },
  empty: {},
};

function response(extra: Partial<ModelInferResponse> = {}): ModelInferResponse {
  return {
    modelName: "resnet",
    modelVersion: "1",
    id: "req-1",
    parameters: {},
    outputs: [{ name: "output", datatype: "FP32", shape: [1, 1000], parameters: {} }],
    rawOutputContents: [Buffer.alloc(4000, 7)],
    ...extra,
  };
}

describe("hand-written ModelInfer codecs", () => {
  it("encode responses to exactly the generated encoder's bytes", () => {
    const cases: ModelInferResponse[] = [
      response(),
      response({ modelName: "", modelVersion: "", id: "", outputs: [], rawOutputContents: [] }),
      response({ parameters: PARAMS }),
      response({
        id: "x".repeat(300),
        outputs: [
          { name: "a", datatype: "INT64", shape: [], parameters: PARAMS },
          { name: "", datatype: "", shape: [0, 127, 128, 16384, 2 ** 31, 2 ** 33, -1], parameters: {} },
          {
            name: "typed",
            datatype: "FP32",
            shape: [3],
            parameters: { binary_data: { parameterChoice: { $case: "boolParam", value: false } } },
            contents: {
              boolContents: [],
              intContents: [],
              int64Contents: [],
              uintContents: [],
              uint64Contents: [],
              fp32Contents: [1.5, -2, 3],
              fp64Contents: [],
              bytesContents: [],
            },
          },
        ],
        rawOutputContents: [Buffer.from([1, 2, 3]), Buffer.alloc(0), Buffer.alloc(200_000, 1)],
      }),
    ];
    for (const m of cases) assert.deepEqual(encodeModelInferResponse(m), generated(m));
  });

  it("encode stream responses to exactly the generated encoder's bytes", () => {
    const cases: ModelStreamInferResponse[] = [
      { errorMessage: "", inferResponse: response({ parameters: PARAMS }) },
      { errorMessage: "input 'x' is wrong ✗", inferResponse: response({ outputs: [], rawOutputContents: [] }) },
      { errorMessage: "only an error", inferResponse: undefined },
    ];
    for (const m of cases) {
      assert.deepEqual(encodeModelStreamInferResponse(m), Buffer.from(ModelStreamInferResponse.encode(m).finish()));
    }
  });

  it("decode requests like the generated decoder, raw inputs as views of the message buffer", () => {
    const raw = Buffer.alloc(602_112);
    for (let i = 0; i < raw.length; i++) raw[i] = i & 0xff;
    const msg = ModelInferRequest.fromPartial({
      modelName: "resnet",
      modelVersion: "1",
      id: "abc",
      parameters: { priority: { parameterChoice: { $case: "int64Param", value: 2 } } },
      inputs: [
        { name: "input", datatype: "FP32", shape: [1, 3, 224, 224] },
        { name: "text", datatype: "BYTES", shape: [1], parameters: PARAMS },
      ],
      outputs: [
        { name: "output", parameters: { classification: { parameterChoice: { $case: "int64Param", value: 3 } } } },
      ],
      rawInputContents: [raw, Buffer.from([4, 0, 0, 0, 104, 105, 33, 33])],
    });
    const wire = Buffer.from(ModelInferRequest.encode(msg).finish());
    const mine = decodeModelInferRequest(wire);
    assert.deepEqual(mine, ModelInferRequest.decode(wire));
    const first = mine.rawInputContents[0] as Buffer;
    assert.ok(Buffer.isBuffer(first));
    assert.equal(first.buffer, wire.buffer, "raw_input_contents is not copied");
    assert.ok(first.equals(raw));
  });

  it("decode typed contents and skip unknown fields", () => {
    const msg = ModelInferRequest.fromPartial({
      modelName: "bert",
      inputs: [{ name: "input_ids", datatype: "INT64", shape: [1, 2], contents: { int64Contents: [101, -1] } }],
    });
    const known = Buffer.from(ModelInferRequest.encode(msg).finish());
    // field 15 (varint) and field 16 (length-delimited) are unknown to this proto version
    const wire = Buffer.concat([known, Buffer.from([0x78, 0x96, 0x01, 0x82, 0x01, 0x02, 0xaa, 0xbb])]);
    assert.deepEqual(decodeModelInferRequest(wire), ModelInferRequest.decode(wire));
  });
});
