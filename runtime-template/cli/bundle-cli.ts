// The command line of the bundle itself: `node dist/keyrunner.mjs serve | audit verify FILE | token AGENT`.

import { randomBytes } from "node:crypto";
import { verifyAuditFile } from "../audit/audit-verify.js";
import { sha256Hex } from "../credentials/constant-time.js";
import { AGENT_NAME, AGENT_NAME_RULE } from "../credentials/agents-file.js";
import type { CompiledConfig } from "../contract/tool-module.js";
import { RUNTIME_VERSION } from "../version.js";
import { err, flagsOf, parseFlags, usage, type Flags } from "./flags.js";
import { bridgeMcpStdio } from "./mcp-bridge.js";
import { serveMcpStdio } from "./mcp-stdio.js";
import { defaultStateDir, dieWithLauncher, hasExecTools, prepareSandbox, relaunchSandboxed, sandboxed, shellWord, type SandboxPaths } from "./permission-model.js";
import { serve } from "./serve.js";
import { closeInheritedDescriptors, namedDescriptorProblem } from "../process/inherited-descriptors.js";
import { LIFELINE_FD } from "../process/launcher-watch.js";
import { isPoolWorker } from "../process/pool-worker.js";
import { PathError } from "../process/make-directory.js";
import { systemErrorText } from "../process/system-error-text.js";
import { HANDOVER_FD, receiveHandover } from "../process/secret-handover.js";

export type TokenRole = "agent" | "approver";

/** A new random token, and the agents-file line (under `agents:` or `approvers:`) that names its sha256. */
export function newToken(name: string, role: TokenRole = "agent"): { token: string; line: string; section: string } {
  const token = `kr_${randomBytes(32).toString("base64url")}`;
  return { token, line: `  ${name}: { token_sha256: ${sha256Hex(token)} }`, section: role === "agent" ? "agents" : "approvers" };
}

export function tokenText(name: string, role: TokenRole): string {
  const { token, line, section } = newToken(name, role);
  return `${token}\n\nadd to the agents file, under ${section}:\n${line}\n`;
}

/** The files a `serve` or `mcp` with these flags reads and writes. */
function sandboxPaths(flags: Flags, command: "serve" | "mcp"): SandboxPaths {
  const audit = flags.string("audit")!;
  const ca = flags.has("ca") ? flags.string("ca") : undefined;
  const workers = command === "serve" ? flags.number("workers") : 1;
  return { audit, state: flags.string("state") ?? defaultStateDir(audit), agents: flags.string("agents"), secretsFile: flags.string("secrets-file"), workers, ...(ca !== undefined ? { ca } : {}) };
}

const USAGE = `usage: keyrunner.mjs serve ${usage("serve")}
       keyrunner.mjs mcp ${usage("mcp")}
       keyrunner.mjs sandbox-flags serve|mcp [the same flags]
       keyrunner.mjs audit verify FILE
       keyrunner.mjs token NAME [--approver]
       keyrunner.mjs --version`;

function fail(message: string): number {
  err(message);
  process.stderr.write(`${USAGE}\n`);
  return 1;
}

export async function runBundleCli(config: CompiledConfig, argv: readonly string[], moduleUrl?: string): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "version") {
    process.stdout.write(`keyrunner ${RUNTIME_VERSION}\n`);
    return 0;
  }
  if (command === "serve" || command === "mcp" || command === "sandbox-flags") {
    const target = command === "sandbox-flags" ? rest[0] : command;
    if (target !== "serve" && target !== "mcp") return fail("sandbox-flags needs serve or mcp");
    const parsed = parseFlags(flagsOf(target), command === "sandbox-flags" ? rest.slice(1) : rest);
    if (!parsed.ok) return fail(parsed.message);
    if (parsed.positional.length > 0) return fail(`${target} takes no arguments, not ${JSON.stringify(parsed.positional[0])}`);
    const { flags } = parsed;
    if (command === "sandbox-flags") {
      if (moduleUrl === undefined) return fail("sandbox-flags needs the bundle file");
      // For deployments that start the sandboxed server directly (one Node start instead of two):
      // node $(node keyrunner.mjs sandbox-flags serve --audit A) keyrunner.mjs serve --audit A
      let sandbox: string[] | undefined;
      try {
        sandbox = prepareSandbox(config, moduleUrl, sandboxPaths(flags, target));
      } catch (error) {
        if (!(error instanceof PathError)) throw error;
        err(`cannot start: ${error.message}`);
        return 1;
      }
      if (sandbox === undefined) {
        err(`Node ${process.version} has no permission model`);
        return 1;
      }
      process.stdout.write(`${sandbox.map(shellWord).join(" ")}\n`);
      return 0;
    }
    if (target === "mcp" && flags.has("url")) {
      // A bridge to a running server: it serves nothing itself, so it opens no audit, state or secret.
      const token = process.env.KEYRUNNER_TOKEN;
      delete process.env.KEYRUNNER_TOKEN;
      return bridgeMcpStdio({ url: flags.string("url")!, token, agent: process.env.KEYRUNNER_AGENT, log: err });
    }
    const relaunch = moduleUrl !== undefined && !sandboxed() && !flags.boolean("no-permission-model");
    const workers = target === "serve" ? (flags.number("workers") ?? 1) : 1;
    const problem = namedDescriptorProblem(argv, relaunch || workers > 1, workers);
    if (problem !== undefined) {
      err(problem);
      return 1;
    }
    // Before anything starts: what the starter left open without close-on-exec must not reach an exec tool.
    // A sandboxed server was started with 3 and 4 as KeyRunner's own, or directly (`sandbox-flags`).
    const closed = closeInheritedDescriptors(argv, sandboxed() ? [HANDOVER_FD, LIFELINE_FD] : []);
    if (closed === undefined && sandboxed() && hasExecTools(config)) {
      err("warning: cannot read /proc/self/fdinfo, so descriptors this process's starter left open reach exec tools: start it with the flags `sandbox-flags` prints");
    }
    if (relaunch) {
      let relaunched: Promise<number> | undefined;
      try {
        relaunched = relaunchSandboxed(config, moduleUrl!, argv, sandboxPaths(flags, target));
      } catch (error) {
        // The audit's and the state's folders are made before the server starts; a path that cannot be
        // one is said as such, before anything runs.
        if (!(error instanceof PathError)) throw error;
        err(`cannot start: ${error.message}`);
        return 1;
      }
      if (relaunched !== undefined) return relaunched;
    }
    if (sandboxed()) {
      dieWithLauncher();
      receiveHandover();
    }
    const code = target === "serve" ? await serve(config, flags) : await serveMcpStdio(config, flags);
    // A pool worker that could not start exits: its channel to the primary would keep it alive, and the
    // primary waits for its exit to stop the start.
    if (code !== 0 && isPoolWorker()) process.exit(code);
    return code;
  }
  if (command === "audit") {
    const parsed = parseFlags([], rest);
    if (!parsed.ok) return fail(parsed.message);
    if (parsed.positional[0] !== "verify" || parsed.positional.length !== 2) return fail("audit verify takes one FILE");
    return auditVerify(parsed.positional[1]!);
  }
  if (command === "token") {
    const parsed = parseFlags([{ name: "approver", kind: "boolean", description: "a token for an approver", commands: [] }], rest);
    if (!parsed.ok) return fail(parsed.message);
    if (parsed.positional.length !== 1) return fail("token takes one NAME");
    // The agents file refuses a name no policy could name: a token for one would be a line it rejects.
    if (!AGENT_NAME.test(parsed.positional[0]!)) return fail(`token NAME ${AGENT_NAME_RULE}, not ${JSON.stringify(parsed.positional[0])}`);
    process.stdout.write(tokenText(parsed.positional[0]!, parsed.flags.boolean("approver") ? "approver" : "agent"));
    return 0;
  }
  return fail(command === undefined ? "no command" : `unknown command ${JSON.stringify(command)}`);
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
    err(`cannot read ${file}: ${systemErrorText(error)}`);
    return 1;
  }
}

