import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import { assertSchema } from "./helpers.js";

/**
 * add_special_tokens as vLLM applies it, with a tokenizer that has a BOS (Llama 3's
 * <|begin_of_text|>, id 128000): text prompts of completions and /tokenize's prompt form get
 * it by default, chat and token-id prompts do not, and the request field overrides.
 */

const MODEL = "meta-llama/Meta-Llama-3-8B-Instruct";

async function tokenize(server: DecoyServer, body: Record<string, unknown>): Promise<{ tokens: number[] }> {
  const res = await fetch(`${server.httpUrl}/tokenize`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, ...body }),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as { tokens: number[] };
}

describe("add_special_tokens (Llama 3 tokenizer)", () => {
  let server: DecoyServer;
  let openai: OpenAI;
  before(async () => {
    server = await startTestServer({ model: MODEL, ttft: 0, itl: 0, tokenizerModels: ["llama3"] });
    openai = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
  });
  after(async () => {
    await server.close();
  });

  it("/tokenize: the prompt form starts with BOS unless add_special_tokens is false; the chat form has none", async () => {
    assert.deepEqual((await tokenize(server, { prompt: "The cat sat" })).tokens, [128000, 791, 8415, 7731]);
    assert.deepEqual(
      (await tokenize(server, { prompt: "The cat sat", add_special_tokens: false })).tokens,
      [791, 8415, 7731],
    );
    const chat = await tokenize(server, { messages: [{ role: "user", content: "hi" }] });
    assert.notEqual(chat.tokens[0], 128000);
  });

  it("completions count BOS in prompt_tokens for text prompts, not for token ids, and echo logprobs list it first", async () => {
    const text = await openai.completions.create({ model: MODEL, prompt: "The cat sat", max_tokens: 1 });
    assert.equal(text.usage?.prompt_tokens, 4);
    const without = await openai.completions.create({
      model: MODEL,
      prompt: "The cat sat",
      max_tokens: 1,
      add_special_tokens: false,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    assert.equal(without.usage?.prompt_tokens, 3);
    const ids = await openai.completions.create({ model: MODEL, prompt: [791, 8415, 7731], max_tokens: 1 });
    assert.equal(ids.usage?.prompt_tokens, 3);

    const scored = await openai.completions.create({
      model: MODEL,
      prompt: "The cat sat",
      max_tokens: 0,
      echo: true,
      logprobs: 1,
    });
    assertSchema("openai", "Completion", scored);
    assert.equal(scored.choices[0]?.text, "The cat sat");
    assert.deepEqual(scored.choices[0]?.logprobs?.tokens, ["<|begin_of_text|>", "The", " cat", " sat"]);
    assert.equal(scored.choices[0]?.logprobs?.token_logprobs?.[0], null);
  });

  it("chat requests add no BOS by default, one with add_special_tokens", async () => {
    const messages = [{ role: "user" as const, content: "hi" }];
    const plain = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 1 });
    const framed = await openai.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 1,
      add_special_tokens: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal((framed.usage?.prompt_tokens ?? 0) - (plain.usage?.prompt_tokens ?? 0), 1);
  });
});
