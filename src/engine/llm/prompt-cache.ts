import type { Tokenizer } from "../tokenizer.js";
import { chatTemplate } from "./chat-template.js";

/**
 * What planning needs to know about a prompt — its token count under one tokenizer — for
 * recently seen prompts. Load generators send the same system prompt and conversations over
 * and over, and tokenizing was the largest per-request cost after the transport.
 *
 * Entries are found by the prompt text's FNV hash, which planning computes anyway (it seeds the
 * deterministic answer), and confirmed by comparing the parts the text was built from (the
 * chat messages, or the completion prompt) with `===`: no key string is built or hashed by the
 * Map. A hit therefore gives exactly what tokenizing the text would; nothing is assumed about
 * how counts of parts add up. Bounded in entries and characters; entries used since the last
 * eviction pass get a second chance (an approximation of least-recently-used that costs
 * nothing on a hit).
 */

const MAX_ENTRIES = 1024;
/** Characters held by one tokenizer's cache (UTF-16 code units, so at most twice this in bytes). */
const MAX_CHARS = 4_000_000;
/** Prompts longer than this are tokenized every time rather than evicting everything else. */
const MAX_TEXT = 256_000;

interface Entry {
  /** The strings the prompt text was built from, compared on lookup. */
  parts: readonly string[];
  chars: number;
  tokens: number;
  used: boolean;
}

class PromptCache {
  private readonly entries = new Map<number, Entry>();
  private chars = 0;

  get(hash: number): Entry | undefined {
    return this.entries.get(hash);
  }

  set(hash: number, parts: readonly string[], chars: number, tokens: number): void {
    if (chars > MAX_TEXT) return;
    const old = this.entries.get(hash);
    if (old) {
      this.entries.delete(hash);
      this.chars -= old.chars;
    }
    this.entries.set(hash, { parts, chars, tokens, used: false });
    this.chars += chars;
    this.evict();
  }

  private evict(): void {
    // each pass over an entry either evicts it or clears its bit, so this ends
    while (this.entries.size > MAX_ENTRIES || this.chars > MAX_CHARS) {
      const [hash, e] = this.entries.entries().next().value as [number, Entry];
      this.entries.delete(hash);
      if (e.used) {
        e.used = false;
        this.entries.set(hash, e);
      } else this.chars -= e.chars;
    }
  }
}

const byTokenizer = new WeakMap<Tokenizer, PromptCache>();

function cacheFor(tok: Tokenizer): PromptCache {
  let c = byTokenizer.get(tok);
  if (c === undefined) {
    c = new PromptCache();
    byTokenizer.set(tok, c);
  }
  return c;
}

/** Token count of a completion prompt whose `hashString` is `hash`. */
export function textTokens(tok: Tokenizer, text: string, hash: number): number {
  const cache = cacheFor(tok);
  const e = cache.get(hash);
  if (e !== undefined && e.parts.length === 1 && e.parts[0] === text) {
    e.used = true;
    return e.tokens;
  }
  const tokens = tok.count(text);
  cache.set(hash, [text], text.length, tokens);
  return tokens;
}

type Messages = readonly { role: string; content: string }[];

/** Whether `parts` (the tools' JSON, then each message's role and content) describe this chat. */
function sameChat(parts: readonly string[], ms: Messages, toolsJson: string | undefined): boolean {
  if (parts.length !== 1 + 2 * ms.length || parts[0] !== (toolsJson ?? "")) return false;
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i] as { role: string; content: string };
    if (parts[1 + 2 * i] !== m.role || parts[2 + 2 * i] !== m.content) return false;
  }
  return true;
}

/**
 * Token count of the chat prompt built from `messages` and `toolsJson` (see `chatTemplate`),
 * whose `hashString` is `hash`; the template text is only built on a miss.
 */
export function chatTokens(tok: Tokenizer, messages: Messages, toolsJson: string | undefined, hash: number): number {
  const cache = cacheFor(tok);
  const e = cache.get(hash);
  if (e !== undefined && sameChat(e.parts, messages, toolsJson)) {
    e.used = true;
    return e.tokens;
  }
  const text = chatTemplate(messages, toolsJson);
  const tokens = tok.count(text);
  const parts = [toolsJson ?? ""];
  for (const m of messages) parts.push(m.role, m.content);
  cache.set(hash, parts, text.length, tokens);
  return tokens;
}
