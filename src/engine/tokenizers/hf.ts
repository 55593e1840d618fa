import { readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Template } from "@huggingface/jinja";
import type { TokenizerLoader as Loader } from "@lenml/tokenizers";
import { DecoyError } from "../errors.js";
import type { ChatTemplateInput, DecodeOptions, EncodeOptions, Tokenizer } from "../tokenizer.js";
import { harmonyPrompt } from "./harmony.js";

/**
 * Real vocabularies: a Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) run by
 * @lenml/tokenizers, a dependency-free port of transformers.js. We read the JSON files
 * ourselves instead of importing the per-model packages' bundles: parsing JSON is about a
 * third faster and lighter than evaluating the same data as a multi-megabyte JS module, and
 * it is the same code path as a user's own `--tokenizer PATH`.
 */

type Inner = ReturnType<typeof Loader.fromPreTrained>;

/** The tokenizer library is loaded with the first real vocabulary, not at server start. */
let lib: typeof import("@lenml/tokenizers") | undefined;
function lenml(): typeof import("@lenml/tokenizers") {
  lib ??= createRequire(import.meta.url)("@lenml/tokenizers") as typeof import("@lenml/tokenizers");
  return lib;
}

/** The template engine is loaded with the first chat rendered through a model's own template. */
let jinja: typeof import("@huggingface/jinja") | undefined;
function jinjaLib(): typeof import("@huggingface/jinja") {
  jinja ??= createRequire(import.meta.url)("@huggingface/jinja") as typeof import("@huggingface/jinja");
  return jinja;
}

/**
 * The chat template of tokenizer_config.json: a string, or a list of named templates of which
 * vLLM (through transformers) uses "default". Undefined when the config has none.
 */
function chatTemplateSource(config: Record<string, unknown>): string | undefined {
  const t = config.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const pick = named.find((x) => x?.name === "default") ?? named[0];
    return typeof pick?.template === "string" ? pick.template : undefined;
  }
  return undefined;
}

/** A special token as tokenizer_config.json spells it: a string or an AddedToken object. */
function tokenText(v: unknown): string {
  if (typeof v === "string") return v;
  const content = (v as { content?: unknown } | null)?.content;
  return typeof content === "string" ? content : "";
}

/** Where a tokenizer's files are; `config` is absent when the directory has no tokenizer_config.json. */
export interface TokenizerFiles {
  json: string;
  config: string | undefined;
}

/** Finds tokenizer.json for a file path or a directory holding one; throws if neither. */
export function locateTokenizerFiles(path: string): TokenizerFiles {
  let json = path;
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new DecoyError("INVALID_ARGUMENT", `tokenizer path ${path} does not exist`, { cause: err });
  }
  if (isDir) {
    json = join(path, "tokenizer.json");
    if (!isFile(json)) throw new DecoyError("INVALID_ARGUMENT", `tokenizer directory ${path} has no tokenizer.json`);
  }
  const config = join(dirname(json), "tokenizer_config.json");
  return { json, config: isFile(config) ? config : undefined };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function parse(path: string, text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not a JSON object");
    return value as Record<string, unknown>;
  } catch (err) {
    throw new DecoyError("INVALID_ARGUMENT", `cannot parse ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Config entries layered over tokenizer_config.json (built-ins whose packaged copy predates a fix upstream). */
export type ConfigOverrides = Record<string, unknown>;

function build(
  name: string,
  files: TokenizerFiles,
  jsonText: string,
  configText: string | undefined,
  overrides: ConfigOverrides | undefined,
): HfTokenizer {
  const json = parse(files.json, jsonText);
  if (typeof json.model !== "object" || json.model === null) {
    throw new DecoyError("INVALID_ARGUMENT", `${files.json} is not a Hugging Face tokenizer.json (no "model")`);
  }
  const config = {
    ...(configText === undefined || files.config === undefined ? {} : parse(files.config, configText)),
    ...overrides,
  };
  // An unrecognised class (e.g. a newer transformers' backend name) would make the loader
  // warn on stderr; the base class reads tokenizer.json the same way.
  const mapping = (lenml().tokenizers.AutoTokenizer as unknown as { TOKENIZER_CLASS_MAPPING: Record<string, unknown> })
    .TOKENIZER_CLASS_MAPPING;
  const cls = typeof config.tokenizer_class === "string" ? config.tokenizer_class.replace(/Fast$/, "") : undefined;
  if (cls === undefined || !(cls in mapping)) config.tokenizer_class = "PreTrainedTokenizer";
  let inner: Inner;
  try {
    inner = lenml().TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
  } catch (err) {
    throw new DecoyError("INVALID_ARGUMENT", `cannot build tokenizer from ${files.json}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const template = chatTemplateSource(config);
  const chat =
    template === undefined
      ? undefined
      : { source: template, bos: tokenText(config.bos_token), eos: tokenText(config.eos_token) };
  return new HfTokenizer(name, inner, chat);
}

interface ChatTemplateSpec {
  source: string;
  bos: string;
  eos: string;
}

export function loadHfTokenizerSync(name: string, files: TokenizerFiles, overrides?: ConfigOverrides): HfTokenizer {
  const jsonText = readFileSync(files.json, "utf8");
  const configText = files.config === undefined ? undefined : readFileSync(files.config, "utf8");
  return build(name, files, jsonText, configText, overrides);
}

export async function loadHfTokenizer(
  name: string,
  files: TokenizerFiles,
  overrides?: ConfigOverrides,
): Promise<HfTokenizer> {
  const [jsonText, configText] = await Promise.all([
    readFile(files.json, "utf8"),
    files.config === undefined ? undefined : readFile(files.config, "utf8"),
  ]);
  return build(name, files, jsonText, configText, overrides);
}

/**
 * GPT-2's byte↔unicode table inverted: byte-level BPE vocabularies spell every byte as a
 * printable code point below 0x144; -1 marks code points that are not byte stand-ins.
 */
const UNICODE_TO_BYTE = (() => {
  const table = new Int16Array(0x200).fill(-1);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[printable ? b : 256 + extra++] = b;
  }
  return table;
})();

const utf8 = new TextEncoder();
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** Length of the trailing incomplete UTF-8 sequence in `buf[0..len)`, 0 when it ends on a character boundary. */
function incompleteTail(buf: Uint8Array, len: number): number {
  for (let back = 1; back <= 3 && back <= len; back++) {
    const b = buf[len - back] ?? 0;
    if ((b & 0xc0) !== 0x80) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      return need > back ? back : 0;
    }
  }
  return 0;
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly specialTokenCount: number;
  /** Byte-level vocabularies get an exact, fast piece splitter; others fall back to incremental decoding. */
  private readonly byteLevel: boolean;
  private readonly addedById = new Map<number, string>();
  /**
   * BOS/EOS that `addSpecialTokens` adds itself: transformers.js only applies tokenizer.json's
   * post-processor, while Hugging Face's Llama-family classes also honour `add_bos_token` /
   * `add_eos_token` from tokenizer_config.json (DeepSeek-V3 relies on this).
   */
  private readonly bos: number | undefined;
  private readonly eos: number | undefined;

  /** Compiled on first use: parsing a template costs far more than rendering it. */
  private compiled: Template | undefined;
  /**
   * No template, but harmony's special tokens (gpt-oss): chats are rendered in OpenAI's harmony
   * format, as vLLM does for gpt-oss with openai_harmony.
   */
  readonly effortInPrompt: boolean;

  constructor(
    readonly name: string,
    private readonly inner: Inner,
    private readonly chat?: ChatTemplateSpec,
  ) {
    let size = inner.model.vocab.length;
    for (const t of inner.added_tokens) {
      this.addedById.set(t.id, t.content);
      size = Math.max(size, t.id + 1);
    }
    this.vocabSize = size;
    this.byteLevel = inner.decoder?.constructor.name === "ByteLevelDecoder";
    const probe = "a";
    const postProcessorAdds =
      inner.encode(probe, { add_special_tokens: true }).length >
      inner.encode(probe, { add_special_tokens: false }).length;
    this.bos = !postProcessorAdds && inner.add_bos_token === true ? inner.bos_token_id : undefined;
    this.eos = !postProcessorAdds && inner.add_eos_token === true ? inner.eos_token_id : undefined;
    this.specialTokenCount = this.encode(probe, { addSpecialTokens: true }).length - this.encode(probe).length;
    const added = new Set(this.addedById.values());
    this.effortInPrompt =
      chat === undefined && added.has("<|start|>") && added.has("<|message|>") && added.has("<|channel|>");
  }

  encode(text: string, options?: EncodeOptions): number[] {
    const special = options?.addSpecialTokens ?? false;
    const ids = this.inner.encode(text, { add_special_tokens: special });
    if (special && this.bos !== undefined) ids.unshift(this.bos);
    if (special && this.eos !== undefined) ids.push(this.eos);
    return ids;
  }

  count(text: string): number {
    return this.encode(text).length;
  }

  renderChat(input: ChatTemplateInput): string | undefined {
    const chat = this.chat;
    if (chat === undefined) return this.effortInPrompt ? harmonyPrompt(input) : undefined;
    try {
      this.compiled ??= new (jinjaLib().Template)(chat.source);
      return this.compiled.render({
        messages: input.messages,
        tools: input.tools,
        add_generation_prompt: true,
        bos_token: chat.bos,
        eos_token: chat.eos,
        ...input.kwargs,
      });
    } catch (err) {
      // vLLM answers a template that cannot render the conversation with a 400
      throw new DecoyError("INVALID_ARGUMENT", `The chat template failed: ${(err as Error).message}`, {
        param: "messages",
        type: "BadRequestError",
        cause: err,
      });
    }
  }

  decode(ids: readonly number[], options?: DecodeOptions): string {
    this.check(ids);
    // the library rejects an empty list; an empty text is the useful answer
    if (ids.length === 0) return "";
    return this.inner.decode(ids as number[], { skip_special_tokens: options?.skipSpecialTokens ?? false });
  }

  tokenStrings(ids: readonly number[]): string[] {
    this.check(ids);
    return this.inner.model.convert_ids_to_tokens(ids as number[]);
  }

  pieces(text: string): string[] {
    return alignPieces(text, this.piecesFromIds(this.encode(text)));
  }

  piecesFromIds(ids: readonly number[]): string[] {
    this.check(ids);
    return this.byteLevel ? this.byteLevelPieces(ids) : this.incrementalPieces(ids);
  }

  /**
   * Concatenates each token's bytes and closes a piece whenever they end on a character
   * boundary. A token that only starts a character gets an empty piece and the token that
   * finishes it carries the whole character, so there is still one piece per id.
   */
  private byteLevelPieces(ids: readonly number[]): string[] {
    const vocab = this.inner.model.vocab;
    const out: string[] = [];
    let buf = new Uint8Array(64);
    let len = 0;
    let ascii = true;
    const push = (b: number): void => {
      if (len === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      buf[len++] = b;
      if (b >= 0x80) ascii = false;
    };
    const take = (): string => {
      const s = ascii ? String.fromCharCode(...buf.subarray(0, len)) : lenientUtf8.decode(buf.subarray(0, len));
      len = 0;
      ascii = true;
      return s;
    };
    for (const id of ids) {
      const added = this.addedById.get(id);
      if (added !== undefined) {
        // added tokens are stored as literal text, not byte stand-ins
        for (const b of utf8.encode(added)) push(b);
      } else {
        const token = vocab[id] ?? "";
        for (let i = 0; i < token.length; i++) {
          const c = token.charCodeAt(i);
          const b = c < UNICODE_TO_BYTE.length ? (UNICODE_TO_BYTE[c] ?? -1) : -1;
          if (b >= 0) push(b);
          else for (const x of utf8.encode(token[i] ?? "")) push(x);
        }
      }
      out.push(incompleteTail(buf, len) === 0 ? take() : "");
    }
    // ids that stop mid-character (a truncated generation) end in U+FFFD, as decode() does
    if (len > 0 && out.length > 0) out[out.length - 1] += take();
    return out;
  }

  /**
   * For vocabularies whose decoders rewrite text (SentencePiece's "▁", WordPiece's "##"):
   * decode a short window ending at each token and take what it adds, holding back while
   * the text ends in a replacement character (an unfinished byte sequence).
   */
  private incrementalPieces(ids: readonly number[]): string[] {
    const out: string[] = [];
    const opts = { skip_special_tokens: false, clean_up_tokenization_spaces: false };
    const text = (from: number, to: number): string =>
      from >= to ? "" : this.inner.decode(ids.slice(from, to) as number[], opts);
    let prefix = 0;
    let read = 0;
    for (let i = 1; i <= ids.length; i++) {
      const before = text(prefix, read);
      const after = text(prefix, i);
      if (after.length > before.length && !after.endsWith("\uFFFD")) {
        out.push(after.slice(before.length));
        prefix = read;
        read = i;
      } else {
        out.push("");
      }
    }
    if (read < ids.length && out.length > 0)
      out[out.length - 1] += text(prefix, ids.length).slice(text(prefix, read).length);
    return out;
  }

  private check(ids: readonly number[]): void {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new DecoyError(
          "INVALID_ARGUMENT",
          `token id ${id} is out of vocabulary range [0, ${this.vocabSize}) for tokenizer ${this.name}`,
        );
      }
    }
  }
}

/**
 * Makes pieces concatenate to exactly `text`. Decoded pieces can differ from the input where
 * the tokenizer normalises (NFC, lower-casing, dropped characters); from the first mismatch
 * the rest of the text is shared among the remaining pieces in proportion to their lengths,
 * which keeps the token count and cuts only between code points.
 */
export function alignPieces(text: string, pieces: string[]): string[] {
  let at = 0;
  let i = 0;
  for (; i < pieces.length; i++) {
    const p = pieces[i] ?? "";
    if (!text.startsWith(p, at)) break;
    at += p.length;
  }
  if (i === pieces.length) {
    if (at === text.length) return pieces;
    if (pieces.length === 0) return text.length === 0 ? [] : [text];
    i = pieces.length - 1;
    at -= (pieces[i] ?? "").length;
  }
  const rest = Array.from(text.slice(at));
  const tail = pieces.slice(i);
  const weights = tail.map((p) => Math.max(1, Array.from(p).length));
  const total = weights.reduce((a, b) => a + b, 0);
  const out = pieces.slice(0, i);
  let used = 0;
  let acc = 0;
  for (let k = 0; k < tail.length; k++) {
    acc += weights[k] ?? 1;
    const end = k === tail.length - 1 ? rest.length : Math.round((acc / total) * rest.length);
    out.push(rest.slice(used, end).join(""));
    used = Math.max(used, end);
  }
  return out;
}
