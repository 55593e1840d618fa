import { hashString, Random } from "../random.js";

/**
 * Deterministic embeddings and relevance scores: the same input always maps to the same
 * unit-length vector (seed 001's behaviour), and scores depend only on query and passage.
 * Vectors are Gaussian components from a PRNG seeded by the input, so different inputs are
 * nearly orthogonal, as real embeddings of unrelated texts tend to be.
 */

/** A unit-normalised vector of `dims` components for `key` (text, or token ids joined). */
export function embeddingVector(key: string, dims: number): Float32Array {
  const rng = new Random(`emb:${key}`);
  const v = new Float32Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    const x = rng.normal();
    v[i] = x;
    norm += x * x;
  }
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dims; i++) v[i] = (v[i] as number) * inv;
  return v;
}

/** Little-endian float32 bytes as base64 (OpenAI's `encoding_format: base64`). */
export function vectorBase64(v: Float32Array): string {
  const le = new Float32Array(v);
  return Buffer.from(le.buffer, le.byteOffset, le.byteLength).toString("base64");
}

const WORD = /[\p{L}\p{N}]+/gu;

function words(s: string): Set<string> {
  return new Set((s.toLowerCase().match(WORD) ?? []).filter((w) => w.length > 2));
}

/**
 * Relevance of `passage` to `query` in (0, 1): shared words raise it, a stable hash spreads
 * the rest, so rankings look plausible and never tie by accident.
 */
export function relevance(query: string, passage: string): number {
  const q = words(query);
  const p = words(passage);
  let shared = 0;
  for (const w of q) if (p.has(w)) shared++;
  const overlap = q.size === 0 ? 0 : shared / q.size;
  const jitter = hashString(`${query}\u0000${passage}`) / 4294967296;
  return Math.min(0.9999, 0.05 + 0.6 * overlap + 0.3 * jitter);
}

/** The logit NIM reports for a relevance in (0, 1). */
export function toLogit(score: number): number {
  const p = Math.min(1 - 1e-6, Math.max(1e-6, score));
  return Math.log(p / (1 - p));
}
