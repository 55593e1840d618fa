/**
 * Triton's classification extension: an output requested with the `classification`
 * parameter (k) comes back as a BYTES tensor of the top k entries of each batch item,
 * each "<value>:<index>", highest first.
 */
import { DecoyError } from "../errors.js";
import { DATATYPE_SIZE, encodeBytesElements, rawToValues } from "../tensors.js";
import type { Tensor } from "./types.js";

export function classify(t: Tensor, k: number, batched: boolean): Tensor {
  if (!Number.isInteger(k) || k < 1)
    throw new DecoyError("INVALID_ARGUMENT", `output '${t.name}': classification must be a positive integer`);
  if (t.datatype === "BYTES" || DATATYPE_SIZE[t.datatype] === 0)
    throw new DecoyError("INVALID_ARGUMENT", `output '${t.name}': classification needs a numeric output, not BYTES`);
  const items = batched && t.shape.length > 1 ? (t.shape[0] as number) : 1;
  const values = rawToValues(t.datatype, t.data) as (number | boolean)[];
  const per = items > 0 ? values.length / items : 0;
  const top = Math.min(k, per);
  const strings: string[] = [];
  for (let b = 0; b < items; b++) {
    // Partial selection: keep the best `top` indices seen so far, sorted descending.
    const best: number[] = [];
    for (let i = 0; i < per; i++) {
      const v = Number(values[b * per + i]);
      if (best.length === top && v <= Number(values[b * per + (best[top - 1] as number)])) continue;
      let j = best.length < top ? best.length : top - 1;
      best[j] = i;
      while (j > 0 && Number(values[b * per + (best[j - 1] as number)]) < v) {
        best[j] = best[j - 1] as number;
        best[j - 1] = i;
        j--;
      }
    }
    for (const i of best) strings.push(`${Number(values[b * per + i]).toFixed(6)}:${i}`);
  }
  return {
    name: t.name,
    datatype: "BYTES",
    shape: batched && t.shape.length > 1 ? [items, top] : [top],
    data: encodeBytesElements(strings),
  };
}
