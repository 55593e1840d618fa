import type { Command } from "commander";
import { ConfigError, loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import type { DecoyServer } from "../server.js";
import { VERSION } from "../version.js";
import { addSettingOptions, flagValues } from "./options.js";

export function registerServeCommand(program: Command): void {
  const cmd = program
    .command("serve", { isDefault: false })
    .description("Start the HTTP and gRPC servers (no config file needed: every setting has a default).")
    .option("-c, --config <path>", "YAML file with settings (keys as in --help, kebab-case or camelCase)");
  addSettingOptions(cmd);
  cmd.action(async (opts: Record<string, unknown>) => {
    await serve(opts);
  });
}

async function serve(opts: Record<string, unknown>): Promise<void> {
  const fail = (err: unknown): never => {
    process.stderr.write(`decoy: ${(err as Error).message}\n`);
    process.exit(2);
  };
  let config: Config;
  try {
    const file = (opts.config as string | undefined) ?? process.env.DECOY_CONFIG;
    config = loadConfig({ flags: flagValues(opts), env: process.env, file }).config;
  } catch (err) {
    if (err instanceof ConfigError) fail(err);
    throw err;
  }
  // Loaded only now: `decoy serve --help` and a bad config answer without loading the
  // servers (fastify, grpc-js, prom-client).
  const { StartupError, startDecoy } = await import("../server.js");
  let server: DecoyServer;
  try {
    server = await startDecoy(config);
  } catch (err) {
    if (err instanceof StartupError) fail(err);
    throw err;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`decoy: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    const inflight = server.ctx.engine.inflightCount;
    const timeout = server.ctx.config.current.shutdownTimeoutMs;
    process.stdout.write(`decoy: ${signal}, draining ${inflight} in-flight request(s) (up to ${timeout} ms)\n`);
    server.close().then(
      ({ cancelled }) => {
        process.stdout.write(`decoy: stopped${cancelled ? ` (${cancelled} cancelled at the deadline)` : ""}\n`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`decoy: error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  // Printed only once the signal handlers are in place: whoever waits for this line may
  // signal the process at once.
  const metrics =
    server.metricsPort === undefined
      ? ""
      : `  metrics http://${server.ctx.config.current.host}:${server.metricsPort}/metrics`;
  process.stdout.write(`decoy ${VERSION} listening: HTTP ${server.httpUrl}  gRPC ${server.grpcAddress}${metrics}\n`);
}
