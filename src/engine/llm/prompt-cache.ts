import { hashString } from "../random.js";
import type { Tokenizer } from "../tokenizer.js";

/**
 * What planning needs to know about a prompt, for recently seen prompts: its token count under
 * one tokenizer and its `hashString` (which seeds the deterministic answer). Load generators
 * send the same system prompt and conversations over and over, and tokenizing was the largest
 * per-request cost after the transport; hashing the text in JavaScript came next.
 *
 * The prompt text itself is the key. V8 hashes a string key natively (several times faster
 * than a JavaScript loop over the characters of a string fresh from JSON.parse) and confirms
 * a hit by comparing the text, so a hit gives exactly what tokenizing and hashing would.
 * Bounded in entries and characters; entries used since the last eviction pass get a second
 * chance (an approximation of least-recently-used that costs nothing on a hit).
 */

const MAX_ENTRIES = 1024;
/** Characters held by one tokenizer's cache (UTF-16 code units, so at most twice this in bytes). */
const MAX_CHARS = 4_000_000;
/** Prompts longer than this are tokenized every time rather than evicting everything else. */
const MAX_TEXT = 256_000;

export interface PromptInfo {
  readonly tokens: number;
  /** `hashString(text)`. */
  readonly hash: number;
}

/** A conversation's prompt: the text its tokens were counted over. */
export interface ChatPromptInfo extends PromptInfo {
  readonly text: string;
}

interface Entry extends PromptInfo {
  used: boolean;
  /** Chat entries: the model's own rendering of the conversation the key stands for. */
  text?: string;
}

/** Characters a chat entry's rendering holds beyond its key (none when it is the key itself). */
function extraChars(key: string, rendered: string | undefined): number {
  return rendered === undefined || rendered === key ? 0 : rendered.length;
}

class PromptCache {
  private readonly entries = new Map<string, Entry>();
  private chars = 0;

  get(text: string): Entry | undefined {
    return this.entries.get(text);
  }

  set(text: string, info: PromptInfo, rendered?: string): void {
    if (text.length > MAX_TEXT) return;
    const old = this.entries.get(text);
    if (old) this.entries.delete(text);
    else this.chars += text.length + extraChars(text, rendered);
    const entry: Entry = { tokens: info.tokens, hash: info.hash, used: false };
    if (rendered !== undefined) entry.text = rendered;
    this.entries.set(text, entry);
    this.evict();
  }

  private evict(): void {
    // each pass over an entry either evicts it or clears its bit, so this ends
    while (this.entries.size > MAX_ENTRIES || this.chars > MAX_CHARS) {
      const [text, e] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(text);
      if (e.used) {
        e.used = false;
        this.entries.set(text, e);
      } else this.chars -= text.length + extraChars(text, e.text);
    }
  }
}

const byTokenizer = new WeakMap<Tokenizer, PromptCache>();
const chatsByTokenizer = new WeakMap<Tokenizer, PromptCache>();

function cacheFor(tok: Tokenizer, caches = byTokenizer): PromptCache {
  let c = caches.get(tok);
  if (c === undefined) {
    c = new PromptCache();
    caches.set(tok, c);
  }
  return c;
}

/** Token count (under `tok`) and hash of a prompt text, from the cache when it was seen lately. */
export function promptInfo(tok: Tokenizer, text: string): PromptInfo {
  const cache = cacheFor(tok);
  const e = cache.get(text);
  if (e !== undefined) {
    e.used = true;
    return e;
  }
  const info = { tokens: tok.count(text), hash: hashString(text) };
  cache.set(text, info);
  return info;
}

/**
 * The same for a conversation. `key` is its generic rendering: cheap to build, what the
 * cache is keyed by and what the answer is seeded from (so it does not change with the
 * tokenizer). On a miss `render` gives the model's own chat-template text (undefined: the
 * key is the text), whose tokens are counted and which comes back as `text`.
 */
export function chatPromptInfo(tok: Tokenizer, key: string, render: () => string | undefined): ChatPromptInfo {
  const cache = cacheFor(tok, chatsByTokenizer);
  const e = cache.get(key);
  if (e !== undefined) {
    e.used = true;
    return e as ChatPromptInfo;
  }
  const text = render() ?? key;
  const info = { tokens: tok.count(text), hash: hashString(key), text };
  cache.set(key, info, text);
  return info;
}
