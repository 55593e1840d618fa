import type { Tokenizer } from "../tokenizer.js";

/**
 * What the simulated model says when it does not echo: slices of a built-in corpus. The corpus
 * is tokenized once per tokenizer and reused, so producing N tokens of output is an array
 * slice — no tokenization on the request path. Text is original prose written for Decoy.
 */
const CORPUS = [
  "The harbour was quiet before dawn, and the only sound was the slow knock of hulls against the pier.",
  "Maria checked the tide tables twice, folded the chart along its old creases, and stepped onto the deck.",
  "A good forecast is a promise made with numbers: it can be kept, broken, or quietly revised at noon.",
  "By seven o'clock the wind had turned west, carrying the smell of salt, diesel, and fresh bread from the village.",
  "Engineers like to say that every queue is a story about waiting, and every story ends when a slot opens.",
  "The library on the hill kept its lamps lit until midnight, long after the last reader had gone home.",
  "In 1887 the bridge was rebuilt with iron trusses; in 1962 it was widened; today it carries 14,000 cars a day.",
  "She wrote the answer in pencil first, because pencil forgives and ink remembers.",
  "Latency is what users feel, throughput is what budgets feel, and tail latency is what on-call engineers feel.",
  "The recipe asked for three eggs, a cup of flour, a pinch of salt, and forty minutes of patience.",
  "When the server restarted, the dashboards went dark for a moment and then filled again, one panel at a time.",
  "Nobody remembered who planted the orchard, but everyone agreed the apples were better in October.",
  "A map is never the territory, yet without one the territory is very hard to cross.",
  "The committee met on Tuesday, argued until Thursday, and agreed on Friday to meet again next week.",
  "Small models answer quickly; large models answer carefully; the best systems know which one to ask.",
  "He counted the stairs on the way up (forty-two) and again on the way down (forty-one), and never solved it.",
  "Rain moved across the valley in grey curtains, pausing over the river as if reading its name.",
  "Every cache is a bet that the future will look like the past, and most of the time the bet pays off.",
  "The train left at 9:15, exactly on time, which surprised the passengers more than any delay would have.",
  "Good documentation answers the question you have now and the question you will have tomorrow.",
  "The old clock in the square ran four minutes fast, so the whole town had learned to be four minutes late.",
  "A careful experiment changes one thing at a time and writes down everything, especially the failures.",
  "Snow fell through the night, and by morning the fields were a single sheet of white without a footprint.",
  "The market opened with the usual noise: vendors calling prices, carts rattling, and a radio playing old songs.",
  "If the first token arrives quickly, people forgive a great deal about the ones that follow.",
  "The lighthouse keeper logged each ship by name, heading, and hour, in a ledger that now fills a whole shelf.",
  "Mathematics rewards the patient: a proof that takes a week to find may take a minute to read.",
  "On the last day of the festival the square was swept clean, the lanterns were packed away, and the music stopped.",
  "A system under load reveals its design; a system at rest only reveals its intentions.",
  "They planted beans in April, tomatoes in May, and by August the garden had opinions of its own.",
  "The report was short, clear, and correct, which is why it was read by everyone and quoted by no one.",
  "Far out at sea the swell grew long and slow, the kind of motion that sailors feel in their knees for days.",
]
  // the leading space keeps words apart where the text wraps around
  .map((sentence) => ` ${sentence}`)
  .join("");

interface CorpusTokens {
  pieces: string[];
}

const byTokenizer = new WeakMap<Tokenizer, CorpusTokens>();

/** The corpus as the tokenizer's pieces (computed once per tokenizer). */
export function corpusPieces(tok: Tokenizer): string[] {
  let c = byTokenizer.get(tok);
  if (c === undefined) {
    c = { pieces: tok.pieces(CORPUS).filter((p) => p !== "") };
    byTokenizer.set(tok, c);
  }
  return c.pieces;
}

/** The first piece at or after `i` that starts a word, so answers do not begin mid-word. */
export function wordStart(source: readonly string[], i: number): number {
  const n = source.length;
  for (let k = 0; k < 16 && n > 0; k++) {
    const j = (i + k) % n;
    if ((source[j] as string).startsWith(" ")) return j;
  }
  return n > 0 ? i % n : 0;
}

/** `count` pieces of `source` starting at `start`, wrapping around. */
export function cyclicSlice(source: readonly string[], start: number, count: number): string[] {
  const n = source.length;
  const out: string[] = new Array(count);
  if (n === 0) {
    out.fill(" ");
    return out;
  }
  let i = ((start % n) + n) % n;
  for (let k = 0; k < count; k++) {
    out[k] = source[i] as string;
    i = i + 1 === n ? 0 : i + 1;
  }
  return out;
}

/** Words for synthesized strings (tool arguments, JSON content). */
export const WORDS = [
  "harbour",
  "river",
  "lantern",
  "orchard",
  "bridge",
  "signal",
  "summit",
  "meadow",
  "compass",
  "ledger",
  "garden",
  "station",
  "forecast",
  "market",
  "valley",
  "engine",
  "archive",
  "beacon",
  "canyon",
  "harvest",
] as const;

export const CITIES = ["Lisbon", "Osaka", "Toronto", "Nairobi", "Oslo", "Santiago", "Melbourne", "Seattle"] as const;
