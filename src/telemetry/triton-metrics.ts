import { cpus, freemem, totalmem } from "node:os";
import { Counter, Gauge, Registry } from "prom-client";
import type { TensorInferRecord } from "../engine/events.js";
import { type CounterChild, CounterFamily } from "./accumulators.js";
import type { Family } from "./exposition.js";

/**
 * Triton's Prometheus families (triton-inference-server/core `src/metrics.cc`) for the KServe tensor
 * models: per-model counters labelled `model` and `version` (failures add `reason`), cumulative
 * durations in microseconds (counters, Triton's default `counter_latencies`), the pending-request
 * gauge, and the GPU/CPU/pinned-memory gauges Triton polls.
 */

export const FAILURE_REASONS = ["REJECTED", "CANCELED", "BACKEND", "OTHER"] as const;

/** One GPU as Triton reports it (read from the simulated DCGM exporter). */
export interface TritonGpu {
  uuid: string;
  /** 0..1 */
  utilization: number;
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  powerW: number;
  powerLimitW: number;
  /** Joules since the server started. */
  energyJ: number;
}

export interface TritonState {
  models(): Array<{ model: string; version: string }>;
  pending(model: string, version: string): number;
  gpus(): TritonGpu[];
}

/** Triton's default pinned memory pool (`--pinned-memory-pool-byte-size`, 256 MiB). */
const PINNED_POOL_BYTES = 268435456;

interface ModelSeries {
  success: CounterChild;
  inferenceCount: CounterChild;
  execCount: CounterChild;
  durations: Array<[CounterChild, (r: TensorInferRecord) => number]>;
  failure: Map<string, CounterChild>;
}

export class TritonMetrics {
  readonly registry = new Registry();
  /** Per model and version: its series, looked up once per inference. */
  private readonly known = new Map<string, ModelSeries>();
  private readonly success: CounterFamily;
  private readonly failure: CounterFamily;
  private readonly inferenceCount: CounterFamily;
  private readonly execCount: CounterFamily;
  private readonly durations: Array<[CounterFamily, (r: TensorInferRecord) => number]>;
  /** Per-model counter families, in Triton's order (before the pending gauge and the GPU gauges). */
  private readonly accumulated: CounterFamily[];
  private lastCpu: { idle: number; total: number } | undefined;

  constructor(private readonly state: TritonState) {
    const registers = [this.registry];
    const labelNames = ["model", "version"];
    const counter = (name: string, help: string, extra: string[] = []): CounterFamily =>
      new CounterFamily(name, help, [...labelNames, ...extra]);
    this.success = counter("nv_inference_request_success", "Number of successful inference requests, all batch sizes");
    this.failure = counter("nv_inference_request_failure", "Number of failed inference requests, all batch sizes", [
      "reason",
    ]);
    this.inferenceCount = counter(
      "nv_inference_count",
      "Number of inferences performed (does not include cached requests)",
    );
    this.execCount = counter(
      "nv_inference_exec_count",
      "Number of model executions performed (does not include cached requests)",
    );
    this.durations = [
      [
        counter(
          "nv_inference_request_duration_us",
          "Cumulative inference request duration in microseconds (includes cached requests)",
        ),
        (r) => r.requestUs,
      ],
      [
        counter(
          "nv_inference_queue_duration_us",
          "Cumulative inference queuing duration in microseconds (includes cached requests)",
        ),
        (r) => r.queueUs,
      ],
      [
        counter(
          "nv_inference_compute_input_duration_us",
          "Cumulative compute input duration in microseconds (does not include cached requests)",
        ),
        (r) => r.computeInputUs,
      ],
      [
        counter(
          "nv_inference_compute_infer_duration_us",
          "Cumulative compute inference duration in microseconds (does not include cached requests)",
        ),
        (r) => r.computeInferUs,
      ],
      [
        counter(
          "nv_inference_compute_output_duration_us",
          "Cumulative inference compute output duration in microseconds (does not include cached requests)",
        ),
        (r) => r.computeOutputUs,
      ],
    ];
    this.accumulated = [
      this.success,
      this.failure,
      this.inferenceCount,
      this.execCount,
      ...this.durations.map(([c]) => c),
    ];
    const self = this;
    new Gauge({
      name: "nv_inference_pending_request_count",
      help: "Instantaneous number of pending requests awaiting execution per-model.",
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const key of self.modelsNow()) {
          const [model, version] = key.split("\u0000") as [string, string];
          this.set({ model, version }, self.state.pending(model, version));
        }
      },
    });
    const constant = (name: string, help: string, value: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value());
        },
      });
    };
    constant(
      "nv_pinned_memory_pool_total_bytes",
      "Pinned memory pool total memory size, in bytes",
      () => PINNED_POOL_BYTES,
    );
    constant("nv_pinned_memory_pool_used_bytes", "Pinned memory pool used memory size, in bytes", () => 0);

    const perGpu = (name: string, help: string, value: (g: TritonGpu) => number, type: "gauge" | "counter"): void => {
      const collect = function (this: Gauge<string> | Counter<string>): void {
        this.reset();
        for (const g of self.state.gpus()) {
          if (this instanceof Gauge) this.set({ gpu_uuid: g.uuid }, value(g));
          else this.inc({ gpu_uuid: g.uuid }, value(g));
        }
      };
      if (type === "gauge") new Gauge({ name, help, labelNames: ["gpu_uuid"], registers, collect });
      else new Counter({ name, help, labelNames: ["gpu_uuid"], registers, collect });
    };
    perGpu("nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0)", (g) => g.utilization, "gauge");
    perGpu("nv_gpu_memory_total_bytes", "GPU total memory, in bytes", (g) => g.memoryTotalBytes, "gauge");
    perGpu("nv_gpu_memory_used_bytes", "GPU used memory, in bytes", (g) => g.memoryUsedBytes, "gauge");
    perGpu("nv_gpu_power_usage", "GPU power usage in watts", (g) => g.powerW, "gauge");
    perGpu("nv_gpu_power_limit", "GPU power management limit in watts", (g) => g.powerLimitW, "gauge");
    perGpu(
      "nv_energy_consumption",
      "GPU energy consumption in joules since the Triton Server started",
      (g) => g.energyJ,
      "counter",
    );

    constant("nv_cpu_utilization", "CPU utilization rate [0.0 - 1.0]", () => this.cpuUtilization());
    constant("nv_cpu_memory_total_bytes", "CPU total memory (RAM), in bytes", () => totalmem());
    constant("nv_cpu_memory_used_bytes", "CPU used memory (RAM), in bytes", () => totalmem() - freemem());
    for (const m of this.state.models()) this.ensureModel(m.model, m.version);
  }

  private modelsNow(): string[] {
    for (const m of this.state.models()) this.ensureModel(m.model, m.version);
    return [...this.known.keys()];
  }

  /** Triton creates a loaded model's series (all four failure reasons included) at load time. */
  ensureModel(model: string, version: string): void {
    this.seriesFor(model, version);
  }

  private seriesFor(model: string, version: string): ModelSeries {
    const key = `${model}\u0000${version}`;
    let s = this.known.get(key);
    if (s) return s;
    const l = { model, version };
    s = {
      success: this.success.child(l),
      inferenceCount: this.inferenceCount.child(l),
      execCount: this.execCount.child(l),
      durations: this.durations.map(([c, value]) => [c.child(l), value]),
      failure: new Map(FAILURE_REASONS.map((reason) => [reason, this.failure.child({ ...l, reason })])),
    };
    this.known.set(key, s);
    return s;
  }

  infer(r: TensorInferRecord): void {
    const s = this.seriesFor(r.model, r.version);
    if (!r.success) {
      const reason = r.failureReason ?? "OTHER";
      let c = s.failure.get(reason);
      if (!c) {
        c = this.failure.child({ model: r.model, version: r.version, reason });
        s.failure.set(reason, c);
      }
      c.inc();
      return;
    }
    s.success.inc();
    s.inferenceCount.inc(Math.max(1, r.batchSize));
    if (r.executions > 0) s.execCount.inc(r.executions);
    for (const [c, v] of s.durations) c.inc(Math.max(0, Math.round(v(r))));
  }

  /** Share of CPU time not idle since the previous scrape, over all cores (as Triton reads /proc/stat). */
  private cpuUtilization(): number {
    let idle = 0;
    let total = 0;
    for (const c of cpus()) {
      idle += c.times.idle;
      total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
    }
    const prev = this.lastCpu;
    this.lastCpu = { idle, total };
    if (!prev || total <= prev.total) return 0;
    return Math.min(1, Math.max(0, 1 - (idle - prev.idle) / (total - prev.total)));
  }

  async families(): Promise<Family[]> {
    // Models loaded since the last scrape get their series before any family is read.
    this.modelsNow();
    const collected = (await this.registry.getMetricsAsJSON()) as unknown as Family[];
    return [...this.accumulated.map((f) => f.family()), ...collected];
  }
}
