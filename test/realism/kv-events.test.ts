import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode } from "@msgpack/msgpack";
import { FakeClock } from "../../src/engine/clock.js";
import { KvCache } from "../../src/engine/kv-cache.js";
import { KvEventPublisher, type KvFrames, kvTopic, zmqShouldBind } from "../../src/engine/kv-events.js";
import { Scheduler } from "../../src/engine/scheduler.js";

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

function setup(batchSize = 16, mapFormat = false) {
  const clock = new FakeClock();
  const scheduler = new Scheduler(clock, { slackMs: 0 });
  const sent: KvFrames[] = [];
  const pub = new KvEventPublisher({
    sink: { send: (f) => void sent.push(f), close: () => undefined },
    scheduler,
    clock,
    batchSize,
    topic: (m) => kvTopic("10.0.0.7", 8000, m),
    mapFormat,
  });
  const kv = new KvCache({ blockSize: 16, capacityBlocks: 4, hashSeed: "" }, pub.listener);
  return { clock, scheduler, sent, pub, kv };
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const body = (f: KvFrames) => decode(f[2], { useBigInt64: true }) as [number, unknown[][], number];

describe("KV event publisher", () => {
  it("sends [topic, 8-byte big-endian seq, msgpack [ts, events, dp_rank]] after a second", async () => {
    const { clock, sent, kv } = setup();
    const lease = kv.lookupAndRetain(range(40), { model: "llama" });
    clock.advance(999);
    await tick();
    assert.equal(sent.length, 0, "a partial batch waits up to one second");
    clock.advance(1);
    await tick();
    assert.equal(sent.length, 1);
    const [topic, seq] = sent[0] as KvFrames;
    assert.equal(topic.toString(), "kv@10.0.0.7:8000@llama");
    assert.equal(seq.length, 8);
    assert.equal(seq.readBigUInt64BE(), 0n);
    const [ts, events, rank] = body(sent[0] as KvFrames);
    assert.equal(ts, 1_700_000_001);
    assert.equal(rank, 0);
    assert.deepEqual(events, [["BlockStored", lease.blockHashes, null, range(32), 16, null, "GPU", null]]);
  });

  it("a full batch is sent at once, sequence numbers increase", async () => {
    const { sent, kv } = setup(2);
    kv.lookupAndRetain(range(16), { model: "m" }).release();
    kv.lookupAndRetain(range(16, 100), { model: "m" }).release();
    await tick();
    assert.equal(sent.length, 1);
    kv.lookupAndRetain(range(16, 200), { model: "m" }).release();
    kv.lookupAndRetain(range(16, 300), { model: "m" }).release();
    await tick();
    assert.deepEqual(
      sent.map((f) => f[1].readBigUInt64BE()),
      [0n, 1n],
    );
  });

  it("evictions appear as BlockRemoved before the BlockStored that needed the room", async () => {
    const { clock, sent, kv } = setup();
    const a = kv.lookupAndRetain(range(64), { model: "m" });
    a.release();
    const b = kv.lookupAndRetain(range(16, 900), { model: "m" });
    clock.advance(1000);
    await tick();
    const events = body(sent[0] as KvFrames)[1];
    assert.deepEqual(
      events.map((e) => e[0]),
      ["BlockStored", "BlockRemoved", "BlockStored"],
    );
    assert.deepEqual(events[1], ["BlockRemoved", [a.blockHashes[3]], "GPU"]);
    assert.deepEqual((events[2] as unknown[])[1], b.blockHashes);
  });

  it("batches per model topic and flushes everything on close", async () => {
    const { sent, pub, kv } = setup();
    kv.lookupAndRetain(range(16), { model: "a" });
    kv.lookupAndRetain(range(16), { model: "b" });
    kv.clear();
    await pub.close();
    assert.deepEqual(sent.map((f) => f[0].toString()).sort(), ["kv@10.0.0.7:8000@a", "kv@10.0.0.7:8000@b"]);
    for (const f of sent) assert.deepEqual(body(f)[1].at(-1), ["AllBlocksCleared"]);
  });

  it("the map format uses vLLM's tagged maps", async () => {
    const { sent, pub, kv } = setup(16, true);
    const lease = kv.lookupAndRetain(range(16), { model: "m", lora: "x", loraId: 1 });
    await pub.close();
    const batch = decode((sent[0] as KvFrames)[2], { useBigInt64: true }) as Record<string, unknown>;
    assert.equal(batch.data_parallel_rank, 0);
    assert.deepEqual(batch.events, [
      {
        type: "BlockStored",
        block_hashes: lease.blockHashes,
        parent_block_hash: null,
        token_ids: range(16),
        block_size: 16,
        lora_id: 1,
        medium: "GPU",
        lora_name: "x",
      },
    ]);
  });

  it("binds wildcard, ipc and inproc endpoints and connects to the rest, like vLLM", () => {
    assert.equal(zmqShouldBind("tcp://*:5557"), true);
    assert.equal(zmqShouldBind("ipc:///tmp/kv"), true);
    assert.equal(zmqShouldBind("tcp://127.0.0.1:5557"), false);
  });
});
