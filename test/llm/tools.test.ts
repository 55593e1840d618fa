import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { generateFromSchema, type JsonSchema } from "../../src/engine/llm/json-gen.js";
import type { ChatMessage, LlmRequest, ToolDefinition } from "../../src/engine/llm/types.js";
import { Random } from "../../src/engine/random.js";
import { chat, fakeLlm, recorder } from "./helpers.js";

const ajv = new Ajv({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);

const WEATHER: ToolDefinition = {
  name: "get_weather",
  description: "Current weather",
  parameters: {
    type: "object",
    properties: {
      city: { type: "string" },
      unit: { type: "string", enum: ["celsius", "fahrenheit"] },
      days: { type: "integer", minimum: 1, maximum: 7 },
    },
    required: ["city", "unit"],
    additionalProperties: false,
  },
};

const BOOKING: ToolDefinition = {
  name: "book_table",
  parameters: {
    type: "object",
    properties: {
      guests: { type: "integer", exclusiveMinimum: 0, maximum: 12 },
      price: { type: "number", minimum: 9.5, maximum: 10.5 },
      date: { type: "string", format: "date" },
      email: { type: "string", format: "email" },
      tags: { type: "array", items: { type: "string", maxLength: 8 }, minItems: 2, maxItems: 3, uniqueItems: true },
      notes: { type: ["string", "null"], minLength: 30 },
      seating: {
        type: "object",
        properties: {
          area: { enum: ["inside", "terrace"] },
          highChair: { type: "boolean" },
          table: {
            anyOf: [
              { type: "integer", minimum: 1, maximum: 20 },
              { type: "string", pattern: "^[A-Z]$" },
            ],
          },
        },
        required: ["area"],
      },
      contact: { $ref: "#/$defs/contact" },
    },
    required: ["guests", "price", "date", "email", "tags", "seating", "contact"],
    $defs: {
      contact: {
        type: "object",
        properties: { name: { type: "string", minLength: 2 }, phone: { type: "string", maxLength: 12 } },
        required: ["name", "phone"],
      },
    },
  },
};

function planFor(req: LlmRequest, flags: Record<string, unknown> = {}) {
  const { llm, clock } = fakeLlm(flags);
  return llm.submit(req, recorder(clock, false).sink).plan;
}

describe("tool calls and structured output", () => {
  it("tool-call arguments validate against each tool's JSON schema", () => {
    const validate = {
      [WEATHER.name]: ajv.compile(WEATHER.parameters as object),
      [BOOKING.name]: ajv.compile(BOOKING.parameters as object),
    };
    let calls = 0;
    for (let seed = 0; seed < 60; seed++) {
      const p = planFor(chat(`plan ${seed}`, { tools: [WEATHER, BOOKING], toolChoice: "required", seed }));
      const choice = p.choices[0];
      assert.equal(choice?.finishReason, "tool_calls");
      assert.equal(choice?.content.length, 0);
      for (const call of choice?.toolCalls ?? []) {
        calls++;
        const args = JSON.parse(call.arguments) as unknown;
        const v = validate[call.name];
        assert.ok(v, `unknown tool ${call.name}`);
        assert.ok(v(args), `${call.name}(${call.arguments}): ${ajv.errorsText(v.errors)}`);
        assert.match(call.id, /^chatcmpl-tool-[0-9a-f]{32}$/);
        assert.equal(call.argumentPieces.join(""), call.arguments, "argument pieces spell the arguments");
      }
    }
    assert.ok(calls > 60, "extra calls happen (tool-call-extra-call-probability)");
  });

  it("tool_choice: none answers in text, a named function is the one called, parallel_tool_calls false calls once", () => {
    const none = planFor(chat("x", { tools: [WEATHER], toolChoice: "none" }));
    assert.equal(none.choices[0]?.toolCalls.length, 0);
    assert.equal(none.choices[0]?.finishReason, "stop");
    for (let seed = 0; seed < 10; seed++) {
      const named = planFor(chat("x", { tools: [WEATHER, BOOKING], toolChoice: { name: "book_table" }, seed }));
      assert.deepEqual(
        named.choices[0]?.toolCalls.map((c) => c.name),
        ["book_table"],
      );
      const single = planFor(chat("x", { tools: [WEATHER, BOOKING], parallelToolCalls: false, seed }));
      assert.equal(single.choices[0]?.toolCalls.length, 1);
    }
  });

  it("auto calls a tool, but answers in text once the conversation ends with a tool result", () => {
    const auto = planFor(chat("weather in Oslo?", { tools: [WEATHER], toolChoice: "auto" }));
    assert.equal(auto.choices[0]?.finishReason, "tool_calls");
    const messages: ChatMessage[] = [
      { role: "user", content: "weather in Oslo?" },
      { role: "assistant", content: '[{"name":"get_weather"}]' },
      { role: "tool", content: '{"temp": 3}' },
    ];
    const after = planFor({ api: "chat", messages, tools: [WEATHER], stream: false });
    assert.equal(after.choices[0]?.finishReason, "stop");
    assert.ok((after.choices[0]?.content.length ?? 0) > 0);
  });

  it("tool parameter knobs bound unconstrained integers, numbers and arrays", () => {
    const tool: ToolDefinition = {
      name: "t",
      parameters: {
        type: "object",
        properties: { i: { type: "integer" }, n: { type: "number" }, a: { type: "array", items: { type: "boolean" } } },
        required: ["i", "n", "a"],
      },
    };
    const flags = {
      minToolCallIntegerParam: 40,
      maxToolCallIntegerParam: 42,
      minToolCallNumberParam: -1,
      maxToolCallNumberParam: 1,
      minToolCallArrayParamLength: 3,
      maxToolCallArrayParamLength: 3,
      toolCallExtraCallProbability: 0,
    };
    for (let seed = 0; seed < 20; seed++) {
      const p = planFor(chat("x", { tools: [tool], toolChoice: "required", seed }), flags);
      const args = JSON.parse(p.choices[0]?.toolCalls[0]?.arguments ?? "{}") as { i: number; n: number; a: boolean[] };
      assert.ok(args.i >= 40 && args.i <= 42 && Number.isInteger(args.i));
      assert.ok(args.n >= -1 && args.n <= 1);
      assert.equal(args.a.length, 3);
    }
  });

  it("string patterns are honoured", () => {
    const patterns = [
      "^\\d{4}-\\d{2}-\\d{2}$",
      "^[A-Z]{3}[0-9]+$",
      "^(red|green|blue)$",
      "^[^@\\s]+@example\\.com$",
      "^SKU-(?:[a-f0-9]{2}){2,3}$",
      "v\\d+\\.\\d+",
    ];
    const r = new Random(9);
    for (const pattern of patterns) {
      for (let i = 0; i < 20; i++) {
        const v = generateFromSchema({ type: "string", pattern }, r) as string;
        assert.match(v, new RegExp(pattern, "u"), `${pattern} → ${v}`);
      }
    }
  });

  it("optional parameters appear with the configured probability", () => {
    const schema: JsonSchema = {
      type: "object",
      properties: { req: { type: "string" }, opt: { type: "string" } },
      required: ["req"],
    };
    let present = 0;
    const r = new Random(5);
    for (let i = 0; i < 1000; i++) {
      const v = generateFromSchema(schema, r, {
        minInteger: 0,
        maxInteger: 1,
        minNumber: 0,
        maxNumber: 1,
        minArrayLength: 0,
        maxArrayLength: 1,
        optionalParamProbability: 0.2,
        optionalFieldProbability: 0.2,
      }) as { opt?: string };
      if (v.opt !== undefined) present++;
    }
    assert.ok(present > 150 && present < 250, `${present} of 1000 near 20 %`);
  });

  it("response_format json_object and json_schema produce JSON that validates", () => {
    const obj = planFor(chat("x", { responseFormat: { type: "json_object" } }));
    const parsed = JSON.parse(obj.choices[0]?.content.join("") ?? "") as unknown;
    assert.equal(typeof parsed, "object");
    const schema = BOOKING.parameters as JsonSchema;
    const validate = ajv.compile(schema);
    for (let seed = 0; seed < 20; seed++) {
      const p = planFor(chat("x", { seed, responseFormat: { type: "json_schema", schema } }));
      const value = JSON.parse(p.choices[0]?.content.join("") ?? "") as unknown;
      assert.ok(validate(value), ajv.errorsText(validate.errors));
      assert.equal(p.choices[0]?.finishReason, "stop");
    }
  });
});
