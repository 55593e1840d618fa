/**
 * Output fakes. Each builds the bytes of one request's outputs from base buffers computed
 * once per model and output shape; the per-request part is a cheap, deterministic variation
 * chosen by a fingerprint of each batch item's input bytes (a rotation, a few patched
 * values), so the same input and seed always give the same output and nothing allocates
 * per-element JS arrays on the hot path.
 */
import { DATATYPE_SIZE, fingerprint, rehash } from "../../tensors.js";
import type { Tensor, TensorSpec } from "../types.js";

/** One output to produce, with its concrete shape for this request. */
export interface OutputRequest {
  spec: TensorSpec;
  shape: number[];
}

export interface OutputGenerator {
  /** `hashes[b]` fingerprints batch item b; the result has one tensor per request, in order. */
  generate(inputs: readonly Tensor[], batch: number, outputs: readonly OutputRequest[], hashes: Uint32Array): Tensor[];
}

/**
 * Fingerprint of each batch item: over every input's slice for that item when the tensors
 * have a batch dimension and fixed-size elements, otherwise over whole tensors mixed with
 * the item index.
 */
export function itemHashes(inputs: readonly Tensor[], batch: number, batched: boolean, salt: number): Uint32Array {
  const out = new Uint32Array(batch);
  for (let b = 0; b < batch; b++) {
    let h = salt >>> 0;
    for (const t of inputs) {
      const size = DATATYPE_SIZE[t.datatype];
      if (batched && size > 0 && t.shape[0] === batch && batch > 0) {
        const item = t.data.length / batch;
        h = fingerprint(t.data.subarray(b * item, (b + 1) * item), h);
      } else {
        h = rehash(fingerprint(t.data, h), b);
      }
    }
    out[b] = h;
  }
  return out;
}

/** The tensor for output request `o` holding `data`. */
export function outputTensor(o: OutputRequest, data: Buffer): Tensor {
  return { name: o.spec.name, datatype: o.spec.datatype, shape: o.shape, data };
}

/** Elements per batch item of a concrete output shape. */
export function itemElements(shape: readonly number[], batched: boolean): number {
  let n = 1;
  for (let i = batched ? 1 : 0; i < shape.length; i++) n *= shape[i] as number;
  return n;
}

/** Uniform [0,1) from a 32-bit hash. */
export function unit(h: number): number {
  return (h >>> 0) / 4294967296;
}
