// `mcp`: the agent's tools over MCP on stdio, through the same engine as `serve`.

import { AGENT_NAME, AGENT_NAME_RULE, authenticate, loadAgentsFile } from "../credentials/agents-file.js";
import { createRuntime } from "../runtime.js";
import { runtimePolicyOptions } from "./flags.js";
import { RUNTIME_VERSION } from "../version.js";
import type { CompiledConfig } from "../contract/tool-module.js";
import { err, type Flags } from "./flags.js";
import { agentsFileFailureText, startFailureText } from "./start-failure.js";

/**
 * MCP over stdio: stdout carries the protocol, so everything else goes to stderr. The agent is the one
 * KEYRUNNER_TOKEN names in --agents; without an agents file, KEYRUNNER_AGENT names it (local use).
 */
export async function serveMcpStdio(config: CompiledConfig, flags: Flags): Promise<number> {
  const token = process.env.KEYRUNNER_TOKEN;
  delete process.env.KEYRUNNER_TOKEN;
  let agent: string | undefined;
  if (flags.has("agents")) {
    try {
      const found = token === undefined ? undefined : authenticate(loadAgentsFile(flags.string("agents")!), token);
      agent = found?.role === "agent" ? found.name : undefined;
    } catch (error) {
      err(agentsFileFailureText(flags.string("agents")!, error));
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
    if (!AGENT_NAME.test(agent)) {
      err(`KEYRUNNER_AGENT ${AGENT_NAME_RULE}`);
      return 1;
    }
    err(`warning: no --agents file: serving MCP as agent ${agent} on trust`);
  }
  let runtime;
  try {
    runtime = await createRuntime(config, { auditFile: flags.string("audit"), secretsFile: flags.string("secrets-file"), state: flags.string("state"), maxPendingApprovals: flags.number("max-pending-approvals"), onLockWait: err, ...runtimePolicyOptions(flags) });
  } catch (error) {
    err(startFailureText(error, "mcp"));
    return 1;
  }
  const [{ StdioServerTransport }, { CallsInFlight, createMcpServer }] = await Promise.all([import("@modelcontextprotocol/sdk/server/stdio.js"), import("../mcp/mcp-server.js")]);
  const calls = new CallsInFlight();
  const server = createMcpServer(runtime.engine, agent, RUNTIME_VERSION, calls);
  const transport = new StdioServerTransport();
  await server.connect(transport);
  return new Promise<number>((resolve) => {
    let stopping = false;
    // The client closing stdin (how MCP clients stop a stdio server) or SIGTERM: every call already
    // received is answered and its outcome recorded, then the server closes (releasing its locks).
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void calls
        .settled()
        .then(() => new Promise((next) => setImmediate(next)))
        .then(() => server.close())
        .then(() => runtime.close())
        .then(() => resolve(0));
    };
    process.stdin.once("end", stop);
    process.once("SIGTERM", stop);
    // The client gone while calls run (its end of stdout closed: EPIPE): every call still finishes and
    // is recorded, its answer has nowhere to go, and the server stops as on stdin's end — never the
    // unhandled 'error' that once killed it between a call's decision record and its outcome record.
    process.stdout.on("error", stop);
    // The transport closed itself (a message over its 10 MiB limit): said on stderr, then the same stop,
    // where it once left a process that Node ended with code 13 and no word.
    server.onerror = (error) => err(`mcp: ${error.message.split("\n")[0]}`);
    server.onclose = stop;
  });
}
