// The flags of `serve` and `mcp`, in one table that the bundle's command line (node:util parseArgs,
// strict: an unknown or misspelt flag stops with its name) and `keyrunner serve | mcp` (commander) both use.

import { parseArgs } from "node:util";
import { displaySafe } from "../core/display-text.js";
import { SERVER_LIMIT_DEFAULTS } from "../http/server.js";
import { DEFAULT_COMMIT_DELAY_MS } from "../audit/audit-log.js";
import { DEFAULT_MAX_PENDING_APPROVALS } from "../state/local-state-store.js";

export interface FlagSpec {
  readonly name: string;
  readonly kind: "string" | "number" | "boolean";
  /** The value's placeholder in usage lines (`--port <port>`). */
  readonly value?: string;
  readonly description: string;
  /** The flag may be given several times (its values are collected in order). */
  readonly multiple?: boolean;
  readonly default?: number | string;
  /** Numbers: whole numbers from min to max. */
  readonly min?: number;
  readonly max?: number;
  /** Which commands take it. */
  readonly commands: ReadonlyArray<"serve" | "mcp">;
}

export const RUNTIME_FLAGS: readonly FlagSpec[] = [
  { name: "host", kind: "string", value: "host", description: "address to listen on", default: "127.0.0.1", commands: ["serve"] },
  { name: "port", kind: "number", value: "port", description: "port (0 takes a free one)", default: 8787, min: 0, max: 65535, commands: ["serve"] },
  { name: "allowed-host", kind: "string", value: "name", multiple: true, description: "a further host name requests may name in Host (repeatable); loopback names and the listening address are always allowed", commands: ["serve"] },
  { name: "audit", kind: "string", value: "file", description: "audit log (JSON Lines)", default: "keyrunner-audit.jsonl", commands: ["serve", "mcp"] },
  { name: "agents", kind: "string", value: "file", description: "agents file mapping agents (and approvers) to token hashes", commands: ["serve", "mcp"] },
  { name: "secrets-file", kind: "string", value: "file", description: "NAME=value lines (default: the environment)", commands: ["serve", "mcp"] },
  { name: "state", kind: "string", value: "dir|url", description: "approvals and counters: a directory (default keyrunner-state/ beside the audit) or redis://HOST:PORT", commands: ["serve", "mcp"] },
  { name: "body-limit", kind: "number", value: "bytes", description: "largest request body", default: SERVER_LIMIT_DEFAULTS.bodyLimitBytes, min: 1, max: 2 ** 31, commands: ["serve"] },
  { name: "header-limit", kind: "number", value: "bytes", description: "largest request line and headers", default: SERVER_LIMIT_DEFAULTS.headerLimitBytes, min: 1024, max: 2 ** 20, commands: ["serve"] },
  { name: "request-timeout", kind: "number", value: "milliseconds", description: "time for a client to send a whole request", default: SERVER_LIMIT_DEFAULTS.requestTimeoutMs, min: 100, max: 3_600_000, commands: ["serve"] },
  { name: "audit-commit-delay", kind: "number", value: "milliseconds", description: "how long a durable audit write may wait for other requests' records", default: DEFAULT_COMMIT_DELAY_MS, min: 0, max: 100, commands: ["serve"] },
  { name: "workers", kind: "number", value: "count", description: "server processes sharing the port (Node cluster); more than 1 needs --state redis://HOST:PORT, and each worker writes its own audit file (AUDIT.worker-N.jsonl)", default: 1, min: 1, max: 64, commands: ["serve"] },
  { name: "drain-timeout", kind: "number", value: "milliseconds", description: "on SIGTERM, how long in-flight requests may finish before their connections are cut", default: 10_000, min: 0, max: 3_600_000, commands: ["serve"] },
  { name: "max-pending-approvals", kind: "number", value: "approvals", description: "pending approvals an agent may hold at once (local state)", default: DEFAULT_MAX_PENDING_APPROVALS, min: 1, max: 1_000_000, commands: ["serve", "mcp"] },
  { name: "metrics-token-sha256", kind: "string", value: "hex", description: "serve /metrics to requests bearing the token with this sha256", commands: ["serve"] },
  { name: "metrics-listen", kind: "string", value: "host:port", description: "serve /metrics on this separate address instead", commands: ["serve"] },
  { name: "url", kind: "string", value: "url", description: "relay stdio to the running bundle at this URL (its /mcp) instead of serving: clients share one server and one audit (token in KEYRUNNER_TOKEN)", commands: ["mcp"] },
  { name: "ca", kind: "string", value: "dir", description: "intercept HTTPS (CONNECT) to the agents' tool origins with leaves from the CA in this folder (keyrunner ca init)", commands: ["serve"] },
  { name: "tunnel-idle-timeout", kind: "number", value: "milliseconds", description: "an intercepted tunnel with no request in progress (or no TLS handshake) for this long is closed", default: 30_000, min: 100, max: 3_600_000, commands: ["serve"] },
  { name: "context", kind: "string", value: "key=value", multiple: true, description: "the deployment context policies test (repeatable), keys and values from context.yaml", commands: ["serve", "mcp"] },
  { name: "denial-detail", kind: "string", value: "none|conditions", description: "what a request no rule allows is told: the failed conditions of its own rules, or nothing more", default: "conditions", commands: ["serve", "mcp"] },
  { name: "no-permission-model", kind: "boolean", description: "serve without Node's permission model (not recommended)", commands: ["serve", "mcp"] },
];

export function flagsOf(command: "serve" | "mcp"): FlagSpec[] {
  return RUNTIME_FLAGS.filter((f) => f.commands.includes(command));
}

/** Parsed flags: each read with its kind, defaults applied. */
export class Flags {
  constructor(
    private readonly specs: readonly FlagSpec[],
    private readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>,
  ) {}

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  string(name: string): string | undefined {
    const value = this.values[name];
    if (typeof value === "string") return value;
    const fallback = this.#spec(name).default;
    return fallback === undefined ? undefined : String(fallback);
  }

  strings(name: string): string[] {
    const value = this.values[name];
    return Array.isArray(value) ? value : [];
  }

  number(name: string): number {
    const value = this.values[name];
    return typeof value === "string" ? Number(value) : (this.#spec(name).default as number);
  }

  boolean(name: string): boolean {
    return this.values[name] === true;
  }

  #spec(name: string): FlagSpec {
    const spec = this.specs.find((f) => f.name === name);
    if (spec === undefined) throw new Error(`no flag --${name}`);
    return spec;
  }
}

export type ParsedArgs = { ok: true; positional: string[]; flags: Flags } | { ok: false; message: string };

/** Parses `args` against `specs`: unknown flags, missing values and numbers out of range are errors. */
export function parseFlags(specs: readonly FlagSpec[], args: readonly string[]): ParsedArgs {
  const options = Object.fromEntries(specs.map((f) => [f.name, { type: f.kind === "boolean" ? ("boolean" as const) : ("string" as const), multiple: f.multiple === true }]));
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (error) {
    // parseArgs names the flag: "Unknown option '--prot'", "Option '--port <value>' argument missing".
    return { ok: false, message: (error as Error).message.replace(/\s*\n\s*/g, " ").replace(/\. To specify a positional argument.*$/, "") };
  }
  for (const spec of specs) {
    const text = parsed.values[spec.name];
    if (spec.kind !== "number" || typeof text !== "string") continue;
    const value = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
    if (!(value >= spec.min! && value <= spec.max!)) return { ok: false, message: `--${spec.name} (${spec.value}) must be a whole number from ${spec.min} to ${spec.max}, not ${JSON.stringify(text)}` };
  }
  return { ok: true, positional: parsed.positionals, flags: new Flags(specs, parsed.values as Record<string, string | boolean | string[] | undefined>) };
}

/** The usage line of a command, from the table. */
export function usage(command: "serve" | "mcp"): string {
  return flagsOf(command)
    .map((f) => (f.kind === "boolean" ? `[--${f.name}]` : `[--${f.name} ${f.value!.toUpperCase()}]`))
    .join(" ");
}

/** A log line on stderr; whatever it quotes from a request is shown escaped. */
export const err = (line: string) => process.stderr.write(`keyrunner: ${displaySafe(line)}\n`);

export class FlagValueError extends Error {}

/** `--context` and `--denial-detail`, as runtime options (a bad value throws FlagValueError). */
export function runtimePolicyOptions(flags: Flags): { context: string[]; denialDetail: "none" | "conditions" } {
  const detail = flags.string("denial-detail");
  if (detail !== "none" && detail !== "conditions") throw new FlagValueError(`--denial-detail must be none or conditions, not ${JSON.stringify(detail)}`);
  return { context: flags.strings("context"), denialDetail: detail };
}
