import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { DecoyError } from "../../src/engine/errors.js";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import { assertSchema, sseData } from "./helpers.js";

/**
 * The OpenAI-compatible surface driven by the official `openai` SDK where it has a method
 * (models, chat, completions, embeddings) and plain HTTP otherwise; every response body and
 * every streamed chunk is checked against the schemas in openapi/.
 */

const MODEL = "decoy-llm";

function client(server: DecoyServer): OpenAI {
  return new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
}

async function post(server: DecoyServer, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.httpUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

async function stats(server: DecoyServer): Promise<{ running: number; waiting: number }> {
  const body = (await (await fetch(`${server.httpUrl}/engine/stats`)).json()) as { running: number; waiting: number };
  assertSchema("vllm", "EngineStats", body);
  return body;
}

async function until(cond: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("OpenAI / vLLM HTTP surface", () => {
  let server: DecoyServer;
  let openai: OpenAI;
  before(async () => {
    server = await startTestServer({
      ttft: 2,
      itl: 0.5,
      servedModelName: [MODEL, "gpt-oss-mini"],
      loraModules: [{ name: "static-lora", path: "/adapters/static" }],
      maxLoras: 2,
    });
    openai = client(server);
  });
  after(async () => {
    await server.close();
  });

  it("lists the served names and LoRA adapters with root, parent and max_model_len", async () => {
    const list = await openai.models.list();
    const ids = list.data.map((m) => m.id);
    assert.deepEqual(ids.slice(0, 3), [MODEL, "gpt-oss-mini", "static-lora"]);
    for (const m of list.data) assertSchema("openai", "Model", m);
    const lora = list.data.find((m) => m.id === "static-lora") as unknown as Record<string, unknown>;
    assert.equal(lora.root, "/adapters/static");
    assert.equal(lora.parent, MODEL);
    assert.equal(lora.max_model_len, 1024);
    const one = await openai.models.retrieve(MODEL);
    assert.equal(one.id, MODEL);
    await assert.rejects(openai.models.retrieve("nope"), (e: unknown) => e instanceof OpenAI.NotFoundError);
  });

  it("chat completion (non-streaming) carries usage and finish_reason length at max_tokens", async () => {
    const res = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Tell me a long story about the sea and its harbours." }],
      max_tokens: 12,
    });
    assertSchema("openai", "ChatCompletion", res);
    assert.equal(res.object, "chat.completion");
    assert.match(res.id, /^chatcmpl-/);
    assert.equal(res.choices[0]?.finish_reason, "length");
    assert.equal(res.usage?.completion_tokens, 12);
    assert.ok((res.usage?.prompt_tokens ?? 0) > 10);
    assert.equal(res.usage?.total_tokens, (res.usage?.prompt_tokens ?? 0) + 12);
  });

  it("chat stream: role chunk, content deltas, finish_reason, usage chunk, [DONE] — same text as non-streaming", async () => {
    const request = {
      model: MODEL,
      messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "Stream me something." }] }],
      max_completion_tokens: 20,
      seed: 11,
    };
    const whole = await openai.chat.completions.create(request);
    const stream = await openai.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      assertSchema("openai", "ChatCompletionChunk", chunk);
      chunks.push(chunk);
    }
    assert.deepEqual(chunks[0]?.choices[0]?.delta, { role: "assistant", content: "" });
    const usage = chunks.at(-1);
    assert.deepEqual(usage?.choices, []);
    assert.equal(usage?.usage?.completion_tokens, 20);
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    assert.equal(withChoices.at(-1)?.choices[0]?.finish_reason, "length");
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, "one id for the whole stream");
    const text = withChoices.map((c) => c.choices[0]?.delta.content ?? "").join("");
    assert.equal(text, whole.choices[0]?.message.content);
    assert.equal(withChoices.length, 21, "one role chunk + one chunk per token");

    const raw = await post(server, "/v1/chat/completions", { ...request, stream: true });
    assert.match(raw.type, /^text\/event-stream/);
    const data = sseData(raw.text);
    assert.equal(data.at(-1), "[DONE]");
    for (const d of data.slice(0, -1)) assertSchema("openai", "ChatCompletionChunk", JSON.parse(d));
  });

  it("continuous_usage_stats: every chunk carries the usage so far per choice; without include_usage it is ignored", async () => {
    const request = {
      model: MODEL,
      messages: [{ role: "user" as const, content: "Count along." }],
      max_tokens: 6,
      n: 2,
      stream: true as const,
    };
    const whole = await openai.chat.completions.create({ ...request, stream: false });
    const prompt = whole.usage?.prompt_tokens as number;
    const stream = await openai.chat.completions.create({
      ...request,
      stream_options: { include_usage: true, continuous_usage_stats: true } as OpenAI.ChatCompletionStreamOptions,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      assertSchema("openai", "ChatCompletionChunk", chunk);
      chunks.push(chunk);
    }
    const seen = [0, 0];
    for (const c of chunks.filter((x) => x.choices.length > 0)) {
      const i = c.choices[0]?.index as number;
      const expected = c.choices[0]?.delta.role ? 0 : ++seen[i]!;
      assert.deepEqual(c.usage, {
        prompt_tokens: prompt,
        total_tokens: prompt + expected,
        completion_tokens: expected,
      });
    }
    assert.deepEqual(seen, [6, 6]);
    assert.equal(chunks.at(-1)?.usage?.completion_tokens, 12, "the final usage chunk counts every choice");

    const raw = await post(server, "/v1/chat/completions", {
      ...request,
      stream_options: { continuous_usage_stats: true },
    });
    const events = sseData(raw.text).slice(0, -1);
    assert.ok(events.length > 0 && events.every((d) => !("usage" in JSON.parse(d))), "no usage without include_usage");

    const completion = await post(server, "/v1/completions", {
      model: MODEL,
      prompt: ["one", "a longer second prompt"],
      max_tokens: 2,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
    const perChoice = sseData(completion.text)
      .slice(0, -1)
      .map((d) => JSON.parse(d) as OpenAI.Completion)
      .filter((c) => c.choices.length > 0);
    for (const c of perChoice) assertSchema("openai", "CompletionChunk", c);
    const prompts = new Set(perChoice.map((c) => c.usage?.prompt_tokens));
    assert.equal(prompts.size, 2, "each choice counts the prompt it answers");
  });

  it("completions echo + logprobs lists the prompt's tokens first (null logprob on the first); max_tokens 0 scores the prompt alone", async () => {
    const prompt = "Score this sentence please";
    const tokenized = (await (
      await fetch(`${server.httpUrl}/tokenize`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, prompt }),
      })
    ).json()) as { count: number };
    const n = tokenized.count;

    const scored = await openai.completions.create({ model: MODEL, prompt, max_tokens: 0, echo: true, logprobs: 1 });
    assertSchema("openai", "Completion", scored);
    const lp = scored.choices[0]?.logprobs;
    assert.equal(scored.choices[0]?.text, prompt);
    assert.equal(lp?.tokens?.length, n);
    assert.equal(lp?.tokens?.join(""), prompt);
    assert.equal(lp?.token_logprobs?.[0], null);
    assert.equal(lp?.top_logprobs?.[0], null);
    assert.ok(lp?.token_logprobs?.slice(1).every((v) => typeof v === "number" && v <= 0));
    assert.deepEqual(lp?.text_offset?.slice(0, 2), [0, lp?.tokens?.[0]?.length]);
    assert.equal(scored.usage?.completion_tokens, 1, "vLLM generates one token it does not show");
    assert.equal(scored.choices[0]?.finish_reason, "length");

    const more = await openai.completions.create({ model: MODEL, prompt, max_tokens: 3, echo: true, logprobs: 2 });
    const all = more.choices[0]?.logprobs;
    assert.equal(all?.tokens?.length, n + 3);
    assert.deepEqual(all?.token_logprobs?.slice(0, n), lp?.token_logprobs, "prompt logprobs are deterministic");
    assert.equal(all?.tokens?.join(""), more.choices[0]?.text);
    assert.equal(all?.text_offset?.[n], prompt.length, "output offsets continue after the prompt");

    const streamed = await openai.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 3,
      echo: true,
      logprobs: 2,
      stream: true,
    });
    const parts: OpenAI.Completion[] = [];
    for await (const chunk of streamed) {
      assertSchema("openai", "CompletionChunk", chunk);
      if (chunk.choices.length) parts.push(chunk);
    }
    assert.equal(
      parts[0]?.choices[0]?.logprobs?.tokens?.length,
      n + 1,
      "the first chunk carries the prompt and a token",
    );
    assert.deepEqual(
      parts.flatMap((c) => c.choices[0]?.logprobs?.text_offset ?? []),
      all?.text_offset,
    );

    const bare = await post(server, "/v1/completions", { model: MODEL, prompt, max_tokens: 0 });
    assert.equal(bare.status, 400, "max_tokens 0 needs echo");
  });

  it("prompt_logprobs: per prompt token its id at rank 1 plus alternatives, the values echo lists; chat too", async () => {
    const prompt = "Score this sentence please";
    const ids = JSON.parse((await post(server, "/tokenize", { model: MODEL, prompt })).text).tokens as number[];
    type Entry = Record<string, { logprob: number; rank: number; decoded_token: string }> | null;
    const res = JSON.parse(
      (await post(server, "/v1/completions", { model: MODEL, prompt, max_tokens: 1, prompt_logprobs: 2 })).text,
    ) as { choices: { prompt_logprobs: Entry[] }[] };
    assertSchema("openai", "Completion", res);
    const pl = res.choices[0]!.prompt_logprobs;
    assert.equal(pl.length, ids.length);
    assert.equal(pl[0], null);
    const echo = await openai.completions.create({ model: MODEL, prompt, max_tokens: 0, echo: true, logprobs: 1 });
    for (let i = 1; i < ids.length; i++) {
      const own = pl[i]?.[String(ids[i])];
      assert.equal(own?.rank, 1);
      assert.equal(own?.logprob, echo.choices[0]?.logprobs?.token_logprobs?.[i]);
      assert.ok(Object.keys(pl[i] ?? {}).length <= 2);
    }
    const chat = JSON.parse(
      (
        await post(server, "/v1/chat/completions", {
          model: MODEL,
          messages: [{ role: "user", content: "hi" }],
          max_tokens: 1,
          prompt_logprobs: 0,
        })
      ).text,
    ) as { usage: { prompt_tokens: number }; prompt_logprobs: Entry[] };
    assertSchema("openai", "ChatCompletion", chat);
    assert.equal(chat.prompt_logprobs.length, chat.usage.prompt_tokens);
    assert.ok(chat.prompt_logprobs.slice(1).every((e) => Object.keys(e ?? {}).length === 1));
    const streamed = await post(server, "/v1/completions", { model: MODEL, prompt, prompt_logprobs: 1, stream: true });
    assert.equal(streamed.status, 400);
    assert.match(streamed.text, /not available when `stream=True`/);
    const many = await post(server, "/v1/completions", { model: MODEL, prompt, prompt_logprobs: 100 });
    assert.equal(many.status, 400);
  });

  it("completions: string, list of strings, token ids, n, echo, logprobs, streaming", async () => {
    const res = await openai.completions.create({
      model: MODEL,
      prompt: ["first prompt", "second"],
      max_tokens: 5,
      n: 2,
    });
    assertSchema("openai", "Completion", res);
    assert.equal(res.choices.length, 4);
    assert.deepEqual(
      res.choices.map((c) => c.index),
      [0, 1, 2, 3],
    );
    assert.equal(res.usage?.completion_tokens, 20);
    const ids = await openai.completions.create({ model: MODEL, prompt: [1, 2, 3, 4], max_tokens: 3 });
    assert.equal(ids.usage?.prompt_tokens, 4);
    const echo = await openai.completions.create({ model: MODEL, prompt: "Echo this:", max_tokens: 3, echo: true });
    assert.ok(echo.choices[0]?.text.startsWith("Echo this:"));
    const lp = await openai.completions.create({ model: MODEL, prompt: "logprobs", max_tokens: 4, logprobs: 2 });
    assertSchema("openai", "Completion", lp);
    assert.equal(lp.choices[0]?.logprobs?.tokens?.length, 4);
    assert.equal(lp.choices[0]?.logprobs?.tokens?.join(""), lp.choices[0]?.text);
    assert.equal(Object.keys(lp.choices[0]?.logprobs?.top_logprobs?.[0] ?? {}).length >= 1, true);

    const stream = await openai.completions.create({
      model: MODEL,
      prompt: "Stream a completion",
      max_tokens: 8,
      stream: true,
      stream_options: { include_usage: true },
      seed: 5,
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      assertSchema("openai", "CompletionChunk", chunk);
      text += chunk.choices[0]?.text ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    const whole = await openai.completions.create({
      model: MODEL,
      prompt: "Stream a completion",
      max_tokens: 8,
      seed: 5,
    });
    assert.equal(text, whole.choices[0]?.text);
    assert.equal(usage?.completion_tokens, 8);
  });

  it("chat logprobs are shaped like OpenAI's", async () => {
    const res = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
      logprobs: true,
      top_logprobs: 2,
    });
    assertSchema("openai", "ChatCompletion", res);
    const content = res.choices[0]?.logprobs?.content ?? [];
    assert.equal(content.length, 3);
    assert.equal(content[0]?.top_logprobs.length, 2);
    assert.equal(content.map((c) => c.token).join(""), res.choices[0]?.message.content);
  });

  it("reasoning models stream reasoning_content first and report reasoning tokens", async () => {
    const res = await openai.chat.completions.create({
      model: "gpt-oss-mini",
      messages: [{ role: "user", content: "Think first." }],
      max_tokens: 150,
      reasoning_effort: "low",
    });
    assertSchema("openai", "ChatCompletion", res);
    const msg = res.choices[0]?.message as unknown as { reasoning_content: string; content: string };
    assert.ok(msg.reasoning_content.length > 0);
    assert.equal(res.usage?.completion_tokens_details?.reasoning_tokens, 100);
    const completion = res.usage?.completion_tokens ?? 0;
    assert.ok(completion > 100 && completion <= 150, "reasoning counts within max_tokens");
    const stream = await openai.chat.completions.create({
      model: "gpt-oss-mini",
      messages: [{ role: "user", content: "Think first." }],
      max_tokens: 150,
      reasoning_effort: "low",
      stream: true,
    });
    const kinds: string[] = [];
    for await (const c of stream) {
      const d = c.choices[0]?.delta as { reasoning_content?: string; content?: string } | undefined;
      if (d?.reasoning_content !== undefined) kinds.push("r");
      else if (d?.content) kinds.push("c");
    }
    assert.equal(kinds.indexOf("c"), 100, "100 reasoning deltas, then content");
  });

  it("tool calls: streamed deltas assemble into arguments that match the schema", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: "function",
        function: {
          name: "get_weather",
          parameters: {
            type: "object",
            properties: { city: { type: "string" }, unit: { type: "string", enum: ["c", "f"] } },
            required: ["city", "unit"],
          },
        },
      },
    ];
    const res = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Weather in Oslo?" }],
      tools,
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    assertSchema("openai", "ChatCompletion", res);
    assert.equal(res.choices[0]?.finish_reason, "tool_calls");
    const call = res.choices[0]?.message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    const args = JSON.parse(call.function.arguments) as { city: string; unit: string };
    assert.ok(typeof args.city === "string" && ["c", "f"].includes(args.unit));

    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Weather in Oslo?" }],
      tools,
      tool_choice: "required",
      parallel_tool_calls: false,
      stream: true,
    });
    let name = "";
    let argText = "";
    let finish: string | null | undefined;
    for await (const c of stream) {
      assertSchema("openai", "ChatCompletionChunk", c);
      for (const tc of c.choices[0]?.delta.tool_calls ?? []) {
        name += tc.function?.name ?? "";
        argText += tc.function?.arguments ?? "";
      }
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(name, "get_weather");
    assert.ok(JSON.parse(argText));
    assert.equal(finish, "tool_calls");
  });

  type Chunk = { index: number; finish_reason: string | null };
  it("every streamed chunk of every variant validates: logprobs, n, several prompts, echo, reasoning, tools, JSON", async () => {
    const weather = {
      type: "function",
      function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
    };
    const variants: [path: string, component: string, body: Record<string, unknown>][] = [
      ["/v1/chat/completions", "ChatCompletionChunk", { logprobs: true, top_logprobs: 2, n: 2 }],
      ["/v1/chat/completions", "ChatCompletionChunk", { model: "gpt-oss-mini", reasoning_effort: "low" }],
      ["/v1/chat/completions", "ChatCompletionChunk", { tools: [weather], tool_choice: "required" }],
      ["/v1/chat/completions", "ChatCompletionChunk", { response_format: { type: "json_object" } }],
      ["/v1/chat/completions", "ChatCompletionChunk", { max_tokens: 1 }],
      ["/v1/completions", "CompletionChunk", { prompt: ["one", "two"], n: 2, logprobs: 2, echo: true }],
      ["/v1/completions", "CompletionChunk", { prompt: [1, 2, 3], max_tokens: 1 }],
    ];
    for (const [path, component, extra] of variants) {
      const base = path.endsWith("chat/completions")
        ? { messages: [{ role: "user", content: "Every chunk, please." }] }
        : { prompt: "Every chunk, please." };
      const body = {
        model: MODEL,
        max_tokens: 6,
        ...base,
        ...extra,
        stream: true,
        stream_options: { include_usage: true },
      };
      const raw = await post(server, path, body);
      assert.match(raw.type, /^text\/event-stream/);
      const data = sseData(raw.text);
      assert.equal(data.at(-1), "[DONE]", JSON.stringify(extra));
      const chunks = data
        .slice(0, -1)
        .map((d) => JSON.parse(d) as { id: string; usage?: { completion_tokens: number }; choices: Chunk[] });
      for (const c of chunks) assertSchema("openai", component, c);
      assert.ok((chunks.at(-1)?.usage?.completion_tokens ?? 0) > 0, "the usage chunk comes last");
      assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
      const finished = new Set(chunks.flatMap((c) => c.choices.filter((x) => x.finish_reason).map((x) => x.index)));
      const n =
        ((extra.n as number | undefined) ?? 1) *
        (Array.isArray(extra.prompt) && typeof extra.prompt[0] === "string" ? extra.prompt.length : 1);
      assert.equal(finished.size, n, `every choice of ${JSON.stringify(extra)} finishes`);
    }
  });

  it("response_format json_object answers JSON", async () => {
    const res = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "JSON please" }],
      response_format: { type: "json_object" },
    });
    assert.equal(typeof JSON.parse(res.choices[0]?.message.content ?? ""), "object");
  });

  it("embeddings: 768-dim unit vectors, dimensions, float and base64, deterministic", async () => {
    const res = await openai.embeddings.create({ model: MODEL, input: ["alpha", "beta"], encoding_format: "float" });
    assertSchema("openai", "EmbeddingResponse", res);
    assert.equal(res.data.length, 2);
    const v = res.data[0]?.embedding ?? [];
    assert.equal(v.length, 768);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
    // the SDK asks for base64 by default and decodes it
    const again = await openai.embeddings.create({ model: "decoy-embedding", input: "alpha", dimensions: 768 });
    assert.deepEqual(
      again.data[0]?.embedding.map((x) => x.toFixed(5)),
      v.map((x) => x.toFixed(5)),
    );
    const small = await openai.embeddings.create({
      model: MODEL,
      input: [[1, 2, 3]],
      dimensions: 16,
      encoding_format: "float",
    });
    assert.equal(small.data[0]?.embedding.length, 16);
    assert.equal(small.usage.prompt_tokens, 3);
    const raw = await post(server, "/v1/embeddings", { model: MODEL, input: "x", encoding_format: "base64" });
    const body = JSON.parse(raw.text);
    assertSchema("openai", "EmbeddingResponse", body);
    assert.equal(Buffer.from(body.data[0].embedding, "base64").length, 768 * 4);
  });

  it("unknown model is 404 model_not_found in OpenAI's error shape", async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: "gpt-17", messages: [{ role: "user", content: "x" }] }),
      (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found" && e.param === "model",
    );
    const raw = await post(server, "/v1/completions", { model: "gpt-17", prompt: "x" });
    assert.equal(raw.status, 404);
    assertSchema("openai", "ErrorResponse", JSON.parse(raw.text));
  });

  it("prompt + max_tokens above max-model-len is vLLM's 400", async () => {
    await assert.rejects(
      openai.completions.create({ model: MODEL, prompt: "hello world", max_tokens: 5000 }),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        /'max_tokens' or 'max_completion_tokens' is too large: 5000\. This model's maximum context length is 1024 tokens/.test(
          e.message,
        ) &&
        (e.error as { type?: string }).type === "BadRequestError",
    );
    const bad = await post(server, "/v1/chat/completions", { model: MODEL, messages: [] });
    assert.equal(bad.status, 400);
    assertSchema("openai", "ErrorResponse", JSON.parse(bad.text));
    const wrongType = await post(server, "/v1/completions", { model: MODEL, prompt: "x", max_tokens: "many" });
    assert.equal(wrongType.status, 400);
  });

  it("LoRA adapter: load → listed → used → unloaded", async () => {
    const load = await post(server, "/v1/load_lora_adapter", { lora_name: "sql-lora", lora_path: "/adapters/sql" });
    assert.equal(load.status, 200);
    assert.equal(load.text, "Success: LoRA adapter 'sql-lora' added successfully.");
    const again = await post(server, "/v1/load_lora_adapter", { lora_name: "sql-lora", lora_path: "/adapters/sql" });
    assert.equal(again.status, 400);
    assert.match(JSON.parse(again.text).error.message, /has already been loaded/);
    const listed = (await openai.models.list()).data.find((m) => m.id === "sql-lora") as unknown as Record<
      string,
      unknown
    >;
    assert.equal(listed?.parent, MODEL);
    assert.equal(listed?.root, "/adapters/sql");
    const used = await openai.chat.completions.create({
      model: "sql-lora",
      messages: [{ role: "user", content: "SELECT" }],
      max_tokens: 4,
    });
    assert.equal(used.model, "sql-lora");
    const unload = await post(server, "/v1/unload_lora_adapter", { lora_name: "sql-lora" });
    assert.equal(unload.status, 200);
    assert.equal(unload.text, "Success: LoRA adapter 'sql-lora' removed successfully.");
    await assert.rejects(
      openai.chat.completions.create({ model: "sql-lora", messages: [{ role: "user", content: "x" }] }),
      (e: unknown) => e instanceof OpenAI.NotFoundError,
    );
    const missing = await post(server, "/v1/unload_lora_adapter", { lora_name: "sql-lora" });
    assert.equal(missing.status, 404);
    assertSchema("vllm", "ErrorResponse", JSON.parse(missing.text));
  });

  it("tokenize and detokenize round-trip", async () => {
    const tok = await post(server, "/tokenize", {
      model: MODEL,
      prompt: "Hello, tokenizer world!",
      return_token_strs: true,
    });
    const body = JSON.parse(tok.text);
    assertSchema("vllm", "TokenizeResponse", body);
    assert.equal(body.count, body.tokens.length);
    assert.equal(body.max_model_len, 1024);
    assert.equal(body.token_strs.join(""), "Hello, tokenizer world!");
    const detok = JSON.parse((await post(server, "/detokenize", { model: MODEL, tokens: body.tokens })).text);
    assertSchema("vllm", "DetokenizeResponse", detok);
    assert.equal(detok.prompt, "Hello, tokenizer world!");
    const chat = JSON.parse((await post(server, "/tokenize", { messages: [{ role: "user", content: "hi" }] })).text);
    assert.ok(chat.count > 1, "the chat template adds tokens");
  });

  it("server info, version, load and engine stats", async () => {
    const info = (await (await fetch(`${server.httpUrl}/`)).json()) as Record<string, unknown>;
    assertSchema("vllm", "ServerInfo", info);
    assert.equal((info.config as { maxModelLen: number }).maxModelLen, 1024);
    assert.ok((info.endpoints as string[]).includes("POST /v1/chat/completions"));
    const version = await (await fetch(`${server.httpUrl}/version`)).json();
    assertSchema("vllm", "Version", version);
    const load = await (await fetch(`${server.httpUrl}/load`)).json();
    assertSchema("vllm", "ServerLoad", load);
    await stats(server);
  });

  it("rerank (vLLM), /rerank and NIM ranking sort by relevance and honour top_n", async () => {
    const body = {
      model: "decoy-reranker",
      query: "red apples",
      documents: ["green pears", "a basket of red apples", { text: "apples" }],
    };
    for (const path of ["/v1/rerank", "/rerank"]) {
      const res = JSON.parse((await post(server, path, { ...body, top_n: 2 })).text);
      assertSchema("vllm", "RerankResponse", res);
      assert.equal(res.results.length, 2);
      assert.equal(res.results[0].index, 1);
      assert.ok(res.results[0].relevance_score >= res.results[1].relevance_score);
      assert.equal(res.results[0].document.text, "a basket of red apples");
    }
    const nim = JSON.parse(
      (
        await post(server, "/v1/ranking", {
          model: MODEL,
          query: { text: "red apples" },
          passages: [{ text: "green pears" }, { text: "a basket of red apples" }],
        })
      ).text,
    );
    assertSchema("vllm", "RankingResponse", nim);
    assert.deepEqual(
      nim.rankings.map((r: { index: number }) => r.index),
      [1, 0],
    );
  });

  it("Triton generate and generate_stream answer the same text", async () => {
    const req = { text_input: "Generate something", max_tokens: 6, parameters: { seed: 3 } };
    const one = await post(server, `/v2/models/${MODEL}/generate`, req);
    assert.equal(one.status, 200);
    const body = JSON.parse(one.text);
    assertSchema("triton-generate", "GenerateResponse", body);
    assert.equal(body.num_output_tokens, 6);
    const stream = await post(server, `/v2/models/${MODEL}/versions/1/generate_stream`, req);
    assert.match(stream.type, /^text\/event-stream/);
    const events = sseData(stream.text).map((d) => JSON.parse(d));
    for (const e of events) assertSchema("triton-generate", "GenerateResponse", e);
    assert.equal(events.map((e) => e.text_output).join(""), body.text_output);
    const missing = await post(server, "/v2/models/nope/generate", req);
    assert.equal(missing.status, 404);
    assertSchema("triton-generate", "ErrorResponse", JSON.parse(missing.text));
    const badVersion = await post(server, `/v2/models/${MODEL}/versions/9/generate`, req);
    assert.equal(badVersion.status, 404);
  });

  it("an error after the stream started is sent as data: {error} then [DONE]", async () => {
    const unplug = server.ctx.llm.use({
      decode: (job) =>
        job.request.headers?.["x-test-cut"]
          ? { cutAfterTokens: 2, error: new DecoyError("UNAVAILABLE", "cut!") }
          : null,
    });
    try {
      const raw = await post(
        server,
        "/v1/chat/completions",
        { model: MODEL, messages: [{ role: "user", content: "x" }], max_tokens: 10, stream: true },
        { "x-test-cut": "1" },
      );
      const data = sseData(raw.text);
      assert.equal(data.at(-1), "[DONE]");
      const err = JSON.parse(data.at(-2) ?? "{}");
      assertSchema("openai", "ErrorResponse", err);
      assert.equal(err.error.message, "cut!");
      assert.equal(err.error.code, 503);
      assert.equal(data.length, 1 + 2 + 2, "role chunk, two tokens, error, [DONE]");
      const sdk = client(server);
      const stream = await sdk.chat.completions.create(
        { model: MODEL, messages: [{ role: "user", content: "x" }], max_tokens: 10, stream: true },
        { headers: { "x-test-cut": "1" } },
      );
      await assert.rejects(async () => {
        for await (const _ of stream) {
          /* drain */
        }
      }, /cut!/);
    } finally {
      unplug();
    }
  });
});

describe("limits and cancellation over HTTP", () => {
  it("a client that disconnects mid-stream frees its slot at once; a waiting one leaves the queue", async () => {
    const server = await startTestServer({ ttft: 1, itl: 20, maxNumSeqs: 1 });
    try {
      const body = JSON.stringify({ model: MODEL, prompt: "long", max_tokens: 500, ignore_eos: true, stream: true });
      const init = (signal: AbortSignal): RequestInit => ({
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal,
      });
      const first = new AbortController();
      const res = await fetch(`${server.httpUrl}/v1/completions`, init(first.signal));
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      const second = new AbortController();
      const queued = fetch(`${server.httpUrl}/v1/completions`, init(second.signal)).catch(() => undefined);
      await until(async () => (await stats(server)).waiting === 1);
      second.abort();
      await until(async () => (await stats(server)).waiting === 0, 200);
      assert.equal((await stats(server)).running, 1);
      first.abort();
      await until(async () => (await stats(server)).running === 0, 200);
      await queued;
    } finally {
      await server.close();
    }
  });

  it("a client that drops a non-streaming request frees its slot and its in-flight count at once", async () => {
    const server = await startTestServer({ ttft: 1, itl: 20, maxNumSeqs: 1 });
    try {
      const ac = new AbortController();
      const pending = fetch(`${server.httpUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: MODEL,
          messages: [{ role: "user", content: "long" }],
          max_tokens: 500,
          ignore_eos: true,
        }),
        signal: ac.signal,
      }).catch(() => undefined);
      await until(async () => (await stats(server)).running === 1);
      await until(async () => server.ctx.engine.inflightCount === 1);
      ac.abort();
      await until(async () => (await stats(server)).running === 0, 200);
      await until(async () => server.ctx.engine.inflightCount === 0, 200);
      await pending;
    } finally {
      await server.close();
    }
  });

  it("a full waiting queue answers 429 and a large body 413", async () => {
    const server = await startTestServer({
      ttft: 50,
      itl: 50,
      maxNumSeqs: 1,
      maxWaitingQueueLength: 0,
      maxRequestBodySizeMb: 0.01,
    });
    try {
      const running = fetch(`${server.httpUrl}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, prompt: "x", max_tokens: 3, stream: true }),
      }).then((r) => r.text());
      await until(async () => (await stats(server)).running === 1);
      const busy = await post(server, "/v1/completions", { model: MODEL, prompt: "y", max_tokens: 3 });
      assert.equal(busy.status, 429);
      const err = JSON.parse(busy.text);
      assertSchema("openai", "ErrorResponse", err);
      assert.equal(err.error.type, "RateLimitError");
      // without keep-alive: the server answers 413 before reading the body, so the connection
      // would otherwise stay busy until the client's keep-alive timeout
      const huge = await new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ model: MODEL, prompt: "z".repeat(20000) });
        const r = request(
          `${server.httpUrl}/v1/completions`,
          { method: "POST", agent: false, headers: { "content-type": "application/json", connection: "close" } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        r.on("error", reject);
        r.end(body);
      });
      assert.equal(huge, 413);
      assert.equal(sseData(await running).at(-1), "[DONE]");
    } finally {
      await server.close();
    }
  });

  it("a real tokenizer counts like the model: Qwen3", async () => {
    const server = await startTestServer({ model: "Qwen/Qwen3-0.6B", ttft: 0, itl: 0 });
    try {
      const hello = JSON.parse((await post(server, "/tokenize", { prompt: "Hello world" })).text);
      assert.deepEqual(hello.tokens, [9707, 1879]);
      const fox = "The quick brown fox jumps over the lazy dog.";
      const res = await client(server).completions.create({ model: "Qwen/Qwen3-0.6B", prompt: fox, max_tokens: 3 });
      assert.equal(res.usage?.prompt_tokens, 10);
    } finally {
      await server.close();
    }
  });
});

describe("zero latency over HTTP", () => {
  it("TTFT 0 and ITL 0: whole answers, streamed and not, with the stream's header and every chunk", async () => {
    const server = await startTestServer({ ttft: 0, itl: 0 });
    try {
      const openai = client(server);
      const request = { model: MODEL, messages: [{ role: "user" as const, content: "Now." }], max_tokens: 7 };
      const results = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          if (i % 2 === 0) {
            const res = await openai.chat.completions.create(request);
            assertSchema("openai", "ChatCompletion", res);
            return res.choices[0]?.message.content ?? "";
          }
          const raw = await post(server, "/v1/chat/completions", { ...request, stream: true });
          assert.match(raw.type, /^text\/event-stream/);
          const data = sseData(raw.text);
          assert.equal(data.at(-1), "[DONE]");
          const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as OpenAI.ChatCompletionChunk);
          for (const c of chunks) assertSchema("openai", "ChatCompletionChunk", c);
          assert.equal(chunks.length, 1 + 7, "role chunk + one per token, the last with finish_reason");
          assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, "length");
          return chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
        }),
      );
      assert.equal(new Set(results).size, 1, "the same text streamed and not");
      const s = await stats(server);
      assert.deepEqual([s.running, s.waiting], [0, 0]);
    } finally {
      await server.close();
    }
  });
});

describe("--enable-force-include-usage", () => {
  it("streams carry per-chunk and final usage although the request asks for none", async () => {
    const server = await startTestServer({ ttft: 0, itl: 0, enableForceIncludeUsage: true });
    try {
      const stream = await client(server).chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "No stream options." }],
        max_tokens: 3,
        stream: true,
      });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      assert.deepEqual(
        chunks.map((c) => [c.choices.length, c.usage?.completion_tokens]),
        [
          [1, 0],
          [1, 1],
          [1, 2],
          [1, 3],
          [0, 3],
        ],
      );
    } finally {
      await server.close();
    }
  });
});
