// The launcher hands the secrets to the sandboxed server through a pipe, not its environment: a process's
// initial environment stays readable in /proc/<pid>/environ for its whole life (deleting from process.env
// does not change it), so the serving process must never be started with a secret in it.

import { readFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";

/** The file descriptor of the pipe in the sandboxed server; the variable names it, never a value. */
export const HANDOVER_FD = 3;
const HANDOVER_ENV = "KEYRUNNER_SECRETS_FD";

/** The variables that hold credentials: the configuration's secrets, the audit key and an agent's token. */
export function credentialNames(secrets: readonly string[]): string[] {
  return [...secrets, "KEYRUNNER_AUDIT_KEY", "KEYRUNNER_TOKEN"];
}

/** The launcher's environment without the credentials, and the credentials it held. */
export function splitEnvironment(env: NodeJS.ProcessEnv, names: readonly string[]): { env: NodeJS.ProcessEnv; handed: Record<string, string> } {
  const rest: NodeJS.ProcessEnv = { ...env, [HANDOVER_ENV]: String(HANDOVER_FD) };
  const handed: Record<string, string> = {};
  for (const name of names) {
    const value = rest[name];
    delete rest[name];
    if (value !== undefined && value !== "") handed[name] = value;
  }
  return { env: rest, handed };
}

/** The stdio of a child that receives the hand-over: inherited streams, then the pipe. */
export const HANDOVER_STDIO = ["inherit", "inherit", "inherit", "pipe"] as const;

export function handOver(child: ChildProcess, handed: Record<string, string>): void {
  const pipe = child.stdio[HANDOVER_FD] as NodeJS.WritableStream | null;
  pipe?.on("error", () => undefined);
  pipe?.end(JSON.stringify(handed));
}

/** In the sandboxed server: reads what the launcher handed over into process.env, where loading takes it from. */
export function receiveHandover(): void {
  if (process.env[HANDOVER_ENV] !== String(HANDOVER_FD)) return;
  delete process.env[HANDOVER_ENV];
  const handed = JSON.parse(readFileSync(HANDOVER_FD, "utf8") || "{}") as Record<string, unknown>;
  for (const [name, value] of Object.entries(handed)) if (typeof value === "string") process.env[name] = value;
}
