/**
 * Tensor helpers shared by every KServe surface: datatype sizes, shape checks, and
 * conversions between Triton's raw layout (little-endian, packed; BYTES elements each
 * prefixed by a 4-byte little-endian length) and JS values (JSON `data`, typed contents).
 * Conversions work on typed-array views, never on per-element JS objects, except when a
 * client explicitly asks for values (JSON or typed contents).
 */
import { DecoyError } from "./errors.js";
import type { Datatype } from "./models/types.js";

export const DATATYPES: readonly Datatype[] = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
  "BF16",
];

/** Bytes per element; 0 for BYTES (variable length). */
export const DATATYPE_SIZE: Readonly<Record<Datatype, number>> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
  BYTES: 0,
  BF16: 2,
};

export function isDatatype(s: unknown): s is Datatype {
  return typeof s === "string" && Object.hasOwn(DATATYPE_SIZE, s);
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Byte size of a fixed-size tensor; undefined for BYTES. */
export function fixedByteSize(datatype: Datatype, shape: readonly number[]): number | undefined {
  const size = DATATYPE_SIZE[datatype];
  return size === 0 ? undefined : size * elementCount(shape);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** A concrete shape against a declared one, where -1 accepts any size. */
export function shapeMatches(declared: readonly number[], actual: readonly number[]): boolean {
  if (declared.length !== actual.length) return false;
  for (let i = 0; i < declared.length; i++) {
    const d = declared[i] as number;
    if (d !== -1 && d !== actual[i]) return false;
  }
  return true;
}

/** True when every dimension is a non-negative safe integer. */
export function isConcreteShape(shape: readonly unknown[]): shape is number[] {
  return shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0);
}

/** Number of length-prefixed elements in a raw BYTES tensor, or -1 when the framing is broken. */
export function countBytesElements(buf: Uint8Array): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  let n = 0;
  while (off < buf.byteLength) {
    if (off + 4 > buf.byteLength) return -1;
    const len = view.getUint32(off, true);
    off += 4 + len;
    if (off > buf.byteLength) return -1;
    n++;
  }
  return n;
}

export function encodeBytesElements(items: readonly (string | Uint8Array)[]): Buffer {
  const parts = items.map((x) => (typeof x === "string" ? Buffer.from(x, "utf8") : x));
  let total = 0;
  for (const p of parts) total += 4 + p.byteLength;
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.byteLength, off);
    out.set(p, off + 4);
    off += 4 + p.byteLength;
  }
  return out;
}

/** Raw BYTES tensor → one Buffer per element (views, not copies). */
export function decodeBytesElements(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt32LE(off);
    out.push(buf.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

/** A zero-filled buffer on its own ArrayBuffer, so typed views over it are always aligned. */
export function allocTensor(byteLength: number): Buffer {
  return Buffer.from(new ArrayBuffer(byteLength));
}

/** Like `allocTensor` but not zero-filled: for outputs that are overwritten entirely by copies. */
export function allocOutput(byteLength: number): Buffer {
  return Buffer.allocUnsafeSlow(byteLength);
}

type NumericArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** A typed view of raw tensor bytes (copied once when the buffer is not aligned). */
export function typedView(datatype: Datatype, buf: Buffer): NumericArray {
  const size = DATATYPE_SIZE[datatype];
  if (size === 0) throw new RangeError("BYTES tensors have no typed view");
  let b: Uint8Array = buf;
  if (b.byteOffset % size !== 0) b = new Uint8Array(b);
  const n = Math.floor(b.byteLength / size);
  const ab = b.buffer as ArrayBuffer;
  switch (datatype) {
    case "BOOL":
    case "UINT8":
      return new Uint8Array(ab, b.byteOffset, n);
    case "INT8":
      return new Int8Array(ab, b.byteOffset, n);
    case "UINT16":
    case "FP16":
    case "BF16":
      return new Uint16Array(ab, b.byteOffset, n);
    case "INT16":
      return new Int16Array(ab, b.byteOffset, n);
    case "UINT32":
      return new Uint32Array(ab, b.byteOffset, n);
    case "INT32":
      return new Int32Array(ab, b.byteOffset, n);
    case "UINT64":
      return new BigUint64Array(ab, b.byteOffset, n);
    case "INT64":
      return new BigInt64Array(ab, b.byteOffset, n);
    case "FP32":
      return new Float32Array(ab, b.byteOffset, n);
    case "FP64":
      return new Float64Array(ab, b.byteOffset, n);
    default:
      throw new RangeError(`no typed view for ${datatype}`);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half from a number (round to nearest even). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (mant / 1024);
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}

export function floatToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

export function bf16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0] as number;
}

/**
 * Flatten nested JSON arrays (row-major) without recursion. Returns the input itself when
 * it is already flat, which is the common case for large tensors.
 */
export function flattenData(data: unknown): unknown[] {
  if (!Array.isArray(data)) return [data];
  let nested = false;
  for (let i = 0; i < data.length; i++) {
    if (Array.isArray(data[i])) {
      nested = true;
      break;
    }
  }
  if (!nested) return data;
  const out: unknown[] = [];
  const stack: [unknown[], number][] = [[data, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1] as [unknown[], number];
    const [arr, i] = top;
    if (i >= arr.length) {
      stack.pop();
      continue;
    }
    top[1] = i + 1;
    const v = arr[i];
    if (Array.isArray(v)) stack.push([v, 0]);
    else out.push(v);
  }
  return out;
}

function invalid(message: string, param: string): DecoyError {
  return new DecoyError("INVALID_ARGUMENT", message, { param });
}

function toBigInt(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  return undefined;
}

const INT_RANGES: Partial<Record<Datatype, [number, number]>> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

/**
 * Flat JS values (JSON `data` or typed gRPC contents) → raw tensor bytes. `what` names the
 * tensor in error messages ("input 'x'").
 */
export function valuesToRaw(datatype: Datatype, values: ArrayLike<unknown>, what: string): Buffer {
  const n = values.length;
  const bad = (i: number, expected: string): DecoyError =>
    invalid(`${what}: element ${i} is ${JSON.stringify(values[i]) ?? String(values[i])}, expected ${expected}`, what);
  if (datatype === "BYTES") {
    const items: (string | Uint8Array)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v === "string" || v instanceof Uint8Array) items[i] = v;
      else if (typeof v === "number" || typeof v === "boolean") items[i] = String(v);
      else throw bad(i, "a string");
    }
    return encodeBytesElements(items);
  }
  const out = allocTensor(n * DATATYPE_SIZE[datatype]);
  switch (datatype) {
    case "BOOL": {
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v === "boolean") out[i] = v ? 1 : 0;
        else if (v === 0 || v === 1) out[i] = v;
        else throw bad(i, "a boolean");
      }
      return out;
    }
    case "FP32":
    case "FP64": {
      const view = typedView(datatype, out) as Float32Array | Float64Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== "number") throw bad(i, "a number");
        view[i] = v;
      }
      return out;
    }
    case "FP16":
    case "BF16": {
      const view = typedView(datatype, out) as Uint16Array;
      const conv = datatype === "FP16" ? floatToHalf : floatToBf16;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== "number") throw bad(i, "a number");
        view[i] = conv(v);
      }
      return out;
    }
    case "INT64":
    case "UINT64": {
      const view = typedView(datatype, out) as BigInt64Array | BigUint64Array;
      const signed = datatype === "INT64";
      for (let i = 0; i < n; i++) {
        const b = toBigInt(values[i]);
        if (b === undefined || (!signed && b < 0n)) throw bad(i, signed ? "an integer" : "a non-negative integer");
        view[i] = b;
      }
      return out;
    }
    default: {
      const range = INT_RANGES[datatype] as [number, number];
      const view = typedView(datatype, out) as Int32Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== "number" || !Number.isInteger(v) || v < range[0] || v > range[1])
          throw bad(i, `an integer in [${range[0]}, ${range[1]}]`);
        view[i] = v;
      }
      return out;
    }
  }
}

/**
 * Raw tensor bytes → flat JS values: numbers (INT64/UINT64 as numbers, FP16/BF16 widened),
 * booleans for BOOL, and for BYTES strings (utf8) or Buffers when `bytesAs` is "buffer".
 */
export function rawToValues(
  datatype: Datatype,
  buf: Buffer,
  bytesAs: "string" | "buffer" = "string",
): (number | boolean | string | Buffer)[] {
  if (datatype === "BYTES") {
    const items = decodeBytesElements(buf);
    return bytesAs === "buffer" ? items : items.map((b) => b.toString("utf8"));
  }
  const view = typedView(datatype, buf);
  const n = view.length;
  const out: (number | boolean)[] = new Array(n);
  switch (datatype) {
    case "BOOL":
      for (let i = 0; i < n; i++) out[i] = view[i] !== 0;
      return out;
    case "FP16":
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view[i] as number);
      return out;
    case "BF16":
      for (let i = 0; i < n; i++) out[i] = bf16ToFloat(view[i] as number);
      return out;
    case "INT64":
    case "UINT64":
      for (let i = 0; i < n; i++) out[i] = Number(view[i] as bigint);
      return out;
    default:
      for (let i = 0; i < n; i++) out[i] = view[i] as number;
      return out;
  }
}

/** Bytes hashed in full; larger tensors are sampled (see `fingerprint`). */
const FULL_HASH_BYTES = 4096;
const WINDOWS = 64;
const WINDOW_BYTES = 64;

/**
 * Cheap deterministic fingerprint of tensor bytes (murmur3's 32-bit mixing, four bytes per
 * step): the whole buffer when it is at most 4 KB, otherwise 64 evenly spaced 64-byte windows
 * (the first at offset 0, the last ending at the last byte) plus the length. So a 602 KB
 * resnet input or a 4.9 MB yolo input costs about 4 KB of reads, a few microseconds, rather
 * than a full pass over the tensor on every request. The price: two large inputs that differ
 * only outside the sampled windows get the same fake output; load tests send real or random
 * images, which differ everywhere.
 */
export function fingerprint(buf: Uint8Array, seed = 0x811c9dc5): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = buf.byteLength;
  let h = (seed ^ n) >>> 0;
  const mix = (from: number, to: number): void => {
    let i = from;
    for (; i + 4 <= to; i += 4) {
      let k = Math.imul(view.getUint32(i, true), 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      h ^= k;
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    for (; i < to; i++) {
      h ^= buf[i] as number;
      h = Math.imul(h, 0x01000193);
    }
  };
  if (n <= FULL_HASH_BYTES) {
    mix(0, n);
  } else {
    const step = Math.floor((n - WINDOW_BYTES) / (WINDOWS - 1));
    for (let w = 0; w < WINDOWS; w++) mix(w * step, w * step + WINDOW_BYTES);
  }
  // Final avalanche so nearby inputs spread over the whole range.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A second independent 32-bit value derived from a hash (for several draws per item). */
export function rehash(h: number, k: number): number {
  let x = (h ^ Math.imul(k + 1, 0x9e3779b9)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}
