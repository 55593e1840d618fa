/**
 * Simulated prefix (KV) cache, after vLLM's: a prompt's token ids are split into full blocks,
 * each block is named by a hash chained from its parent, blocks already present are hits that
 * skip prefill, new blocks are stored, and when the cache is full the least recently used
 * unreferenced block is evicted (blocks of unloaded LoRA adapters first). Every change is
 * reported as a vLLM KV event (BlockStored / BlockRemoved / AllBlocksCleared) for the ZMQ
 * publisher and anyone else listening.
 *
 * Block hash: the low 64 bits (big-endian tail) of SHA-256 over the canonical CBOR encoding of
 * [parent, token_ids, extra], the root parent being the same digest of CBOR(hash seed) — the
 * scheme vLLM's sha256_cbor and llm-d's KV indexer use, with the LoRA name as `extra`.
 */
import { createHash } from "node:crypto";

export interface KvCacheOptions {
  blockSize: number;
  capacityBlocks: number;
  /** vLLM's PYTHONHASHSEED; fixes the root hash. */
  hashSeed: string;
  /** `medium` reported in events. */
  medium?: string;
}

export type KvEvent =
  | {
      type: "BlockStored";
      model: string;
      blockHashes: bigint[];
      parentBlockHash: bigint | null;
      tokenIds: number[];
      blockSize: number;
      loraId: number | null;
      loraName: string | null;
      medium: string;
    }
  | { type: "BlockRemoved"; model: string; blockHashes: bigint[]; medium: string }
  | { type: "AllBlocksCleared"; model: string };

export type KvEventListener = (event: KvEvent) => void;

export interface KvLookupOptions {
  /** Served model name: blocks of different models never match, and events go to its topic. */
  model?: string;
  /** LoRA adapter name; part of the block hash, so adapters never share blocks with the base. */
  lora?: string | null;
  /** vLLM's integer LoRA id, reported in BlockStored. */
  loraId?: number | null;
}

/** One request's hold on its prompt blocks; `release()` when the request ends (idempotent). */
export interface KvLease {
  /** Prompt tokens served from cache (vLLM's cached_tokens). */
  cachedTokens: number;
  /** Hashes of every full prompt block, in order. */
  blockHashes: bigint[];
  /** Blocks this request added to the cache. */
  storedBlocks: number;
  release(): void;
}

export interface KvStats {
  capacityBlocks: number;
  /** Blocks held by running requests. */
  usedBlocks: number;
  /** Blocks present (used + cached but free). */
  cachedBlocks: number;
  /** usedBlocks / capacity (vLLM's kv_cache_usage_perc). */
  usage: number;
  /** Prompt tokens looked up (vLLM's prefix_cache_queries, in tokens). */
  prefixQueries: number;
  /** Prompt tokens found (vLLM's prefix_cache_hits, in tokens). */
  prefixHits: number;
  evictions: number;
}

interface Block {
  key: string;
  hash: bigint;
  model: string;
  lora: string | null;
  refs: number;
}

const MASK64 = (1n << 64n) - 1n;

/** Minimal canonical CBOR writer for what block hashing needs: uints, text, arrays, null. */
class Cbor {
  private buf = Buffer.alloc(256);
  private len = 0;

  reset(): this {
    this.len = 0;
    return this;
  }
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  private head(major: number, n: number | bigint): void {
    this.ensure(9);
    const m = major << 5;
    if (typeof n === "bigint" && n > 0xffffffffn) {
      this.buf[this.len++] = m | 27;
      this.buf.writeBigUInt64BE(n, this.len);
      this.len += 8;
      return;
    }
    const v = Number(n);
    if (v < 24) this.buf[this.len++] = m | v;
    else if (v < 0x100) {
      this.buf[this.len++] = m | 24;
      this.buf[this.len++] = v;
    } else if (v < 0x10000) {
      this.buf[this.len++] = m | 25;
      this.buf.writeUInt16BE(v, this.len);
      this.len += 2;
    } else if (v <= 0xffffffff) {
      this.buf[this.len++] = m | 26;
      this.buf.writeUInt32BE(v, this.len);
      this.len += 4;
    } else {
      this.buf[this.len++] = m | 27;
      this.buf.writeBigUInt64BE(BigInt(v), this.len);
      this.len += 8;
    }
  }
  int(n: number | bigint): this {
    if (n < 0) this.head(1, typeof n === "bigint" ? -1n - n : -1 - n);
    else this.head(0, n);
    return this;
  }
  text(s: string): this {
    const b = Buffer.from(s, "utf8");
    this.head(3, b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
    return this;
  }
  array(n: number): this {
    this.head(4, n);
    return this;
  }
  nil(): this {
    this.ensure(1);
    this.buf[this.len++] = 0xf6;
    return this;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

const scratch = new Cbor();

function low64(data: Buffer): bigint {
  return createHash("sha256").update(data).digest().readBigUInt64BE(24);
}

/** Root parent hash for a hash seed. */
export function rootHash(hashSeed: string): bigint {
  return low64(new Cbor().text(hashSeed).bytes());
}

/** Hash of one block: H(CBOR([parent, tokens, extra])). */
export function blockHash(
  parent: bigint,
  tokens: readonly number[],
  extra: string | null = null,
  start = 0,
  end = tokens.length,
): bigint {
  const c = scratch
    .reset()
    .array(3)
    .int(parent & MASK64)
    .array(end - start);
  for (let i = start; i < end; i++) c.int(tokens[i] as number);
  if (extra === null) c.nil();
  else c.text(extra);
  return low64(c.bytes());
}

export class KvCache {
  readonly blockSize: number;
  readonly capacityBlocks: number;
  private readonly root: bigint;
  private readonly medium: string;
  private readonly blocks = new Map<string, Block>();
  /** Unreferenced blocks, least recently used first (Map keeps insertion order). */
  private readonly free = new Map<string, Block>();
  private readonly unloadedLoras = new Set<string>();
  /** Whether an adapter is loaded, asked at eviction time (e.g. the LLM surface's adapter list). */
  private loraLoaded: ((name: string) => boolean) | undefined;
  /** Free blocks that belong to an adapter: no adapter-first scan is needed while this is 0. */
  private freeLora = 0;
  private readonly listeners = new Set<KvEventListener>();
  private readonly models = new Set<string>();
  private readonly perModel = new Map<string, { queries: number; hits: number }>();
  private queries = 0;
  private hits = 0;
  private evictions = 0;
  /** Bumped by clear(), so leases from before it release nothing. */
  private generation = 0;

  constructor(opts: KvCacheOptions, listener?: KvEventListener) {
    if (![8, 16, 32, 64, 128].includes(opts.blockSize)) throw new RangeError("block size must be 8, 16, 32, 64 or 128");
    if (!(opts.capacityBlocks >= 1)) throw new RangeError("capacity must be at least one block");
    this.blockSize = opts.blockSize;
    this.capacityBlocks = opts.capacityBlocks;
    this.root = rootHash(opts.hashSeed);
    this.medium = opts.medium ?? "GPU";
    if (listener) this.listeners.add(listener);
  }

  /** Receive every KV event; returns an unsubscribe function. */
  subscribe(fn: KvEventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Chained hashes of the full blocks of `tokenIds`. */
  hashes(tokenIds: readonly number[], lora: string | null = null): bigint[] {
    const n = Math.floor(tokenIds.length / this.blockSize);
    const out: bigint[] = new Array(n);
    let parent = this.root;
    for (let i = 0; i < n; i++) {
      parent = blockHash(parent, tokenIds, lora, i * this.blockSize, (i + 1) * this.blockSize);
      out[i] = parent;
    }
    return out;
  }

  /**
   * Look a prompt up, hold its blocks for the request's lifetime and store the missing ones.
   * As in vLLM the last prompt token is always computed, so a fully cached prompt reports at
   * most `promptTokens - 1` rounded down to whole blocks.
   */
  lookupAndRetain(tokenIds: readonly number[], options: KvLookupOptions | string = {}): KvLease {
    const opts: KvLookupOptions = typeof options === "string" ? { lora: options } : options;
    const model = opts.model ?? "";
    const lora = opts.lora ?? null;
    const hashes = this.hashes(tokenIds, lora);
    const bs = this.blockSize;
    this.models.add(model);

    const held: Block[] = [];
    const removed = new Map<string, bigint[]>();
    const stored: { start: number; end: number }[] = [];
    let prefixHit = 0;
    let inPrefix = true;
    for (let i = 0; i < hashes.length; i++) {
      const hash = hashes[i] as bigint;
      const key = `${model}\u0000${hash}`;
      let b = this.blocks.get(key);
      if (b) {
        if (b.refs === 0) this.unfree(b);
        b.refs++;
        held.push(b);
        if (inPrefix) prefixHit = i + 1;
        continue;
      }
      inPrefix = false;
      if (this.blocks.size >= this.capacityBlocks && !this.evictOne(removed)) break;
      b = { key, hash, model, lora, refs: 1 };
      this.blocks.set(key, b);
      held.push(b);
      const last = stored[stored.length - 1];
      if (last && last.end === i) last.end = i + 1;
      else stored.push({ start: i, end: i + 1 });
    }

    const maxCachedBlocks = Math.floor(Math.max(0, tokenIds.length - 1) / bs);
    const cachedTokens = Math.min(prefixHit, maxCachedBlocks) * bs;
    this.queries += tokenIds.length;
    this.hits += cachedTokens;
    const pm = this.perModel.get(model) ?? { queries: 0, hits: 0 };
    pm.queries += tokenIds.length;
    pm.hits += cachedTokens;
    this.perModel.set(model, pm);

    if (this.listeners.size) {
      for (const [m, blockHashes] of removed) {
        this.emit({ type: "BlockRemoved", model: m, blockHashes, medium: this.medium });
      }
      for (const run of stored) {
        this.emit({
          type: "BlockStored",
          model,
          blockHashes: hashes.slice(run.start, run.end),
          parentBlockHash: run.start === 0 ? null : (hashes[run.start - 1] as bigint),
          tokenIds: tokenIds.slice(run.start * bs, run.end * bs),
          blockSize: bs,
          loraId: opts.loraId ?? null,
          loraName: lora,
          medium: this.medium,
        });
      }
    }

    const generation = this.generation;
    let released = false;
    return {
      cachedTokens,
      blockHashes: hashes,
      storedBlocks: stored.reduce((n, r) => n + r.end - r.start, 0),
      release: () => {
        if (released) return;
        released = true;
        if (generation !== this.generation) return;
        // Tail blocks become free first, i.e. older in LRU order, so a prompt's end is evicted
        // before its shared beginning (vLLM frees blocks in reverse for the same reason).
        for (let i = held.length - 1; i >= 0; i--) {
          const b = held[i] as Block;
          if (--b.refs === 0 && this.blocks.get(b.key) === b) {
            this.free.set(b.key, b);
            if (b.lora !== null) this.freeLora++;
          }
        }
      },
    };
  }

  private evictOne(removed: Map<string, bigint[]>): boolean {
    let victim: Block | undefined;
    if (this.freeLora > 0 && (this.unloadedLoras.size > 0 || this.loraLoaded)) {
      for (const b of this.free.values()) {
        if (b.lora !== null && (this.unloadedLoras.has(b.lora) || this.loraLoaded?.(b.lora) === false)) {
          victim = b;
          break;
        }
      }
    }
    victim ??= this.free.values().next().value;
    if (!victim) return false;
    this.unfree(victim);
    this.blocks.delete(victim.key);
    this.evictions++;
    const list = removed.get(victim.model) ?? [];
    list.push(victim.hash);
    removed.set(victim.model, list);
    return true;
  }

  private unfree(b: Block): void {
    if (this.free.delete(b.key) && b.lora !== null) this.freeLora--;
  }

  /** Ask `fn` at eviction time whether an adapter is still loaded. */
  setLoraResolver(fn: ((name: string) => boolean) | undefined): void {
    this.loraLoaded = fn;
  }

  /** Blocks of unloaded adapters are evicted before anything else. */
  setLoraLoaded(name: string, loaded: boolean): void {
    if (loaded) this.unloadedLoras.delete(name);
    else this.unloadedLoras.add(name);
  }

  /** Drop every block (vLLM's reset_prefix_cache / sleep): one AllBlocksCleared per model. */
  clear(): void {
    this.blocks.clear();
    this.free.clear();
    this.freeLora = 0;
    this.generation++;
    for (const model of this.models) this.emit({ type: "AllBlocksCleared", model });
  }

  /** Fraction of capacity held by running requests (vLLM's kv_cache_usage_perc). */
  usage(): number {
    return (this.blocks.size - this.free.size) / this.capacityBlocks;
  }

  stats(model?: string): KvStats {
    const used = this.blocks.size - this.free.size;
    const pm = model === undefined ? { queries: this.queries, hits: this.hits } : this.perModel.get(model);
    return {
      capacityBlocks: this.capacityBlocks,
      usedBlocks: used,
      cachedBlocks: this.blocks.size,
      usage: used / this.capacityBlocks,
      prefixQueries: pm?.queries ?? 0,
      prefixHits: pm?.hits ?? 0,
      evictions: this.evictions,
    };
  }

  /** Whether a block is present, and how many requests hold it (tests, debugging). */
  blockInfo(hash: bigint, model = ""): { present: boolean; refs: number } {
    const b = this.blocks.get(`${model}\u0000${hash}`);
    return { present: b !== undefined, refs: b?.refs ?? 0 };
  }

  private emit(e: KvEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A broken observer must not fail the request that caused the event.
      }
    }
  }
}
