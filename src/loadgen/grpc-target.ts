/**
 * KServe v2 gRPC target (inference.GRPCInferenceService). Tensors travel as
 * raw_input_contents, the form Triton's own clients use. Loaded lazily by the runner so that
 * REST and legacy runs never pay for grpc-js.
 */
import { credentials, status as GrpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  GRPCInferenceServiceClient,
  type ModelInferRequest,
  type ModelMetadataResponse,
} from "../../gen/proto/inference/grpc_service.js";
import type { Random } from "../engine/random.js";
import { CliError } from "./common/cli.js";
import { ResponseError, type Target } from "./targets.js";
import { type ModelMetadata, makeInputTensor, parseModelMetadata } from "./tensors.js";

const STATUS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(GrpcStatus)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k]),
);

export function describeGrpcError(err: ServiceError): string {
  const name = STATUS_NAMES[err.code] ?? String(err.code);
  const details = (err.details || err.message || "").split("\n")[0] ?? "";
  return `gRPC ${name}${details ? `: ${details}` : ""}`;
}

function isServiceError(err: unknown): err is ServiceError {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "number";
}

/** host:port from `grpc://h:p`, `http://h:p`, `https://h:p` or a bare `h:p`. */
export function grpcAddress(raw: string): { address: string; tls: boolean } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `grpc://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`invalid --url "${raw}" for gRPC: expected HOST:PORT or grpc://HOST:PORT`);
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (!["grpc", "grpcs", "http", "https"].includes(scheme))
    throw new CliError(`invalid --url "${raw}" for gRPC: unsupported scheme ${scheme}://`);
  if (!url.hostname) throw new CliError(`invalid --url "${raw}" for gRPC: no host`);
  const tls = scheme === "grpcs" || scheme === "https";
  const port = url.port || (tls ? "443" : "8001");
  const host = url.hostname.includes(":") && !url.hostname.startsWith("[") ? `[${url.hostname}]` : url.hostname;
  return { address: `${host}:${port}`, tls };
}

interface Prepared {
  meta: ModelMetadata;
  request: ModelInferRequest;
}

export class GrpcTarget implements Target {
  readonly protocol = "grpc" as const;
  private readonly clients: GRPCInferenceServiceClient[] = [];
  private next = 0;
  private readonly prepared = new Map<string, Prepared>();
  readonly address: string;

  /** `channels` > 1 opens separate HTTP/2 connections so one connection's stream limit is not the bottleneck. */
  constructor(url: string, channels: number) {
    const { address, tls } = grpcAddress(url);
    this.address = address;
    const creds = tls ? credentials.createSsl() : credentials.createInsecure();
    for (let i = 0; i < Math.max(1, channels); i++) {
      this.clients.push(
        new GRPCInferenceServiceClient(address, creds, {
          "grpc.max_receive_message_length": -1,
          "grpc.max_send_message_length": -1,
          "grpc.use_local_subchannel_pool": 1,
          // Distinct channel arguments keep grpc-js from sharing one connection between clients.
          "grpc.decoy_channel_index": i,
        }),
      );
    }
  }

  private client(): GRPCInferenceServiceClient {
    const c = this.clients[this.next % this.clients.length] as GRPCInferenceServiceClient;
    this.next++;
    return c;
  }

  async prepare(models: readonly string[], rng: Random): Promise<void> {
    const client = this.clients[0] as GRPCInferenceServiceClient;
    for (const model of models) {
      const res = await new Promise<ModelMetadataResponse>((resolve, reject) => {
        client.modelMetadata(
          { name: model, version: "" },
          new Metadata(),
          { deadline: Date.now() + 10_000 },
          (err, response) => (err ? reject(err) : resolve(response)),
        );
      }).catch((err: unknown) => {
        if (isServiceError(err)) {
          if (err.code === GrpcStatus.UNAVAILABLE || err.code === GrpcStatus.DEADLINE_EXCEEDED)
            throw new CliError(`cannot reach the gRPC server at ${this.address}: ${describeGrpcError(err)}`);
          if (err.code === GrpcStatus.NOT_FOUND)
            throw new CliError(`model "${model}" not found: ModelMetadata answered ${describeGrpcError(err)}`);
          throw new CliError(`ModelMetadata for "${model}" failed: ${describeGrpcError(err)}`);
        }
        throw err;
      });
      const meta = parseModelMetadata(res, `gRPC ModelMetadata(${model})`);
      const tensors = meta.inputs.map((t) => makeInputTensor(t, rng.fork(`${model}/${t.name}`)));
      this.prepared.set(model, {
        meta,
        request: {
          modelName: model,
          modelVersion: "",
          id: "",
          parameters: {},
          inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: {} })),
          outputs: meta.outputs.map((o) => ({ name: o.name, parameters: {} })),
          rawInputContents: tensors.map((t) => t.bytes),
        },
      });
    }
  }

  async warm(): Promise<void> {
    await Promise.all(
      this.clients.map(
        (c) =>
          new Promise<void>((resolve, reject) =>
            c.waitForReady(Date.now() + 10_000, (err) =>
              err ? reject(new CliError(`cannot reach the gRPC server at ${this.address}: ${err.message}`)) : resolve(),
            ),
          ),
      ),
    );
  }

  infer(model: string, _tag: number, signal: AbortSignal, timeoutMs: number): Promise<void> {
    const p = this.prepared.get(model);
    if (!p) return Promise.reject(new Error(`model ${model} was not prepared`));
    return new Promise<void>((resolve, reject) => {
      const call = this.client().modelInfer(
        p.request,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, response) => {
          signal.removeEventListener("abort", onAbort);
          if (err) reject(new ResponseError(describeGrpcError(err)));
          else if (!response || response.outputs.length === 0) reject(new ResponseError("response has no outputs"));
          else resolve();
        },
      );
      const onAbort = (): void => call.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  metadata(model: string): ModelMetadata | undefined {
    return this.prepared.get(model)?.meta;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
