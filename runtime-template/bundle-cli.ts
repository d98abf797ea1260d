// The command line of the bundle itself: `node dist/keyrunner.mjs serve | audit verify FILE | token AGENT`.

import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { AgentsFileError, authenticate, loadAgentsFile, type Principal } from "./agents-file.js";
import { RUNTIME_VERSION } from "./version.js";
import { DEFAULT_COMMIT_DELAY_MS, verifyAuditFile } from "./audit-log.js";
import { sha256Hex } from "./constant-time.js";
import { createHttpServer, SERVER_LIMIT_DEFAULTS } from "./http-server.js";
import { createRuntime } from "./runtime.js";
import { MissingSecretsError, WeakSecretsError } from "./secrets.js";
import { StateUnavailable } from "./state-store.js";
import { defaultStateDir, dieWithLauncher, prepareSandbox, relaunchSandboxed, sandboxed, shellWord, type SandboxPaths } from "./permission-model.js";
import type { CompiledConfig } from "./tool-module.js";

type Flags = Map<string, string>;

const BOOLEAN_FLAGS = new Set(["no-permission-model"]);

function parseFlags(args: readonly string[]): { positional: string[]; flags: Flags } {
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

const err = (line: string) => process.stderr.write(`keyrunner: ${line}\n`);

export function newToken(agent: string): { token: string; line: string } {
  const token = `kr_${randomBytes(32).toString("base64url")}`;
  return { token, line: `  ${agent}: { token_sha256: ${sha256Hex(token)} }` };
}

/** The files a `serve` or `mcp` with these flags reads and writes. */
function sandboxPaths(flags: Flags): SandboxPaths {
  const audit = flags.get("audit") ?? "keyrunner-audit.jsonl";
  return { audit, state: flags.get("state") ?? defaultStateDir(audit), agents: flags.get("agents"), secretsFile: flags.get("secrets-file") };
}

export async function runBundleCli(config: CompiledConfig, argv: readonly string[], moduleUrl?: string): Promise<number> {
  const [command, ...rest] = argv;
  const { positional, flags } = parseFlags(rest);
  if ((command === "serve" || command === "mcp") && moduleUrl !== undefined && !sandboxed() && !flags.has("no-permission-model")) {
    const relaunched = relaunchSandboxed(config, moduleUrl, argv, sandboxPaths(flags));
    if (relaunched !== undefined) return relaunched;
  }
  if (command === "sandbox-flags" && (positional[0] === "serve" || positional[0] === "mcp") && moduleUrl !== undefined) {
    // For deployments that start the sandboxed server directly (one Node start instead of two):
    // node $(node keyrunner.mjs sandbox-flags serve --audit A) keyrunner.mjs serve --audit A
    const sandbox = prepareSandbox(config, moduleUrl, sandboxPaths(flags));
    if (sandbox === undefined) {
      err(`Node ${process.version} has no permission model`);
      return 1;
    }
    process.stdout.write(`${sandbox.map(shellWord).join(" ")}\n`);
    return 0;
  }
  if (sandboxed()) dieWithLauncher();
  if (command === "serve") return serve(config, flags);
  if (command === "mcp") return serveMcpStdio(config, flags);
  if (command === "audit" && positional[0] === "verify" && positional[1] !== undefined) return auditVerify(positional[1]);
  if (command === "token" && positional[0] !== undefined) {
    const { token, line } = newToken(positional[0]);
    process.stdout.write(`${token}\n\nadd to the agents file, under agents:\n${line}\n`);
    return 0;
  }
  err("usage: keyrunner.mjs serve [--host H] [--port P] [--audit FILE] [--agents FILE] [--secrets-file FILE] [--state DIR|redis://HOST:PORT] [--body-limit BYTES] [--header-limit BYTES] [--request-timeout MS] [--audit-commit-delay MS] [--no-permission-model] | mcp [same flags] | sandbox-flags serve|mcp [same flags] | audit verify FILE | token AGENT");
  return 1;
}

export function auditVerify(file: string): number {
  try {
    const result = verifyAuditFile(file, process.env.KEYRUNNER_AUDIT_KEY);
    if (result.ok) {
      process.stdout.write(`audit verified: ${result.records} records, chain intact\n`);
      return 0;
    }
    process.stdout.write(`audit broken at record ${result.brokenAt} (line ${result.brokenAt}): ${result.problem}\n`);
    return 1;
  } catch (error) {
    err(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
    return 1;
  }
}

/** The numeric flags of `serve`: whole numbers in range, with safe defaults. */
const NUMBER_FLAGS = [
  { flag: "port", fallback: 8787, min: 0, max: 65535, unit: "port" },
  { flag: "body-limit", fallback: SERVER_LIMIT_DEFAULTS.bodyLimitBytes, min: 1, max: 2 ** 31, unit: "bytes" },
  { flag: "header-limit", fallback: SERVER_LIMIT_DEFAULTS.headerLimitBytes, min: 1024, max: 2 ** 20, unit: "bytes" },
  { flag: "request-timeout", fallback: SERVER_LIMIT_DEFAULTS.requestTimeoutMs, min: 100, max: 3_600_000, unit: "milliseconds" },
  { flag: "audit-commit-delay", fallback: DEFAULT_COMMIT_DELAY_MS, min: 0, max: 100, unit: "milliseconds" },
] as const;

/** The numeric flags' values, or the message for the first malformed one. */
function numberFlags(flags: Flags): Map<string, number> | string {
  const values = new Map<string, number>();
  for (const { flag, fallback, min, max, unit } of NUMBER_FLAGS) {
    const text = flags.get(flag);
    const value = text === undefined ? fallback : /^\d{1,10}$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) return `--${flag} (${unit}) must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`;
    values.set(flag, value);
  }
  return values;
}

async function serve(config: CompiledConfig, flags: Flags): Promise<number> {
  const host = flags.get("host") ?? "127.0.0.1";
  const numbers = numberFlags(flags);
  if (typeof numbers === "string") {
    err(numbers);
    return 1;
  }
  const port = numbers.get("port")!;
  const limits = { bodyLimitBytes: numbers.get("body-limit")!, headerLimitBytes: numbers.get("header-limit")!, requestTimeoutMs: numbers.get("request-timeout")! };
  let principals: Principal[] | undefined;
  if (flags.has("agents")) {
    try {
      principals = loadAgentsFile(flags.get("agents")!);
    } catch (error) {
      err(error instanceof AgentsFileError ? `agents file: ${error.message}` : `cannot read the agents file ${flags.get("agents")}`);
      return 1;
    }
  } else {
    if (!isLoopback(host)) {
      err(`without --agents the server trusts the agent named in each request, so it listens on loopback only, not ${host}`);
      return 1;
    }
    err("warning: no --agents file: trusting the `agent` field of each request (loopback only)");
  }
  let runtime;
  try {
    runtime = createRuntime(config, { auditFile: flags.get("audit"), secretsFile: flags.get("secrets-file"), state: flags.get("state"), auditCommitDelayMs: numbers.get("audit-commit-delay")! });
  } catch (error) {
    if (error instanceof MissingSecretsError) {
      err(`missing secrets: ${error.missing.join(", ")} (set them in the environment or in --secrets-file)`);
      return 1;
    }
    if (error instanceof WeakSecretsError) {
      err(`${error.message}; secrets are redacted by value, so they must be real credentials`);
      return 1;
    }
    if (error instanceof StateUnavailable) {
      err(error.message);
      return 1;
    }
    if ((error as NodeJS.ErrnoException).code === "ERR_ACCESS_DENIED") {
      err(`cannot start: the permission model denies ${(error as { resource?: string }).resource ?? "a file it needs"}; start with the flags \`sandbox-flags serve\` prints for the same options`);
      return 1;
    }
    err(`cannot start: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return 1;
  }
  const server = createHttpServer({ engine: runtime.engine, ...(principals ? { principals } : {}), ...limits, log: err });
  let inFlight = 0;
  server.on("request", (_req, res) => {
    inFlight++;
    res.on("close", () => inFlight--);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  }).catch((error: NodeJS.ErrnoException) => {
    err(`cannot listen on ${host}:${port}: ${error.code}`);
    process.exit(1);
  });
  const address = server.address();
  const shown = typeof address === "object" && address !== null ? address : { address: host, port };
  process.stdout.write(`keyrunner listening on http://${shown.address.includes(":") ? `[${shown.address}]` : shown.address}:${shown.port}\n`);
  return new Promise<number>((resolve) => {
    const drain = () => {
      server.close();
      server.closeIdleConnections();
      const wait = () => (inFlight === 0 ? runtime.close().then(() => resolve(0)) : setTimeout(wait, 10));
      wait();
    };
    process.once("SIGTERM", drain);
    process.once("SIGINT", drain);
  });
}

/**
 * MCP over stdio: stdout carries the protocol, so everything else goes to stderr. The agent is the one
 * KEYRUNNER_TOKEN names in --agents; without an agents file, KEYRUNNER_AGENT names it (local use).
 */
async function serveMcpStdio(config: CompiledConfig, flags: Flags): Promise<number> {
  const token = process.env.KEYRUNNER_TOKEN;
  delete process.env.KEYRUNNER_TOKEN;
  let agent: string | undefined;
  if (flags.has("agents")) {
    try {
      const found = token === undefined ? undefined : authenticate(loadAgentsFile(flags.get("agents")!), token);
      agent = found?.role === "agent" ? found.name : undefined;
    } catch {
      err(`cannot read the agents file ${flags.get("agents")}`);
      return 1;
    }
    if (agent === undefined) {
      err("KEYRUNNER_TOKEN is missing or names no agent in the agents file");
      return 1;
    }
  } else {
    agent = process.env.KEYRUNNER_AGENT;
    if (agent === undefined || agent === "") {
      err("set KEYRUNNER_TOKEN with --agents, or KEYRUNNER_AGENT without an agents file");
      return 1;
    }
    err(`warning: no --agents file: serving MCP as agent ${agent} on trust`);
  }
  let runtime;
  try {
    runtime = createRuntime(config, { auditFile: flags.get("audit"), secretsFile: flags.get("secrets-file"), state: flags.get("state") });
  } catch (error) {
    err(error instanceof MissingSecretsError ? `missing secrets: ${error.missing.join(", ")}` : (error as Error).message);
    return 1;
  }
  const [{ StdioServerTransport }, { createMcpServer }] = await Promise.all([import("@modelcontextprotocol/sdk/server/stdio.js"), import("./mcp-server.js")]);
  const server = createMcpServer(runtime.engine, agent, RUNTIME_VERSION);
  const transport = new StdioServerTransport();
  await server.connect(transport);
  return new Promise<number>((resolve) => {
    const stop = () => void server.close().then(() => runtime.close()).then(() => resolve(0));
    process.stdin.once("end", stop);
    process.once("SIGTERM", stop);
  });
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}
