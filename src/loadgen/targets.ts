/**
 * The three ways `decoy loadgen` can reach a model: the legacy JSON routes, KServe v2
 * REST (with Triton's binary tensor extension by default) and KServe v2 gRPC. Each target
 * prepares its request once (metadata, tensors, serialised body) and then only replays it, so
 * the client spends its time waiting on the server rather than building payloads.
 */
import type { Random } from "../engine/random.js";
import { CliError, describeError, joinPath } from "./common/cli.js";
import { describeHttpStatus, HttpClient } from "./common/http.js";
import { type InputTensor, type ModelMetadata, makeInputTensor, parseModelMetadata } from "./tensors.js";

export type Protocol = "rest" | "legacy" | "grpc";

export interface Target {
  readonly protocol: Protocol;
  /** Fetches what the requests need (metadata) and builds them; fails with a CliError. */
  prepare(models: readonly string[], rng: Random): Promise<void>;
  /** Opens connections ahead of the measured run. */
  warm(connections: number): Promise<void>;
  /** One inference; resolves on success, rejects with a describable error otherwise. */
  infer(model: string, tag: number, signal: AbortSignal, timeoutMs: number): Promise<void>;
  /** Model metadata as fetched (empty for legacy routes). */
  metadata(model: string): ModelMetadata | undefined;
  close(): void;
}

export class ResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResponseError";
  }
}

function unreachable(url: string, err: unknown): CliError {
  return new CliError(`cannot reach the server at ${url}: ${describeError(err)}`);
}

/** Legacy routes: POST /{model}/ with `{"tag": n}`, answered with JSON. */
export class LegacyTarget implements Target {
  readonly protocol = "legacy" as const;
  private readonly client: HttpClient;

  constructor(
    private readonly base: URL,
    maxSockets: number,
  ) {
    this.client = new HttpClient(base, { maxSockets });
  }

  async prepare(): Promise<void> {
    let res: Awaited<ReturnType<HttpClient["request"]>>;
    try {
      res = await this.client.request({ path: joinPath(this.base, "/health/"), timeoutMs: 10_000 });
    } catch (err) {
      throw unreachable(this.base.origin, err);
    }
    if (res.status !== 200) {
      process.stderr.write(
        `decoy loadgen: warning: GET /health/ answered ${describeHttpStatus(res.status, res.body)}; continuing\n`,
      );
    }
  }

  warm(connections: number): Promise<void> {
    return this.client.warm(connections, joinPath(this.base, "/health/"));
  }

  async infer(model: string, tag: number, signal: AbortSignal, timeoutMs: number): Promise<void> {
    const res = await this.client.request({
      method: "POST",
      path: joinPath(this.base, `/${encodeURIComponent(model)}/`),
      headers: { "content-type": "application/json" },
      body: `{"tag":${tag}}`,
      signal,
      timeoutMs,
    });
    if (res.status !== 200) throw new ResponseError(describeHttpStatus(res.status, res.body));
  }

  metadata(): undefined {
    return undefined;
  }

  close(): void {
    this.client.close();
  }
}

interface PreparedRest {
  meta: ModelMetadata;
  body: Buffer;
  headers: Record<string, string | number>;
}

/** KServe v2 REST: POST /v2/models/{m}/infer, binary tensors unless `binaryData` is off. */
export class RestTarget implements Target {
  readonly protocol = "rest" as const;
  private readonly client: HttpClient;
  private readonly prepared = new Map<string, PreparedRest>();

  constructor(
    private readonly base: URL,
    maxSockets: number,
    private readonly binaryData: boolean,
  ) {
    this.client = new HttpClient(base, { maxSockets });
  }

  async prepare(models: readonly string[], rng: Random): Promise<void> {
    for (const model of models) {
      const path = joinPath(this.base, `/v2/models/${encodeURIComponent(model)}`);
      let res: Awaited<ReturnType<HttpClient["request"]>>;
      try {
        res = await this.client.request({ path, timeoutMs: 10_000 });
      } catch (err) {
        throw unreachable(this.base.origin, err);
      }
      if (res.status === 404) {
        throw new CliError(
          `model "${model}" not found: GET ${path} answered ${describeHttpStatus(res.status, res.body)}`,
        );
      }
      if (res.status !== 200) throw new CliError(`GET ${path} answered ${describeHttpStatus(res.status, res.body)}`);
      let raw: unknown;
      try {
        raw = JSON.parse(res.body.toString("utf8"));
      } catch {
        throw new CliError(`GET ${path} did not answer JSON (is ${this.base.origin} a KServe v2 server?)`);
      }
      const meta = parseModelMetadata(raw, `GET ${path}`);
      const tensors = meta.inputs.map((t) => makeInputTensor(t, rng.fork(`${model}/${t.name}`)));
      this.prepared.set(model, { meta, ...this.buildRequest(meta, tensors) });
    }
  }

  private buildRequest(meta: ModelMetadata, tensors: InputTensor[]): Omit<PreparedRest, "meta"> {
    if (!this.binaryData) {
      const doc = {
        inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.json() })),
        outputs: meta.outputs.map((o) => ({ name: o.name })),
      };
      return { body: Buffer.from(JSON.stringify(doc)), headers: { "content-type": "application/json" } };
    }
    const header = Buffer.from(
      JSON.stringify({
        inputs: tensors.map((t) => ({
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
          parameters: { binary_data_size: t.bytes.length },
        })),
        outputs: meta.outputs.map((o) => ({ name: o.name, parameters: { binary_data: true } })),
      }),
    );
    return {
      body: Buffer.concat([header, ...tensors.map((t) => t.bytes)]),
      headers: {
        "content-type": "application/octet-stream",
        "inference-header-content-length": header.length,
      },
    };
  }

  warm(connections: number): Promise<void> {
    return this.client.warm(connections, joinPath(this.base, "/v2/health/ready"));
  }

  async infer(model: string, _tag: number, signal: AbortSignal, timeoutMs: number): Promise<void> {
    const p = this.prepared.get(model);
    if (!p) throw new Error(`model ${model} was not prepared`);
    const res = await this.client.request({
      method: "POST",
      path: joinPath(this.base, `/v2/models/${encodeURIComponent(model)}/infer`),
      headers: p.headers,
      body: p.body,
      signal,
      timeoutMs,
    });
    if (res.status !== 200) throw new ResponseError(describeHttpStatus(res.status, res.body));
    const headerLength = res.headers["inference-header-content-length"];
    if (headerLength !== undefined) {
      // Checking the JSON header (not the tensor bytes) catches a broken response cheaply.
      const n = Number(headerLength);
      if (!Number.isInteger(n) || n < 0 || n > res.body.length)
        throw new ResponseError(`bad Inference-Header-Content-Length ${String(headerLength)}`);
      let doc: { outputs?: unknown };
      try {
        doc = JSON.parse(res.body.subarray(0, n).toString("utf8")) as { outputs?: unknown };
      } catch {
        throw new ResponseError("response header is not JSON");
      }
      if (!Array.isArray(doc.outputs)) throw new ResponseError("response has no outputs");
    }
  }

  metadata(model: string): ModelMetadata | undefined {
    return this.prepared.get(model)?.meta;
  }

  close(): void {
    this.client.close();
  }
}
