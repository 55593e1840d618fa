/**
 * Outputs for any user-declared model: a deterministic base item per output (values in a
 * plausible range for the datatype), rotated per batch item by the item's input hash.
 */
import { Random } from "../../random.js";
import {
  allocOutput,
  allocTensor,
  DATATYPE_SIZE,
  encodeBytesElements,
  floatToBf16,
  floatToHalf,
  typedView,
} from "../../tensors.js";
import type { Tensor } from "../types.js";
import { itemElements, type OutputGenerator, type OutputRequest, outputTensor } from "./generator.js";

interface BaseItem {
  bytes: Buffer;
  /** Byte offset of each element (length elements + 1); only for BYTES. */
  offsets?: Uint32Array;
  elements: number;
}

/** Copy `base` into `dst` at `at`, rotated left by `shiftBytes`. */
export function rotateInto(dst: Buffer, at: number, base: Buffer, shiftBytes: number): void {
  const n = base.length;
  const s = n === 0 ? 0 : shiftBytes % n;
  base.copy(dst, at, s, n);
  base.copy(dst, at + n - s, 0, s);
}

export class GenericOutputs implements OutputGenerator {
  private readonly bases = new Map<string, BaseItem>();

  constructor(
    private readonly salt: string,
    private readonly batched: boolean,
  ) {}

  generate(
    _inputs: readonly Tensor[],
    batch: number,
    outputs: readonly OutputRequest[],
    hashes: Uint32Array,
  ): Tensor[] {
    return outputs.map((o) => this.one(o, batch, hashes));
  }

  one(o: OutputRequest, batch: number, hashes: Uint32Array): Tensor {
    const base = this.base(o);
    const items = this.batched ? batch : 1;
    const data = allocOutput(base.bytes.length * items);
    for (let b = 0; b < items; b++) {
      const h = hashes[b] ?? 0;
      const r = base.elements === 0 ? 0 : h % base.elements;
      const shift = base.offsets ? (base.offsets[r] as number) : r * DATATYPE_SIZE[o.spec.datatype];
      rotateInto(data, b * base.bytes.length, base.bytes, shift);
    }
    return outputTensor(o, data);
  }

  private base(o: OutputRequest): BaseItem {
    const elements = itemElements(o.shape, this.batched);
    const key = `${o.spec.name}:${o.spec.datatype}:${elements}`;
    let base = this.bases.get(key);
    if (base) return base;
    const rng = new Random(`${this.salt}:${key}`);
    const dt = o.spec.datatype;
    if (dt === "BYTES") {
      const items = Array.from({ length: elements }, (_, i) => `${o.spec.name}-${i}-${rng.int(0, 9999)}`);
      const bytes = encodeBytesElements(items);
      const offsets = new Uint32Array(elements + 1);
      let off = 0;
      for (let i = 0; i < elements; i++) {
        offsets[i] = off;
        off += 4 + Buffer.byteLength(items[i] as string);
      }
      offsets[elements] = off;
      base = { bytes, offsets, elements };
    } else {
      const bytes = allocTensor(elements * DATATYPE_SIZE[dt]);
      const view = typedView(dt, bytes);
      for (let i = 0; i < elements; i++) {
        switch (dt) {
          case "FP32":
          case "FP64":
            view[i] = rng.next();
            break;
          case "FP16":
            view[i] = floatToHalf(rng.next());
            break;
          case "BF16":
            view[i] = floatToBf16(rng.next());
            break;
          case "BOOL":
            view[i] = rng.int(0, 1);
            break;
          case "INT64":
          case "UINT64":
            view[i] = BigInt(rng.int(0, 99));
            break;
          default:
            view[i] = rng.int(0, 99);
        }
      }
      base = { bytes, elements };
    }
    this.bases.set(key, base);
    return base;
  }
}
