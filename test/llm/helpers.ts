import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { ConfigStore, loadConfig } from "../../src/config/load.js";
import { FakeClock } from "../../src/engine/clock.js";
import { Engine } from "../../src/engine/engine.js";
import type { DecoyError } from "../../src/engine/errors.js";
import type { JobSink, LlmJob } from "../../src/engine/llm/job.js";
import { LlmService } from "../../src/engine/llm/service.js";
import type { LlmRequest } from "../../src/engine/llm/types.js";
import { PROJECT_ROOT } from "../../src/version.js";

/** An LLM service on a fake clock, configured with setting keys as flags. */
export function fakeLlm(flags: Record<string, unknown> = {}): {
  clock: FakeClock;
  engine: Engine;
  llm: LlmService;
  config: ConfigStore;
} {
  const { config } = loadConfig({ flags: { seed: 7, ...flags } });
  const store = new ConfigStore(config);
  const clock = new FakeClock();
  const engine = new Engine({ config: store, clock });
  return { clock, engine, llm: new LlmService(engine), config: store };
}

export interface Recorded {
  job?: LlmJob;
  /** [clock time, from, to] per firing. */
  fires: [number, number, number][];
  doneAt?: number;
  error?: DecoyError;
}

/**
 * A sink that records when each firing happened (streaming when `perToken`). Times are
 * rounded to 0.5 ms: the scheduler fires deadlines up to 0.25 ms early by design.
 */
export function recorder(clock: FakeClock, perToken = true): { sink: JobSink; rec: Recorded } {
  const rec: Recorded = { fires: [] };
  const now = () => Math.round(clock.now() * 2) / 2;
  const sink: JobSink = {
    onDone: (job) => {
      rec.job = job;
      rec.doneAt = now();
    },
    onError: (job, err) => {
      rec.job = job;
      rec.error = err;
    },
  };
  if (perToken) sink.onTokens = (_job, from, to) => rec.fires.push([now(), from, to]);
  return { sink, rec };
}

export function completion(prompt: string, extra: Partial<LlmRequest> = {}): LlmRequest {
  return { api: "completion", prompts: [prompt], stream: true, ...extra };
}

export function chat(content: string, extra: Partial<LlmRequest> = {}): LlmRequest {
  return { api: "chat", messages: [{ role: "user", content }], stream: false, ...extra };
}

const ajv = new Ajv({ strict: false, allErrors: true });
const compiled = new Map<string, ValidateFunction>();

/** A validator for a component schema of a bundled OpenAPI document in gen/schemas. */
export function schemaValidator(doc: string, component: string): ValidateFunction {
  const key = `${doc}#${component}`;
  let v = compiled.get(key);
  if (!v) {
    const bundle = JSON.parse(readFileSync(join(PROJECT_ROOT, "gen", "schemas", `${doc}.json`), "utf8")) as {
      components: { schemas: Record<string, object> };
    };
    const schema = bundle.components.schemas[component];
    if (!schema) throw new Error(`no schema ${component} in gen/schemas/${doc}.json`);
    v = ajv.compile(schema);
    compiled.set(key, v);
  }
  return v;
}

/** Throws with ajv's messages when `value` does not match. */
export function assertSchema(doc: string, component: string, value: unknown): void {
  const v = schemaValidator(doc, component);
  if (!v(value)) {
    const why = (v.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`).join("; ");
    throw new Error(`${component} does not match its schema: ${why}\n${JSON.stringify(value).slice(0, 500)}`);
  }
}

/** Parses an SSE body into its `data:` payloads. */
export function sseData(body: string): string[] {
  return body
    .split("\n\n")
    .map((e) => e.trim())
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice("data: ".length));
}
