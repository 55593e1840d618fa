/**
 * A fake vision/NLP model served over KServe v2: it answers after a simulated execution time
 * (base + per-item batch cost + jitter, a deadline on the engine scheduler), optionally with a
 * limited number of instances and a FIFO queue in front of them, optionally with Triton's
 * dynamic batcher combining queued requests into one execution, and builds outputs with the
 * fake its definition names.
 */
import type { Engine } from "../engine.js";
import { DecoyError } from "../errors.js";
import type { Random } from "../random.js";
import { hashString } from "../random.js";
import type { Deadline } from "../scheduler.js";
import { type DynamicBatching, type ModelDefinition, modelFileFor } from "./definition.js";
import { ClassificationOutputs } from "./fakes/classification.js";
import { DetectionOutputs } from "./fakes/detection.js";
import { itemHashes, type OutputGenerator, type OutputRequest } from "./fakes/generator.js";
import { GenericOutputs } from "./fakes/generic.js";
import { QuestionAnsweringOutputs } from "./fakes/question-answering.js";
import type { InferInput, InferOutput, InferTiming, ServedModel, TensorSpec } from "./types.js";

/** Global overrides of every tensor model's settings (null = use the model's own). */
export interface TensorModelOverrides {
  baseMs: number | null;
  perItemMs: number | null;
  stdDevMs: number | null;
  instances: number | null;
  /** Dynamic batching for every model with a batch dimension, with this max queue delay (µs). */
  maxQueueDelayUs?: number | null | undefined;
}

/** Share of an execution spent copying inputs in and outputs out (the rest is compute_infer). */
const INPUT_SHARE = 0.05;
const OUTPUT_SHARE = 0.05;

/** One request: waiting, then part of an execution, then settled (answered or cancelled). */
interface Job {
  /** Batch items the request carries (dimension 0, or 1). */
  items: number;
  arrival: number;
  cancelled: boolean;
  settled: boolean;
  execution: Execution | undefined;
  finish(timing: InferTiming): void;
}

/** One run of the model over one or more requests (several only with dynamic batching). */
interface Execution {
  jobs: Job[];
  /** Requests of it not cancelled yet: when none is left the instance is freed at once. */
  live: number;
  deadline: Deadline | undefined;
}

function createGenerator(def: ModelDefinition, salt: string): OutputGenerator {
  const batched = def.maxBatchSize > 0;
  switch (def.kind) {
    case "classification":
      return new ClassificationOutputs(salt, batched);
    case "detection": {
      const img = def.inputs[0]?.shape ?? [];
      const h = img[img.length - 2] ?? -1;
      const w = img[img.length - 1] ?? -1;
      return new DetectionOutputs(salt, batched, w > 0 ? w : 640, h > 0 ? h : 640);
    }
    case "question_answering":
      return new QuestionAnsweringOutputs(salt, batched);
    default:
      return new GenericOutputs(salt, batched);
  }
}

export class TensorModel implements ServedModel {
  readonly name: string;
  readonly platform: string;
  readonly versions: string[];
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  readonly maxBatchSize: number;
  readonly decoupled = false;
  private readonly generator: OutputGenerator;
  private readonly rng: Random;
  private readonly salt: number;
  private busy = 0;
  private readonly waiting: Job[] = [];
  private head = 0;

  constructor(
    readonly definition: ModelDefinition,
    private readonly engine: Engine,
    private readonly overrides: () => TensorModelOverrides,
    seed: number | string,
  ) {
    this.name = definition.name;
    this.platform = definition.platform;
    this.versions = [...definition.versions];
    this.inputs = definition.inputs;
    this.outputs = definition.outputs;
    this.maxBatchSize = definition.maxBatchSize;
    const salt = `${seed}:${definition.name}`;
    this.salt = hashString(salt);
    this.generator = createGenerator(definition, salt);
    this.rng = engine.random.fork(`tensor-model:${definition.name}`);
  }

  /** Executions running now. */
  get executing(): number {
    return this.busy;
  }

  /** Requests waiting for an instance. */
  get queued(): number {
    let n = 0;
    for (let i = this.head; i < this.waiting.length; i++) if (!(this.waiting[i] as Job).cancelled) n++;
    return n;
  }

  private instanceLimit(): number {
    return this.overrides().instances ?? this.definition.instances;
  }

  /** Simulated execution time of one batch, ms. */
  executionMs(batch: number): number {
    const o = this.overrides();
    const l = this.definition.latency;
    const base = o.baseMs ?? l.baseMs;
    const per = o.perItemMs ?? l.perItemMs;
    const sd = o.stdDevMs ?? l.stdDevMs;
    const jitter = sd > 0 ? this.rng.normal(0, sd) : 0;
    return Math.max(0, base + per * batch + jitter);
  }

  infer(req: InferInput): Promise<InferOutput> {
    const batched = this.maxBatchSize > 0;
    const first = req.inputs[0];
    const batch = batched && first && first.shape.length > 0 ? Math.max(1, first.shape[0] as number) : 1;
    const wanted = req.requestedOutputs
      ? req.requestedOutputs.map((n) => this.outputs.find((o) => o.name === n) as TensorSpec).filter(Boolean)
      : this.outputs;
    const outputs: OutputRequest[] = wanted.map((spec) => ({ spec, shape: this.outputShape(spec, req, batch) }));
    const version = req.version || (this.versions[this.versions.length - 1] as string);
    const scheduler = this.engine.scheduler;
    const arrival = scheduler.now();

    return new Promise<InferOutput>((resolve, reject) => {
      const signal = req.signal;
      const abortReason = (): DecoyError =>
        signal.reason instanceof DecoyError
          ? signal.reason
          : new DecoyError("CANCELLED", `inference on model '${this.name}' was cancelled`);
      const job: Job = {
        items: batch,
        arrival,
        cancelled: false,
        settled: false,
        execution: undefined,
        finish: (timing) => {
          job.settled = true;
          signal.removeEventListener("abort", onAbort);
          try {
            const hashes = itemHashes(req.inputs, batch, batched, this.salt);
            const tensors = this.generator.generate(req.inputs, batch, outputs, hashes);
            resolve({
              id: req.id,
              modelName: this.name,
              modelVersion: version,
              outputs: tensors,
              parameters: {},
              timing,
            });
          } catch (err) {
            reject(err);
          }
        },
      };
      const onAbort = () => {
        if (job.settled) return;
        job.settled = true;
        job.cancelled = true;
        const ex = job.execution;
        // an execution nobody waits for any more frees its instance at once
        if (ex && --ex.live === 0) {
          scheduler.cancel(ex.deadline);
          ex.deadline = undefined;
          this.release(scheduler.now());
        }
        reject(abortReason());
      };
      if (signal.aborted) {
        job.settled = true;
        reject(abortReason());
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      this.submit(job, arrival);
    });
  }

  /** Triton's dynamic batcher settings in force: the model's own, or the global override. */
  private batcher(): DynamicBatching | undefined {
    if (this.maxBatchSize <= 0) return undefined;
    const own = this.definition.dynamicBatching;
    const delay = this.overrides().maxQueueDelayUs;
    if (delay === null || delay === undefined) return own;
    return { preferredBatchSizes: own?.preferredBatchSizes ?? [], maxQueueDelayUs: delay };
  }

  private submit(job: Job, now: number): void {
    if (this.batcher()) {
      this.waiting.push(job);
      this.dispatch(now);
      return;
    }
    const limit = this.instanceLimit();
    if (limit <= 0 || (this.busy < limit && this.head === this.waiting.length)) this.execute([job], now);
    else this.waiting.push(job);
  }

  /** Run `jobs` as one execution on a free instance, starting `now`. */
  private execute(jobs: Job[], now: number): void {
    this.busy++;
    let items = 0;
    for (const j of jobs) items += j.items;
    const total = this.executionMs(items);
    const end = now + total;
    const ex: Execution = { jobs, live: jobs.length, deadline: undefined };
    for (const j of jobs) j.execution = ex;
    ex.deadline = this.engine.scheduler.at(end, () => {
      ex.deadline = undefined;
      // The next request starts at this deadline, not at the (possibly early) tick.
      this.release(end);
      // Triton counts an execution once, with the size of the whole batch.
      let counted = false;
      for (const j of jobs) {
        if (j.settled) continue;
        j.finish({
          queueMs: now - j.arrival,
          computeInputMs: total * INPUT_SHARE,
          computeInferMs: total * (1 - INPUT_SHARE - OUTPUT_SHARE),
          computeOutputMs: total * OUTPUT_SHARE,
          batchSize: j.items,
          executionSize: items,
          executions: counted ? 0 : 1,
        });
        counted = true;
      }
    });
  }

  /** Free an instance and start what waits: the oldest request, or the next dynamic batch. */
  private release(at: number): void {
    this.busy--;
    if (this.batcher()) this.dispatch(at);
    else {
      const limit = this.instanceLimit();
      while (this.head < this.waiting.length && (limit <= 0 || this.busy < limit)) {
        const job = this.waiting[this.head++] as Job;
        if (!job.cancelled) this.execute([job], at);
      }
    }
    this.compact();
  }

  private compact(): void {
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * The dynamic batcher: while an instance is free, take the oldest waiting requests that fit
   * in max_batch_size together. They leave at once when the batch cannot grow (full, or the
   * next request does not fit), has reached the largest preferred size, or its oldest request
   * has waited max_queue_delay; otherwise the batcher looks again when that delay runs out.
   */
  private dispatch(now: number): void {
    const db = this.batcher();
    if (!db) return;
    const limit = this.instanceLimit();
    const preferred = db.preferredBatchSizes.length ? Math.max(...db.preferredBatchSizes) : 0;
    const delayMs = db.maxQueueDelayUs / 1000;
    while (limit <= 0 || this.busy < limit) {
      while (this.head < this.waiting.length && (this.waiting[this.head] as Job).cancelled) this.head++;
      if (this.head >= this.waiting.length) break;
      const batch: Job[] = [];
      let items = 0;
      let i = this.head;
      let full = false;
      for (; i < this.waiting.length; i++) {
        const j = this.waiting[i] as Job;
        if (j.cancelled) continue;
        if (items + j.items > this.maxBatchSize && batch.length > 0) {
          full = true;
          break;
        }
        batch.push(j);
        items += j.items;
      }
      const oldest = batch[0] as Job;
      const due = oldest.arrival + delayMs;
      if (!(full || items >= this.maxBatchSize || (preferred > 0 && items >= preferred) || now >= due)) {
        this.wakeAt(due);
        break;
      }
      this.head = i;
      this.execute(batch, now);
    }
    this.compact();
  }

  private batchTimer: Deadline | undefined;

  /** Look at the queue again at `at` (one pending wake-up per model, the earliest wins). */
  private wakeAt(at: number): void {
    const scheduler = this.engine.scheduler;
    if (this.batchTimer && this.batchTimer.index >= 0) {
      if (this.batchTimer.at <= at) return;
      scheduler.cancel(this.batchTimer);
    }
    this.batchTimer = scheduler.at(at, (tickNow) => {
      this.batchTimer = undefined;
      this.dispatch(Math.max(tickNow, at));
    });
  }

  /** The declared shape made concrete: batch first, other dynamic dims from a matching input. */
  private outputShape(spec: TensorSpec, req: InferInput, batch: number): number[] {
    return spec.shape.map((d, i) => {
      if (d !== -1) return d;
      if (i === 0 && this.maxBatchSize > 0) return batch;
      for (const t of req.inputs) {
        const s = this.inputs.find((x) => x.name === t.name);
        if (s && s.shape.length === spec.shape.length && s.shape[i] === -1 && t.shape[i] !== undefined)
          return t.shape[i] as number;
      }
      return 1;
    });
  }

  /** Triton's JSON model configuration (model_config.proto field names). */
  config(): Record<string, unknown> {
    const d = this.definition;
    const dims = (s: TensorSpec) => (d.maxBatchSize > 0 ? s.shape.slice(1) : s.shape);
    const dataType = (dt: string) => `TYPE_${dt === "BYTES" ? "STRING" : dt}`;
    const limit = this.instanceLimit();
    const db = this.batcher();
    return {
      name: d.name,
      platform: d.platform,
      backend: d.backend,
      version_policy: { latest: { num_versions: d.versions.length } },
      max_batch_size: d.maxBatchSize,
      input: d.inputs.map((s) => ({
        name: s.name,
        data_type: dataType(s.datatype),
        format: d.kind === "classification" || d.kind === "detection" ? "FORMAT_NCHW" : "FORMAT_NONE",
        dims: dims(s),
        is_shape_tensor: false,
        allow_ragged_batch: false,
        optional: s.optional === true,
      })),
      output: d.outputs.map((s) => ({
        name: s.name,
        data_type: dataType(s.datatype),
        dims: dims(s),
        label_filename: "",
        is_shape_tensor: false,
      })),
      batch_input: [],
      batch_output: [],
      ...(db
        ? {
            dynamic_batching: {
              preferred_batch_size: db.preferredBatchSizes,
              max_queue_delay_microseconds: db.maxQueueDelayUs,
              preserve_ordering: false,
              priority_levels: 0,
              default_priority_level: 0,
              priority_queue_policy: {},
            },
          }
        : {}),
      optimization: {
        priority: "PRIORITY_DEFAULT",
        input_pinned_memory: { enable: true },
        output_pinned_memory: { enable: true },
        gather_kernel_buffer_threshold: 0,
        eager_batching: false,
      },
      instance_group: [
        {
          name: `${d.name}_0`,
          kind: "KIND_GPU",
          count: limit > 0 ? limit : 1,
          gpus: [0],
          secondary_devices: [],
          profile: [],
          passive: false,
          host_policy: "",
        },
      ],
      default_model_filename: modelFileFor(d.platform),
      cc_model_filenames: {},
      metric_tags: {},
      parameters: {},
      model_warmup: [],
    };
  }
}
