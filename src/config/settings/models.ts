import { defineSettings } from "../define.js";

/** KServe v2 tensor models (resnet, yolo, bert and user-declared ones) and the seed's legacy routes. */
export const modelSettings = defineSettings({
  modelRepository: {
    type: "string",
    default: null,
    nullable: true,
    description:
      "YAML or JSON model repository file declaring tensor models (see docs); unset serves the built-in resnet, yolo and bert.",
    group: "Models",
    placeholder: "PATH",
  },
  modelLatencyMs: {
    type: "number",
    default: null,
    nullable: true,
    minimum: 0,
    description: "Base execution time of every tensor model, ms, overriding each model's own base_ms.",
    group: "Models",
    runtime: true,
    placeholder: "MS",
  },
  modelPerItemLatencyMs: {
    type: "number",
    default: null,
    nullable: true,
    minimum: 0,
    description: "Extra execution time per batch item of every tensor model, ms, overriding per_item_ms.",
    group: "Models",
    runtime: true,
    placeholder: "MS",
  },
  modelLatencyStdDevMs: {
    type: "number",
    default: null,
    nullable: true,
    minimum: 0,
    description: "Standard deviation of the execution-time jitter of every tensor model, ms, overriding std_dev_ms.",
    group: "Models",
    runtime: true,
    placeholder: "MS",
  },
  modelInstances: {
    type: "integer",
    default: null,
    nullable: true,
    minimum: 0,
    description:
      "Concurrent executions per tensor model (Triton instance count), overriding each model's own; 0 = unlimited. Extra requests queue FIFO.",
    group: "Models",
    runtime: true,
  },
  modelMaxQueueDelayUs: {
    type: "integer",
    default: null,
    nullable: true,
    minimum: 0,
    description:
      "Triton dynamic batching for every tensor model with a batch dimension: queued requests leave together as one execution (up to max_batch_size items) once the oldest has waited this long, µs; 0 batches what is queued without waiting. Unset: each model's own dynamic_batching.",
    group: "Models",
    runtime: true,
    placeholder: "US",
  },
  sleep: {
    type: "number",
    default: 0.5,
    minimum: 0,
    description:
      "Simulated inference time of the legacy /resnet/, /yolo/ and /bert/ routes, in seconds (as the seed's --sleep).",
    group: "Models",
    runtime: true,
    placeholder: "SECONDS",
  },
});
