#!/usr/bin/env node
import { Command } from "commander";
import { registerBenchCommand } from "../bench/command.js";
import { registerLoadgenCommand } from "../loadgen/command.js";
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
registerLoadgenCommand(program);
registerBenchCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`decoy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
