// Why the runtime could not be made, in the one line `serve` and `mcp` print before exiting 1: the
// operator's own mistakes (context, secrets, a held lock, a path) said as such, never a stack trace.

import { ContextError } from "../core/deployment-context.js";
import { AgentsFileError } from "../credentials/agents-file.js";
import { MissingSecretsError, WeakSecretsError } from "../credentials/secrets.js";
import { LockHeld } from "../process/file-lock.js";
import { systemErrorText } from "../process/system-error-text.js";
import { StateUnavailable } from "../state/state-store.js";
import { FlagValueError } from "./flags.js";

export function startFailureText(error: unknown, command: "serve" | "mcp"): string {
  if (error instanceof ContextError || error instanceof FlagValueError || error instanceof StateUnavailable || error instanceof LockHeld) return error.message;
  if (error instanceof MissingSecretsError) return `missing secrets: ${error.missing.join(", ")} (set them in the environment or in --secrets-file)`;
  if (error instanceof WeakSecretsError) return `${error.message}; secrets are redacted by value, so they must be real credentials`;
  if ((error as NodeJS.ErrnoException | undefined)?.code === "ERR_ACCESS_DENIED") {
    return `cannot start: the permission model denies ${(error as { resource?: string }).resource ?? "a file it needs"}; start with the flags \`sandbox-flags ${command}\` prints for the same options`;
  }
  const path = (error as NodeJS.ErrnoException | undefined)?.path;
  return `cannot start: ${path === undefined ? "" : `${path} `}${systemErrorText(error)}`;
}

/** The agents file could not be read, or says something other than agents and approvers. */
export function agentsFileFailureText(path: string, error: unknown): string {
  return error instanceof AgentsFileError ? `agents file ${path}: ${error.message}` : `cannot read the agents file ${path}: it ${systemErrorText(error)}`;
}
