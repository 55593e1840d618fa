/**
 * KServe v2 gRPC messages ↔ engine tensors. Inputs arrive as `raw_input_contents` (one
 * buffer per input, Triton clients' default) or as typed `contents`; outputs leave as
 * `raw_output_contents` unless the request asks for typed contents on an output
 * (`binary_data: false`).
 */
import type {
  InferParameter,
  InferTensorContents,
  ModelInferRequest,
  ModelInferResponse,
  ModelInferResponse_InferOutputTensor,
} from "../../gen/proto/inference/grpc_service.js";
import { DecoyError } from "../engine/errors.js";
import type { Datatype, InferInput, InferOutput, ParamValue, Tensor } from "../engine/models/types.js";
import { elementCount, formatShape, isDatatype, rawToValues, valuesToRaw } from "../engine/tensors.js";

type ContentsField = keyof InferTensorContents;

/** The typed-contents field that carries each datatype (FP16/BF16 travel only as raw bytes). */
const FIELD: Record<Datatype, ContentsField | undefined> = {
  BOOL: "boolContents",
  INT8: "intContents",
  INT16: "intContents",
  INT32: "intContents",
  INT64: "int64Contents",
  UINT8: "uintContents",
  UINT16: "uintContents",
  UINT32: "uintContents",
  UINT64: "uint64Contents",
  FP32: "fp32Contents",
  FP64: "fp64Contents",
  BYTES: "bytesContents",
  FP16: undefined,
  BF16: undefined,
};

const SNAKE: Record<ContentsField, string> = {
  boolContents: "bool_contents",
  intContents: "int_contents",
  int64Contents: "int64_contents",
  uintContents: "uint_contents",
  uint64Contents: "uint64_contents",
  fp32Contents: "fp32_contents",
  fp64Contents: "fp64_contents",
  bytesContents: "bytes_contents",
};

function invalid(message: string, param?: string): DecoyError {
  return new DecoyError("INVALID_ARGUMENT", message, param ? { param } : {});
}

export function paramFromProto(p: InferParameter | undefined): ParamValue | undefined {
  const c = p?.parameterChoice;
  return c ? c.value : undefined;
}

export function paramsFromProto(map: { [key: string]: InferParameter } | undefined): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const k in map) {
    const value = paramFromProto(map[k]);
    if (value !== undefined) out[k] = value;
  }
  return out;
}

export function paramToProto(v: ParamValue): InferParameter {
  if (typeof v === "boolean") return { parameterChoice: { $case: "boolParam", value: v } };
  if (typeof v === "string") return { parameterChoice: { $case: "stringParam", value: v } };
  if (Number.isInteger(v)) return { parameterChoice: { $case: "int64Param", value: v } };
  return { parameterChoice: { $case: "doubleParam", value: v } };
}

export function paramsToProto(params: Record<string, ParamValue>): { [key: string]: InferParameter } {
  const out: { [key: string]: InferParameter } = {};
  for (const k in params) out[k] = paramToProto(params[k] as ParamValue);
  return out;
}

const CONTENTS_FIELDS = Object.keys(SNAKE) as ContentsField[];

/** Whether any typed-contents field is populated, and the first populated one other than `except`. */
function populated(
  c: InferTensorContents | undefined,
  except: ContentsField | undefined,
): { any: boolean; other: ContentsField | undefined } {
  let any = false;
  let other: ContentsField | undefined;
  if (c) {
    for (const f of CONTENTS_FIELDS) {
      if (!(c[f] as unknown[] | undefined)?.length) continue;
      any = true;
      if (f !== except && other === undefined) other = f;
    }
  }
  return { any, other };
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** ModelInferRequest → engine request. Contents counts are checked here; byte sizes by the engine. */
export function inferInputFromProto(req: ModelInferRequest, signal: AbortSignal): InferInput {
  const raw = req.rawInputContents ?? [];
  if (raw.length > 0 && raw.length !== req.inputs.length) {
    throw invalid(
      `raw_input_contents has ${raw.length} entries for ${req.inputs.length} inputs; send one entry per input, in the order of inputs`,
    );
  }
  const inputs: Tensor[] = req.inputs.map((t, i) => {
    const what = `input '${t.name}'`;
    if (!isDatatype(t.datatype)) {
      throw invalid(
        `${what} for model '${req.modelName}' has unknown datatype '${t.datatype}'; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES, BF16`,
        t.name,
      );
    }
    const shape = t.shape;
    const field = FIELD[t.datatype];
    const fields = populated(t.contents, field);
    let data: Buffer;
    if (raw.length > 0) {
      if (fields.any) {
        throw invalid(`${what} has both contents and raw_input_contents; use one or the other`, t.name);
      }
      data = raw[i] as Buffer;
    } else {
      if (!field) {
        throw invalid(
          `${what} is ${t.datatype}, which has no typed contents field; send it in raw_input_contents`,
          t.name,
        );
      }
      const wrong = fields.other;
      if (wrong) {
        throw invalid(
          `${what} is ${t.datatype} and must carry its data in ${SNAKE[field]}, not ${SNAKE[wrong]}`,
          t.name,
        );
      }
      const values = (t.contents?.[field] ?? []) as unknown[];
      const expected = shape.every((d) => Number.isSafeInteger(d) && d >= 0) ? elementCount(shape) : -1;
      if (values.length !== expected) {
        throw invalid(
          `${what} has ${values.length} elements in ${SNAKE[field]}, expected ${expected} for shape ${formatShape(shape)}`,
          t.name,
        );
      }
      data = valuesToRaw(t.datatype, values, what);
    }
    const tensor: Tensor = { name: t.name, datatype: t.datatype, shape, data };
    if (hasKeys(t.parameters)) {
      const params = paramsFromProto(t.parameters);
      if (hasKeys(params)) tensor.parameters = params;
    }
    return tensor;
  });
  let outputParameters: Record<string, Record<string, ParamValue>> | undefined;
  for (const o of req.outputs) {
    if (!hasKeys(o.parameters)) continue;
    const p = paramsFromProto(o.parameters);
    if (hasKeys(p)) (outputParameters ??= {})[o.name] = p;
  }
  const input: InferInput = {
    id: req.id,
    version: req.modelVersion,
    inputs,
    requestedOutputs: req.outputs.length ? req.outputs.map((o) => o.name) : undefined,
    parameters: paramsFromProto(req.parameters),
    signal,
  };
  if (outputParameters) input.outputParameters = outputParameters;
  return input;
}

/** Whether the request asked for an output as typed contents (`binary_data: false`). */
function wantsTyped(req: ModelInferRequest, name: string): boolean {
  if (req.outputs.length === 0) return false;
  const o = req.outputs.find((x) => x.name === name);
  return paramFromProto(o?.parameters?.binary_data) === false;
}

/**
 * Engine output → ModelInferResponse. Raw outputs fill `raw_output_contents` in output
 * order; an output asked for as typed contents keeps an empty raw entry when other outputs
 * are raw, so indexes stay aligned.
 */
export function inferResponseToProto(out: InferOutput, req: ModelInferRequest): ModelInferResponse {
  const outputs: ModelInferResponse_InferOutputTensor[] = [];
  const raw: Buffer[] = [];
  let anyRaw = false;
  for (const t of out.outputs) {
    const field = FIELD[t.datatype];
    const tensor: ModelInferResponse_InferOutputTensor = {
      name: t.name,
      datatype: t.datatype,
      shape: t.shape,
      parameters: t.parameters ? paramsToProto(t.parameters) : {},
    };
    if (field && wantsTyped(req, t.name)) {
      const contents: InferTensorContents = {
        boolContents: [],
        intContents: [],
        int64Contents: [],
        uintContents: [],
        uint64Contents: [],
        fp32Contents: [],
        fp64Contents: [],
        bytesContents: [],
      };
      (contents[field] as unknown[]) = rawToValues(t.datatype, t.data, "buffer");
      tensor.contents = contents;
      raw.push(Buffer.alloc(0));
    } else {
      raw.push(t.data);
      anyRaw = true;
    }
    outputs.push(tensor);
  }
  return {
    modelName: out.modelName,
    modelVersion: out.modelVersion,
    id: out.id,
    parameters: paramsToProto(out.parameters),
    outputs,
    rawOutputContents: anyRaw ? raw : [],
  };
}
