import type { Random } from "../random.js";

/**
 * A string matching a JSON-Schema `pattern`, for the regex subset tool schemas use: literals,
 * escapes (\d \w \s and escaped punctuation), `.`, character classes with ranges and negation,
 * groups with alternation, and the quantifiers ? * + {n} {n,} {n,m}. Returns undefined for
 * anything else (back-references, look-arounds), and the caller falls back to a plain string.
 */

type Node =
  | { t: "chars"; set: string[] }
  | { t: "group"; alts: Node[][] }
  | { t: "repeat"; node: Node; min: number; max: number };

const DIGITS = "0123456789".split("");
const LOWER = "abcdefghijklmnopqrstuvwxyz".split("");
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".split("");
const WORD = [...LOWER, ...UPPER, ...DIGITS, "_"];
const SPACE = [" "];
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
/** Unbounded quantifiers stop here. */
const OPEN_MAX = 4;

class Parser {
  i = 0;
  constructor(readonly src: string) {}

  fail(): never {
    throw new Error("unsupported pattern");
  }

  alts(): Node[][] {
    const out: Node[][] = [this.seq()];
    while (this.src[this.i] === "|") {
      this.i++;
      out.push(this.seq());
    }
    return out;
  }

  seq(): Node[] {
    const out: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== "|" && this.src[this.i] !== ")") {
      const c = this.src[this.i] as string;
      if (c === "^" || c === "$") {
        this.i++;
        continue;
      }
      let atom = this.atom();
      atom = this.quantified(atom);
      out.push(atom);
    }
    return out;
  }

  quantified(node: Node): Node {
    const c = this.src[this.i];
    let min = 1;
    let max = 1;
    if (c === "?") [min, max] = [0, 1];
    else if (c === "*") [min, max] = [0, OPEN_MAX];
    else if (c === "+") [min, max] = [1, OPEN_MAX];
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) return node;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? min + OPEN_MAX : Number(m[3]);
      this.i += m[0].length - 1;
    } else return node;
    this.i++;
    if (this.src[this.i] === "?") this.i++; // lazy quantifiers generate the same strings
    return { t: "repeat", node, min, max };
  }

  atom(): Node {
    const c = this.src[this.i++] as string;
    if (c === "(") {
      if (this.src[this.i] === "?") {
        if (this.src[this.i + 1] !== ":") this.fail();
        this.i += 2;
      }
      const alts = this.alts();
      if (this.src[this.i] !== ")") this.fail();
      this.i++;
      return { t: "group", alts };
    }
    if (c === "[") return { t: "chars", set: this.cls() };
    if (c === ".") return { t: "chars", set: [...LOWER, ...DIGITS] };
    if (c === "\\") return { t: "chars", set: this.escape(false) };
    if (c === "*" || c === "+" || c === "?" || c === "{" || c === ")") this.fail();
    return { t: "chars", set: [c] };
  }

  escape(inClass: boolean): string[] {
    const c = this.src[this.i++];
    if (c === undefined) return this.fail();
    switch (c) {
      case "d":
        return DIGITS;
      case "w":
        return WORD;
      case "s":
        return SPACE;
      case "D":
      case "S":
        return LOWER;
      case "W":
        return ["-", ".", " "];
      case "n":
        return ["\n"];
      case "t":
        return ["\t"];
      case "b":
        return inClass ? ["\b"] : this.fail();
      default:
        if (/[0-9]/.test(c) || c === "k" || c === "p" || c === "P" || c === "u" || c === "x") this.fail();
        return [c];
    }
  }

  cls(): string[] {
    let negate = false;
    if (this.src[this.i] === "^") {
      negate = true;
      this.i++;
    }
    const set = new Set<string>();
    let first = true;
    while (this.i < this.src.length && (this.src[this.i] !== "]" || first)) {
      first = false;
      let items: string[];
      const c = this.src[this.i++] as string;
      if (c === "\\") items = this.escape(true);
      else items = [c];
      if (
        items.length === 1 &&
        this.src[this.i] === "-" &&
        this.src[this.i + 1] !== "]" &&
        this.i + 1 < this.src.length
      ) {
        this.i++;
        let hi = this.src[this.i++] as string;
        if (hi === "\\") hi = this.escape(true)[0] ?? hi;
        const a = (items[0] as string).charCodeAt(0);
        const b = hi.charCodeAt(0);
        if (b < a) this.fail();
        items = [];
        for (let k = a; k <= b && items.length < 256; k++) items.push(String.fromCharCode(k));
      }
      for (const x of items) set.add(x);
    }
    if (this.src[this.i] !== "]") this.fail();
    this.i++;
    const out = negate ? PRINTABLE.filter((x) => !set.has(x)) : [...set];
    if (out.length === 0) this.fail();
    return out;
  }
}

function emit(nodes: Node[], random: Random, out: string[]): void {
  for (const n of nodes) {
    if (n.t === "chars") out.push(random.pick(n.set));
    else if (n.t === "group") emit(random.pick(n.alts), random, out);
    else {
      const times = random.int(n.min, n.max);
      for (let k = 0; k < times; k++) emit([n.node], random, out);
    }
  }
}

export function stringForPattern(pattern: string, random: Random): string | undefined {
  let check: RegExp;
  let tree: Node[][];
  try {
    check = new RegExp(pattern, "u");
    const p = new Parser(pattern);
    tree = p.alts();
    if (p.i !== pattern.length) return undefined;
  } catch {
    return undefined;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const out: string[] = [];
    emit(random.pick(tree), random, out);
    const s = out.join("");
    if (check.test(s)) return s;
  }
  return undefined;
}
