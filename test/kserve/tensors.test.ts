import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bf16ToFloat,
  countBytesElements,
  DATATYPE_SIZE,
  decodeBytesElements,
  encodeBytesElements,
  fingerprint,
  fixedByteSize,
  flattenData,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  rawToValues,
  shapeMatches,
  typedView,
  valuesToRaw,
} from "../../src/engine/tensors.js";

describe("tensor helpers", () => {
  it("knows Triton's element sizes and that BYTES is variable", () => {
    assert.equal(DATATYPE_SIZE.FP32, 4);
    assert.equal(DATATYPE_SIZE.INT64, 8);
    assert.equal(DATATYPE_SIZE.FP16, 2);
    assert.equal(DATATYPE_SIZE.BF16, 2);
    assert.equal(DATATYPE_SIZE.BOOL, 1);
    assert.equal(fixedByteSize("FP32", [1, 3, 224, 224]), 602112);
    assert.equal(fixedByteSize("BYTES", [2]), undefined);
  });

  it("matches shapes with -1 as a wildcard and requires equal rank", () => {
    assert.ok(shapeMatches([-1, 3, 224, 224], [8, 3, 224, 224]));
    assert.ok(!shapeMatches([-1, 3, 224, 224], [8, 3, 224, 225]));
    assert.ok(!shapeMatches([-1, 384], [384]));
  });

  it("round-trips every numeric datatype through raw bytes", () => {
    const cases: [Parameters<typeof valuesToRaw>[0], unknown[]][] = [
      ["FP32", [0.5, -1.25, 3]],
      ["FP64", [0.1, 1e300]],
      ["INT8", [-128, 127]],
      ["UINT16", [0, 65535]],
      ["INT32", [-5, 7]],
      ["INT64", [-(2 ** 40), 2 ** 40]],
      ["UINT64", [0, 2 ** 50]],
      ["BOOL", [true, false, true]],
      ["FP16", [0.5, -2, 1024]],
      ["BF16", [1.5, -256]],
    ];
    for (const [dt, values] of cases) {
      const raw = valuesToRaw(dt, values, "t");
      assert.equal(raw.length, values.length * DATATYPE_SIZE[dt], dt);
      assert.deepEqual(rawToValues(dt, raw), values, dt);
    }
  });

  it("rejects values of the wrong kind, naming the tensor and element", () => {
    assert.throws(() => valuesToRaw("INT8", [1, 300], "input 'x'"), /input 'x': element 1 is 300, expected an integer/);
    assert.throws(() => valuesToRaw("FP32", [1, "a"], "input 'x'"), /element 1 is "a", expected a number/);
    assert.throws(() => valuesToRaw("BOOL", [2], "input 'x'"), /expected a boolean/);
  });

  it("encodes BYTES elements with 4-byte little-endian length prefixes", () => {
    const raw = encodeBytesElements(["ab", "", "xyz"]);
    assert.equal(raw.length, 4 + 2 + 4 + 0 + 4 + 3);
    assert.equal(raw.readUInt32LE(0), 2);
    assert.equal(countBytesElements(raw), 3);
    assert.deepEqual(
      decodeBytesElements(raw).map((b) => b.toString()),
      ["ab", "", "xyz"],
    );
    assert.equal(countBytesElements(raw.subarray(0, 5)), -1);
  });

  it("converts half and bfloat16 with rounding", () => {
    assert.equal(halfToFloat(floatToHalf(1 / 3)), 0.333251953125);
    assert.equal(halfToFloat(floatToHalf(70000)), Number.POSITIVE_INFINITY);
    assert.equal(bf16ToFloat(floatToBf16(2.71)), 2.703125);
  });

  it("flattens nested data in row-major order and leaves flat data untouched", () => {
    const flat = [1, 2, 3];
    assert.equal(flattenData(flat), flat);
    assert.deepEqual(flattenData([[[1, 2]], [[3, 4]]]), [1, 2, 3, 4]);
  });

  it("gives aligned typed views even over unaligned buffers", () => {
    const backing = Buffer.alloc(13);
    const unaligned = backing.subarray(1, 13);
    unaligned.writeFloatLE(2.5, 4);
    const v = typedView("FP32", unaligned) as Float32Array;
    assert.equal(v.length, 3);
    assert.equal(v[1], 2.5);
  });

  it("fingerprints deterministically and samples large buffers", () => {
    const big = Buffer.alloc(4_915_200, 7);
    assert.equal(fingerprint(big), fingerprint(Buffer.from(big)));
    const other = Buffer.from(big);
    other[0] = 8;
    assert.notEqual(fingerprint(big), fingerprint(other));
    assert.notEqual(fingerprint(big, 1), fingerprint(big, 2));
  });
});
