/**
 * Synthetic prompts of a requested length. Common short English words are close to one token
 * each in every mainstream tokenizer, so N words give about N prompt tokens without shipping a
 * tokenizer; the server's `usage.prompt_tokens` (when reported) is what the metrics use.
 */
import { Random } from "../engine/random.js";

const WORDS = (
  "the of and to in is it you that he was for on are as with his they at be this have from or one had by " +
  "word but not what all were we when your can said there use an each which she do how their if will up " +
  "other about out many then them these so some her would make like him into time has look two more write " +
  "go see number no way could people my than first water been call who oil its now find long down day did " +
  "get come made may part over new sound take only little work know place year live me back give most very " +
  "after thing our just name good sentence man think say great where help through much before line right too " +
  "mean old any same tell boy follow came want show also around form three small set put end does another " +
  "well large must big even such because turn here why ask went men read need land different home us move " +
  "try kind hand picture again change off play spell air away animal house point page letter mother answer"
).split(" ");

export interface PromptOptions {
  inputTokensMean: number;
  inputTokensStddev: number;
  /** Fraction (0..1) of the mean input length taken by a prefix shared between requests. */
  sharedPrefixRatio: number;
  /** How many distinct shared prefixes requests rotate through. */
  numPrefixPrompts: number;
}

export interface Prompt {
  text: string;
  /** Length in words, the client-side estimate of prompt tokens. */
  tokens: number;
}

export class PromptGenerator {
  private readonly rng: Random;
  private readonly prefixes: string[][];
  private count = 0;

  constructor(
    seed: number | string,
    private readonly opts: PromptOptions,
  ) {
    this.rng = new Random(seed);
    const prefixLen = Math.round(Math.min(1, Math.max(0, opts.sharedPrefixRatio)) * opts.inputTokensMean);
    const prefixRng = this.rng.fork("prefixes");
    this.prefixes =
      prefixLen > 0
        ? Array.from({ length: Math.max(1, opts.numPrefixPrompts) }, () => this.words(prefixLen, prefixRng))
        : [];
  }

  private words(n: number, rng: Random): string[] {
    return Array.from({ length: n }, () => rng.pick(WORDS));
  }

  /** A length drawn from the configured normal distribution, at least 1. */
  length(mean: number, stddev: number): number {
    return Math.max(1, Math.round(stddev > 0 ? this.rng.normal(mean, stddev) : mean));
  }

  next(): Prompt {
    const total = this.length(this.opts.inputTokensMean, this.opts.inputTokensStddev);
    const prefix = this.prefixes.length > 0 ? (this.prefixes[this.count % this.prefixes.length] as string[]) : [];
    this.count++;
    const suffix = this.words(Math.max(1, total - prefix.length), this.rng);
    const words = prefix.length > 0 ? [...prefix, ...suffix] : suffix;
    return { text: words.join(" "), tokens: words.length };
  }
}
