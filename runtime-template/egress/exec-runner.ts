// Runs an exec tool: argv only (never a shell), an environment holding nothing but what the tool
// declares, a timeout and an output cap.

import { spawn } from "node:child_process";
import type { ExecPlan } from "../contract/tool-module.js";

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
}

export function runExec(plan: ExecPlan): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(plan.argv[0]!, plan.argv.slice(1), {
      shell: false,
      env: { ...plan.env },
      ...(plan.cwd === undefined ? {} : { cwd: plan.cwd }),
      stdio: ["ignore", "pipe", "pipe"],
      timeout: plan.timeoutMs,
      killSignal: "SIGKILL",
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let truncated = false;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (size + chunk.length > plan.maxOutputBytes) {
        truncated = true;
        into.push(chunk.subarray(0, Math.max(0, plan.maxOutputBytes - size)));
        size = plan.maxOutputBytes;
        child.kill("SIGKILL");
        return;
      }
      size += chunk.length;
      into.push(chunk);
    };
    child.stdout.on("data", collect(out));
    child.stderr.on("data", collect(err));
    child.on("error", reject);
    child.on("close", (exitCode, signal) => {
      resolve({
        exitCode,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut: signal === "SIGKILL" && !truncated,
        truncated,
      });
    });
  });
}
