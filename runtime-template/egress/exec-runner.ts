// Runs an exec tool: argv only (never a shell), an environment holding nothing but what the tool
// declares, a timeout and an output cap — and the whole command, grandchildren included, ends with it.
//
// The command runs in a process group of its own, and on timeout, output overflow or its own exit the
// group is killed. So that nothing outlives the server either (even `kill -9` of it), a constant
// /bin/sh script sets the group up: it starts a watcher that kills the group when the pipe from this
// process closes — which the kernel does when this process dies, however it dies — then `exec`s the
// command's argv ("$@", never parsed by the shell) in its place, so the command keeps the pid, the exit
// code and the signal that the runner reports.

import type { ChildProcess } from "node:child_process";
import { openSync } from "node:fs";
import type { ExecPlan } from "../contract/tool-module.js";
import { coverForExec } from "../process/inherited-descriptors.js";

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
}

/** Whatever this process is, wherever it dies: fd 0 closes, `read` returns, the group is killed. */
const SUPERVISOR = [
  // An asynchronous list's stdin is /dev/null unless redirected explicitly: hand it the pipe as fd 4.
  "exec 4<&0",
  "(read _ignored <&4; kill -9 0) &",
  // A command the shell cannot find is reported on fd 3, so that it is "could not be started", not a result.
  'command -v -- "$1" >/dev/null 2>&1 || { echo missing >&3; exit 127; }',
  'exec "$@" </dev/null 3>&- 4<&-',
].join("\n");
// The shell exports PWD (bash also SHLVL): the command gets only the variables the tool declares.
const UNSET_SHELL_VARIABLES = "unset PWD SHLVL 2>/dev/null";
const supervisorFor = (env: Readonly<Record<string, string>>): string =>
  "PWD" in env || "SHLVL" in env ? SUPERVISOR : `${UNSET_SHELL_VARIABLES}\n${SUPERVISOR}`;

export const SUPERVISOR_SHELL = "/bin/sh";

export class CommandNotStarted extends Error {}

/**
 * Descriptors kept open here on purpose (`--secrets-file /dev/fd/63`, a Node parent's channel): each command
 * gets this process's /dev/null at their numbers (a pipe, closed at once here, where /dev/null cannot be
 * opened: a permission model without its grant).
 */
let covered: Array<"ignore" | number | "pipe"> | undefined;
const coverEntries = (): Array<"ignore" | number | "pipe"> => {
  const entries = coverForExec<"cover">(process.argv, "cover");
  if (entries.length === 0) return [];
  let devNull: number | "pipe";
  try {
    devNull = openSync("/dev/null", "r");
  } catch {
    devNull = "pipe";
  }
  return entries.map((entry) => (entry === "cover" ? devNull : entry));
};

export function runExec(plan: ExecPlan): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const options = {
      env: { ...plan.env },
      ...(plan.cwd === undefined ? {} : { cwd: plan.cwd }),
      detached: true,
      shell: false,
    } as const;
    let child: ChildProcess;
    covered ??= coverEntries();
    try {
      child = process.getBuiltinModule("node:child_process").spawn(SUPERVISOR_SHELL, ["-c", supervisorFor(plan.env), "keyrunner-exec", ...plan.argv], { ...options, stdio: ["pipe", "pipe", "pipe", "pipe", ...covered] });
    } catch (error) {
      return reject(error);
    }
    for (let fd = 4; fd < child.stdio.length; fd++) child.stdio[fd]?.destroy();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let timedOut = false;
    let missing = false;
    let settled = false;
    const killGroup = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // the group is already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, plan.timeoutMs);
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (truncated) return;
      if (size + chunk.length > plan.maxOutputBytes) {
        truncated = true;
        into.push(chunk.subarray(0, Math.max(0, plan.maxOutputBytes - size)));
        size = plan.maxOutputBytes;
        killGroup();
        return;
      }
      size += chunk.length;
      into.push(chunk);
    };
    child.stdout!.on("data", collect(out));
    child.stderr!.on("data", collect(err));
    child.stdio[3]!.on("data", () => (missing = true));
    // Errors on the watcher's pipe (EPIPE once the group is gone) say nothing about the command.
    child.stdin!.on("error", () => {});
    child.stdio[3]!.on("error", () => {});
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(error);
    });
    // The command (the group's leader) has exited: whatever it left running in its group goes too.
    child.on("exit", killGroup);
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer);
      killGroup();
      if (settled) return;
      settled = true;
      if (missing) return reject(new CommandNotStarted(`${plan.argv[0]} was not found`));
      resolve({
        exitCode,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut: timedOut && !truncated,
        truncated,
      });
    });
  });
}
