import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode } from "@msgpack/msgpack";
import { Subscriber } from "zeromq";
import { startTestServer } from "../helpers/server.js";

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** A router's side: a SUB socket bound on a free port that Decoy's PUB connects to. */
async function router(): Promise<{ sub: Subscriber; endpoint: string }> {
  const sub = new Subscriber({ linger: 0 });
  sub.subscribe("kv@");
  await sub.bind("tcp://127.0.0.1:*");
  return { sub, endpoint: sub.lastEndpoint as string };
}

async function receive(sub: Subscriber, ms: number): Promise<Buffer[]> {
  const timer = setTimeout(() => sub.close(), ms);
  try {
    return await sub.receive();
  } finally {
    clearTimeout(timer);
  }
}

describe("KV events over ZMQ", () => {
  it("a SUB socket receives the KV cache's BlockStored batch with the pod's topic", async () => {
    const { sub, endpoint } = await router();
    const server = await startTestServer(
      { enableKvcache: true, zmqEndpoint: endpoint, blockSize: 16, eventBatchSize: 1 },
      { env: { POD_IP: "10.1.2.3" } },
    );
    try {
      const kv = server.ctx.kv;
      assert.ok(kv);
      // ZMQ drops what is published before the subscription reaches the publisher, so keep
      // storing new prompts until one batch arrives, then check it against its lease.
      const leases = new Map<string, ReturnType<typeof kv.lookupAndRetain>>();
      const got = receive(sub, 10_000);
      let n = 0;
      const pump = setInterval(() => {
        const lease = kv.lookupAndRetain(range(40, 1000 * n++), { model: "tiny" });
        leases.set(String(lease.blockHashes[0]), lease);
      }, 100);
      const [topic, seq, payload] = await got.finally(() => clearInterval(pump));
      assert.equal(topic?.toString(), `kv@10.1.2.3:${server.httpPort}@tiny`);
      assert.equal(seq?.length, 8);
      const [ts, events, rank] = decode(payload as Buffer, { useBigInt64: true }) as [number, unknown[][], number];
      assert.ok(Math.abs(ts - Date.now() / 1000) < 60);
      assert.equal(rank, 0);
      assert.equal(events.length, 1);
      const hashes = (events[0] as unknown[])[1] as bigint[];
      const lease = leases.get(String(hashes[0]));
      assert.ok(lease, "the batch names blocks of a stored prompt");
      const first = Number(((events[0] as unknown[])[3] as number[])[0]);
      assert.deepEqual(events, [["BlockStored", lease.blockHashes, null, range(32, first), 16, null, "GPU", null]]);
      lease.release();
    } finally {
      await server.close();
      sub.close();
    }
  });

  it("a wildcard endpoint is bound by Decoy and a SUB connects to it", async () => {
    const server = await startTestServer({ enableKvcache: true, zmqEndpoint: "tcp://127.0.0.1:*", eventBatchSize: 1 });
    const sub = new Subscriber({ linger: 0 });
    try {
      const kvEvents = server.ctx.kvEvents;
      assert.ok(kvEvents);
      // The publisher's own socket knows which port the wildcard got.
      await kvEvents.ready;
      const bound = kvEvents.endpoint;
      assert.ok(bound && !bound.includes("*"), bound);
      sub.connect(bound);
      sub.subscribe();
      const got = receive(sub, 10_000);
      let n = 0;
      const pump = setInterval(() => server.ctx.kv?.lookupAndRetain(range(16, 100 * n++), { model: "m" }), 100);
      const [topic] = await got.finally(() => clearInterval(pump));
      assert.equal(topic?.toString(), `kv@127.0.0.1:${server.httpPort}@m`);
    } finally {
      sub.close();
      await server.close();
    }
  });
});
