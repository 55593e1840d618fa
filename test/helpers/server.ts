import { type LoadOptions, loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { type DecoyServer, type StartOptions, startDecoy } from "../../src/server.js";

/**
 * Start a real Decoy on ephemeral ports (HTTP and gRPC) with response validation on.
 * `flags` use setting keys (camelCase) as `--flag` values would be parsed.
 */
export async function startTestServer(
  flags: Record<string, unknown> = {},
  options: StartOptions & { env?: NodeJS.ProcessEnv; file?: string } = {},
): Promise<DecoyServer> {
  const load: LoadOptions = {
    flags: { port: 0, grpcPort: 0, logLevel: "silent", validateResponses: true, ...flags },
    env: options.env ?? {},
    file: options.file,
  };
  const { config } = loadConfig(load);
  return startDecoy(config as Config, options);
}
