// Secrets are read once at start-up (environment or a secrets file), all must be present, and they are
// removed from process.env so that nothing later (a child process, a log of the environment) sees them.

import { readFileSync } from "node:fs";

export class MissingSecretsError extends Error {
  constructor(readonly missing: readonly string[]) {
    super(`missing secrets: ${missing.join(", ")}`);
  }
}

/** Secrets are redacted by value; a value this short would blank ordinary text in every answer. */
export const MIN_SECRET_LENGTH = 8;

export class WeakSecretsError extends Error {
  constructor(readonly names: readonly string[]) {
    super(`secrets shorter than ${MIN_SECRET_LENGTH} characters: ${names.join(", ")}`);
  }
}

export interface SecretStore {
  read(name: string): string;
  values(): string[];
  /** Of these names, those that were not set (only a lenient store has any). */
  missing(names: readonly string[]): string[];
}

/**
 * Values taken out of this process's environment, kept for the process: the first runtime removes a
 * secret (or the audit key) from process.env, and a second runtime or SDK instance in the same process
 * still gets the same value instead of silently running without it.
 */
const takenFromProcessEnv = new Map<string, string>();

/** Reads NAME from `env` and removes it there; from process.env, once per process. */
export function takeFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  delete env[name];
  if (env !== process.env) return value;
  if (value !== undefined && value !== "") takenFromProcessEnv.set(name, value);
  return takenFromProcessEnv.get(name);
}

/** `NAME=value` lines; `#` comments and blank lines ignored; values may be quoted. */
export function parseSecretsFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (match === null) continue;
    let value = match[2]!;
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    out.set(match[1]!, value);
  }
  return out;
}

/**
 * Reads the secrets the configuration names. Strict (the server): every one must be set. Lenient
 * (`keyrunner run`, the SDK in process): the missing ones are remembered, and a tool that needs one is
 * refused when it is called, naming what is missing.
 */
export function loadSecrets(names: readonly string[], options: { env?: NodeJS.ProcessEnv; file?: string | undefined; lenient?: boolean } = {}): SecretStore {
  const env = options.env ?? process.env;
  const fromFile = options.file === undefined ? new Map<string, string>() : parseSecretsFile(readNamedFile(options.file));
  const values = new Map<string, string>();
  const missing: string[] = [];
  for (const name of names) {
    const fromEnv = takeFromEnv(env, name);
    const value = fromFile.get(name) ?? fromEnv;
    if (value === undefined || value === "") missing.push(name);
    else values.set(name, value);
  }
  if (missing.length > 0 && options.lenient !== true) throw new MissingSecretsError(missing);
  const unset = new Set(missing);
  const weak = [...values].filter(([, v]) => v.length < MIN_SECRET_LENGTH).map(([name]) => name);
  if (weak.length > 0) throw new WeakSecretsError(weak);
  return {
    read(name) {
      const value = values.get(name);
      if (value === undefined) throw new Error(`secret ${name} is not one this configuration names`);
      return value;
    },
    values: () => [...values.values()],
    missing: (wanted) => wanted.filter((name) => unset.has(name)),
  };
}

/** The file's text; a failure carries the path (Node's read of a directory names none). */
function readNamedFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw Object.assign(error as NodeJS.ErrnoException, { path });
  }
}
