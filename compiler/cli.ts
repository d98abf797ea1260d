// The `keyrunner` command line: a thin layer over the compiler library. run(argv) returns the exit code.

import { systemErrorText } from "../runtime-template/process/system-error-text.js";
import { PathError } from "../runtime-template/process/make-directory.js";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { auditVerify, tokenText } from "../runtime-template/cli/bundle-cli.js";
import { AGENT_NAME, AGENT_NAME_RULE } from "../runtime-template/credentials/agents-file.js";
import { flagsOf } from "../runtime-template/cli/flags.js";
import { handOnNamed } from "../runtime-template/process/inherited-descriptors.js";
import { RUNTIME_VERSION } from "../runtime-template/version.js";
import { displaySafe } from "../runtime-template/core/display-text.js";
import { describeFailures, explainRequest } from "../runtime-template/core/explain.js";
import { deploymentContext } from "../runtime-template/core/deployment-context.js";
import { check, renderHuman, renderJson, renderSummary, type CheckResult } from "./index.js";

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export async function run(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode = 0;
  const program = new Command("keyrunner")
    .description("Compile tool and policy YAML into a hardened action gateway for AI agents.")
    .version(RUNTIME_VERSION, "-V, --version", "print the version")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  program
    .command("check")
    .description("prove a tool and policy config sound; exit 1 on any error")
    .argument("[dir]", "config folder holding tools/ and policies/", ".")
    .option("--tools <dir>", "tool folder (default: DIR/tools)")
    .option("--policies <dir>", "policy folder (default: DIR/policies)")
    .option("--format <format>", "human or json", "human")
    .action((dir: string, options: { tools?: string; policies?: string; format: string }) => {
      if (options.format !== "human" && options.format !== "json") {
        io.stderr(`error: --format must be human or json, not ${options.format}\n`);
        exitCode = 1;
        return;
      }
      const result = check({ dir, tools: options.tools, policies: options.policies });
      if (options.format === "json") io.stdout(renderJson(result.diagnostics) + "\n");
      else {
        const text = renderHuman(result.diagnostics, result.sources);
        if (text !== "") io.stdout(text + "\n");
        io.stdout(`${renderSummary(result.diagnostics)}${result.analysis ? `: ${describe(result.analysis)}` : ""}\n`);
      }
      exitCode = result.diagnostics.some((d) => d.severity === "error") ? 1 : 0;
    });

  const configOptions = (command: Command) =>
    command
      .argument("[dir]", "config folder holding tools/ and policies/", ".")
      .option("--tools <dir>", "tool folder (default: DIR/tools)")
      .option("--policies <dir>", "policy folder (default: DIR/policies)");
  type ConfigFlags = { tools?: string; policies?: string };
  const location = (dir: string, o: ConfigFlags) => ({ dir, tools: o.tools, policies: o.policies });
  /** Prints diagnostics; true when the config compiled. */
  const report = (result: CheckResult): boolean => {
    const errors = result.diagnostics.filter((d) => d.severity === "error");
    if (result.diagnostics.length > 0) io.stderr(renderHuman(result.diagnostics, result.sources) + "\n" + renderSummary(result.diagnostics) + "\n");
    return errors.length === 0 && result.analysis !== undefined;
  };

  configOptions(program.command("build").description("check, generate the handlers and bundle them into one executable file"))
    .option("--out <dir>", "output folder, relative to the current folder (default: DIR/dist)")
    .option("--check", "exit 1 when the committed generated code differs from what the config generates")
    .option("--shadow <dir>", "also decide every request with this candidate config, recording (never enforcing) where it differs")
    .action(async (dir: string, o: ConfigFlags & { out?: string; check?: boolean; shadow?: string }) => {
      const { buildConfig, defaultOutOutside, staleGeneratedFiles } = await import("./build.js");
      // The build lands beside the config it came from, as `check DIR` reads it; --out names another place.
      const out = o.out ?? join(dir, "dist");
      const outside = o.out === undefined && !o.check ? defaultOutOutside(dir, out) : undefined;
      if (outside !== undefined) {
        io.stderr(`error: ${outside}\n`);
        return void (exitCode = 1);
      }
      if (o.check) {
        const { check: result, stale } = await staleGeneratedFiles(location(dir, o), out, o.shadow === undefined ? undefined : { dir: o.shadow });
        if (!report(result)) return void (exitCode = 1);
        if (stale.length > 0) {
          io.stderr(`generated code in ${out}/generated is stale; run \`keyrunner build\` and commit:\n${stale.map((f) => `  ${f}`).join("\n")}\n`);
          return void (exitCode = 1);
        }
        io.stdout(`${out}/generated is up to date\n`);
        return;
      }
      const built = await buildConfig(location(dir, o), out, o.shadow === undefined ? undefined : { dir: o.shadow });
      if (!report(built.check) || built.manifest === undefined) return void (exitCode = 1);
      io.stdout(
        `wrote ${out}/keyrunner.mjs (${Math.round(built.bundle!.length / 1024)} KiB), ${out}/generated (${built.generated!.files.size + 1} files), ${out}/manifest.json\n` +
          `config ${built.manifest.config_sha256}, bundle ${built.manifest.bundle_sha256}\n` +
          (built.manifest.shadow_config_sha256 ? `shadow decisions of config ${built.manifest.shadow_config_sha256} (recorded, never enforced)\n` : ""),
      );
    });

  const requestOptions = (command: Command) =>
    configOptions(command)
      .requiredOption("--agent <name>", "the agent making the request")
      .requiredOption("--tool <name>", "the tool to call")
      .requiredOption("--input <json>", "the tool input, as JSON")
      .option("--reason <text>", "why the agent asks")
      .option("--context <key=value>", "the deployment context (repeatable), keys and values from context.yaml", (value: string, previous: string[] = []) => [...previous, value]);
  type RequestFlags = ConfigFlags & { agent: string; tool: string; input: string; reason?: string; context?: string[] };
  const parseInput = (text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      io.stderr("error: --input must be JSON, e.g. '{\"payment_id\": \"pi_123\"}'\n");
      return undefined;
    }
  };

  requestOptions(program.command("explain").description("print the decision and the rule for a request, without executing it"))
    .option("--at <instant>", "decide as at this instant (ISO 8601, e.g. 2026-12-07T10:00:00Z; default now)")
    .action(async (dir: string, o: RequestFlags & { at?: string }) => {
      const input = parseInput(o.input);
      if (input === undefined) return void (exitCode = 1);
      const now = o.at === undefined ? Date.now() : Date.parse(o.at);
      if (!Number.isFinite(now) || (o.at !== undefined && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(o.at))) {
        io.stderr(`error: --at must be an ISO 8601 instant with its offset, e.g. 2026-12-07T10:00:00Z\n`);
        return void (exitCode = 1);
      }
      const { loadCompiled } = await import("./runtime-commands.js");
      const loaded = await loadCompiled(location(dir, o));
      if (!report(loaded.check) || loaded.bundle === undefined) return void (exitCode = 1);
      let context;
      try {
        context = deploymentContext(loaded.bundle.config, o.context ?? [], { requireFor: o.tool });
      } catch (error) {
        io.stderr(`error: ${(error as Error).message}\n`);
        return void (exitCode = 1);
      }
      const explained = explainRequest(loaded.bundle.config, { agent: o.agent, tool: o.tool, input, reason: o.reason }, { context, now });
      if (explained.status === "not_found") {
        io.stdout(`not found: no tool \`${o.tool}\` for agent ${o.agent}\n`);
        return void (exitCode = 2);
      }
      if (explained.status === "invalid") {
        io.stdout(`invalid input:\n${explained.errors.map((e) => `  ${e.path}: ${e.message}`).join("\n")}\n`);
        return void (exitCode = 2);
      }
      const { decision } = explained;
      if (decision.effect === "allow") io.stdout(`allowed by ${decision.rule}${decision.obligations ? ` with obligations ${JSON.stringify(decision.obligations)}` : ""}\n`);
      else io.stdout(`denied${decision.rule ? ` by ${decision.rule}` : ""}: ${decision.reason}${explained.failed && explained.failed.length > 0 ? `: ${describeFailures(explained.failed)}` : ""}\n`);
      exitCode = decision.effect === "allow" ? 0 : 2;
    });

  requestOptions(program.command("run").description("execute one request in this process, exactly as the bundle would"))
    .option("--audit <file>", "audit log", "keyrunner-audit.jsonl")
    .option("--secrets-file <file>", "NAME=value lines (default: the environment)")
    .option("--state <dir|url>", "approvals and counters (default keyrunner-state/ beside the audit)")
    .option("--approval-id <id>", "execute a request a person approved")
    .action(async (dir: string, o: RequestFlags & { audit: string; secretsFile?: string; state?: string; approvalId?: string }) => {
      const input = parseInput(o.input);
      if (input === undefined) return void (exitCode = 1);
      const { loadCompiled } = await import("./runtime-commands.js");
      const loaded = await loadCompiled(location(dir, o));
      if (!report(loaded.check) || loaded.bundle === undefined) return void (exitCode = 1);
      let runtime;
      try {
        runtime = await loaded.bundle.createRuntime(loaded.bundle.config, { lenientSecrets: true, auditFile: o.audit, context: o.context ?? [], contextRequiredFor: o.tool, ...(o.secretsFile ? { secretsFile: o.secretsFile } : {}), ...(o.state ? { state: o.state } : {}) });
      } catch (error) {
        io.stderr(`error: ${(error as Error).message}\n`);
        return void (exitCode = 1);
      }
      const outcome = await runtime.execute({ agent: o.agent, tool: o.tool, input, ...(o.reason === undefined ? {} : { reason: o.reason }), ...(o.approvalId ? { approval_id: o.approvalId } : {}) });
      await runtime.close();
      io.stdout(`${JSON.stringify(outcome, null, 2)}\n`);
      exitCode = outcome.status === "ok" ? 0 : ["denied", "invalid", "not_found", "pending_approval", "rate_limited"].includes(outcome.status) ? 2 : 1;
    });

  /** `keyrunner serve | mcp`: the bundle's own flags, from the table both command lines use, passed on. */
  for (const command of ["serve", "mcp"] as const) {
    const description = command === "serve" ? "compile in memory, then serve the bundle's HTTP API" : "compile in memory, then serve the agent's tools over MCP on stdio (token in KEYRUNNER_TOKEN)";
    const specs = flagsOf(command);
    const sub = configOptions(program.command(command).description(description));
    for (const f of specs) {
      if (f.kind === "boolean") sub.option(`--${f.name}`, f.description);
      else if (f.multiple) sub.option(`--${f.name} <${f.value}>`, f.description, (value: string, previous: string[] = []) => [...previous, value]);
      else sub.option(`--${f.name} <${f.value}>`, f.description, f.default === undefined ? undefined : String(f.default));
    }
    sub.action(async (dir: string, o: ConfigFlags & Record<string, string | string[] | boolean | undefined>) => {
      if (command === "mcp" && typeof o.url === "string") {
        const { bridgeMcpStdio } = await import("../runtime-template/cli/mcp-bridge.js");
        const token = process.env.KEYRUNNER_TOKEN;
        delete process.env.KEYRUNNER_TOKEN;
        return void (exitCode = await bridgeMcpStdio({ url: o.url, token, agent: process.env.KEYRUNNER_AGENT, log: (line) => io.stderr(`keyrunner: ${displaySafe(line)}\n`) }));
      }
      const { buildToTemp } = await import("./build.js");
      const built = await buildToTemp(location(dir, o));
      if (!report(built.check) || built.bundlePath === undefined) return void (exitCode = 1);
      const args: string[] = [command];
      for (const f of specs) {
        // commander reads `--no-x` as x = false
        const value = f.name.startsWith("no-") ? o[camelCase(f.name.slice(3))] === false : o[camelCase(f.name)];
        if (value === undefined || value === false) continue;
        if (value === true) args.push(`--${f.name}`);
        else for (const one of Array.isArray(value) ? value : [value]) args.push(`--${f.name}`, one);
      }
      // A descriptor the flags name (--secrets-file /dev/fd/5) goes to the bundle at its own number: Node has
      // marked a low one close-on-exec in this process (runtime-template/process/inherited-descriptors.ts).
      const child = spawn(process.execPath, [built.bundlePath, ...args], { stdio: ["inherit", "inherit", "inherit", "ignore", "ignore", ...handOnNamed(args)] });
      for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => child.kill(signal));
      exitCode = await new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
    });
  }

  configOptions(program.command("export").description("print the tool definitions for OpenAI, Anthropic or MCP tool calling"))
    .requiredOption("--format <format>", "openai, anthropic or mcp")
    .option("--agent <name>", "only the tools this agent may call")
    .action(async (dir: string, o: ConfigFlags & { format: string; agent?: string }) => {
      const { LISTING_FORMATS } = await import("../runtime-template/core/tool-listing.js");
      if (!(LISTING_FORMATS as readonly string[]).includes(o.format)) {
        io.stderr(`error: --format must be openai, anthropic or mcp, not ${o.format}\n`);
        return void (exitCode = 1);
      }
      const result = check(location(dir, o));
      if (!report(result)) return void (exitCode = 1);
      const { exportedTools, renderExport } = await import("./export-tools.js");
      io.stdout(`${JSON.stringify(renderExport(exportedTools(result.analysis!, o.agent), o.format as "openai"), null, 2)}\n`);
    });

  configOptions(program.command("test").description("run the policy unit tests in DIR/tests/*.yaml through the generated code"))
    .action(async (dir: string, o: ConfigFlags) => {
      const { readPolicyTests, runPolicyTest } = await import("./policy-tests.js");
      const { loadCompiled } = await import("./runtime-commands.js");
      const loaded = await loadCompiled(location(dir, o));
      if (!report(loaded.check) || loaded.bundle === undefined) return void (exitCode = 1);
      const { cases, problems } = readPolicyTests(join(dir, "tests"), dir);
      for (const problem of problems) io.stderr(`error: ${problem}\n`);
      const results = cases.map((c) => runPolicyTest(loaded.bundle!.config, c));
      for (const r of results) {
        const got = `${r.got}${r.rule ? ` by ${r.rule}` : ""}`;
        if (r.passed) io.stdout(`  ✓ ${r.case.name}  (${got})\n`);
        else io.stdout(`  ✗ ${r.case.name}  ${r.case.where}\n      expected ${r.case.expect}${r.case.rule ? ` by ${r.case.rule}` : ""}, got ${got}${r.detail ? `: ${r.detail}` : ""}\n`);
      }
      const exercised = new Set(results.map((r) => r.rule).filter((rule): rule is string => rule !== undefined));
      const unexercised = [...loaded.check.analysis!.rulesByTool.values()].flat().map((r) => r.id).filter((id) => !exercised.has(id)).sort();
      if (unexercised.length > 0) io.stdout(`\nrules no case exercises:\n${unexercised.map((id) => `  ${id}`).join("\n")}\n`);
      const failed = results.filter((r) => !r.passed).length;
      io.stdout(`\npolicy tests: ${results.length - failed} of ${results.length} cases as expected${failed > 0 ? `, ${failed} not` : ""}\n`);
      exitCode = failed > 0 || problems.length > 0 || cases.length === 0 ? 1 : 0;
    });

  program
    .command("diff")
    .description("which requests a config change newly allows, denies or obliges, each with a verified witness")
    .argument("<old>", "the old config folder, or a git revision (then NEW defaults to the working tree's .)")
    .argument("[new]", "the new config folder")
    .option("--format <format>", "text, json or markdown", "text")
    .option("--fail-on <what>", "`widen`: exit 1 when any request is newly allowed")
    .action(async (old: string, next: string | undefined, o: { format: string; failOn?: string }) => {
      const { diffCommand } = await import("./review/diff-command.js");
      exitCode = await diffCommand(old, next, o, io);
    });

  program
    .command("replay")
    .description("re-decide every request of an audit log against a config, executing nothing")
    .requiredOption("--audit <file>", "audit JSON Lines file")
    .argument("[dir]", "candidate config folder holding tools/ and policies/", ".")
    .option("--format <format>", "text or json", "text")
    .action(async (dir: string, o: { audit: string; format: string }) => {
      const { replayCommand } = await import("./review/replay-command.js");
      exitCode = await replayCommand(dir, o, io);
    });

  program
    .command("audit")
    .description("audit log tools")
    .command("verify")
    .argument("<file>", "audit JSON Lines file")
    .description("check the hash chain and report the first broken record")
    .action((file: string) => {
      exitCode = auditVerify(file);
    });

  const approvals = program.command("approvals").description("list, approve or deny pending approvals on a running bundle");
  const approvalOptions = (command: Command) =>
    command
      .requiredOption("--url <url>", "the bundle, e.g. http://127.0.0.1:8787")
      .option("--token <token>", "an approver's token (default: KEYRUNNER_TOKEN)");
  const call = async (o: { url: string; token?: string }, method: string, path: string): Promise<{ status: number; body: any } | undefined> => {
    const token = o.token ?? process.env.KEYRUNNER_TOKEN;
    try {
      const response = await fetch(new URL(path, o.url), { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(method === "POST" ? { "content-type": "application/json" } : {}) }, ...(method === "POST" ? { body: "{}" } : {}) });
      return { status: response.status, body: await response.json() };
    } catch {
      io.stderr(`error: cannot reach ${o.url}\n`);
      return undefined;
    }
  };
  approvalOptions(approvals.command("list").description("approvals and their status")).action(async (o: { url: string; token?: string }) => {
    const result = await call(o, "GET", "/v1/approvals");
    if (result === undefined || result.status !== 200) {
      if (result) io.stderr(`error: ${result.body.message ?? result.status}\n`);
      return void (exitCode = 1);
    }
    const rows = (result.body.approvals as Array<Record<string, unknown>>).filter((a) => a.status === "pending" || a.status === "approved");
    if (rows.length === 0) io.stdout("no approvals pending\n");
    // Everything in a row came from the agent (or the server): shown escaped, so no text can rewrite the row.
    const shown = (value: unknown) => displaySafe(String(value));
    for (const a of rows) io.stdout(`${shown(a.approval_id)}  ${shown(a.status)}  ${shown(a.agent)} → ${shown(a.tool)} ${shown(JSON.stringify(a.input))}${a.reason ? `  reason: ${shown(a.reason)}` : ""}  expires ${shown(a.expires_at)}\n`);
  });
  for (const action of ["approve", "deny"] as const) {
    approvalOptions(approvals.command(action).argument("<id>", "approval id").description(`${action} a pending approval`)).action(async (id: string, o: { url: string; token?: string }) => {
      const result = await call(o, "POST", `/v1/approvals/${encodeURIComponent(id)}/${action}`);
      if (result === undefined) return void (exitCode = 1);
      if (result.status !== 200) {
        io.stderr(`error: ${displaySafe(String(result.body.message ?? result.status))}\n`);
        return void (exitCode = 1);
      }
      io.stdout(`${displaySafe(id)} ${displaySafe(String(result.body.status))}\n`);
    });
  }

  const ca = program.command("ca").description("the local CA of HTTPS interception (serve --ca DIR)");
  ca.command("init")
    .argument("<dir>", "folder for ca.pem and ca-key.pem")
    .option("--config <dir>", "config folder whose https tool hosts the CA may sign for", ".")
    .option("--tools <dir>", "tool folder (default: CONFIG/tools)")
    .option("--policies <dir>", "policy folder (default: CONFIG/policies)")
    .option("--force", "replace an existing CA (agents must then trust the new ca.pem)")
    .description("make a CA (ECDSA P-256, name-constrained to the config's https hosts) for serve --ca")
    .action(async (dir: string, o: ConfigFlags & { config: string; force?: boolean }) => {
      const { initCa } = await import("./interception-commands.js");
      const result = await initCa(dir, location(o.config, o), o.force === true);
      if (result.ok) return void io.stdout(result.text);
      if (result.diagnostics) report(check(location(o.config, o)));
      io.stderr(`error: ${result.message}\n`);
      exitCode = 1;
    });

  program
    .command("proxy-env")
    .requiredOption("--proxy <url>", "the bundle as the agent's proxy: http://AGENT:TOKEN@HOST:PORT")
    .requiredOption("--ca <dir>", "the CA folder of serve --ca")
    .description("print the environment (export lines) that routes an agent process's HTTP(S) through the bundle")
    .action(async (o: { proxy: string; ca: string }) => {
      const { proxyEnv } = await import("./interception-commands.js");
      const result = proxyEnv(o.proxy, o.ca);
      if (result.ok) return void io.stdout(result.text);
      io.stderr(`error: ${result.message}\n`);
      exitCode = 1;
    });

  program
    .command("token")
    .argument("<name>", "agent (or, with --approver, approver) name")
    .option("--approver", "a token for an approver, to add under approvers:")
    .description("print a new random token and the line to add to the agents file")
    .action((name: string, o: { approver?: boolean }) => {
      // The agents file refuses a name no policy could name: a token for one would be a line it rejects.
      if (!AGENT_NAME.test(name)) {
        io.stderr(`error: token NAME ${AGENT_NAME_RULE}, not ${JSON.stringify(name)}\n`);
        exitCode = 1;
        return;
      }
      io.stdout(tokenText(name, o.approver ? "approver" : "agent"));
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    // diff and replay keep exit 1 for "something widened/changed": their usage errors exit 2.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : argv[0] === "diff" || argv[0] === "replay" ? 2 : 1;
    // A failure no diagnostic covers: one line, not Node's dump of the throwing line (a dependency's is a
    // megabyte of minified source) nor a stack trace. KEYRUNNER_DEBUG=1 shows the stack for a report.
    const detail = process.env.KEYRUNNER_DEBUG === "1" && error instanceof Error ? `\n${error.stack}` : "";
    if (error instanceof PathError) {
      io.stderr(`keyrunner: ${argv[0] ?? "keyrunner"} failed: ${error.message}${detail}\n`);
      return 1;
    }
    const { syscall, path } = error as NodeJS.ErrnoException;
    if (syscall !== undefined) {
      // The machine refused (a full disk, a path that is a file): said with the path, not as a bug.
      io.stderr(`keyrunner: ${argv[0] ?? "keyrunner"} failed: ${path === undefined ? "" : `${path} `}${systemErrorText(error)}${detail}\n`);
      return 1;
    }
    const text = (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 300);
    io.stderr(`keyrunner: internal error: ${text}${detail}\n  hint: this is a bug in keyrunner, not in your config; please report it with the command that caused it (KEYRUNNER_DEBUG=1 prints the stack)\n`);
    return 2;
  }
  return exitCode;
}

const camelCase = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function describe(analysis: NonNullable<ReturnType<typeof check>["analysis"]>): string {
  const tools = analysis.config.tools.size;
  const rules = analysis.config.rules.length;
  return `${tools} tool${tools === 1 ? "" : "s"}, ${rules} rule${rules === 1 ? "" : "s"} proven disjoint and reachable`;
}
