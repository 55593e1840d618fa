import type { ChatTemplateInput } from "../tokenizer.js";

/**
 * gpt-oss prompts in OpenAI's harmony format, which vLLM renders with `openai_harmony` rather
 * than a Jinja template (the packaged gpt-oss tokenizer has none): a system message with the
 * knowledge cutoff, today's date, the reasoning effort and the valid channels; the request's
 * system turns and tools as a developer message; earlier answers on the final channel; then
 * `<|start|>assistant` for the model to continue.
 */

const START = "<|start|>";
const MESSAGE = "<|message|>";
const END = "<|end|>";

interface JsonSchema {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
}

/** A JSON Schema type in the TypeScript-like notation harmony declares tools with. */
function tsType(s: JsonSchema | undefined): string {
  if (!s) return "any";
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== "null") : s.type;
  switch (t) {
    case "string":
      return "string";
    case "number":
    case "integer":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return `${tsType(s.items)}[]`;
    case "object":
      return s.properties ? `{\n${fields(s)}}` : "object";
    default:
      return "any";
  }
}

function fields(s: JsonSchema): string {
  let out = "";
  const required = new Set(s.required ?? []);
  for (const [name, p] of Object.entries(s.properties ?? {})) {
    if (p.description) out += `// ${p.description}\n`;
    const dflt = p.default === undefined ? "" : ` // default: ${String(p.default)}`;
    out += `${name}${required.has(name) ? "" : "?"}: ${tsType(p)},${dflt}\n`;
  }
  return out;
}

function toolsNamespace(tools: readonly unknown[]): string {
  let out = "## functions\n\nnamespace functions {\n\n";
  for (const t of tools) {
    const f = (t as { function?: { name?: string; description?: string; parameters?: JsonSchema } }).function ?? {};
    if (f.description) out += `// ${f.description}\n`;
    const params =
      f.parameters?.properties && Object.keys(f.parameters.properties).length > 0 ? f.parameters : undefined;
    out += params ? `type ${f.name} = (_: {\n${fields(params)}}) => any;\n\n` : `type ${f.name} = () => any;\n\n`;
  }
  return `${out}} // namespace functions`;
}

/** harmony's reasoning levels: low, medium, high (the lighter API efforts read as low). */
function level(effort: string | undefined): string {
  if (effort === "high" || effort === "medium") return effort;
  return effort === undefined ? "medium" : "low";
}

export function harmonyPrompt(input: ChatTemplateInput, today = new Date()): string {
  const tools = input.tools ?? [];
  const date = today.toISOString().slice(0, 10);
  let system = `You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: ${date}\n\nReasoning: ${level(input.reasoningEffort)}\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.`;
  if (tools.length > 0) system += "\nCalls to these tools must go to the commentary channel: 'functions'.";
  let out = `${START}system${MESSAGE}${system}${END}`;

  const instructions = input.messages
    .filter((m) => m.role === "system" || m.role === "developer")
    .map((m) => m.content);
  if (instructions.length > 0 || tools.length > 0) {
    const parts: string[] = [];
    if (instructions.length > 0) parts.push(`# Instructions\n\n${instructions.join("\n\n")}`);
    if (tools.length > 0) parts.push(`# Tools\n\n${toolsNamespace(tools)}`);
    out += `${START}developer${MESSAGE}${parts.join("\n\n")}${END}`;
  }
  for (const m of input.messages) {
    if (m.role === "user") out += `${START}user${MESSAGE}${m.content}${END}`;
    else if (m.role === "assistant") out += `${START}assistant<|channel|>final${MESSAGE}${m.content}${END}`;
    else if (m.role === "tool")
      out += `${START}functions to=assistant<|channel|>commentary${MESSAGE}${m.content}${END}`;
  }
  return `${out}${START}assistant`;
}
