/**
 * KServe v2 REST inference bodies ↔ engine tensors: JSON tensors (`data` flat or nested) and
 * Triton's binary tensor data extension (a JSON header of `Inference-Header-Content-Length`
 * bytes followed by raw tensors, sized by `binary_data_size`; outputs returned as binary
 * when asked with `binary_data` / `binary_data_output`).
 */
import { gunzipSync, inflateSync } from "node:zlib";
import { DecoyError } from "../engine/errors.js";
import type { InferInput, InferOutput, ParamValue, Tensor } from "../engine/models/types.js";
import {
  elementCount,
  flattenData,
  formatShape,
  isConcreteShape,
  isDatatype,
  rawToValues,
  valuesToRaw,
} from "../engine/tensors.js";

type Obj = Record<string, unknown>;

export interface RestInferRequest {
  input: InferInput;
  /** Whether each output goes back as binary data. */
  binary(name: string): boolean;
}

function invalid(message: string, param?: string): DecoyError {
  return new DecoyError("INVALID_ARGUMENT", message, param ? { param } : {});
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** Primitive parameters only; nested objects are not KServe parameter values. */
function params(v: unknown, where: string): Record<string, ParamValue> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw invalid(`${where} must be an object`);
  const out: Record<string, ParamValue> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === "string" || typeof x === "number" || typeof x === "boolean") out[k] = x;
  }
  return out;
}

function header(headers: Record<string, unknown>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
}

/** Undo Content-Encoding (Triton clients may gzip or deflate the request). */
function decode(body: Buffer, headers: Record<string, unknown>): Buffer {
  const enc = header(headers, "content-encoding")?.toLowerCase().trim();
  if (!enc || enc === "identity") return body;
  try {
    if (enc === "gzip") return gunzipSync(body);
    if (enc === "deflate") return inflateSync(body);
  } catch {
    throw invalid(`the request body is not valid ${enc} data`);
  }
  throw new DecoyError("INVALID_ARGUMENT", `unsupported Content-Encoding '${enc}'; use gzip or deflate`, {
    httpStatus: 415,
  });
}

/** Length of the JSON header: `Inference-Header-Content-Length`, or SageMaker's `json-header-size`. */
function headerLength(headers: Record<string, unknown>, total: number): number {
  let raw = header(headers, "inference-header-content-length");
  if (raw === undefined) {
    const m = /json-header-size=(\d+)/i.exec(header(headers, "content-type") ?? "");
    raw = m?.[1];
  }
  if (raw === undefined || raw.trim() === "") return total;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > total) {
    throw invalid(
      `Inference-Header-Content-Length is ${raw}, expected an integer between 0 and the body length (${total} bytes)`,
    );
  }
  return n;
}

/** Parse a REST inference body (parsed JSON, or raw bytes with an optional binary section). */
export function parseInferRequest(
  body: unknown,
  headers: Record<string, unknown>,
  signal: AbortSignal,
): RestInferRequest {
  let doc: unknown = body;
  let binary: Buffer = Buffer.alloc(0);
  if (Buffer.isBuffer(body)) {
    const buf = decode(body, headers);
    const len = headerLength(headers, buf.length);
    binary = buf.subarray(len);
    const text = buf.subarray(0, len).toString("utf8");
    if (text.trim() === "") throw invalid("the request body is empty; expected a JSON inference request");
    try {
      doc = JSON.parse(text);
    } catch {
      throw invalid(
        `the inference request header (${len} bytes) is not valid JSON; set Inference-Header-Content-Length to the JSON length when binary data follows`,
      );
    }
  } else if (typeof body === "string") {
    try {
      doc = JSON.parse(body);
    } catch {
      throw invalid("the request body is not valid JSON");
    }
  }
  if (doc === undefined || doc === null) throw invalid("the request body is empty; expected a JSON inference request");
  if (!isObj(doc)) throw invalid("the inference request must be a JSON object");
  if (!Array.isArray(doc.inputs)) throw invalid("the inference request must have an 'inputs' list", "inputs");
  if (doc.id !== undefined && typeof doc.id !== "string") throw invalid("'id' must be a string", "id");

  let offset = 0;
  const inputs: Tensor[] = doc.inputs.map((raw: unknown, i: number) => {
    if (!isObj(raw)) throw invalid(`inputs[${i}] must be an object with name, shape, datatype`, `inputs.${i}`);
    const name = raw.name;
    if (typeof name !== "string") throw invalid(`inputs[${i}].name must be a string`, `inputs.${i}.name`);
    const what = `input '${name}'`;
    const datatype = raw.datatype;
    if (!isDatatype(datatype)) {
      throw invalid(
        `${what} has unknown datatype '${String(datatype)}'; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES, BF16`,
        name,
      );
    }
    if (!Array.isArray(raw.shape) || !isConcreteShape(raw.shape)) {
      throw invalid(`${what} has shape ${JSON.stringify(raw.shape)}; expected a list of non-negative integers`, name);
    }
    const shape = raw.shape;
    const p = params(raw.parameters, `${what} parameters`);
    const size = p.binary_data_size;
    let data: Buffer;
    if (size !== undefined) {
      if (typeof size !== "number" || !Number.isInteger(size) || size < 0)
        throw invalid(`${what}: binary_data_size must be a non-negative integer`, name);
      if (raw.data !== undefined) throw invalid(`${what} has both data and binary_data_size; use one`, name);
      if (offset + size > binary.length) {
        throw invalid(
          `${what} declares binary_data_size ${size} but only ${binary.length - offset} bytes of binary data remain after the JSON header`,
          name,
        );
      }
      data = binary.subarray(offset, offset + size);
      offset += size;
    } else {
      if (raw.data === undefined)
        throw invalid(`${what} has no data; send 'data' or binary data with a binary_data_size parameter`, name);
      const values = flattenData(raw.data);
      const expected = elementCount(shape);
      if (values.length !== expected) {
        throw invalid(
          `${what} has ${values.length} elements in data, expected ${expected} for shape ${formatShape(shape)}`,
          name,
        );
      }
      data = valuesToRaw(datatype, values, what);
    }
    const tensorParams = { ...p };
    delete tensorParams.binary_data_size;
    return {
      name,
      datatype,
      shape,
      data,
      ...(Object.keys(tensorParams).length ? { parameters: tensorParams } : {}),
    };
  });
  if (offset !== binary.length) {
    throw invalid(
      `the request carries ${binary.length} bytes of binary data after the JSON header but the inputs' binary_data_size add up to ${offset}`,
    );
  }

  const requestParams = params(doc.parameters, "parameters");
  const outputs = doc.outputs;
  if (outputs !== undefined && !Array.isArray(outputs)) throw invalid("'outputs' must be a list", "outputs");
  const outputParameters: Record<string, Record<string, ParamValue>> = {};
  const names: string[] = [];
  for (const [i, o] of (outputs ?? []).entries()) {
    if (!isObj(o) || typeof o.name !== "string")
      throw invalid(`outputs[${i}] must be an object with a name`, `outputs.${i}`);
    names.push(o.name);
    const p = params(o.parameters, `output '${o.name}' parameters`);
    if (Object.keys(p).length) outputParameters[o.name] = p;
  }
  const allBinary = requestParams.binary_data_output === true;
  const binaryParam = (name: string): boolean => {
    const b = outputParameters[name]?.binary_data;
    return typeof b === "boolean" ? b : allBinary;
  };
  return {
    input: {
      id: typeof doc.id === "string" ? doc.id : "",
      version: "",
      inputs,
      requestedOutputs: names.length ? names : undefined,
      parameters: requestParams,
      outputParameters,
      signal,
    },
    binary: binaryParam,
  };
}

export interface RenderedResponse {
  /** JSON text, or JSON header + binary tensors. */
  body: string | Buffer;
  /** Set when binary data follows the JSON header. */
  headerLength?: number;
}

/** Engine output → REST body; binary outputs go after the JSON header, in output order. */
export function renderInferResponse(out: InferOutput, req: RestInferRequest): RenderedResponse {
  const chunks: Buffer[] = [];
  const outputs = out.outputs.map((t) => {
    const base: Obj = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (req.binary(t.name)) {
      base.parameters = { ...(t.parameters ?? {}), binary_data_size: t.data.length };
      chunks.push(t.data);
    } else {
      if (t.parameters && Object.keys(t.parameters).length) base.parameters = t.parameters;
      base.data = rawToValues(t.datatype, t.data);
    }
    return base;
  });
  const json: Obj = { model_name: out.modelName, model_version: out.modelVersion };
  if (out.id) json.id = out.id;
  if (Object.keys(out.parameters).length) json.parameters = out.parameters;
  json.outputs = outputs;
  const text = JSON.stringify(json);
  if (chunks.length === 0) return { body: text };
  const head = Buffer.from(text, "utf8");
  return { body: Buffer.concat([head, ...chunks]), headerLength: head.length };
}
