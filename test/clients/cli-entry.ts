/** Runs the client commands the way `decoy` will, for tests that spawn them (Ctrl-C, exit codes). */
import { Command } from "commander";
import { registerBenchCommand } from "../../src/bench/command.js";
import { registerLoadgenCommand } from "../../src/loadgen/command.js";

const program = new Command("decoy");
registerLoadgenCommand(program);
registerBenchCommand(program);
await program.parseAsync(process.argv);
