import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { ConfigStore } from "./config/load.js";
import type { Config } from "./config/schema.js";
import type { AppContext } from "./context.js";
import type { Clock } from "./engine/clock.js";
import { Engine } from "./engine/engine.js";
import { bindGrpc, buildGrpcServer } from "./grpc/server.js";
import { buildApp } from "./http/app.js";
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
  return { engine, config: store, version: VERSION };
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
    await http.listen({ host, port: config.port });
  } catch (err) {
    ctx.engine.close();
    throw listenError(err, "HTTP", host, config.port, "--port");
  }
  let grpcPort: number;
  try {
    grpcPort = await bindGrpc(grpc.server, host, config.grpcPort);
  } catch (err) {
    await http.close();
    ctx.engine.close();
    throw listenError(err, "gRPC", host, config.grpcPort, "--grpc-port");
  }
  const httpPort = (http.server.address() as AddressInfo).port;
  const hostPart = host.includes(":") ? `[${host}]` : host;

  let closing: Promise<{ cancelled: number }> | undefined;
  const close = () => {
    closing ??= (async () => {
      const cancelled = await ctx.engine.drain(ctx.config.current.shutdownTimeoutMs);
      grpc.beforeShutdown();
      await Promise.all([
        http.close(),
        new Promise<void>((resolve) => {
          const force = setTimeout(() => grpc.server.forceShutdown(), 2000);
          grpc.server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        }),
      ]);
      ctx.engine.close();
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
    close,
  };
}
