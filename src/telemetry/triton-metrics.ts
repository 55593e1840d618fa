import { cpus, freemem, totalmem } from "node:os";
import { Counter, Gauge, Registry } from "prom-client";
import type { TensorInferRecord } from "../engine/events.js";
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

export class TritonMetrics {
  readonly registry = new Registry();
  private readonly known = new Set<string>();
  private readonly success: Counter<string>;
  private readonly failure: Counter<string>;
  private readonly inferenceCount: Counter<string>;
  private readonly execCount: Counter<string>;
  private readonly durations: Array<[Counter<string>, (r: TensorInferRecord) => number]>;
  private lastCpu: { idle: number; total: number } | undefined;

  constructor(private readonly state: TritonState) {
    const registers = [this.registry];
    const labelNames = ["model", "version"];
    const counter = (name: string, help: string, extra: string[] = []): Counter<string> =>
      new Counter({ name, help, labelNames: [...labelNames, ...extra], registers });
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
    return [...this.known];
  }

  /** Triton creates a loaded model's series (all four failure reasons included) at load time. */
  ensureModel(model: string, version: string): void {
    const key = `${model}\u0000${version}`;
    if (this.known.has(key)) return;
    this.known.add(key);
    const l = { model, version };
    for (const c of [this.success, this.inferenceCount, this.execCount, ...this.durations.map(([c]) => c)]) c.inc(l, 0);
    for (const reason of FAILURE_REASONS) this.failure.inc({ ...l, reason }, 0);
  }

  infer(r: TensorInferRecord): void {
    this.ensureModel(r.model, r.version);
    const l = { model: r.model, version: r.version };
    if (!r.success) {
      this.failure.inc({ ...l, reason: r.failureReason ?? "OTHER" });
      return;
    }
    this.success.inc(l);
    this.inferenceCount.inc(l, Math.max(1, r.batchSize));
    this.execCount.inc(l);
    for (const [c, v] of this.durations) c.inc(l, Math.max(0, Math.round(v(r))));
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
    return (await this.registry.getMetricsAsJSON()) as unknown as Family[];
  }
}
