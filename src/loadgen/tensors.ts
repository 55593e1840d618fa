/**
 * Input tensors built from a model's KServe v2 metadata, once per run. Shapes and datatypes
 * come from the server so the same command drives Decoy, Triton or any KServe v2 server; only
 * the values are invented (seeded, so a run is reproducible).
 */
import type { Random } from "../engine/random.js";
import { CliError } from "./common/cli.js";

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform?: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface InputTensor {
  name: string;
  datatype: string;
  /** The metadata shape with every variable dimension (-1) set to 1: batch 1. */
  shape: number[];
  /** Raw little-endian contents, as Triton's binary extension and gRPC raw_input_contents carry them. */
  bytes: Buffer;
  /** The same values as a flat JSON array, built on demand (large for images). */
  json(): unknown[];
}

const FIXED_SIZES: Record<string, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  BF16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function concreteShape(shape: readonly (number | string | bigint)[]): number[] {
  return shape.map((d) => {
    const n = Number(d);
    return n < 0 || !Number.isFinite(n) ? 1 : n;
  });
}

/** Validates a metadata document from REST or gRPC and normalises its shapes to numbers. */
export function parseModelMetadata(raw: unknown, where: string): ModelMetadata {
  const bad = (why: string): CliError => new CliError(`unexpected model metadata from ${where}: ${why}`);
  if (typeof raw !== "object" || raw === null) throw bad("not a JSON object");
  const doc = raw as Record<string, unknown>;
  const tensors = (key: "inputs" | "outputs"): TensorMetadata[] => {
    const list = doc[key];
    if (!Array.isArray(list)) throw bad(`"${key}" is not a list`);
    return list.map((t, i) => {
      const o = (t ?? {}) as Record<string, unknown>;
      if (typeof o.name !== "string" || typeof o.datatype !== "string" || !Array.isArray(o.shape))
        throw bad(`${key}[${i}] lacks name, datatype or shape`);
      return { name: o.name, datatype: o.datatype.toUpperCase(), shape: o.shape.map((d) => Number(d)) };
    });
  };
  const inputs = tensors("inputs");
  if (inputs.length === 0) throw bad("the model declares no inputs");
  return {
    name: typeof doc.name === "string" ? doc.name : "",
    versions: Array.isArray(doc.versions) ? doc.versions.map(String) : [],
    platform: typeof doc.platform === "string" ? doc.platform : "",
    inputs,
    outputs: Array.isArray(doc.outputs) ? tensors("outputs") : [],
  };
}

/**
 * Plausible values for integer inputs: masks are all ones, segment/type ids zeros, anything
 * else (token ids, say) small positive numbers that are valid in every common vocabulary.
 */
function integerValue(name: string, rng: Random, max: number): number {
  const n = name.toLowerCase();
  if (n.includes("mask")) return 1;
  if (n.includes("type") || n.includes("segment")) return 0;
  return rng.int(1, Math.min(max, 999));
}

function fp16Bits(v: number): number {
  // Values are in [0, 1): exponent and mantissa from a float32 view are enough.
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0] as number;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7bff;
  return sign | (exp << 10) | ((u >>> 13) & 0x3ff);
}

export function makeInputTensor(meta: TensorMetadata, rng: Random): InputTensor {
  const shape = concreteShape(meta.shape);
  const count = elementCount(shape);
  const dt = meta.datatype.toUpperCase();
  let bytes: Buffer;
  let values: () => unknown[];
  if (dt === "BYTES") {
    const text = Buffer.from("decoy");
    bytes = Buffer.alloc(count * (4 + text.length));
    for (let i = 0; i < count; i++) {
      bytes.writeUInt32LE(text.length, i * (4 + text.length));
      text.copy(bytes, i * (4 + text.length) + 4);
    }
    values = () => Array.from({ length: count }, () => "decoy");
  } else {
    const size = FIXED_SIZES[dt];
    if (size === undefined) throw new CliError(`input "${meta.name}" has unsupported datatype ${meta.datatype}`);
    bytes = Buffer.alloc(count * size);
    for (let i = 0; i < count; i++) {
      const off = i * size;
      switch (dt) {
        case "FP32":
          bytes.writeFloatLE(rng.next(), off);
          break;
        case "FP64":
          bytes.writeDoubleLE(rng.next(), off);
          break;
        case "FP16":
          bytes.writeUInt16LE(fp16Bits(rng.next()), off);
          break;
        case "BF16":
          bytes.writeUInt16LE((new Uint32Array(new Float32Array([rng.next()]).buffer)[0] as number) >>> 16, off);
          break;
        case "BOOL":
          bytes.writeUInt8(1, off);
          break;
        case "UINT8":
          bytes.writeUInt8(rng.int(0, 255), off);
          break;
        case "INT8":
          bytes.writeInt8(integerValue(meta.name, rng, 127), off);
          break;
        case "UINT16":
        case "INT16":
          bytes.writeUInt16LE(integerValue(meta.name, rng, 32767), off);
          break;
        case "UINT32":
        case "INT32":
          bytes.writeUInt32LE(integerValue(meta.name, rng, 1 << 30), off);
          break;
        default:
          // INT64 / UINT64
          bytes.writeBigInt64LE(BigInt(integerValue(meta.name, rng, 1 << 30)), off);
      }
    }
    values = () => decode(dt, bytes, count);
  }
  return { name: meta.name, datatype: dt, shape, bytes, json: values };
}

function halfToFloat(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** The JSON form of raw tensor bytes (KServe's flattened row-major `data`). */
function decode(dt: string, bytes: Buffer, count: number): unknown[] {
  const out: unknown[] = new Array(count);
  for (let i = 0; i < count; i++) {
    switch (dt) {
      case "FP32":
        out[i] = bytes.readFloatLE(i * 4);
        break;
      case "FP64":
        out[i] = bytes.readDoubleLE(i * 8);
        break;
      case "FP16":
        out[i] = halfToFloat(bytes.readUInt16LE(i * 2));
        break;
      case "BF16":
        out[i] = new Float32Array(new Uint32Array([bytes.readUInt16LE(i * 2) << 16]).buffer)[0];
        break;
      case "BOOL":
        out[i] = bytes.readUInt8(i) !== 0;
        break;
      case "UINT8":
        out[i] = bytes.readUInt8(i);
        break;
      case "INT8":
        out[i] = bytes.readInt8(i);
        break;
      case "UINT16":
      case "INT16":
        out[i] = bytes.readUInt16LE(i * 2);
        break;
      case "UINT32":
      case "INT32":
        out[i] = bytes.readUInt32LE(i * 4);
        break;
      default:
        out[i] = Number(bytes.readBigInt64LE(i * 8));
    }
  }
  return out;
}
