import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { ConfigStore } from "./config/load.js";
import type { Config } from "./config/schema.js";
import type { AppContext } from "./context.js";
import type { Clock } from "./engine/clock.js";
import { Engine } from "./engine/engine.js";
import { kvTopic } from "./engine/kv-events.js";
import { registerLlmModels } from "./engine/llm/kserve-model.js";
import { LlmService } from "./engine/llm/service.js";
import { createModelRepository } from "./engine/models/repository-file.js";
import { createRealism } from "./engine/realism.js";
import { realismHooks } from "./engine/realism-hooks.js";
import { bindGrpc, buildGrpcServer } from "./grpc/server.js";
import { buildApp } from "./http/app.js";
import { type MetricsServer, startMetricsServer } from "./http/plugins/metrics.js";
import { createTelemetry } from "./telemetry/wiring.js";
import { VERSION } from "./version.js";

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

export interface DecoyServer {
  ctx: AppContext;
  http: FastifyInstance;
  httpUrl: string;
  grpcAddress: string;
  httpPort: number;
  grpcPort: number;
  /** Port of the separate metrics listener (--metrics-port), when one was asked for. */
  metricsPort?: number;
  /** Drain in-flight work (up to shutdownTimeoutMs), then close both servers. */
  close(): Promise<{ cancelled: number }>;
}

export interface StartOptions {
  clock?: Clock;
}

/** Build the shared context: one engine and one config store for every transport. */
export function createContext(config: Config, options: StartOptions = {}): AppContext {
  const store = new ConfigStore(config);
  const engine = new Engine(options.clock ? { config: store, clock: options.clock } : { config: store });
  const models = createModelRepository(engine);
  const llm = new LlmService(engine);
  registerLlmModels(models, llm);
  const realism = createRealism(engine, store);
  llm.use(realismHooks(realism));
  models.setTensorAdmission((name) => realism.faults.draw(realism.faults.random, name));
  realism.kv?.setLoraResolver((name) => llm.models.lora(name) !== undefined);
  const base = {
    engine,
    config: store,
    version: VERSION,
    models,
    llm,
    ...realism,
  };
  return { ...base, telemetry: createTelemetry(base) };
}

function listenError(err: unknown, what: string, host: string, port: number, flag: string): StartupError {
  const e = err as NodeJS.ErrnoException;
  const text = `${e?.code ?? ""} ${e?.message ?? String(err)}`;
  if (/EADDRINUSE|address already in use/i.test(text)) {
    return new StartupError(`cannot listen on ${host}:${port} for ${what}: address already in use (set ${flag})`);
  }
  if (/EACCES/i.test(text))
    return new StartupError(`cannot listen on ${host}:${port} for ${what}: permission denied (set ${flag})`);
  if (/EADDRNOTAVAIL|ENOTFOUND/i.test(text))
    return new StartupError(`cannot listen on ${host}:${port} for ${what}: address not available (set --host)`);
  return new StartupError(`cannot listen on ${host}:${port} for ${what}: ${e?.message ?? String(err)}`);
}

export async function startDecoy(config: Config, options: StartOptions = {}): Promise<DecoyServer> {
  const ctx = createContext(config, options);
  const http = await buildApp(ctx);
  const grpc = buildGrpcServer(ctx);
  const host = config.host;

  try {
    // A deep accept backlog: load tests open a thousand connections at once, and SYNs beyond
    // Node's default of 511 would be retried a second later.
    await http.listen({ host, port: config.port, backlog: 4096 });
  } catch (err) {
    ctx.engine.close();
    await ctx.kvEvents?.close();
    throw listenError(err, "HTTP", host, config.port, "--port");
  }
  let grpcPort: number;
  try {
    grpcPort = await bindGrpc(grpc.server, host, config.grpcPort);
  } catch (err) {
    await http.close();
    ctx.engine.close();
    await ctx.kvEvents?.close();
    throw listenError(err, "gRPC", host, config.grpcPort, "--grpc-port");
  }
  const httpPort = (http.server.address() as AddressInfo).port;
  if (ctx.kvEvents) {
    ctx.kvEvents.setTopic((model) => kvTopic(config.podIp, httpPort, model));
    try {
      await ctx.kvEvents.ready;
    } catch (err) {
      await http.close();
      grpc.server.forceShutdown();
      ctx.engine.close();
      await ctx.kvEvents.close();
      throw new StartupError(`cannot open --zmq-endpoint ${config.zmqEndpoint}: ${(err as Error).message}`);
    }
  }
  let metrics: MetricsServer | undefined;
  if (config.metricsPort !== null) {
    try {
      metrics = await startMetricsServer(ctx, host, config.metricsPort);
    } catch (err) {
      await http.close();
      grpc.server.forceShutdown();
      ctx.engine.close();
      ctx.telemetry.close();
      await ctx.kvEvents?.close();
      throw listenError(err, "metrics", host, config.metricsPort, "--metrics-port");
    }
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;

  let closing: Promise<{ cancelled: number }> | undefined;
  const close = () => {
    closing ??= (async () => {
      const cancelled = await ctx.engine.drain(ctx.config.current.shutdownTimeoutMs);
      grpc.beforeShutdown();
      await Promise.all([
        http.close(),
        metrics?.close(),
        new Promise<void>((resolve) => {
          const force = setTimeout(() => grpc.server.forceShutdown(), 2000);
          grpc.server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        }),
      ]);
      await ctx.kvEvents?.close();
      ctx.engine.close();
      ctx.telemetry.close();
      return { cancelled };
    })();
    return closing;
  };

  return {
    ctx,
    http,
    httpUrl: `http://${hostPart}:${httpPort}`,
    grpcAddress: `${hostPart}:${grpcPort}`,
    httpPort,
    grpcPort,
    ...(metrics ? { metricsPort: metrics.port } : {}),
    close,
  };
}
