/**
 * Extractive question answering (BERT on SQuAD): start and end logits per token. The base
 * logits are low everywhere; each item gets one peak for the start and one for the end, with
 * start <= end, both inside the attention mask and, when token type ids mark a context
 * segment, inside the context.
 */
import { Random } from "../../random.js";
import { allocOutput, allocTensor, DATATYPE_SIZE, rehash, typedView } from "../../tensors.js";
import type { Tensor } from "../types.js";
import { itemElements, type OutputGenerator, type OutputRequest, outputTensor } from "./generator.js";
import { GenericOutputs } from "./generic.js";

export interface Span {
  start: number;
  end: number;
}

/** Nonzero-aware read of element i of an integer tensor view. */
function intAt(view: ArrayLike<number | bigint>, i: number): number {
  return Number(view[i] ?? 0);
}

/**
 * The answer span for one item: `maskLength` tokens are real (the rest padding) and the
 * context starts at `contextStart` (-1 when unknown).
 */
export function spanFor(h: number, seqLen: number, maskLength: number, contextStart: number): Span {
  const last = Math.max(0, Math.min(seqLen, maskLength) - 1);
  // Skip [CLS] and the final [SEP] when there is room.
  let lo = contextStart > 0 && contextStart < last ? contextStart : Math.min(1, last);
  let hi = last > lo ? last - 1 : last;
  if (hi < lo) [lo, hi] = [hi, lo];
  const start = lo + (rehash(h, 1) % (hi - lo + 1));
  const len = rehash(h, 2) % 16;
  return { start, end: Math.min(hi, start + len) };
}

export class QuestionAnsweringOutputs implements OutputGenerator {
  private readonly bases = new Map<number, Buffer>();
  private readonly fallback: GenericOutputs;

  constructor(
    private readonly salt: string,
    private readonly batched: boolean,
  ) {
    this.fallback = new GenericOutputs(salt, batched);
  }

  generate(inputs: readonly Tensor[], batch: number, outputs: readonly OutputRequest[], hashes: Uint32Array): Tensor[] {
    const items = this.batched ? batch : 1;
    const mask = inputs.find((t) => /mask/i.test(t.name));
    const types = inputs.find((t) => /type|segment/i.test(t.name));
    const spans: Span[] = [];
    for (let b = 0; b < items; b++) spans.push(this.span(b, items, hashes[b] ?? 0, mask, types, outputs));
    const logits = outputs.filter((o) => o.spec.datatype === "FP32");
    return outputs.map((o) => {
      const idx = logits.indexOf(o);
      const role = /start/i.test(o.spec.name)
        ? "start"
        : /end/i.test(o.spec.name)
          ? "end"
          : idx === 0
            ? "start"
            : "end";
      if (idx < 0) return this.fallback.one(o, batch, hashes);
      const seq = itemElements(o.shape, this.batched);
      const base = this.base(seq);
      const data = allocOutput(base.length * items);
      for (let b = 0; b < items; b++) {
        const at = b * base.length;
        base.copy(data, at);
        const span = spans[b] as Span;
        const pos = Math.min(seq - 1, role === "start" ? span.start : span.end);
        data.writeFloatLE(7 + (rehash(hashes[b] ?? 0, role === "start" ? 3 : 4) % 300) / 100, at + pos * 4);
      }
      return outputTensor(o, data);
    });
  }

  private span(
    b: number,
    items: number,
    h: number,
    mask: Tensor | undefined,
    types: Tensor | undefined,
    outputs: readonly OutputRequest[],
  ): Span {
    const first = outputs[0];
    const seq = first ? itemElements(first.shape, this.batched) : 0;
    let maskLength = seq;
    let contextStart = -1;
    if (mask && DATATYPE_SIZE[mask.datatype] > 0 && mask.datatype !== "BYTES") {
      const view = typedView(mask.datatype, mask.data) as ArrayLike<number | bigint>;
      const n = view.length / items;
      maskLength = 0;
      for (let i = n - 1; i >= 0; i--) {
        if (intAt(view, b * n + i) !== 0) {
          maskLength = i + 1;
          break;
        }
      }
    }
    if (types && DATATYPE_SIZE[types.datatype] > 0 && types.datatype !== "BYTES") {
      const view = typedView(types.datatype, types.data) as ArrayLike<number | bigint>;
      const n = view.length / items;
      for (let i = 0; i < Math.min(n, maskLength); i++) {
        if (intAt(view, b * n + i) !== 0) {
          contextStart = i;
          break;
        }
      }
    }
    return spanFor(h, seq, maskLength, contextStart);
  }

  private base(seq: number): Buffer {
    let base = this.bases.get(seq);
    if (base) return base;
    const rng = new Random(`${this.salt}:qa:${seq}`);
    base = allocTensor(seq * 4);
    const v = new Float32Array(base.buffer, base.byteOffset, seq);
    for (let i = 0; i < seq; i++) v[i] = -9 + rng.next() * 6;
    this.bases.set(seq, base);
    return base;
  }
}
