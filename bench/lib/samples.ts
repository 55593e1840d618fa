/**
 * What the servers exchange. Baselines replay bytes captured from Decoy itself so both sides
 * of a ratio do the same wire work; until Decoy serves a route, a synthetic OpenAI-shaped
 * sample stands in (and the Decoy side of that scenario is reported as not runnable).
 */

export const CHAT_PATH = "/v1/chat/completions";

export function chatRequest(model: string, stream: boolean, maxTokens: number): Record<string, unknown> {
  return {
    model,
    messages: [
      { role: "system", content: "You are a load-test target." },
      { role: "user", content: "Write a short story about a benchmark that never ends." },
    ],
    max_tokens: maxTokens,
    ignore_eos: true,
    stream,
    temperature: 0,
  };
}

const WORDS = ["the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ",", " and", " then"];

function text(tokens: number): string[] {
  return Array.from({ length: tokens }, (_, i) => WORDS[i % WORDS.length] as string);
}

export function syntheticChatResponse(model: string, tokens: number): string {
  return JSON.stringify({
    id: "chatcmpl-0123456789abcdef0123456789abcdef",
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: text(tokens).join(""), refusal: null },
        logprobs: null,
        finish_reason: "length",
      },
    ],
    usage: { prompt_tokens: 24, completion_tokens: tokens, total_tokens: 24 + tokens },
  });
}

export function syntheticSse(model: string, tokens: number): string {
  const head = `{"id":"chatcmpl-0123456789abcdef0123456789abcdef","object":"chat.completion.chunk","created":1700000000,"model":${JSON.stringify(model)}`;
  const ev = (choice: string) => `data: ${head},"choices":[${choice}]}\n\n`;
  const out = [ev(`{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}`)];
  for (const t of text(tokens))
    out.push(ev(`{"index":0,"delta":{"content":${JSON.stringify(t)}},"logprobs":null,"finish_reason":null}`));
  out.push(ev(`{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}`));
  out.push("data: [DONE]\n\n");
  return out.join("");
}

/** A captured stream split into the events before the first token, the tokens, and the rest. */
export interface SseSample {
  headers: Record<string, string>;
  prefix: string[];
  tokens: string[];
  suffix: string[];
}

function hasContent(json: string): boolean {
  try {
    const v = JSON.parse(json) as { choices?: { delta?: { content?: unknown }; text?: unknown }[] };
    const c = v.choices?.[0];
    const content = c?.delta?.content ?? c?.text;
    return typeof content === "string" && content.length > 0;
  } catch {
    return false;
  }
}

export function splitSse(raw: string, headers: Record<string, string>): SseSample {
  const events = raw
    .split(/\n\n/)
    .filter((e) => e.trim().length)
    .map((e) => `${e}\n\n`);
  const isToken = events.map((e) => e.startsWith("data: ") && hasContent(e.slice(6)));
  const first = isToken.indexOf(true);
  const last = isToken.lastIndexOf(true);
  if (first < 0) throw new Error(`captured stream has no token events: ${raw.slice(0, 300)}`);
  return {
    headers,
    prefix: events.slice(0, first),
    tokens: events.slice(first, last + 1),
    suffix: events.slice(last + 1),
  };
}

/** Response headers worth replaying (framing headers are the server's own business). */
export function replayHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    if (!["content-length", "transfer-encoding", "date", "connection", "keep-alive"].includes(k)) out[k] = v;
  });
  return out;
}
