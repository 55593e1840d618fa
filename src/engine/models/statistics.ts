/**
 * Triton's cumulative per-model-version statistics (the statistics extension): counts and
 * total nanoseconds for success, fail, queue and the three compute phases, per batch size,
 * and per response index for decoupled models. Transports render snapshots in their own
 * casing (REST snake_case, gRPC ts-proto objects).
 */
import type { InferTiming } from "./types.js";

export interface DurationStat {
  count: number;
  ns: number;
}

export interface InferStatsSnapshot {
  success: DurationStat;
  fail: DurationStat;
  queue: DurationStat;
  computeInput: DurationStat;
  computeInfer: DurationStat;
  computeOutput: DurationStat;
  cacheHit: DurationStat;
  cacheMiss: DurationStat;
}

export interface BatchStatsSnapshot {
  batchSize: number;
  computeInput: DurationStat;
  computeInfer: DurationStat;
  computeOutput: DurationStat;
}

export interface ResponseStatsSnapshot {
  computeInfer: DurationStat;
  computeOutput: DurationStat;
  success: DurationStat;
  fail: DurationStat;
  emptyResponse: DurationStat;
  cancel: DurationStat;
}

export interface ModelStatsSnapshot {
  name: string;
  version: string;
  /** Milliseconds since the Unix epoch; 0 before the first inference. */
  lastInference: number;
  inferenceCount: number;
  executionCount: number;
  inferenceStats: InferStatsSnapshot;
  batchStats: BatchStatsSnapshot[];
  responseStats: Record<string, ResponseStatsSnapshot>;
  memoryUsage: { type: string; id: number; byteSize: number }[];
}

const zero = (): DurationStat => ({ count: 0, ns: 0 });
const add = (d: DurationStat, ms: number): void => {
  d.count++;
  d.ns += Math.max(0, Math.round(ms * 1e6));
};
const copy = (d: DurationStat): DurationStat => ({ count: d.count, ns: d.ns });

export class ModelVersionStats {
  lastInference = 0;
  inferenceCount = 0;
  executionCount = 0;
  private readonly infer: InferStatsSnapshot = {
    success: zero(),
    fail: zero(),
    queue: zero(),
    computeInput: zero(),
    computeInfer: zero(),
    computeOutput: zero(),
    cacheHit: zero(),
    cacheMiss: zero(),
  };
  private readonly batches = new Map<number, BatchStatsSnapshot>();
  private readonly responses = new Map<number, ResponseStatsSnapshot>();

  constructor(
    readonly name: string,
    readonly version: string,
  ) {}

  /** One successful request: `totalMs` is arrival → response, `timing` its breakdown. */
  success(wallNow: number, totalMs: number, timing: InferTiming): void {
    this.lastInference = wallNow;
    this.inferenceCount += timing.batchSize;
    add(this.infer.success, totalMs);
    add(this.infer.queue, timing.queueMs);
    add(this.infer.computeInput, timing.computeInputMs);
    add(this.infer.computeInfer, timing.computeInferMs);
    add(this.infer.computeOutput, timing.computeOutputMs);
    // executions and batch_stats count each execution once, under the size of the whole batch
    if (timing.executions === 0) return;
    this.executionCount++;
    const size = timing.executionSize ?? timing.batchSize;
    let b = this.batches.get(size);
    if (!b) {
      b = { batchSize: size, computeInput: zero(), computeInfer: zero(), computeOutput: zero() };
      this.batches.set(size, b);
    }
    add(b.computeInput, timing.computeInputMs);
    add(b.computeInfer, timing.computeInferMs);
    add(b.computeOutput, timing.computeOutputMs);
  }

  failure(wallNow: number, totalMs: number): void {
    this.lastInference = wallNow;
    add(this.infer.fail, totalMs);
  }

  /** One response of a decoupled request; `gapMs` is the time since the previous response. */
  response(index: number, gapMs: number, outcome: "success" | "fail" | "empty" | "cancel"): void {
    let r = this.responses.get(index);
    if (!r) {
      r = {
        computeInfer: zero(),
        computeOutput: zero(),
        success: zero(),
        fail: zero(),
        emptyResponse: zero(),
        cancel: zero(),
      };
      this.responses.set(index, r);
    }
    switch (outcome) {
      case "success":
        add(r.computeInfer, gapMs);
        add(r.computeOutput, 0);
        add(r.success, gapMs);
        break;
      case "fail":
        add(r.fail, gapMs);
        break;
      case "empty":
        add(r.emptyResponse, gapMs);
        break;
      case "cancel":
        add(r.cancel, gapMs);
        break;
    }
  }

  snapshot(): ModelStatsSnapshot {
    const i = this.infer;
    const responseStats: Record<string, ResponseStatsSnapshot> = {};
    for (const [k, r] of [...this.responses].sort((a, b) => a[0] - b[0])) {
      responseStats[String(k)] = {
        computeInfer: copy(r.computeInfer),
        computeOutput: copy(r.computeOutput),
        success: copy(r.success),
        fail: copy(r.fail),
        emptyResponse: copy(r.emptyResponse),
        cancel: copy(r.cancel),
      };
    }
    return {
      name: this.name,
      version: this.version,
      lastInference: this.lastInference,
      inferenceCount: this.inferenceCount,
      executionCount: this.executionCount,
      inferenceStats: {
        success: copy(i.success),
        fail: copy(i.fail),
        queue: copy(i.queue),
        computeInput: copy(i.computeInput),
        computeInfer: copy(i.computeInfer),
        computeOutput: copy(i.computeOutput),
        cacheHit: copy(i.cacheHit),
        cacheMiss: copy(i.cacheMiss),
      },
      batchStats: [...this.batches.values()]
        .sort((a, b) => a.batchSize - b.batchSize)
        .map((b) => ({
          batchSize: b.batchSize,
          computeInput: copy(b.computeInput),
          computeInfer: copy(b.computeInfer),
          computeOutput: copy(b.computeOutput),
        })),
      responseStats,
      memoryUsage: [],
    };
  }
}
