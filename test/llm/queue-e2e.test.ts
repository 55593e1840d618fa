import assert from "node:assert/strict";
import { describe, it } from "node:test";
import OpenAI from "openai";
import { startTestServer } from "../helpers/server.js";
import { assertSchema } from "./helpers.js";

describe("queueing end to end", () => {
  it("with max-num-seqs 2, six concurrent streams: four wait, all six complete in arrival order", async () => {
    // a long TTFT keeps the first two busy while the other four arrive, even on a loaded machine
    const server = await startTestServer({ ttft: 700, itl: 5, maxNumSeqs: 2 });
    try {
      const openai = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
      const finished: number[] = [];
      let maxWaiting = 0;
      const watcher = (async () => {
        while (finished.length < 6) {
          const s = (await (await fetch(`${server.httpUrl}/engine/stats`)).json()) as {
            waiting: number;
            running: number;
          };
          assertSchema("vllm", "EngineStats", s);
          assert.ok(s.running <= 2, "never more than max-num-seqs running");
          maxWaiting = Math.max(maxWaiting, s.waiting);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const inSystem = async () => {
        const s = (await (await fetch(`${server.httpUrl}/engine/stats`)).json()) as {
          waiting: number;
          running: number;
        };
        maxWaiting = Math.max(maxWaiting, s.waiting);
        return s.running + s.waiting;
      };
      const streams: Promise<void>[] = [];
      for (let i = 0; i < 6; i++) {
        streams.push(
          (async () => {
            const stream = await openai.chat.completions.create({
              model: "decoy-llm",
              messages: [{ role: "user", content: `request ${i}` }],
              max_tokens: 20,
              ignore_eos: true,
              stream: true,
            } as OpenAI.ChatCompletionCreateParamsStreaming);
            let tokens = 0;
            for await (const chunk of stream) if (chunk.choices[0]?.delta.content) tokens++;
            assert.equal(tokens, 20);
            finished.push(i);
          })(),
        );
        // the next request is sent once the server holds this one, so arrival order is known
        const deadline = Date.now() + 2000;
        while ((await inSystem()) < i + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(streams);
      await watcher;
      assert.equal(maxWaiting, 4, "four requests observed waiting");
      assert.deepEqual(finished, [0, 1, 2, 3, 4, 5]);
    } finally {
      await server.close();
    }
  });
});
