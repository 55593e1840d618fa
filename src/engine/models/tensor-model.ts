/**
 * A fake vision/NLP model served over KServe v2: it answers after a simulated execution time
 * (base + per-item batch cost + jitter, a deadline on the engine scheduler), optionally with a
 * limited number of instances and a FIFO queue in front of them, and builds outputs with the
 * fake its definition names.
 */
import type { Engine } from "../engine.js";
import { DecoyError } from "../errors.js";
import type { Random } from "../random.js";
import { hashString } from "../random.js";
import type { Deadline } from "../scheduler.js";
import { type ModelDefinition, modelFileFor } from "./definition.js";
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
}

/** Share of an execution spent copying inputs in and outputs out (the rest is compute_infer). */
const INPUT_SHARE = 0.05;
const OUTPUT_SHARE = 0.05;

interface Job {
  start(now: number): void;
  cancelled: boolean;
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
      let deadline: Deadline | undefined;
      let settled = false;
      const abortReason = (): DecoyError =>
        signal.reason instanceof DecoyError
          ? signal.reason
          : new DecoyError("CANCELLED", `inference on model '${this.name}' was cancelled`);
      const job: Job = {
        cancelled: false,
        start: (now) => {
          this.busy++;
          const queueMs = now - arrival;
          const total = this.executionMs(batch);
          const end = now + total;
          deadline = scheduler.at(end, () => {
            deadline = undefined;
            // The next request starts at this deadline, not at the (possibly early) tick.
            this.release(end);
            if (settled) return;
            settled = true;
            signal.removeEventListener("abort", onAbort);
            try {
              const hashes = itemHashes(req.inputs, batch, batched, this.salt);
              const tensors = this.generator.generate(req.inputs, batch, outputs, hashes);
              const timing: InferTiming = {
                queueMs,
                computeInputMs: total * INPUT_SHARE,
                computeInferMs: total * (1 - INPUT_SHARE - OUTPUT_SHARE),
                computeOutputMs: total * OUTPUT_SHARE,
                batchSize: batch,
              };
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
          });
        },
      };
      const onAbort = () => {
        if (settled) return;
        settled = true;
        job.cancelled = true;
        if (deadline) {
          scheduler.cancel(deadline);
          deadline = undefined;
          this.release(scheduler.now());
        }
        reject(abortReason());
      };
      if (signal.aborted) {
        settled = true;
        reject(abortReason());
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      const limit = this.instanceLimit();
      if (limit <= 0 || (this.busy < limit && this.head === this.waiting.length)) job.start(arrival);
      else this.waiting.push(job);
    });
  }

  /** Free an instance and start the oldest waiting request, if any. */
  private release(at: number): void {
    this.busy--;
    const limit = this.instanceLimit();
    while (this.head < this.waiting.length && (limit <= 0 || this.busy < limit)) {
      const job = this.waiting[this.head++] as Job;
      if (!job.cancelled) job.start(at);
    }
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
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
