// The bundle's command-line flags: `--name value`, `--name=value`, and the boolean flags.

export type Flags = Map<string, string>;

const BOOLEAN_FLAGS = new Set(["no-permission-model"]);

export function parseFlags(args: readonly string[]): { positional: string[]; flags: Flags } {
  const positional: string[] = [];
  const flags: Flags = new Map();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) positional.push(arg);
    else if (BOOLEAN_FLAGS.has(arg.slice(2))) flags.set(arg.slice(2), "true");
    else if (arg.includes("=")) flags.set(arg.slice(2, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1));
    else flags.set(arg.slice(2), args[++i] ?? "");
  }
  return { positional, flags };
}

export const err = (line: string) => process.stderr.write(`keyrunner: ${line}\n`);
