/**
 * Request checks shared by every KServe model: each tensor against itself (datatype, shape,
 * byte size) and the request against the model's declared inputs and outputs. Messages name
 * the tensor and what was expected, as Triton's do.
 */
import { DecoyError } from "../errors.js";
import {
  countBytesElements,
  DATATYPES,
  elementCount,
  fixedByteSize,
  formatShape,
  isConcreteShape,
  isDatatype,
  shapeMatches,
} from "../tensors.js";
import type { InferInput, ServedModel, Tensor, TensorSpec } from "./types.js";

function invalid(message: string, param?: string): DecoyError {
  return new DecoyError("INVALID_ARGUMENT", message, param ? { param } : {});
}

const describe = (s: TensorSpec): string => `${s.datatype} ${formatShape(s.shape)}`;

/** A tensor's data must match its own datatype and shape, whatever the model. */
export function checkTensor(t: Tensor, model: string): void {
  if (!isDatatype(t.datatype)) {
    throw invalid(
      `input '${t.name}' for model '${model}' has unknown datatype '${String(t.datatype)}'; expected one of ${DATATYPES.join(", ")}`,
      t.name,
    );
  }
  if (!Array.isArray(t.shape) || !isConcreteShape(t.shape)) {
    throw invalid(
      `input '${t.name}' for model '${model}' has invalid shape ${JSON.stringify(t.shape)}: dimensions must be non-negative integers`,
      t.name,
    );
  }
  const expected = fixedByteSize(t.datatype, t.shape);
  if (expected !== undefined) {
    if (t.data.length !== expected) {
      throw invalid(
        `input '${t.name}' for model '${model}' has ${t.data.length} bytes of data, expected ${expected} for ${t.datatype} ${formatShape(t.shape)}`,
        t.name,
      );
    }
    return;
  }
  const count = countBytesElements(t.data);
  const want = elementCount(t.shape);
  if (count !== want) {
    throw invalid(
      count < 0
        ? `input '${t.name}' for model '${model}' has malformed BYTES data: each element must be a 4-byte little-endian length followed by that many bytes`
        : `input '${t.name}' for model '${model}' has ${count} BYTES elements, expected ${want} for shape ${formatShape(t.shape)}`,
      t.name,
    );
  }
}

/**
 * Checks the request against the model's metadata and returns its batch size (1 for models
 * without a batch dimension).
 */
export function validateRequest(model: ServedModel, req: InferInput): number {
  for (const t of req.inputs) checkTensor(t, model.name);
  if (req.requestedOutputs) {
    const seen = new Set<string>();
    for (const name of req.requestedOutputs) {
      if (!model.outputs.some((o) => o.name === name)) {
        throw invalid(
          `unexpected inference output '${name}' for model '${model.name}'; expected one of: ${model.outputs.map((o) => o.name).join(", ")}`,
          name,
        );
      }
      if (seen.has(name)) throw invalid(`output '${name}' is requested more than once`, name);
      seen.add(name);
    }
  }
  if (model.checksOwnInputs) return batchOf(model, req.inputs[0]);

  // Requests carry a handful of inputs: linear scans beat building a Map per request.
  const inputs = req.inputs;
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i] as Tensor;
    const spec = model.inputs.find((s) => s.name === t.name);
    if (!spec) {
      throw invalid(
        `unexpected inference input '${t.name}' for model '${model.name}'; expected inputs: ${model.inputs.map((s) => s.name).join(", ")}`,
        t.name,
      );
    }
    for (let j = 0; j < i; j++) {
      if ((inputs[j] as Tensor).name === t.name) throw invalid(`input '${t.name}' appears more than once`, t.name);
    }
    if (t.datatype !== spec.datatype) {
      throw invalid(
        `input '${t.name}' for model '${model.name}' has datatype ${t.datatype}, expected ${spec.datatype}`,
        t.name,
      );
    }
    if (!shapeMatches(spec.shape, t.shape)) {
      throw invalid(
        `input '${t.name}' for model '${model.name}' has shape ${formatShape(t.shape)}, expected ${formatShape(spec.shape)}`,
        t.name,
      );
    }
  }
  const present = (s: TensorSpec) => s.optional === true || inputs.some((t) => t.name === s.name);
  if (!model.inputs.every(present)) {
    const missing = model.inputs.filter((s) => !present(s));
    throw invalid(
      `model '${model.name}' expects ${missing.map((s) => `input '${s.name}' (${describe(s)})`).join(", ")}, missing from the request`,
      missing[0]?.name,
    );
  }
  if (model.maxBatchSize <= 0) return 1;
  let batch = -1;
  let first = "";
  for (const t of req.inputs) {
    const b = t.shape[0] as number;
    if (b < 1 || b > model.maxBatchSize) {
      throw invalid(
        `input '${t.name}' for model '${model.name}' has batch size ${b}, expected 1 to ${model.maxBatchSize} (the model's max batch size)`,
        t.name,
      );
    }
    if (batch === -1) {
      batch = b;
      first = t.name;
    } else if (b !== batch) {
      throw invalid(
        `input '${t.name}' for model '${model.name}' has batch size ${b} but input '${first}' has ${batch}; all inputs must share the batch size`,
        t.name,
      );
    }
  }
  return batch === -1 ? 1 : batch;
}

function batchOf(model: ServedModel, t: Tensor | undefined): number {
  if (model.maxBatchSize <= 0 || !t || t.shape.length === 0) return 1;
  return Math.max(1, t.shape[0] as number);
}
