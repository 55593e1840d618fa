import type { ChatMessage } from "./types.js";

/**
 * The prompt text a chat request is counted and hashed as: a ChatML-style rendering of the
 * conversation (tools first, then each message, then the assistant turn).
 */

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
