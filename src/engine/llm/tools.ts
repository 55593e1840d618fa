import type { Config } from "../../config/schema.js";
import { DecoyError } from "../errors.js";
import type { Random } from "../random.js";
import type { Tokenizer } from "../tokenizer.js";
import { generateFromSchema, type JsonGenOptions, type JsonSchema } from "./json-gen.js";
import type { ChatMessage, ResponseFormat, ToolCallPlan, ToolChoice, ToolDefinition } from "./types.js";

/**
 * Tool calls the simulated model makes, llm-d-inference-sim's way: with `tool_choice` none no
 * call; `auto` calls a tool unless the conversation already ends with a tool result (then the
 * model answers in text, so agent loops terminate); `required` always calls; a named choice
 * calls that function. Further calls follow with `--tool-call-extra-call-probability` each
 * (a truncated geometric count) unless `parallel_tool_calls` is false. Arguments are generated
 * to satisfy each tool's JSON schema.
 */

const MAX_CALLS = 8;

export function jsonGenOptions(cfg: Config): JsonGenOptions {
  return {
    minInteger: cfg.minToolCallIntegerParam,
    maxInteger: cfg.maxToolCallIntegerParam,
    minNumber: cfg.minToolCallNumberParam,
    maxNumber: cfg.maxToolCallNumberParam,
    minArrayLength: cfg.minToolCallArrayParamLength,
    maxArrayLength: cfg.maxToolCallArrayParamLength,
    optionalParamProbability: cfg.toolCallNotRequiredParamProbability / 100,
    optionalFieldProbability: cfg.objectToolCallNotRequiredFieldProbability / 100,
  };
}

/** Checked at planning time so a bad named choice is a 400, not a silent text answer. */
export function validateToolChoice(
  tools: readonly ToolDefinition[] | null | undefined,
  choice: ToolChoice | null | undefined,
): void {
  if (choice && typeof choice === "object") {
    if (!tools?.some((t) => t.name === choice.name)) {
      throw new DecoyError(
        "INVALID_ARGUMENT",
        `Invalid tool_choice: the function '${choice.name}' is not among the request's tools.`,
        { param: "tool_choice", type: "BadRequestError" },
      );
    }
  } else if (choice === "required" && !tools?.length) {
    throw new DecoyError("INVALID_ARGUMENT", "tool_choice 'required' needs at least one tool in 'tools'.", {
      param: "tool_choice",
      type: "BadRequestError",
    });
  }
}

/** Whether this request's answer is tool calls. */
export function wantsToolCalls(
  tools: readonly ToolDefinition[] | null | undefined,
  choice: ToolChoice | null | undefined,
  messages: readonly ChatMessage[] | undefined,
): boolean {
  if (!tools?.length || choice === "none") return false;
  if (choice === "required" || (choice && typeof choice === "object")) return true;
  const last = messages?.[messages.length - 1];
  return last?.role !== "tool";
}

function callId(random: Random): string {
  let s = "chatcmpl-tool-";
  for (let i = 0; i < 4; i++) s += random.nextU32().toString(16).padStart(8, "0");
  return s;
}

export function planToolCalls(
  tools: readonly ToolDefinition[],
  choice: ToolChoice | null | undefined,
  parallel: boolean,
  cfg: Config,
  random: Random,
  tok: Tokenizer,
): ToolCallPlan[] {
  const named = choice && typeof choice === "object" ? tools.find((t) => t.name === choice.name) : undefined;
  let count = 1;
  if (!named && parallel) {
    const p = cfg.toolCallExtraCallProbability / 100;
    while (count < MAX_CALLS && random.chance(p)) count++;
  }
  const opts = jsonGenOptions(cfg);
  const out: ToolCallPlan[] = [];
  for (let i = 0; i < count; i++) {
    const tool = named ?? random.pick(tools);
    const args = JSON.stringify(generateFromSchema(tool.parameters ?? { type: "object" }, random, opts));
    out.push({ id: callId(random), name: tool.name, arguments: args, argumentPieces: tok.pieces(args) });
  }
  return out;
}

/** A generic answer object for `response_format: json_object`. */
const JSON_OBJECT_SCHEMA: JsonSchema = {
  type: "object",
  required: ["answer", "confidence", "topics"],
  properties: {
    answer: { type: "string", minLength: 12 },
    confidence: { type: "number", minimum: 0, maximum: 1 },
    topics: { type: "array", minItems: 1, maxItems: 4, items: { type: "string" } },
  },
};

/** Content for `response_format` json_object / json_schema: JSON text that validates. */
export function jsonContent(format: ResponseFormat, cfg: Config, random: Random): string | undefined {
  if (format.type === "json_object")
    return JSON.stringify(generateFromSchema(JSON_OBJECT_SCHEMA, random, jsonGenOptions(cfg)));
  if (format.type === "json_schema") {
    return JSON.stringify(generateFromSchema(format.schema ?? { type: "object" }, random, jsonGenOptions(cfg)));
  }
  return undefined;
}
