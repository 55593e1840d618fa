import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecoyError } from "../../src/engine/errors.js";
import { chatTemplate } from "../../src/engine/llm/chat-template.js";
import type { ChatMessage, LlmRequest } from "../../src/engine/llm/types.js";
import { hashString } from "../../src/engine/random.js";
import { chat, completion, fakeLlm, recorder } from "./helpers.js";

function plan(flags: Record<string, unknown>, req: LlmRequest) {
  const { llm, clock } = fakeLlm(flags);
  return llm.submit(req, recorder(clock, false).sink).plan;
}

const WORDS = (n: number) => Array.from({ length: n }, (_, i) => `word${i % 10}`).join(" ");

describe("what the simulated model says", () => {
  it("without max_tokens: 0.8–1.2 × the prompt length, at least 16 tokens, finish stop", () => {
    for (let i = 0; i < 20; i++) {
      const p = plan({}, completion(`${WORDS(100)} ${i}`, { stream: false }));
      const n = p.choices[0]?.content.length ?? 0;
      assert.ok(n >= 0.8 * p.promptTokens - 1 && n <= 1.2 * p.promptTokens + 1, `${n} vs prompt ${p.promptTokens}`);
      assert.equal(p.choices[0]?.finishReason, "stop");
    }
    const short = plan({}, completion("hi", { stream: false }));
    assert.equal(short.choices[0]?.content.length, 16);
    assert.equal(short.choices[0]?.finishReason, "stop");
  });

  it("max_tokens caps the length with finish length; min_tokens raises it; ignore_eos gives exactly max_tokens", () => {
    const capped = plan({}, completion(WORDS(100), { maxTokens: 10 }));
    assert.equal(capped.choices[0]?.content.length, 10);
    assert.equal(capped.choices[0]?.finishReason, "length");
    const roomy = plan({}, completion("hi", { maxTokens: 100 }));
    assert.equal(roomy.choices[0]?.content.length, 16);
    assert.equal(roomy.choices[0]?.finishReason, "stop");
    const raised = plan({}, completion("hi", { maxTokens: 100, minTokens: 40 }));
    assert.equal(raised.choices[0]?.content.length, 40);
    assert.equal(raised.choices[0]?.finishReason, "stop");
    const exact = plan({}, completion("hi", { maxTokens: 77, ignoreEos: true }));
    assert.equal(exact.choices[0]?.content.length, 77);
    assert.equal(exact.choices[0]?.finishReason, "length");
  });

  it("the same request gives the same text; a different seed or prompt gives another", () => {
    const text = (req: LlmRequest) => plan({}, req).choices[0]?.content.join("");
    const a = text(completion("The same prompt", { maxTokens: 30, seed: 1 }));
    assert.equal(text(completion("The same prompt", { maxTokens: 30, seed: 1 })), a);
    assert.notEqual(text(completion("The same prompt", { maxTokens: 30, seed: 2 })), a);
    assert.notEqual(text(completion("Another prompt", { maxTokens: 30, seed: 1 })), a);
    const n = plan({}, completion("p", { maxTokens: 20, n: 3 }));
    assert.equal(new Set(n.choices.map((c) => c.content.join(""))).size, 3, "choices differ");
  });

  it("echo mode repeats the last user message token by token", () => {
    const p = plan(
      { mode: "echo" },
      {
        api: "chat",
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: "Tell me about the sea." },
          { role: "assistant", content: "It is wet." },
          { role: "user", content: "Tell me more about the harbour, please." },
        ],
        stream: false,
      },
    );
    assert.equal(p.choices[0]?.content.join(""), "Tell me more about the harbour, please.");
    assert.equal(p.choices[0]?.finishReason, "stop");
    const cut = plan({ mode: "echo" }, completion("one two three four five six", { maxTokens: 3 }));
    assert.equal(cut.choices[0]?.content.join(""), "one two three");
    assert.equal(cut.choices[0]?.finishReason, "length");
  });

  it("random mode draws text per request", () => {
    const { llm, clock } = fakeLlm({ mode: "random" });
    const a = llm.submit(completion("same", { maxTokens: 50 }), recorder(clock).sink).plan;
    const b = llm.submit(completion("same", { maxTokens: 50 }), recorder(clock).sink).plan;
    assert.notEqual(a.choices[0]?.content.join(""), b.choices[0]?.content.join(""));
  });

  it("a stop string ends the text before it with finish stop", () => {
    const full = plan({}, completion("stop test", { maxTokens: 40, ignoreEos: false, seed: 3 }));
    const text = full.choices[0]?.content.join("") ?? "";
    const stop = text.trim().split(" ")[3] ?? "";
    const p = plan({}, completion("stop test", { maxTokens: 40, seed: 3, stop: [stop] }));
    const cut = p.choices[0]?.content.join("") ?? "";
    assert.equal(cut, text.slice(0, text.indexOf(stop)));
    assert.equal(p.choices[0]?.finishReason, "stop");
  });

  it("reasoning models spend low/medium/high = 100/250/500 tokens first, within max_tokens", () => {
    const req = (extra: Partial<LlmRequest>) => chat("Why is the sky blue?", { model: "openai/gpt-oss-20b", ...extra });
    const flags = { acceptAnyModel: true };
    assert.equal(plan(flags, req({ reasoningEffort: "low" })).choices[0]?.reasoning.length, 100);
    assert.equal(plan(flags, req({})).choices[0]?.reasoning.length, 250, "medium by default");
    const high = plan(flags, req({ reasoningEffort: "high", maxTokens: 600 }));
    assert.equal(high.choices[0]?.reasoning.length, 500);
    assert.ok((high.choices[0]?.content.length ?? 0) <= 100, "content gets what is left of max_tokens");
    const tight = plan(flags, req({ reasoningEffort: "high", maxTokens: 300 }));
    assert.equal(tight.choices[0]?.reasoning.length, 300);
    assert.equal(tight.choices[0]?.content.length, 0);
    assert.equal(tight.choices[0]?.finishReason, "length");
    assert.equal(plan(flags, req({ reasoningEffort: "none" })).choices[0]?.reasoning.length, 0);
    assert.equal(plan(flags, chat("hi", { model: "plain-model" })).reasoning, false, "other names do not reason");
    assert.equal(plan({ ...flags, reasoningModels: ["llama"] }, chat("hi", { model: "my-llama" })).reasoning, true);
  });

  const rejected: [string, Record<string, unknown>, LlmRequest, RegExp][] = [
    [
      "prompt + max_tokens above max-model-len",
      { maxModelLen: 64 },
      completion("hello world", { maxTokens: 100 }),
      /^'max_tokens' or 'max_completion_tokens' is too large: 100\. This model's maximum context length is 64 tokens and your request has 2 input tokens \(100 > 64 - 2\)\.$/,
    ],
    [
      "a prompt as long as the context",
      { maxModelLen: 8 },
      completion(WORDS(20)),
      /^This model's maximum context length is 8 tokens\. However, your request has \d+ input tokens\. Please reduce the length of the input messages\.$/,
    ],
    [
      "min_tokens above max_tokens",
      {},
      completion("x", { maxTokens: 5, minTokens: 6 }),
      /min_tokens must be less than or equal to max_tokens=5, got 6/,
    ],
    [
      "too many logprobs",
      {},
      completion("x", { logprobs: 21 }),
      /Requested sample logprobs of 21, which is greater than max allowed: 20/,
    ],
    ["an unknown model", {}, completion("x", { model: "gpt-17" }), /The model `gpt-17` does not exist\./],
    [
      "a named tool that is not in tools",
      {},
      chat("x", { tools: [{ name: "a" }], toolChoice: { name: "b" } }),
      /'b' is not among/,
    ],
  ];
  for (const [name, flags, req, message] of rejected) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => plan(flags, req),
        (err: DecoyError) => err instanceof DecoyError && message.test(err.message) && err.httpStatus < 500,
      );
    });
  }

  it("unknown models are 404 model_not_found unless any model is accepted", () => {
    assert.throws(
      () => plan({}, completion("x", { model: "nope" })),
      (e: DecoyError) => e.httpStatus === 404 && e.openaiCode === "model_not_found" && e.param === "model",
    );
    assert.equal(plan({ acceptAnyModel: true }, completion("x", { model: "nope" })).model.requested, "nope");
    assert.equal(plan({ servedModelName: ["a", "b"] }, completion("x", { model: "b" })).model.served, "a");
  });

  it("tokenizers: by model family, --tokenizer-map, a forced --tokenizer, and changed at runtime", () => {
    assert.equal(plan({}, completion("x")).tokenizer, "approx");
    assert.equal(plan({ model: "Qwen/Qwen3-0.6B" }, completion("x")).tokenizer, "qwen3");
    assert.equal(plan({ tokenizerMap: { decoy: "qwen3" } }, completion("x")).tokenizer, "qwen3");
    assert.equal(plan({ model: "Qwen/Qwen3-0.6B", tokenizer: "approx" }, completion("x")).tokenizer, "approx");
    const { llm, clock, config } = fakeLlm({});
    config.patch({ tokenizer: "qwen3" });
    const p = llm.submit(completion("Hello world"), recorder(clock).sink).plan;
    assert.equal(p.tokenizer, "qwen3");
    assert.equal(p.promptTokens, 2);
    assert.throws(() => config.patch({ tokenizer: "no-such-tokenizer" }), /unknown tokenizer "no-such-tokenizer"/);
  });

  it("logprobs are planned per step when asked", () => {
    const p = plan({}, completion("x", { maxTokens: 4, logprobs: 2 }));
    assert.equal(p.topLogprobs, 2);
    assert.equal(p.choices[0]?.logprobs?.length, 4);
    for (const lp of p.choices[0]?.logprobs ?? []) assert.ok(lp <= 0);
  });
});

describe("prompt token counts", () => {
  it("a chat plan's prompt is the template text, with its hash and token count", () => {
    const req = chat("Write a short story.", { maxTokens: 4 });
    const { llm } = fakeLlm({});
    const tok = llm.tokenizerFor(llm.models.resolve(req.model, "llm"));
    const prompt = plan({}, req).prompts[0];
    assert.ok(prompt);
    assert.equal(prompt.text, chatTemplate(req.messages ?? [], undefined));
    assert.equal(prompt.hash, hashString(prompt.text));
    assert.equal(prompt.tokens, tok.count(prompt.text));
  });

  it("repeated prompts count from the cache exactly as tokenizing does, and a changed one is recounted", () => {
    const { llm, clock } = fakeLlm({});
    const count = (req: LlmRequest) => {
      const job = llm.submit(req, recorder(clock, false).sink);
      job.cancel();
      return job.plan.promptTokens;
    };
    const messages = (last: string): ChatMessage[] => [
      { role: "system", content: "You are a load-test target." },
      { role: "user", content: last },
    ];
    const tok = llm.tokenizerFor(llm.resolve(undefined));
    const first = count(chat("", { messages: messages("Write a short story.") }));
    assert.equal(first, tok.count(chatTemplate(messages("Write a short story."), undefined)));
    for (let i = 0; i < 3; i++) assert.equal(count(chat("", { messages: messages("Write a short story.") })), first);
    const longer = count(chat("", { messages: messages("Write a short story about a benchmark that never ends.") }));
    assert.equal(
      longer,
      tok.count(chatTemplate(messages("Write a short story about a benchmark that never ends."), undefined)),
    );
    assert.ok(longer > first);
    // same text as a completion prompt: its own entry, not the chat's
    const text = WORDS(40);
    assert.equal(count(completion(text)), tok.count(text));
    // many distinct prompts: the cache stays bounded and every count stays right
    for (let i = 0; i < 1500; i++) {
      const p = `${WORDS(i % 50)} ${i}`;
      assert.equal(count(completion(p, { maxTokens: 1 })), tok.count(p));
    }
    assert.equal(count(completion(text)), tok.count(text));
  });
});
