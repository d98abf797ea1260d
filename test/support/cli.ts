// Runs the real `keyrunner` command (bin/keyrunner.js) and returns its exit code and output.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

export const repoRoot = join(import.meta.dirname, "..", "..");
const bin = join(repoRoot, "bin", "keyrunner.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function keyrunner(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)("node", [bin, ...args], { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
