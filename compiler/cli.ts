// The `keyrunner` command line: a thin layer over the compiler library. run(argv) returns the exit code.

import { Command, CommanderError } from "commander";
import { check, renderHuman, renderJson, renderSummary } from "./index.js";

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export async function run(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode = 0;
  const program = new Command("keyrunner")
    .description("Compile tool and policy YAML into a hardened action gateway for AI agents.")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  program
    .command("check")
    .description("prove a tool and policy config sound; exit 1 on any error")
    .argument("[dir]", "config folder holding tools/ and policies/", ".")
    .option("--tools <dir>", "tool folder (default: DIR/tools)")
    .option("--policies <dir>", "policy folder (default: DIR/policies)")
    .option("--format <format>", "human or json", "human")
    .action((dir: string, options: { tools?: string; policies?: string; format: string }) => {
      if (options.format !== "human" && options.format !== "json") {
        io.stderr(`error: --format must be human or json, not ${options.format}\n`);
        exitCode = 1;
        return;
      }
      const result = check({ dir, tools: options.tools, policies: options.policies });
      if (options.format === "json") io.stdout(renderJson(result.diagnostics) + "\n");
      else {
        const text = renderHuman(result.diagnostics, result.sources);
        if (text !== "") io.stdout(text + "\n");
        io.stdout(`${renderSummary(result.diagnostics)}${result.analysis ? `: ${describe(result.analysis)}` : ""}\n`);
      }
      exitCode = result.diagnostics.some((d) => d.severity === "error") ? 1 : 0;
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 1;
    throw error;
  }
  return exitCode;
}

function describe(analysis: NonNullable<ReturnType<typeof check>["analysis"]>): string {
  const tools = analysis.config.tools.size;
  const rules = analysis.config.rules.length;
  return `${tools} tool${tools === 1 ? "" : "s"}, ${rules} rule${rules === 1 ? "" : "s"} proven disjoint and reachable`;
}
