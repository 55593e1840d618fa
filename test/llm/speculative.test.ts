import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import { assertSchema } from "./helpers.js";

/**
 * --speculative-config: each decode step after the first token carries 1 + the accepted draft
 * tokens in one chunk (the text is the same as without it), and vLLM's spec_decode families
 * count drafts, draft tokens and accepted tokens per position.
 */

const MODEL = "decoy-llm";

async function metrics(server: DecoyServer): Promise<Map<string, number>> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(vllm:spec_decode_\w+_total)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const pos = /position="(\d+)"/.exec(m[2] ?? "")?.[1];
    out.set(pos === undefined ? (m[1] as string) : `${m[1]}@${pos}`, Number(m[3]));
  }
  return out;
}

describe("speculative decoding", () => {
  let server: DecoyServer;
  let openai: OpenAI;
  before(async () => {
    server = await startTestServer({
      ttft: 1,
      itl: 1,
      speculativeConfig: { method: "ngram", num_speculative_tokens: 3 },
      specAcceptanceRate: 0.6,
    });
    openai = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
  });
  after(async () => {
    await server.close();
  });

  it("streams a step's tokens in one chunk, the same text as the whole answer; metrics count the steps", async () => {
    const before = await metrics(server);
    assert.equal(before.get("vllm:spec_decode_num_drafts_total"), 0, "families exist from the start");
    assert.equal(before.get("vllm:spec_decode_num_accepted_tokens_per_pos_total@2"), 0);
    const request = {
      model: MODEL,
      messages: [{ role: "user" as const, content: "Speculate." }],
      max_tokens: 40,
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming;
    const whole = await openai.chat.completions.create(request);
    const after1 = await metrics(server);
    const stream = await openai.chat.completions.create({
      ...request,
      stream: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    const pieces: string[] = [];
    for await (const chunk of stream) {
      assertSchema("openai", "ChatCompletionChunk", chunk);
      const c = chunk.choices[0]?.delta.content;
      if (c) pieces.push(c);
    }
    assert.equal(pieces.join(""), whole.choices[0]?.message.content);
    assert.ok(pieces.length < 40, `${pieces.length} chunks for 40 tokens`);
    const after2 = await metrics(server);
    const drafts =
      (after2.get("vllm:spec_decode_num_drafts_total") ?? 0) - (after1.get("vllm:spec_decode_num_drafts_total") ?? 0);
    const accepted =
      (after2.get("vllm:spec_decode_num_accepted_tokens_total") ?? 0) -
      (after1.get("vllm:spec_decode_num_accepted_tokens_total") ?? 0);
    const steps = pieces.length - 1;
    assert.equal(accepted, 39 - steps, "every token after the first is a step's own or an accepted draft");
    assert.ok(
      drafts === steps || drafts === steps - 1,
      `${drafts} drafts in ${steps} steps (none for a last lone token)`,
    );
    assert.ok(
      (after2.get("vllm:spec_decode_num_draft_tokens_total") ?? 0) <=
        3 * (after2.get("vllm:spec_decode_num_drafts_total") ?? 0),
      "at most 3 draft tokens per draft",
    );
    const pos = [0, 1, 2].map((p) => after2.get(`vllm:spec_decode_num_accepted_tokens_per_pos_total@${p}`) ?? 0);
    assert.ok(pos[0]! >= pos[1]! && pos[1]! >= pos[2]!, `per-position counts ${pos}`);
    assert.equal(
      pos.reduce((a, b) => a + b, 0),
      after2.get("vllm:spec_decode_num_accepted_tokens_total"),
    );
  });

  it("completions merge a step's text too; without --speculative-config the families are absent", async () => {
    const body = { model: MODEL, prompt: "Speculate.", max_tokens: 30, ignore_eos: true };
    const whole = await openai.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming);
    const stream = await openai.completions.create({ ...body, stream: true } as OpenAI.CompletionCreateParamsStreaming);
    let text = "";
    let chunks = 0;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? "";
      chunks++;
    }
    assert.equal(text, whole.choices[0]?.text);
    assert.ok(chunks < 30);
    const plain = await startTestServer({ ttft: 0, itl: 0 });
    try {
      assert.equal((await metrics(plain)).size, 0);
    } finally {
      await plain.close();
    }
  });
});
