import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import { assertSchema } from "./helpers.js";

/**
 * The Anthropic Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`) driven by the
 * official `@anthropic-ai/sdk`: the same engine job as a chat completion shown as content
 * blocks, Anthropic's stop reasons and usage, its named stream events (which the SDK's own
 * `messages.stream()` accumulates into the same message) and its error shape.
 */

const MODEL = "decoy-llm";
const REASONER = "gpt-oss-mini";

describe("Anthropic Messages API", () => {
  let server: DecoyServer;
  let anthropic: Anthropic;
  let openai: OpenAI;
  before(async () => {
    server = await startTestServer({ ttft: 1, itl: 0.2, servedModelName: [MODEL, REASONER] });
    anthropic = new Anthropic({ baseURL: server.httpUrl, apiKey: "x", maxRetries: 0 });
    openai = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
  });
  after(async () => {
    await server.close();
  });

  it("answers a text block with the chat completion's text, max_tokens stop reason and input/output usage", async () => {
    const msg = await anthropic.messages.create({
      model: MODEL,
      max_tokens: 9,
      system: "Be brief.",
      messages: [{ role: "user", content: "Say something." }],
    });
    assertSchema("anthropic", "Message", msg);
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.role, "assistant");
    assert.equal(msg.stop_reason, "max_tokens");
    const chat = await openai.chat.completions.create({
      model: MODEL,
      max_tokens: 9,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say something." },
      ],
    });
    const text = msg.content[0]?.type === "text" ? msg.content[0].text : undefined;
    assert.equal(text, chat.choices[0]?.message.content);
    assert.equal(msg.usage.input_tokens, chat.usage?.prompt_tokens);
    assert.equal(msg.usage.output_tokens, 9);
    const counted = await anthropic.messages.countTokens({
      model: MODEL,
      system: "Be brief.",
      messages: [{ role: "user", content: "Say something." }],
    });
    assert.equal(counted.input_tokens, msg.usage.input_tokens);
  });

  it("streams Anthropic's events; the SDK accumulates them into the same message", async () => {
    const params = { model: MODEL, max_tokens: 5, messages: [{ role: "user" as const, content: "Stream." }] };
    const whole = await anthropic.messages.create(params);
    const types: string[] = [];
    const stream = anthropic.messages.stream(params);
    stream.on("streamEvent", (e) => types.push(e.type));
    const final = await stream.finalMessage();
    assert.deepEqual(final.content, whole.content);
    assert.equal(final.stop_reason, "max_tokens");
    assert.equal(final.usage.output_tokens, 5);
    assert.deepEqual(types, [
      "message_start",
      "content_block_start",
      ...Array(5).fill("content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });

  it("a reasoning model answers with a thinking block first; thinking disabled drops it", async () => {
    const msg = await anthropic.messages.create({
      model: REASONER,
      max_tokens: 400,
      messages: [{ role: "user", content: "Think first." }],
    });
    assert.deepEqual(
      msg.content.map((b) => b.type),
      ["thinking", "text"],
    );
    const streamed = await anthropic.messages
      .stream({ model: REASONER, max_tokens: 400, messages: [{ role: "user", content: "Think first." }] })
      .finalMessage();
    assert.deepEqual(streamed.content, msg.content);
    const plain = await anthropic.messages.create({
      model: REASONER,
      max_tokens: 400,
      thinking: { type: "disabled" },
      messages: [{ role: "user", content: "Think first." }],
    });
    assert.deepEqual(
      plain.content.map((b) => b.type),
      ["text"],
    );
  });

  it("tools come back as tool_use blocks with schema-valid input; a tool_result turn is accepted", async () => {
    const tools: Anthropic.Tool[] = [
      {
        name: "get_weather",
        description: "Weather for a city",
        input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    ];
    const msg = await anthropic.messages.create({
      model: MODEL,
      max_tokens: 200,
      tools,
      tool_choice: { type: "any" },
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    assert.equal(msg.stop_reason, "tool_use");
    const use = msg.content.find((b) => b.type === "tool_use") as Anthropic.ToolUseBlock;
    assert.equal(use.name, "get_weather");
    assert.equal(typeof (use.input as { city?: unknown }).city, "string");
    const streamed = await anthropic.messages
      .stream({
        model: MODEL,
        max_tokens: 200,
        tools,
        tool_choice: { type: "any" },
        messages: [{ role: "user", content: "Weather in Paris?" }],
      })
      .finalMessage();
    assert.deepEqual(
      streamed.content.filter((b) => b.type === "tool_use"),
      msg.content.filter((b) => b.type === "tool_use"),
    );
    const next = await anthropic.messages.create({
      model: MODEL,
      max_tokens: 4,
      tools,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: [use] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "21 degrees" }] },
      ],
    });
    assert.equal(next.content[0]?.type, "text");
  });

  it("bad input and unknown models get Anthropic's error shape", async () => {
    const res = await fetch(`${server.httpUrl}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as unknown;
    assertSchema("anthropic", "AnthropicError", body);
    assert.equal((body as { error: { type: string } }).error.type, "invalid_request_error");
    await assert.rejects(
      anthropic.messages.create({ model: "nope", max_tokens: 1, messages: [{ role: "user", content: "hi" }] }),
      (e: unknown) => e instanceof Anthropic.NotFoundError && /nope/.test(e.message),
    );
    await assert.rejects(
      anthropic.messages.create({ model: MODEL, max_tokens: 1, messages: [] }),
      (e: unknown) => e instanceof Anthropic.BadRequestError,
    );
  });
});

describe("clients that go away from the new streams", () => {
  it("a Responses or Anthropic stream whose client disconnects frees its slot at once", async () => {
    const server = await startTestServer({ ttft: 1, itl: 20 });
    try {
      const running = async () =>
        ((await (await fetch(`${server.httpUrl}/engine/stats`)).json()) as { running: number }).running;
      const bodies: [string, Record<string, unknown>][] = [
        ["/v1/responses", { model: MODEL, input: "long", max_output_tokens: 500, stream: true, ignore_eos: true }],
        [
          "/v1/messages",
          {
            model: MODEL,
            max_tokens: 500,
            stream: true,
            ignore_eos: true,
            messages: [{ role: "user", content: "long" }],
          },
        ],
      ];
      for (const [path, body] of bodies) {
        const ac = new AbortController();
        const res = await fetch(`${server.httpUrl}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: ac.signal,
        });
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        await reader.read();
        assert.equal(await running(), 1, path);
        ac.abort();
        let left = 1;
        for (let i = 0; i < 100 && left > 0; i++) {
          await new Promise((r) => setTimeout(r, 5));
          left = await running();
        }
        assert.equal(left, 0, `${path}: the slot is free well before the 10 s the answer would take`);
      }
    } finally {
      await server.close();
    }
  });
});
