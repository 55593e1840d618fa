/**
 * What traffic a loadgen run sends: the model mix, the sample library that maps LoadGen sample
 * indices to models, and Poisson arrival times (constant or by phases of a schedule).
 */
import type { Random } from "../engine/random.js";
import { CliError } from "./common/cli.js";

export const DEFAULT_MODELS = ["resnet", "yolo", "bert"] as const;

export interface Mix {
  models: string[];
  weights: number[];
}

/**
 * `--mix` is either bare ratios lined up with `--models` (`2,1,1`) or named ratios
 * (`resnet=2,bert=1`). Models with weight 0 are dropped so their metadata is not even fetched.
 */
export function parseMix(mix: string, models: readonly string[]): Mix {
  const parts = mix
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0) throw new CliError(`invalid --mix "${mix}": expected ratios such as 2,1,1`);
  const named = parts.some((p) => /[=:]/.test(p));
  let pairs: [string, number][];
  if (named) {
    pairs = parts.map((p) => {
      const m = /^([^=:]+)[=:]\s*(.+)$/.exec(p);
      const w = m ? Number(m[2]) : Number.NaN;
      if (!m || !Number.isFinite(w) || w < 0)
        throw new CliError(`invalid --mix entry "${p}": expected MODEL=RATIO with a non-negative ratio`);
      return [(m[1] as string).trim(), w];
    });
  } else {
    if (parts.length !== models.length) {
      throw new CliError(
        `invalid --mix "${mix}": ${parts.length} ratio(s) for ${models.length} model(s) (${models.join(",")}); ` +
          "give one ratio per model or use MODEL=RATIO",
      );
    }
    pairs = parts.map((p, i) => {
      const w = Number(p);
      if (!Number.isFinite(w) || w < 0)
        throw new CliError(`invalid --mix ratio "${p}": expected a non-negative number`);
      return [models[i] as string, w];
    });
  }
  const kept = pairs.filter(([, w]) => w > 0);
  if (kept.length === 0) throw new CliError(`invalid --mix "${mix}": at least one ratio must be positive`);
  const seen = new Set<string>();
  for (const [m] of kept) {
    if (seen.has(m)) throw new CliError(`invalid --mix "${mix}": model "${m}" appears twice`);
    seen.add(m);
  }
  return { models: kept.map(([m]) => m), weights: kept.map(([, w]) => w) };
}

/**
 * Model index of every sample in a library of `size` samples, interleaved by smooth weighted
 * round-robin so that any contiguous block of indices already has the mix's proportions.
 */
export function buildSampleLibrary(weights: readonly number[], size: number): Uint16Array {
  const lib = new Uint16Array(Math.max(1, size));
  const total = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  for (let i = 0; i < lib.length; i++) {
    let best = 0;
    for (let k = 0; k < weights.length; k++) {
      current[k] = (current[k] as number) + (weights[k] as number);
      if ((current[k] as number) > (current[best] as number)) best = k;
    }
    current[best] = (current[best] as number) - total;
    lib[i] = best;
  }
  return lib;
}

export interface Phase {
  startMs: number;
  endMs: number;
  qps: number;
}

/** `--schedule "0-5:3,5-10:10"`: seconds `start-end` at `qps`, non-overlapping. */
export function parseSchedule(spec: string): Phase[] {
  const phases: Phase[] = [];
  for (const raw of spec.split(",")) {
    const part = raw.trim();
    if (!part) continue;
    const m = /^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)$/.exec(part);
    if (!m) throw new CliError(`invalid --schedule segment "${part}": expected START-END:QPS in seconds, e.g. 0-5:3`);
    const start = Number(m[1]);
    const end = Number(m[2]);
    const qps = Number(m[3]);
    if (!(end > start)) throw new CliError(`invalid --schedule segment "${part}": END must be after START`);
    phases.push({ startMs: start * 1000, endMs: end * 1000, qps });
  }
  if (phases.length === 0) throw new CliError(`invalid --schedule "${spec}": no segments`);
  phases.sort((a, b) => a.startMs - b.startMs);
  for (let i = 1; i < phases.length; i++) {
    const prev = phases[i - 1] as Phase;
    const cur = phases[i] as Phase;
    if (cur.startMs < prev.endMs)
      throw new CliError(`invalid --schedule "${spec}": segments overlap at ${cur.startMs / 1000} s`);
  }
  return phases;
}

/**
 * Poisson arrival times (ms from the start) with a piecewise-constant rate. Because arrivals
 * are memoryless, restarting the exponential draw at a phase boundary is exact.
 */
export class PoissonArrivals {
  private phase = 0;
  private t: number;

  constructor(
    private readonly rng: Random,
    private readonly phases: readonly Phase[],
  ) {
    this.t = phases[0]?.startMs ?? 0;
  }

  next(): number | undefined {
    for (;;) {
      const p = this.phases[this.phase];
      if (!p) return undefined;
      if (this.t < p.startMs) this.t = p.startMs;
      if (p.qps > 0) {
        const t = this.t + this.rng.exponential(p.qps / 1000);
        if (t < p.endMs) {
          this.t = t;
          return t;
        }
      }
      this.phase++;
      this.t = p.endMs;
    }
  }
}
