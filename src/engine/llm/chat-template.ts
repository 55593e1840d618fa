import type { ChatMessage } from "./types.js";

/**
 * The prompt text a chat request is counted and hashed as: a ChatML-style rendering of the
 * conversation (tools first, then each message, then the assistant turn).
 */

/**
 * Prompt tokens a non-text content part (an image, a file or document) costs, whatever the API
 * that carried it: OpenAI's fixed "low detail" image cost.
 */
export const NON_TEXT_PART_TOKENS = 85;

const IM_START = "<|im_start|>";
const IM_END = "<|im_end|>\n";
const TOOLS_HEAD = "<|im_start|>system\n# Tools\n";
const ASSISTANT = "<|im_start|>assistant\n";

/** A ChatML-style rendering of the conversation: what the prompt-token count is taken over. */
export function chatTemplate(messages: readonly ChatMessage[], toolsJson: string | undefined): string {
  let s = "";
  if (toolsJson) s += `${TOOLS_HEAD}${toolsJson}${IM_END}`;
  for (const m of messages) s += `${IM_START}${m.role}\n${m.content}${IM_END}`;
  return `${s}${ASSISTANT}`;
}
