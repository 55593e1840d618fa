#!/usr/bin/env node
import { Command } from "commander";
import { VERSION } from "../version.js";
import { registerServeCommand } from "./serve.js";

const program = new Command();
program
  .name("decoy")
  .description("GPU-free inference server double: KServe v2 gRPC/REST and OpenAI/vLLM HTTP from one simulation engine.")
  .version(VERSION)
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: false });

registerServeCommand(program);
// The client commands pull in their own module trees (about 30 files); `decoy serve` never
// needs them, so they are loaded only when the command line may be about them. The root
// command has no options of its own, so the first word that is not a flag is the command.
if (process.argv.slice(2).find((a) => !a.startsWith("-")) !== "serve") {
  const [{ registerLoadgenCommand }, { registerBenchCommand }] = await Promise.all([
    import("../loadgen/command.js"),
    import("../bench/command.js"),
  ]);
  registerLoadgenCommand(program);
  registerBenchCommand(program);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`decoy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
