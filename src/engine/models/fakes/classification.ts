/**
 * Image classification (ResNet): a probability vector per item. The base vector is a
 * softmax over fixed logits with one clear winner at index 0; each item gets it rotated so
 * that the winner lands on a class chosen by the item's input hash. A rotation keeps the
 * sum at 1 and costs two memory copies. Single-item outputs (the usual request) are built
 * once per winning class and then shared: no allocation per request, which at resnet rates
 * also spares V8 the external-memory bookkeeping of a fresh 4 KB ArrayBuffer each time.
 * Outputs are never written after they are produced, so sharing them is safe.
 */
import { Random } from "../../random.js";
import { allocOutput } from "../../tensors.js";
import type { Tensor } from "../types.js";
import { itemElements, type OutputGenerator, type OutputRequest, outputTensor } from "./generator.js";
import { GenericOutputs, rotateInto } from "./generic.js";

/** Softmax probabilities with a clear top class at index 0 (about 0.75). */
export function classificationBase(classes: number, salt: string): Float32Array {
  const rng = new Random(`${salt}:classes:${classes}`);
  const logits = new Float64Array(classes);
  for (let i = 0; i < classes; i++) logits[i] = rng.normal(0, 1);
  logits[0] = 9;
  // A few runner-up classes, as real classifiers confuse neighbouring breeds.
  for (let k = 1; k <= Math.min(4, classes - 1); k++) logits[Math.floor((classes * k) / 5)] = 5 + rng.next();
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (let i = 0; i < classes; i++) sum += Math.exp((logits[i] as number) - max);
  const out = new Float32Array(classes);
  for (let i = 0; i < classes; i++) out[i] = Math.exp((logits[i] as number) - max) / sum;
  return out;
}

/** Copy FP32 `base` into `dst` at `at` with its winner (index 0) moved to index `top`. */
function placeWinner(dst: Buffer, at: number, base: Buffer, classes: number, top: number): void {
  // Rotating right by `top` moves index 0 (the winner) to index `top`.
  rotateInto(dst, at, base, ((classes - top) % classes) * 4);
}

/** Bytes of prebuilt single-item outputs kept per model (1,000 classes × 4 KB = 4 MB for resnet). */
const SHARED_OUTPUT_BYTES = 16 << 20;

export class ClassificationOutputs implements OutputGenerator {
  private readonly bases = new Map<number, Buffer>();
  /** Per class count, the single-item output for each winning class, built on first use. */
  private readonly single = new Map<number, (Buffer | undefined)[]>();
  private sharedBytes = 0;
  private readonly fallback: GenericOutputs;

  constructor(
    private readonly salt: string,
    private readonly batched: boolean,
  ) {
    this.fallback = new GenericOutputs(salt, batched);
  }

  /** The class that item hash `h` puts on top for `classes` classes. */
  static topClass(h: number, classes: number): number {
    return h % classes;
  }

  generate(
    _inputs: readonly Tensor[],
    batch: number,
    outputs: readonly OutputRequest[],
    hashes: Uint32Array,
  ): Tensor[] {
    return outputs.map((o) => {
      if (o.spec.datatype !== "FP32") return this.fallback.one(o, batch, hashes);
      const classes = itemElements(o.shape, this.batched);
      let base = this.bases.get(classes);
      if (!base) {
        const probs = classificationBase(classes, this.salt);
        base = Buffer.from(probs.buffer, probs.byteOffset, probs.byteLength);
        this.bases.set(classes, base);
      }
      const items = this.batched ? batch : 1;
      if (items === 1) {
        const data = this.singleItem(base, classes, hashes[0] ?? 0);
        return outputTensor(o, data);
      }
      const data = allocOutput(base.length * items);
      for (let b = 0; b < items; b++) {
        placeWinner(data, b * base.length, base, classes, ClassificationOutputs.topClass(hashes[b] ?? 0, classes));
      }
      return outputTensor(o, data);
    });
  }

  /** The output of one item whose winner is chosen by hash `h`, shared while the budget allows. */
  private singleItem(base: Buffer, classes: number, h: number): Buffer {
    const top = ClassificationOutputs.topClass(h, classes);
    let row = this.single.get(classes);
    if (!row) {
      row = [];
      this.single.set(classes, row);
    }
    const cached = row[top];
    if (cached) return cached;
    const data = allocOutput(base.length);
    placeWinner(data, 0, base, classes, top);
    if (this.sharedBytes + data.length <= SHARED_OUTPUT_BYTES) {
      row[top] = data;
      this.sharedBytes += data.length;
    }
    return data;
  }
}
