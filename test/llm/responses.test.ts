import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { DecoyError } from "../../src/engine/errors.js";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";
import { assertSchema } from "./helpers.js";

/**
 * The Responses API (`POST /v1/responses`) driven by the official `openai` SDK: the same engine
 * job as a chat completion shown as output items, with input/output token usage, and a stream
 * of named events the SDK's own accumulator (`responses.stream`) assembles into the same
 * response.
 */

const MODEL = "decoy-llm";
const REASONER = "gpt-oss-mini";

interface RawEvent {
  event: string;
  data: { type: string; sequence_number: number; response?: unknown };
}

async function rawEvents(server: DecoyServer, body: Record<string, unknown>): Promise<RawEvent[]> {
  const res = await fetch(`${server.httpUrl}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  return (await res.text())
    .split("\n\n")
    .filter((b) => b.trim() !== "")
    .map((b) => {
      const [ev, data] = b.split("\n");
      return {
        event: (ev ?? "").replace(/^event: /, ""),
        data: JSON.parse((data ?? "").replace(/^data: /, "")) as RawEvent["data"],
      };
    });
}

describe("Responses API", () => {
  let server: DecoyServer;
  let openai: OpenAI;
  before(async () => {
    server = await startTestServer({ ttft: 1, itl: 0.2, servedModelName: [MODEL, REASONER] });
    openai = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
  });
  after(async () => {
    await server.close();
  });

  it("answers a message item with output_text, the chat completion's text and usage in input/output tokens", async () => {
    const seed = 7;
    const res = await openai.responses.create({
      model: MODEL,
      instructions: "Be brief.",
      input: "Say something.",
      max_output_tokens: 12,
      seed,
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assertSchema("openai", "Response", res);
    assert.match(res.id, /^resp_/);
    assert.equal(res.object, "response");
    assert.equal(res.output.length, 1);
    const item = res.output[0] as OpenAI.Responses.ResponseOutputMessage;
    assert.equal(item.type, "message");
    assert.equal(item.role, "assistant");
    const chat = await openai.chat.completions.create({
      model: MODEL,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say something." },
      ],
      max_tokens: 12,
      seed,
    });
    assert.equal(res.output_text, chat.choices[0]?.message.content, "the same job as the chat completion");
    assert.equal(res.usage?.input_tokens, chat.usage?.prompt_tokens);
    assert.equal(res.usage?.output_tokens, 12);
    assert.equal(res.usage?.total_tokens, (chat.usage?.prompt_tokens ?? 0) + 12);
    assert.equal(res.status, "incomplete", "max_output_tokens cut the answer");
    assert.deepEqual(res.incomplete_details, { reason: "max_output_tokens" });
    assert.equal(item.status, "incomplete", "the cut message is incomplete too");
    assert.equal(res.instructions, "Be brief.");
  });

  it("streams named events the SDK assembles into the same response, with increasing sequence numbers", async () => {
    const params = { model: MODEL, input: [{ role: "user" as const, content: "Stream it." }], max_output_tokens: 6 };
    const whole = await openai.responses.create(params);
    const stream = openai.responses.stream(params);
    const deltas: string[] = [];
    stream.on("response.output_text.delta", (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    assert.equal(final.output_text, whole.output_text);
    assert.equal(deltas.join(""), whole.output_text);
    assert.equal(deltas.length, 6, "one delta per token");
    assert.equal(final.usage?.output_tokens, 6);
    assert.equal((final.output[0] as OpenAI.Responses.ResponseOutputMessage).status, "incomplete");

    const events = await rawEvents(server, params);
    assert.deepEqual(
      events.map((e) => e.event),
      [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        ...Array(6).fill("response.output_text.delta"),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
      ],
    );
    events.forEach((e, i) => {
      assert.equal(e.data.type, e.event);
      assert.equal(e.data.sequence_number, i);
    });
    assertSchema("openai", "Response", events.at(-1)?.data.response);
  });

  it("a reasoning model answers with a reasoning item before the message, counted in reasoning_tokens", async () => {
    const res = await openai.responses.create({
      model: REASONER,
      input: "Think first.",
      reasoning: { effort: "low" },
      max_output_tokens: 400,
    });
    assertSchema("openai", "Response", res);
    assert.deepEqual(
      res.output.map((o) => o.type),
      ["reasoning", "message"],
    );
    const reasoning = res.output[0] as OpenAI.Responses.ResponseReasoningItem;
    const text = reasoning.content?.[0]?.text ?? "";
    assert.ok(text.length > 0);
    assert.ok((res.usage?.output_tokens_details.reasoning_tokens ?? 0) > 0);

    const stream = openai.responses.stream({ model: REASONER, input: "Think first.", reasoning: { effort: "low" } });
    const final = await stream.finalResponse();
    const streamed = final.output[0] as OpenAI.Responses.ResponseReasoningItem;
    assert.equal(streamed.type, "reasoning");
    assert.equal(streamed.content?.[0]?.text, text, "the stream reasons the same text");
    assert.equal(final.output_text, res.output_text);
  });

  it("function tools come back as function_call items whose arguments match the schema", async () => {
    const tools: OpenAI.Responses.FunctionTool[] = [
      {
        type: "function",
        name: "get_weather",
        description: "Weather for a city",
        strict: true,
        parameters: {
          type: "object",
          properties: { city: { type: "string" } },
          required: ["city"],
          additionalProperties: false,
        },
      },
    ];
    const res = await openai.responses.create({
      model: MODEL,
      input: "Weather in Paris?",
      tools,
      tool_choice: "required",
    });
    assertSchema("openai", "Response", res);
    const calls = res.output.filter((o) => o.type === "function_call") as OpenAI.Responses.ResponseFunctionToolCall[];
    assert.ok(calls.length >= 1);
    assert.equal(calls[0]?.name, "get_weather");
    assert.equal(typeof JSON.parse(calls[0]?.arguments ?? "").city, "string");

    const final = await openai.responses
      .stream({ model: MODEL, input: "Weather in Paris?", tools, tool_choice: "required" })
      .finalResponse();
    const streamed = final.output.filter(
      (o) => o.type === "function_call",
    ) as OpenAI.Responses.ResponseFunctionToolCall[];
    assert.deepEqual(
      streamed.map((c) => [c.name, c.arguments]),
      calls.map((c) => [c.name, c.arguments]),
    );

    // a follow-up turn with the call and its output is accepted and counted
    const next = await openai.responses.create({
      model: MODEL,
      input: [
        { role: "user", content: "Weather in Paris?" },
        { type: "function_call", call_id: calls[0]!.call_id, name: "get_weather", arguments: calls[0]!.arguments },
        { type: "function_call_output", call_id: calls[0]!.call_id, output: '{"temp": 21}' },
      ],
      max_output_tokens: 4,
    });
    const alone = await openai.responses.create({ model: MODEL, input: "Weather in Paris?", max_output_tokens: 1 });
    assert.ok((next.usage?.input_tokens ?? 0) > (alone.usage?.input_tokens ?? 0) + 5);
    assert.equal(next.output[0]?.type, "message");
  });

  it("an engine failure after the stream started ends it with an error event; the SDK raises it", async () => {
    const unplug = server.ctx.llm.use({
      decode: (job) =>
        job.request.headers?.["x-test-cut"]
          ? { cutAfterTokens: 2, error: new DecoyError("UNAVAILABLE", "cut!") }
          : null,
    });
    try {
      const res = await fetch(`${server.httpUrl}/v1/responses`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-test-cut": "1" },
        body: JSON.stringify({ model: MODEL, input: "x", max_output_tokens: 10, stream: true }),
      });
      const blocks = (await res.text()).split("\n\n").filter((b) => b.trim() !== "");
      const last = blocks.at(-1) ?? "";
      assert.match(last, /^event: error\n/);
      const data = JSON.parse(last.split("\n")[1]?.replace(/^data: /, "") ?? "{}");
      assert.equal(data.type, "error");
      assert.equal(data.message, "cut!");
      assert.equal(data.sequence_number, blocks.length - 1);
      assert.equal(blocks.filter((b) => b.startsWith("event: response.output_text.delta")).length, 2);
      const stream = openai.responses.stream(
        { model: MODEL, input: "x", max_output_tokens: 10 },
        { headers: { "x-test-cut": "1" } },
      );
      await assert.rejects(stream.finalResponse());
    } finally {
      unplug();
    }
  });

  it("bad input gets OpenAI's 400 error shape", async () => {
    const post = (body: unknown) =>
      fetch(`${server.httpUrl}/v1/responses`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    for (const body of [
      { model: MODEL },
      { model: MODEL, input: [] },
      { model: MODEL, input: [{ role: "robot", content: "hi" }] },
      { model: MODEL, input: "hi", max_output_tokens: 0 },
    ]) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const err = (await res.json()) as { error: { message: string; type: string; code: number } };
      assert.equal(err.error.code, 400);
      assert.equal(typeof err.error.message, "string");
    }
    await assert.rejects(
      openai.responses.create({ model: "nope", input: "hi" }),
      (e: unknown) => e instanceof OpenAI.NotFoundError,
    );
  });
});

describe("Responses API store (--enable-responses-store)", () => {
  let server: DecoyServer;
  let openai: OpenAI;
  before(async () => {
    server = await startTestServer({ ttft: 5, itl: 1, enableResponsesStore: true });
    openai = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
  });
  after(async () => {
    await server.close();
  });

  it("GET returns a stored response; previous_response_id continues its conversation", async () => {
    const first = await openai.responses.create({
      model: MODEL,
      input: "Remember the number 7.",
      max_output_tokens: 5,
    });
    const got = await openai.responses.retrieve(first.id);
    assertSchema("openai", "Response", got);
    assert.equal(got.output_text, first.output_text);
    const next = await openai.responses.create({
      model: MODEL,
      input: "What was it?",
      previous_response_id: first.id,
      max_output_tokens: 3,
    });
    const fresh = await openai.responses.create({ model: MODEL, input: "What was it?", max_output_tokens: 3 });
    assert.ok(
      (next.usage?.input_tokens ?? 0) > (fresh.usage?.input_tokens ?? 0) + (first.usage?.output_tokens ?? 0),
      "the earlier input and answer are part of the prompt",
    );
    assert.equal(next.previous_response_id, first.id);
    const streamed = await openai.responses
      .stream({ model: MODEL, input: "Again.", max_output_tokens: 2 })
      .finalResponse();
    assert.equal(
      (await openai.responses.retrieve(streamed.id)).output_text,
      streamed.output_text,
      "streams are stored",
    );
    await openai.responses
      .create({ model: MODEL, input: "Not kept.", store: false, max_output_tokens: 1 })
      .then(async (r) => {
        await assert.rejects(openai.responses.retrieve(r.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
      });
    await assert.rejects(
      openai.responses.create({ model: MODEL, input: "x", previous_response_id: "resp_missing" }),
      (e: unknown) => e instanceof OpenAI.NotFoundError,
    );
  });

  it("background: answered at once as queued, polled until completed; cancel stops a running one", async () => {
    const bg = await openai.responses.create({
      model: MODEL,
      input: "Work in the background.",
      max_output_tokens: 20,
      background: true,
    });
    assert.equal(bg.status, "queued");
    assert.deepEqual(bg.output, []);
    let polled = await openai.responses.retrieve(bg.id);
    for (let i = 0; i < 200 && polled.status === "queued"; i++) {
      await new Promise((r) => setTimeout(r, 5));
      polled = await openai.responses.retrieve(bg.id);
    }
    assert.ok(["completed", "incomplete"].includes(polled.status ?? ""), String(polled.status));
    assert.ok(polled.output_text.length > 0);
    assert.ok((polled.usage?.output_tokens ?? 0) > 0 && (polled.usage?.output_tokens ?? 0) <= 20);

    const long = await openai.responses.create({
      model: MODEL,
      input: "Long job.",
      max_output_tokens: 1000,
      background: true,
      ignore_eos: true, // a second of tokens at --itl 1, whatever the prompt
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    const stats = async () =>
      ((await (await fetch(`${server.httpUrl}/engine/stats`)).json()) as { running: number }).running;
    assert.equal(await stats(), 1);
    const cancelled = await openai.responses.cancel(long.id);
    assert.equal(cancelled.status, "cancelled");
    assert.equal(await stats(), 0, "the slot is free at once");
    assert.equal((await openai.responses.retrieve(long.id)).status, "cancelled");
    const sync = await openai.responses.create({ model: MODEL, input: "sync", max_output_tokens: 1 });
    await assert.rejects(openai.responses.cancel(sync.id), (e: unknown) => e instanceof OpenAI.BadRequestError);
  });
});

describe("Responses API without the store (vLLM's default)", () => {
  it("store is ignored; previous_response_id and background are 400, GET is 404", async () => {
    const server = await startTestServer({ ttft: 0, itl: 0 });
    try {
      const openai = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "x", maxRetries: 0 });
      const r = await openai.responses.create({ model: MODEL, input: "hi", max_output_tokens: 1 });
      await assert.rejects(openai.responses.retrieve(r.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
      await assert.rejects(
        openai.responses.create({ model: MODEL, input: "hi", previous_response_id: r.id }),
        (e: unknown) => e instanceof OpenAI.BadRequestError && /--enable-responses-store/.test(e.message),
      );
      await assert.rejects(
        openai.responses.create({ model: MODEL, input: "hi", background: true }),
        (e: unknown) => e instanceof OpenAI.BadRequestError,
      );
    } finally {
      await server.close();
    }
  });
});
