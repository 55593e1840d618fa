import type { ConfigStore } from "./config/load.js";
import type { Engine } from "./engine/engine.js";

/**
 * What the transports are given: the engine and the live configuration, plus each
 * surface's state. Surfaces add their own fields here as optional members, created in
 * `src/server.ts`, so HTTP and gRPC adapters reach the same instances.
 */
export interface AppContext {
  engine: Engine;
  config: ConfigStore;
  /** Version string reported by /version, ServerMetadata and the startup line. */
  version: string;
}
