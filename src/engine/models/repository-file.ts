/**
 * Reading the model repository file named by `--model-repository` (YAML or JSON; YAML is a
 * superset) and building the repository from the live configuration.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { ConfigError } from "../../config/load.js";
import type { Engine } from "../engine.js";
import { builtinModels } from "./defaults.js";
import { DefinitionError, type ModelDefinition, parseRepository } from "./definition.js";
import { ModelRepository } from "./repository.js";

export function loadModelDefinitions(path: string | null | undefined): ModelDefinition[] {
  const builtins = builtinModels();
  if (!path) return builtins;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read model repository ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let doc: unknown;
  try {
    // yaml is loaded only when a repository file is given: most servers run the built-ins.
    const { parse } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(`model repository ${path} is not valid YAML/JSON: ${(err as Error).message.split("\n")[0]}`);
  }
  try {
    return parseRepository(doc, path, builtins);
  } catch (err) {
    if (err instanceof DefinitionError) throw new ConfigError(`invalid configuration: ${err.message}`);
    throw err;
  }
}

/** The repository for a server: definitions from the configured file, overrides read live. */
export function createModelRepository(engine: Engine): ModelRepository {
  const cfg = engine.config.current;
  return new ModelRepository(engine, {
    definitions: loadModelDefinitions(cfg.modelRepository),
    seed: cfg.seed ?? 0,
    overrides: () => {
      const c = engine.config.current;
      return {
        baseMs: c.modelLatencyMs,
        perItemMs: c.modelPerItemLatencyMs,
        stdDevMs: c.modelLatencyStdDevMs,
        instances: c.modelInstances,
        maxQueueDelayUs: c.modelMaxQueueDelayUs,
      };
    },
  });
}
