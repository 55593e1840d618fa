import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blockHash, KvCache, type KvEvent, rootHash } from "../../src/engine/kv-cache.js";

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

function cache(capacityBlocks = 64, blockSize = 16) {
  const events: KvEvent[] = [];
  const kv = new KvCache({ blockSize, capacityBlocks, hashSeed: "" }, (e) => events.push(e));
  return { kv, events };
}

describe("KV cache simulation", () => {
  it("hashes full blocks chained from the seed's root, as sha256-cbor low 64 bits", () => {
    const { kv } = cache();
    const tokens = range(40);
    const hashes = kv.hashes(tokens);
    assert.equal(hashes.length, 2, "a trailing partial block is not hashed");
    const h0 = blockHash(rootHash(""), tokens.slice(0, 16));
    assert.equal(hashes[0], h0);
    assert.equal(hashes[1], blockHash(h0, tokens.slice(16, 32)));
    assert.ok((hashes[0] as bigint) < 1n << 64n);
    // Vectors cross-checked with an independent Python CBOR + hashlib computation.
    assert.equal(rootHash(""), 0x0ad38662763f13d3n);
    assert.equal(h0, 0x9d58b66ac86a175an);
  });

  it("the hash seed and the LoRA name change every block hash", () => {
    const a = new KvCache({ blockSize: 16, capacityBlocks: 8, hashSeed: "1" });
    const b = new KvCache({ blockSize: 16, capacityBlocks: 8, hashSeed: "2" });
    const t = range(16);
    assert.notEqual(a.hashes(t)[0], b.hashes(t)[0]);
    assert.notEqual(a.hashes(t)[0], a.hashes(t, "adapter")[0]);
    assert.equal(a.hashes(t)[0], new KvCache({ blockSize: 16, capacityBlocks: 8, hashSeed: "1" }).hashes(t)[0]);
  });

  it("a repeated prompt hits its cached blocks, but the last token is always computed", () => {
    const { kv } = cache();
    const first = kv.lookupAndRetain(range(50));
    assert.equal(first.cachedTokens, 0);
    assert.equal(first.storedBlocks, 3);
    first.release();
    const again = kv.lookupAndRetain(range(50));
    assert.equal(again.cachedTokens, 48);
    again.release();
    // 48 tokens = exactly 3 blocks: at most 47 may be cached, so 2 blocks count.
    const aligned = kv.lookupAndRetain(range(48));
    assert.equal(aligned.cachedTokens, 32);
    aligned.release();
    const s = kv.stats();
    assert.equal(s.prefixQueries, 50 + 50 + 48);
    assert.equal(s.prefixHits, 48 + 32);
  });

  it("only a shared prefix hits: a different first block misses everything after it", () => {
    const { kv } = cache();
    kv.lookupAndRetain(range(64)).release();
    const other = [999, ...range(63, 1)];
    assert.equal(kv.lookupAndRetain(other).cachedTokens, 0);
    const sharedPrefix = [...range(32), ...range(32, 500)];
    assert.equal(kv.lookupAndRetain(sharedPrefix).cachedTokens, 32);
  });

  it("usage counts blocks held by running requests; release frees them for reuse", () => {
    const { kv } = cache(10);
    const a = kv.lookupAndRetain(range(64));
    const b = kv.lookupAndRetain(range(64));
    assert.equal(kv.usage(), 0.4, "shared blocks count once");
    assert.equal(kv.blockInfo(a.blockHashes[0] as bigint).refs, 2);
    a.release();
    a.release();
    assert.equal(kv.usage(), 0.4);
    b.release();
    assert.equal(kv.usage(), 0);
    assert.equal(kv.stats().cachedBlocks, 4, "free blocks stay cached");
  });

  it("evicts the least recently used unreferenced blocks, tail blocks before shared heads", () => {
    const { kv, events } = cache(4);
    const a = kv.lookupAndRetain(range(32)); // blocks A0 A1
    a.release();
    const b = kv.lookupAndRetain(range(32, 100)); // blocks B0 B1
    b.release();
    events.length = 0;
    const c = kv.lookupAndRetain(range(32, 200)); // needs 2 slots: evicts A1 then A0
    const removed = events
      .filter((e) => e.type === "BlockRemoved")
      .flatMap((e) => (e as { blockHashes: bigint[] }).blockHashes);
    assert.deepEqual(removed, [a.blockHashes[1], a.blockHashes[0]]);
    assert.equal(kv.blockInfo(b.blockHashes[0] as bigint).present, true);
    assert.equal(kv.stats().evictions, 2);
    c.release();
  });

  it("referenced blocks are never evicted; a full cache stores what fits", () => {
    const { kv } = cache(3);
    const held = kv.lookupAndRetain(range(32));
    const next = kv.lookupAndRetain(range(48, 100));
    assert.equal(next.storedBlocks, 1);
    assert.equal(kv.usage(), 1);
    assert.equal(kv.blockInfo(held.blockHashes[0] as bigint).present, true);
    held.release();
    next.release();
  });

  it("blocks of unloaded LoRA adapters are evicted first", () => {
    const { kv } = cache(4);
    kv.lookupAndRetain(range(32), { lora: "sql" }).release(); // oldest
    const base = kv.lookupAndRetain(range(32, 100));
    base.release();
    const tweet = kv.lookupAndRetain(range(16, 300), { lora: "tweet" });
    tweet.release();
    kv.setLoraLoaded("tweet", false);
    const incoming = kv.lookupAndRetain(range(16, 500));
    assert.equal(kv.blockInfo(tweet.blockHashes[0] as bigint).present, false, "unloaded adapter's block went first");
    assert.equal(kv.blockInfo(base.blockHashes[0] as bigint).present, true);
    incoming.release();
  });

  it("emits BlockStored with the parent of the first new block and the stored tokens", () => {
    const { kv, events } = cache();
    kv.lookupAndRetain(range(32), { model: "m", loraId: 3, lora: "x" }).release();
    const first = events[0];
    assert.ok(first && first.type === "BlockStored");
    assert.equal(first.parentBlockHash, null);
    assert.equal(first.blockHashes.length, 2);
    assert.deepEqual(first.tokenIds, range(32));
    assert.equal(first.loraId, 3);
    assert.equal(first.loraName, "x");
    assert.equal(first.model, "m");
    events.length = 0;
    const ext = kv.lookupAndRetain(range(48), { model: "m", lora: "x" });
    assert.equal(events.length, 1);
    const e = events[0];
    assert.ok(e && e.type === "BlockStored");
    assert.equal(e.parentBlockHash, ext.blockHashes[1]);
    assert.deepEqual(e.blockHashes, [ext.blockHashes[2]]);
    assert.deepEqual(e.tokenIds, range(16, 32));
  });

  it("models never share blocks", () => {
    const { kv } = cache();
    kv.lookupAndRetain(range(64), { model: "a" }).release();
    assert.equal(kv.lookupAndRetain(range(64), { model: "b" }).cachedTokens, 0);
    assert.equal(kv.lookupAndRetain(range(64), { model: "a" }).cachedTokens, 48);
    assert.equal(kv.stats("a").prefixHits, 48);
  });

  it("clear drops everything, reports AllBlocksCleared per model, and old leases release nothing", () => {
    const { kv, events } = cache();
    const lease = kv.lookupAndRetain(range(32), { model: "m" });
    events.length = 0;
    kv.clear();
    assert.deepEqual(events, [{ type: "AllBlocksCleared", model: "m" }]);
    lease.release();
    assert.equal(kv.usage(), 0);
    assert.equal(kv.stats().cachedBlocks, 0);
  });
});
