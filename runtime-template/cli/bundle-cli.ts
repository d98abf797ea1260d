// The command line of the bundle itself: `node dist/keyrunner.mjs serve | audit verify FILE | token AGENT`.

import { randomBytes } from "node:crypto";
import { verifyAuditFile } from "../audit/audit-verify.js";
import { sha256Hex } from "../credentials/constant-time.js";
import type { CompiledConfig } from "../contract/tool-module.js";
import { err, parseFlags, type Flags } from "./flags.js";
import { serveMcpStdio } from "./mcp-stdio.js";
import { defaultStateDir, dieWithLauncher, prepareSandbox, relaunchSandboxed, sandboxed, shellWord, type SandboxPaths } from "./permission-model.js";
import { serve } from "./serve.js";

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
  err("usage: keyrunner.mjs serve [--host H] [--port P] [--audit FILE] [--agents FILE] [--secrets-file FILE] [--state DIR|redis://HOST:PORT] [--body-limit BYTES] [--header-limit BYTES] [--request-timeout MS] [--audit-commit-delay MS] [--drain-timeout MS] [--max-pending-approvals N] [--no-permission-model] | mcp [same flags] | sandbox-flags serve|mcp [same flags] | audit verify FILE | token AGENT");
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

