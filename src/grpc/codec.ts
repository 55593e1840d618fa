/**
 * Hand-written wire codecs for the two inference messages on the hot path. ts-proto's
 * generated ones are correct but copy: the decoder copies every `raw_input_contents` entry
 * (`Buffer.from(reader.bytes())`, 602 KB per resnet request), and the service's serializer
 * encodes through a chunked writer, concatenates, then copies the result into a Buffer
 * before grpc-js copies it once more behind the 5-byte frame header.
 *
 * - Decoding keeps `raw_input_contents` as views of the message buffer grpc-js hands us (it
 *   allocates one per message and never reuses it), so a tensor is never copied after it
 *   leaves the socket. Nested messages (inputs, outputs, parameters) go through the generated
 *   decoders.
 * - Encoding sizes the message first and writes it into one Buffer: one copy of each output
 *   tensor instead of three. Typed `contents` (rare: the client asked for `binary_data`
 *   false) are encoded by the generated encoder and embedded.
 *
 * The bytes are identical to the generated encoder's (test/kserve/codec.test.ts pins it).
 */
import { BinaryReader } from "@bufbuild/protobuf/wire";
import {
  GRPCInferenceServiceService,
  type InferParameter,
  InferTensorContents,
  type ModelInferRequest,
  ModelInferRequest_InferInputTensor,
  ModelInferRequest_InferRequestedOutputTensor,
  ModelInferRequest_ParametersEntry,
  type ModelInferResponse,
  type ModelInferResponse_InferOutputTensor,
  type ModelStreamInferResponse,
} from "../../gen/proto/inference/grpc_service.js";

function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** ModelInferRequest from the wire, `raw_input_contents` as zero-copy views of `buf`. */
export function decodeModelInferRequest(buf: Buffer): ModelInferRequest {
  const reader = new BinaryReader(buf);
  const message: ModelInferRequest = {
    modelName: "",
    modelVersion: "",
    id: "",
    parameters: {},
    inputs: [],
    outputs: [],
    rawInputContents: [],
  };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    switch (tag) {
      case 10:
        message.modelName = reader.string();
        continue;
      case 18:
        message.modelVersion = reader.string();
        continue;
      case 26:
        message.id = reader.string();
        continue;
      case 34: {
        const entry = ModelInferRequest_ParametersEntry.decode(reader, reader.uint32());
        if (entry.value !== undefined) message.parameters[entry.key] = entry.value;
        continue;
      }
      case 42:
        message.inputs.push(ModelInferRequest_InferInputTensor.decode(reader, reader.uint32()));
        continue;
      case 50:
        message.outputs.push(ModelInferRequest_InferRequestedOutputTensor.decode(reader, reader.uint32()));
        continue;
      case 58:
        message.rawInputContents.push(asBuffer(reader.bytes()));
        continue;
    }
    if ((tag & 7) === 4 || tag === 0) break;
    reader.skip(tag & 7);
  }
  return message;
}

// --- encoding -------------------------------------------------------------------------------

const TWO_32 = 4294967296;

function varintSize(v: number): number {
  if (v < 0) return 10;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  if (v < 0x800000000) return 5;
  return int64Size(v);
}

/** Size of a (u)int64 varint; negative values take ten bytes (two's complement). */
function int64Size(v: number): number {
  if (v < 0) return 10;
  let n = 1;
  let x = BigInt(Math.trunc(v));
  while (x >= 0x80n) {
    x >>= 7n;
    n++;
  }
  return n;
}

const strSize = (s: string): number => {
  const n = Buffer.byteLength(s, "utf8");
  return varintSize(n) + n;
};

/** Writes into a buffer sized beforehand; every field was measured by the same rules. */
class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(v: number): void {
    const b = this.buf;
    if (v >= 0 && v < TWO_32) {
      let x = v >>> 0;
      while (x > 0x7f) {
        b[this.pos++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      b[this.pos++] = x;
      return;
    }
    this.int64(v);
  }

  int64(v: number): void {
    let x = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    const b = this.buf;
    while (x > 0x7fn) {
      b[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    b[this.pos++] = Number(x);
  }

  string(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.varint(n);
    if (n === s.length && n < 64) {
      // ASCII: a byte loop beats the native call for short names.
      for (let i = 0; i < n; i++) this.buf[this.pos++] = s.charCodeAt(i);
    } else {
      this.pos += this.buf.write(s, this.pos, n, "utf8");
    }
  }

  bytes(u8: Uint8Array): void {
    this.varint(u8.byteLength);
    this.buf.set(u8, this.pos);
    this.pos += u8.byteLength;
  }
}

type ParamMap = { [key: string]: InferParameter | undefined };

function paramSize(p: InferParameter): number {
  const c = p.parameterChoice;
  if (!c) return 0;
  switch (c.$case) {
    case "boolParam":
      return 2;
    case "int64Param":
      return 1 + varintSize(c.value);
    case "stringParam":
      return 1 + strSize(c.value);
    case "doubleParam":
      return 9;
    case "uint64Param":
      return 1 + int64Size(c.value);
  }
}

function writeParam(w: Writer, p: InferParameter): void {
  const c = p.parameterChoice;
  if (!c) return;
  switch (c.$case) {
    case "boolParam":
      w.buf[w.pos++] = 8;
      w.buf[w.pos++] = c.value ? 1 : 0;
      return;
    case "int64Param":
      w.buf[w.pos++] = 16;
      w.varint(c.value);
      return;
    case "stringParam":
      w.buf[w.pos++] = 26;
      w.string(c.value);
      return;
    case "doubleParam":
      w.buf[w.pos++] = 33;
      w.buf.writeDoubleLE(c.value, w.pos);
      w.pos += 8;
      return;
    case "uint64Param":
      w.buf[w.pos++] = 40;
      w.int64(c.value);
      return;
  }
}

/** Map entries: { key = 1, value = 2 }, each entry a length-delimited field `tag`. */
function mapSize(map: ParamMap, sizes: number[]): number {
  let total = 0;
  for (const key in map) {
    const value = map[key];
    // An entry without a value is written as its key alone, as the generated encoder does.
    const v = value === undefined ? -1 : paramSize(value);
    const entry = (key === "" ? 0 : 1 + strSize(key)) + (v < 0 ? 0 : 1 + varintSize(v) + v);
    sizes.push(v, entry);
    total += 1 + varintSize(entry) + entry;
  }
  return total;
}

function writeMap(w: Writer, tag: number, map: ParamMap, sizes: number[], at: number): number {
  let i = at;
  for (const key in map) {
    const v = sizes[i++] as number;
    const entry = sizes[i++] as number;
    w.buf[w.pos++] = tag;
    w.varint(entry);
    if (key !== "") {
      w.buf[w.pos++] = 10;
      w.string(key);
    }
    const value = map[key];
    if (value === undefined) continue;
    w.buf[w.pos++] = 18;
    w.varint(v);
    writeParam(w, value);
  }
  return i;
}

interface OutputPlan {
  size: number;
  shapeSize: number;
  contents: Uint8Array | undefined;
  paramSizes: number[];
}

function outputPlan(t: ModelInferResponse_InferOutputTensor): OutputPlan {
  let size = 0;
  if (t.name !== "") size += 1 + strSize(t.name);
  if (t.datatype !== "") size += 1 + strSize(t.datatype);
  let shapeSize = 0;
  if (t.shape.length) {
    for (const d of t.shape) shapeSize += varintSize(d);
    size += 1 + varintSize(shapeSize) + shapeSize;
  }
  const paramSizes: number[] = [];
  size += mapSize(t.parameters, paramSizes);
  let contents: Uint8Array | undefined;
  if (t.contents !== undefined) {
    contents = InferTensorContents.encode(t.contents).finish();
    size += 1 + varintSize(contents.byteLength) + contents.byteLength;
  }
  return { size, shapeSize, contents, paramSizes };
}

function writeOutput(w: Writer, t: ModelInferResponse_InferOutputTensor, p: OutputPlan): void {
  w.buf[w.pos++] = 42;
  w.varint(p.size);
  if (t.name !== "") {
    w.buf[w.pos++] = 10;
    w.string(t.name);
  }
  if (t.datatype !== "") {
    w.buf[w.pos++] = 18;
    w.string(t.datatype);
  }
  if (t.shape.length) {
    w.buf[w.pos++] = 26;
    w.varint(p.shapeSize);
    for (const d of t.shape) w.varint(d);
  }
  writeMap(w, 34, t.parameters, p.paramSizes, 0);
  if (p.contents) {
    w.buf[w.pos++] = 42;
    w.bytes(p.contents);
  }
}

interface ResponsePlan {
  size: number;
  paramSizes: number[];
  outputs: OutputPlan[];
}

function responsePlan(m: ModelInferResponse): ResponsePlan {
  let size = 0;
  if (m.modelName !== "") size += 1 + strSize(m.modelName);
  if (m.modelVersion !== "") size += 1 + strSize(m.modelVersion);
  if (m.id !== "") size += 1 + strSize(m.id);
  const paramSizes: number[] = [];
  size += mapSize(m.parameters, paramSizes);
  const outputs: OutputPlan[] = [];
  for (const t of m.outputs) {
    const p = outputPlan(t);
    outputs.push(p);
    size += 1 + varintSize(p.size) + p.size;
  }
  for (const r of m.rawOutputContents) size += 1 + varintSize(r.byteLength) + r.byteLength;
  return { size, paramSizes, outputs };
}

function writeResponse(w: Writer, m: ModelInferResponse, plan: ResponsePlan): void {
  if (m.modelName !== "") {
    w.buf[w.pos++] = 10;
    w.string(m.modelName);
  }
  if (m.modelVersion !== "") {
    w.buf[w.pos++] = 18;
    w.string(m.modelVersion);
  }
  if (m.id !== "") {
    w.buf[w.pos++] = 26;
    w.string(m.id);
  }
  writeMap(w, 34, m.parameters, plan.paramSizes, 0);
  for (let i = 0; i < m.outputs.length; i++) {
    writeOutput(w, m.outputs[i] as ModelInferResponse_InferOutputTensor, plan.outputs[i] as OutputPlan);
  }
  for (const r of m.rawOutputContents) {
    w.buf[w.pos++] = 50;
    w.bytes(r);
  }
}

/** ModelInferResponse → wire bytes, in one allocation. */
export function encodeModelInferResponse(m: ModelInferResponse): Buffer {
  const plan = responsePlan(m);
  const w = new Writer(Buffer.allocUnsafe(plan.size));
  writeResponse(w, m, plan);
  return w.buf;
}

/** ModelStreamInferResponse → wire bytes, in one allocation. */
export function encodeModelStreamInferResponse(m: ModelStreamInferResponse): Buffer {
  const plan = m.inferResponse ? responsePlan(m.inferResponse) : undefined;
  let size = 0;
  if (m.errorMessage !== "") size += 1 + strSize(m.errorMessage);
  if (plan) size += 1 + varintSize(plan.size) + plan.size;
  const w = new Writer(Buffer.allocUnsafe(size));
  if (m.errorMessage !== "") {
    w.buf[w.pos++] = 10;
    w.string(m.errorMessage);
  }
  if (plan && m.inferResponse) {
    w.buf[w.pos++] = 18;
    w.varint(plan.size);
    writeResponse(w, m.inferResponse, plan);
  }
  return w.buf;
}

/**
 * The generated service definition with the hot-path codecs swapped in. Clients built from
 * gen/ are unaffected: only the server side (request decoding, response encoding) changes.
 */
export const InferenceServiceDefinition = {
  ...GRPCInferenceServiceService,
  modelInfer: {
    ...GRPCInferenceServiceService.modelInfer,
    requestDeserialize: decodeModelInferRequest,
    responseSerialize: encodeModelInferResponse,
  },
  modelStreamInfer: {
    ...GRPCInferenceServiceService.modelStreamInfer,
    requestDeserialize: decodeModelInferRequest,
    responseSerialize: encodeModelStreamInferResponse,
  },
} as const;
