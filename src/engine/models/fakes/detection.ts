/**
 * Object detection (YOLOv8 layout): per item a [4 + classes, anchors] FP32 tensor whose first
 * four rows are box centres and sizes in input pixels and the rest per-class scores. The base
 * holds plausible boxes (all inside the image) with low scores; each item patches a handful
 * of anchors, chosen by its input hash, into confident detections.
 */
import { Random } from "../../random.js";
import { allocOutput, allocTensor, rehash } from "../../tensors.js";
import type { Tensor } from "../types.js";
import { type OutputGenerator, type OutputRequest, outputTensor, unit } from "./generator.js";
import { GenericOutputs } from "./generic.js";

export interface Detection {
  anchor: number;
  classId: number;
  score: number;
  /** Centre x, centre y, width, height in input pixels. */
  box: [number, number, number, number];
}

/** The confident detections an item hash produces (1 to 6 of them). */
export function detectionsFor(h: number, classes: number, anchors: number, width: number, height: number): Detection[] {
  const count = 1 + (rehash(h, 0) % 6);
  const out: Detection[] = [];
  const used = new Set<number>();
  for (let k = 1; out.length < count && k < 64; k++) {
    const anchor = rehash(h, k) % anchors;
    if (used.has(anchor)) continue;
    used.add(anchor);
    const w = width * (0.05 + 0.4 * unit(rehash(h, 100 + k)));
    const hh = height * (0.05 + 0.4 * unit(rehash(h, 200 + k)));
    const cx = w / 2 + (width - w) * unit(rehash(h, 300 + k));
    const cy = hh / 2 + (height - hh) * unit(rehash(h, 400 + k));
    out.push({
      anchor,
      classId: rehash(h, 500 + k) % classes,
      score: 0.5 + 0.49 * unit(rehash(h, 600 + k)),
      box: [cx, cy, w, hh],
    });
  }
  return out.sort((a, b) => b.score - a.score);
}

export class DetectionOutputs implements OutputGenerator {
  private readonly bases = new Map<string, Buffer>();
  private readonly fallback: GenericOutputs;

  constructor(
    private readonly salt: string,
    private readonly batched: boolean,
    private readonly width: number,
    private readonly height: number,
  ) {
    this.fallback = new GenericOutputs(salt, batched);
  }

  generate(
    _inputs: readonly Tensor[],
    batch: number,
    outputs: readonly OutputRequest[],
    hashes: Uint32Array,
  ): Tensor[] {
    return outputs.map((o) => {
      const dims = this.batched ? o.shape.slice(1) : o.shape;
      const rows = dims[0] ?? 0;
      const anchors = dims[1] ?? 0;
      if (o.spec.datatype !== "FP32" || dims.length !== 2 || rows < 5 || anchors < 1) {
        return this.fallback.one(o, batch, hashes);
      }
      const classes = rows - 4;
      const base = this.base(rows, anchors);
      const items = this.batched ? batch : 1;
      const data = allocOutput(base.length * items);
      for (let b = 0; b < items; b++) {
        const at = b * base.length;
        base.copy(data, at);
        for (const d of detectionsFor(hashes[b] ?? 0, classes, anchors, this.width, this.height)) {
          for (let r = 0; r < 4; r++) data.writeFloatLE(d.box[r] as number, at + (r * anchors + d.anchor) * 4);
          data.writeFloatLE(d.score, at + ((4 + d.classId) * anchors + d.anchor) * 4);
        }
      }
      return outputTensor(o, data);
    });
  }

  private base(rows: number, anchors: number): Buffer {
    const key = `${rows}x${anchors}`;
    let base = this.bases.get(key);
    if (base) return base;
    const rng = new Random(`${this.salt}:detection:${key}`);
    base = allocTensor(rows * anchors * 4);
    const v = new Float32Array(base.buffer, base.byteOffset, rows * anchors);
    for (let a = 0; a < anchors; a++) {
      const w = 8 + rng.next() * (this.width / 4);
      const h = 8 + rng.next() * (this.height / 4);
      v[a] = w / 2 + rng.next() * (this.width - w);
      v[anchors + a] = h / 2 + rng.next() * (this.height - h);
      v[2 * anchors + a] = w;
      v[3 * anchors + a] = h;
    }
    // Background class scores: small but strictly positive, like sigmoid outputs far below threshold.
    for (let i = 4 * anchors; i < rows * anchors; i++) v[i] = 1e-4 + rng.next() * 0.02;
    this.bases.set(key, base);
    return base;
  }
}
