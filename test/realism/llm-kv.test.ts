import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode } from "@msgpack/msgpack";
import OpenAI from "openai";
import { Subscriber } from "zeromq";
import { blockHash, rootHash } from "../../src/engine/kv-cache.js";
import { startTestServer } from "../helpers/server.js";

const PROMPT =
  "Summarise the history of the printing press in Europe, from Gutenberg's movable type in Mainz " +
  "through the spread of presses to Venice, Paris and London, and the effect on literacy, science " +
  "and the Reformation. Mention at least three printers by name and one book each of them printed.";

type Usage = { prompt_tokens: number; prompt_tokens_details?: { cached_tokens?: number } | null };

describe("prefix cache on the LLM path", () => {
  it("a chat request's prompt blocks arrive at a ZMQ SUB socket as BlockStored events", async () => {
    const sub = new Subscriber({ linger: 0 });
    sub.subscribe("kv@");
    await sub.bind("tcp://127.0.0.1:*");
    const server = await startTestServer(
      { enableKvcache: true, zmqEndpoint: sub.lastEndpoint, ttft: 0, itl: 0, hashSeed: "42" },
      { env: { POD_IP: "10.9.8.7" } },
    );
    const timer = setTimeout(() => sub.close(), 10_000);
    try {
      await new Promise((r) => setTimeout(r, 200)); // let the PUB connect and the subscription arrive
      const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "none", maxRetries: 0 });
      const res = await client.chat.completions.create({
        model: "decoy-llm",
        messages: [{ role: "user", content: PROMPT }],
        max_tokens: 4,
      });
      const promptTokens = res.usage?.prompt_tokens ?? 0;
      assert.ok(promptTokens >= 32, `${promptTokens} prompt tokens`);

      const [topic, seq, payload] = await sub.receive();
      assert.equal(topic?.toString(), `kv@10.9.8.7:${server.httpPort}@decoy-llm`);
      assert.equal(seq?.readBigUInt64BE(), 0n);
      const [, events] = decode(payload as Buffer, { useBigInt64: true }) as [number, unknown[][], number];
      assert.equal(events.length, 1);
      const [tag, hashes, parent, tokenIds, blockSize, loraId, medium] = events[0] as [
        string,
        bigint[],
        bigint | null,
        number[],
        number,
        number | null,
        string,
      ];
      assert.equal(tag, "BlockStored");
      assert.equal(parent, null);
      assert.equal(blockSize, 16);
      assert.equal(loraId, null);
      assert.equal(medium, "GPU");
      assert.equal(hashes.length, Math.floor(promptTokens / 16), "one hash per full prompt block");
      assert.equal(tokenIds.length, hashes.length * 16);
      // A router can recompute every hash from the token ids and the hash seed.
      let h = rootHash("42");
      for (let i = 0; i < hashes.length; i++) {
        h = blockHash(h, tokenIds.slice(i * 16, (i + 1) * 16));
        assert.equal(hashes[i], h, `block ${i}`);
      }
      const tokenizer = server.ctx.llm.tokenizerFor(server.ctx.llm.models.resolve("decoy-llm"));
      assert.match(tokenizer.decode(tokenIds), /printing press/);
    } finally {
      clearTimeout(timer);
      sub.close();
      await server.close();
    }
  });

  it("a repeated prompt reports cached_tokens and skips their prefill time", async () => {
    const server = await startTestServer({
      enableKvcache: true,
      zmqEndpoint: "",
      latencyCalculator: "per-token",
      prefillOverhead: 0,
      prefillTimePerToken: 4,
      itl: 0,
    });
    try {
      const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "none", maxRetries: 0 });
      const ask = async () => {
        const t0 = performance.now();
        const res = await client.chat.completions.create({
          model: "decoy-llm",
          messages: [{ role: "user", content: PROMPT }],
          max_tokens: 1,
        });
        return { usage: res.usage as Usage, ms: performance.now() - t0 };
      };
      const first = await ask();
      const second = await ask();
      const p = first.usage.prompt_tokens;
      assert.equal(first.usage.prompt_tokens_details?.cached_tokens, 0);
      assert.equal(second.usage.prompt_tokens_details?.cached_tokens, Math.floor((p - 1) / 16) * 16);
      assert.ok(first.ms >= p * 4 * 0.9, `uncached prefill ${first.ms.toFixed(0)} ms for ${p} tokens`);
      assert.ok(second.ms < first.ms / 2, `cached ${second.ms.toFixed(0)} ms vs ${first.ms.toFixed(0)} ms`);
      const stats = server.ctx.kv?.stats();
      assert.equal(stats?.prefixQueries, 2 * p);
      assert.equal(stats?.usedBlocks, 0, "finished requests hold no blocks");
    } finally {
      await server.close();
    }
  });
});
