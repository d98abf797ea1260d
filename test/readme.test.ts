// Every fenced block of README.md, exercised as a newcomer would use it: shell blocks run line by line in a
// copy of the example config (real `keyrunner`, the real bundle as a process), TypeScript type-checks against
// the package's types, YAML compiles with `check`, JSON configures a real MCP client, and the `check` output
// block equals what `check` prints. A block no handler here claims fails the suite, so a new block needs a test.
//
// The example tools name real API hosts. The bundle is started with two preloads that stand in for the
// internet (test/security/stub-dns.mjs, stub-network.mjs: every API host resolves to a public test address
// routed to one local TLS upstream, trusted through NODE_EXTRA_CA_CERTS), so the commands run unchanged
// except for these substitutions: port 8787 → a free port, the Redis URL → a test redis-server, `apr_…` → the
// approval id just printed, and a placeholder secret (`sk_live_…`, `…`) → a test value.

import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, missingReason, startRedis } from "./support/redis-server.js";
import { Upstream, type Received } from "./support/upstream.js";

const root = join(import.meta.dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

interface Block {
  lang: string;
  text: string;
  line: number;
}

/** The fenced blocks of a Markdown text, indented ones (inside list items) included, dedented. */
function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() !== "```") body.push(lines[j++]!.slice(indent));
    blocks.push({ lang: open[2]!, text: body.join("\n"), line: i + 1 });
    i = j;
  }
  return blocks;
}

const blocks = fencedBlocks(readme);
const claimed = new Set<Block>();
/** The one block whose first line is `first`; the test claims it. */
function block(first: string): Block {
  const found = blocks.filter((b) => b.text.split("\n")[0]!.trim() === first);
  if (found.length !== 1) throw new Error(`README.md: expected one block starting ${JSON.stringify(first)}, found ${found.length}`);
  claimed.add(found[0]!);
  return found[0]!;
}

interface Command {
  line: string;
  /** A `# → …` line under the command: the shape of the JSON it prints. */
  expect?: string;
}

/** A shell block's commands: continuations joined, comments dropped, `# →` lines kept as expectations. */
function commandsOf(text: string): Command[] {
  const commands: Command[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const trimmed = raw.trim();
    if (trimmed.startsWith("# →")) commands.at(-1)!.expect = trimmed.slice(3).trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const code = raw.replace(/\s+#\s.*$/, "");
    if (code.endsWith("\\")) pending += code.slice(0, -1);
    else {
      commands.push({ line: (pending + code).trim() });
      pending = "";
    }
  }
  return commands;
}

/** `actual` has the shape the README shows: every key it names, equal values, `…` for anything (`apr_…`: a prefix). */
function expectShape(actual: unknown, shown: string): void {
  const expected = JSON.parse(shown.replace(/\s*\(HTTP \d+\)$/, "").replace(/\{…\}/g, '"…"')) as unknown;
  const match = (a: unknown, e: unknown, path: string): void => {
    if (e === "…") expect(a, path).toBeDefined();
    else if (typeof e === "string" && e.includes("…")) {
      expect(a, path).toBeTypeOf("string");
      expect((a as string).startsWith(e.slice(0, e.indexOf("…"))), `${path}: ${String(a)}`).toBe(true);
    } else if (typeof e === "object" && e !== null) {
      for (const [key, value] of Object.entries(e)) match((a as Record<string, unknown>)[key], value, `${path}.${key}`);
    } else expect(a, path).toEqual(e);
  };
  match(actual, expected, "$");
}

// ---- the stand-in world ---------------------------------------------------------------------------------

const API_HOSTS = ["api.stripe.com", "api.github.com", "api.hubapi.com", "api.postmarkapp.com", "events.pagerduty.com"];
const PUBLIC_API = "203.0.113.10";
const SECRETS: Record<string, string> = {
  STRIPE_API_KEY: "sk_test_readme_stripe_0123",
  GITHUB_TOKEN: "ghp_readme_github_token_0123",
  HUBSPOT_TOKEN: "hub_readme_token_0123",
  POSTMARK_SERVER_TOKEN: "pm_readme_token_0123",
  PAGERDUTY_ROUTING_KEY: "pd_readme_routing_0123",
};
const certDir = mkdtempSync(join(tmpdir(), "kr-readme-tls-"));
const tlsCert = join(certDir, "tls.crt");
execFileSync(
  "openssl",
  ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(certDir, "tls.key"), "-out", tlsCert, "-days", "1", "-subj", "/CN=api", "-addext", `subjectAltName=${API_HOSTS.map((h) => `DNS:${h}`).join(",")}`],
  { stdio: "ignore" },
);
const api = new Upstream({ key: readFileSync(join(certDir, "tls.key")), cert: readFileSync(tlsCert) });
let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
// The approvals flow serves with Redis state, as the README shows; without redis-server that one case is
// skipped, saying why (a failure under KR_REQUIRE_REDIS=1, as in CI), and the rest of the README runs.
const redisMissing = missingReason(["redis-server"]);
const skipRedisCase = redisMissing !== undefined && process.env.KR_REQUIRE_REDIS !== "1";
if (skipRedisCase) console.warn(`skipped "README.md > approvals": it ${redisMissing}; set KR_REQUIRE_REDIS=1 to make this a failure`);
const shims = mkdtempSync(join(tmpdir(), "kr-readme-bin-"));

beforeAll(async () => {
  await api.start();
  api.routes.set("/v1/refunds", (req, res) => {
    const body = req.headers["content-type"]?.startsWith("application/json") ? JSON.parse(req.body) : Object.fromEntries(new URLSearchParams(req.body));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "re_1", object: "refund", amount: Number(body.amount), payment_intent: body.payment_intent, status: "succeeded" }));
  });
  if (redisMissing === undefined) redis = await startRedis();
  // `npx keyrunner …` is this repository's CLI, as after `npm install` in a project that depends on it.
  writeFileSync(join(shims, "npx"), `#!/bin/sh\n[ "$1" = keyrunner ] || { echo "npx: only keyrunner here" >&2; exit 127; }\nshift\nexec "${process.execPath}" "${join(root, "bin", "keyrunner.js")}" "$@"\n`, { mode: 0o755 });
});

const sessions: Session[] = [];
afterAll(async () => {
  for (const s of sessions) s.stop();
  await api.stop();
  await redis?.stop();
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** A reader's shell: a copy of the example config, exported variables, and the servers it started. */
class Session {
  readonly dir = mkdtempSync(join(tmpdir(), "kr-readme-"));
  env: Record<string, string> = { PATH: `${shims}:${process.env.PATH ?? ""}`, HOME: this.dir };
  port = 0;
  approvalId = "";
  readonly #servers: ChildProcess[] = [];

  constructor(edit: (dir: string) => void = () => {}) {
    for (const folder of ["tools", "policies", "tests"]) cpSync(join(root, folder), join(this.dir, folder), { recursive: true });
    cpSync(join(root, "context.yaml"), join(this.dir, "context.yaml"));
    // the agent script's imports (stripe, http-proxy-agent) resolve as in a project that installed them
    symlinkSync(join(root, "node_modules"), join(this.dir, "node_modules"));
    edit(this.dir);
    sessions.push(this);
  }

  substitute(line: string): string {
    return line
      .replace(/(127\.0\.0\.1|localhost):8787/g, `$1:${this.port}`)
      .replace("redis://127.0.0.1:6379", () => {
        if (redis === undefined) throw new Error(`the README's Redis command cannot run: ${redisMissing}`);
        return redis.url;
      })
      .replace(/apr_…/g, this.approvalId);
  }

  /** Runs one README command line; `export` lines set the session's variables (placeholder secrets filled in). */
  async run(command: Command): Promise<Ran> {
    const exported = /^export\s+(.*)$/.exec(command.line);
    if (exported !== null) {
      for (const pair of exported[1]!.split(/\s+/)) {
        const name = pair.split("=")[0]!;
        expect(SECRETS[name], `a test value for ${name}`).toBeDefined();
        this.env[name] = SECRETS[name]!;
      }
      return { code: 0, stdout: "", stderr: "" };
    }
    if (/keyrunner\.mjs (serve|mcp)\b/.test(command.line)) return this.serve(command.line);
    // `eval "$(COMMAND)"`: the `export NAME=value` lines COMMAND prints become the session's variables.
    const evaluated = /^eval "\$\((.*)\)"$/.exec(command.line);
    if (evaluated !== null) {
      const ran = await this.run({ line: evaluated[1]! });
      expect(ran.code, `${evaluated[1]}: ${ran.stderr}`).toBe(0);
      for (const line of ran.stdout.trim().split("\n")) {
        const pair = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
        expect(pair, line).not.toBeNull();
        this.env[pair![1]!] = pair![2]!.startsWith("'") ? pair![2]!.slice(1, -1).replace(/'\\''/g, "'") : pair![2]!;
      }
      return ran;
    }
    const ran = await promisify(execFile)("bash", ["-c", this.substitute(command.line)], { cwd: this.dir, env: this.env }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
    if (command.expect !== undefined) {
      expect(ran.code, `${command.line}: ${ran.stderr}`).toBe(0);
      expectShape(JSON.parse(ran.stdout), command.expect);
    }
    return ran;
  }

  /** `node dist/keyrunner.mjs serve …` in the background, on a free port, in the stand-in world. */
  async serve(line: string): Promise<Ran> {
    this.port = await freePort();
    const preloads = `--import ${join(root, "test", "security", "stub-dns.mjs")} --import ${join(root, "test", "security", "stub-network.mjs")} --no-deprecation`;
    const shell = `exec ${this.substitute(line).replace(/^node /, `node ${preloads} `)} --port ${this.port} --no-permission-model`;
    const child = spawn("bash", ["-c", shell], {
      cwd: this.dir,
      env: { ...this.env, KR_STUB_DNS: JSON.stringify(Object.fromEntries(API_HOSTS.map((h) => [h, [PUBLIC_API]]))), KR_STUB_ROUTES: JSON.stringify({ [PUBLIC_API]: api.port }), NODE_EXTRA_CA_CERTS: tlsCert },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#servers.push(child);
    let stdout = "";
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the bundle did not start: ${stderr}`)), 15_000);
      child.stdout!.on("data", (c: Buffer) => {
        stdout += c.toString();
        if (stdout.includes("keyrunner listening on")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on("exit", (code) => reject(new Error(`the bundle exited ${code}: ${stderr}`)));
    });
    return { code: 0, stdout, stderr };
  }

  /** `keyrunner token NAME [--approver]`: the token, and its line written into agents.yaml as the output says. */
  async token(command: Command, section: "agents" | "approvers"): Promise<string> {
    const ran = await this.run(command);
    expect(ran.code).toBe(0);
    const [token, , where, line] = ran.stdout.split("\n");
    expect(where).toBe(`add to the agents file, under ${section}:`);
    const file = join(this.dir, "agents.yaml");
    const text = existsSync(file) ? readFileSync(file, "utf8") : "";
    writeFileSync(file, `${text}${text.includes(`${section}:`) ? "" : `${section}:\n`}${line}\n`);
    return token!;
  }

  stop(): void {
    for (const child of this.#servers) child.kill("SIGTERM");
  }
}

const tokenCommand = (name: string, approver = false): Command => ({ line: `npx keyrunner token ${name}${approver ? " --approver" : ""}` });
const refundsAt = (mark: number): Received[] => api.since(mark).filter((r) => r.url === "/v1/refunds");

// ---- the blocks -------------------------------------------------------------------------------------------

/** Every block a test below exercises, claimed when the file loads, so that the last test sees them all. */
const readmeBlocks = {
  setup: block("npm install && npm start     # an offline demo of the whole loop: check, build, serve, an agent session, audit verify"),
  checkCommands: block("npx keyrunner check                  # the current folder: ./tools and ./policies"),
  overlapPolicy: block("# policies/test_payments.yaml"),
  contextExample: block("# policies/oncall.yaml: restarts in staging outside a change freeze, or in production with an approval"),
  overlapOutput: block("policies/test_payments.yaml:4:5 error KR4002 rules overlap: policies/support_refunds.yaml#allow[0] and policies/test_payments.yaml#deny[0] both match some requests for `refund_payment`"),
  buildAndServe: block("npx keyrunner build                        # dist/keyrunner.mjs (one executable file), dist/generated/, dist/manifest.json"),
  call: block('curl -s http://127.0.0.1:8787/v1/execute -H "Authorization: Bearer $AGENT_TOKEN" \\'),
  mcpHttp: block('{ "mcpServers": { "keyrunner": { "type": "http", "url": "http://127.0.0.1:8787/mcp",'),
  mcpStdio: block('{ "mcpServers": { "keyrunner": { "command": "npx",'),
  refundsPolicy: block("# policies/refunds.yaml"),
  agentsFile: block("agents:"),
  approvalFlow: block("npx keyrunner build"),
  agentScript: block("// agent.mjs — the official Stripe SDK over its default https, a placeholder key, KeyRunner as its proxy"),
  proxyCommands: block("npx keyrunner ca init ca       # ca/ca.pem (agents trust it), ca/ca-key.pem (0600): may sign only for this config's https hosts"),
  exportAndTest: block("npx keyrunner export --format openai --agent support-agent      # ChatCompletionTool[] for the OpenAI SDK"),
  policyTest: block("# tests/support.yaml"),
  review: block("npx keyrunner diff origin/main --format markdown            # this branch against main (read with git show): the PR comment"),
  schemaLine: block("# yaml-language-server: $schema=../schemas/tool.schema.json"),
  layout: block("compiler/"),
  typescript: blocks.filter((b) => b.lang === "ts").map((b) => (claimed.add(b), b)),
};


describe("README.md", () => {
  it("set up: the two commands are the package's own scripts, and the demo `npm start` runs completes", async () => {
    const setup = commandsOf(readmeBlocks.setup.text);
    expect(setup.map((c) => c.line)).toEqual(["npm install && npm start", "npm install && npm test"]);
    const scripts = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts as Record<string, string>;
    expect(scripts).toMatchObject({ prepare: "node scripts/prepare-lib.mjs", prestart: "tsc -p .", start: "node examples/demo.mjs", pretest: "tsc -p .", test: "vitest run" });
    // `npm install` and `npm test` are what this suite is run by (test/install.test.ts installs for real);
    // `npm start` is its prestart (lib/ is built) and the demo:
    const demo = await promisify(execFile)(process.execPath, [join(root, "examples", "demo.mjs")], { cwd: root, env: { PATH: process.env.PATH ?? "" } });
    expect(demo.stdout).toContain("audit verify");
  });

  it("check: the current folder, another folder, named folders in JSON", async () => {
    const session = new Session((dir) => {
      cpSync(join(root, "tools"), join(dir, "path", "to", "config", "tools"), { recursive: true });
      cpSync(join(root, "policies"), join(dir, "path", "to", "config", "policies"), { recursive: true });
      cpSync(join(root, "context.yaml"), join(dir, "path", "to", "config", "context.yaml"));
      cpSync(join(root, "tools"), join(dir, "t"), { recursive: true });
      cpSync(join(root, "policies"), join(dir, "p"), { recursive: true });
    });
    const commands = commandsOf(readmeBlocks.checkCommands.text);
    expect(commands).toHaveLength(3);
    for (const command of commands) {
      const ran = await session.run(command);
      expect(ran.code, `${command.line}: ${ran.stderr}`).toBe(0);
    }
    expect(JSON.parse((await session.run(commands[2]!)).stdout)).toEqual({ diagnostics: [] });
  });

  it("check: the overlap example prints exactly the finding shown", async () => {
    const policy = readmeBlocks.overlapPolicy.text;
    const shown = readmeBlocks.overlapOutput.text;
    const session = new Session((dir) => writeFileSync(join(dir, "policies", "test_payments.yaml"), `${policy}\n`));
    const ran = await session.run({ line: "npx keyrunner check" });
    expect(ran.code).toBe(1);
    expect(ran.stdout).toBe(`${shown}\n`);
  });

  it("context, time and credentials: the example's lines are the shipped policies' own, and the policies check", async () => {
    // Each non-comment line of the block, as written, is a line of the file its comment names.
    const text = readmeBlocks.contextExample.text;
    const files = [...text.matchAll(/^# (policies\/[a-z_]+\.yaml):/gm)].map((m) => m[1]!);
    expect(files).toEqual(["policies/oncall.yaml", "policies/github_issues.yaml"]);
    const shipped = files.map((f) => readFileSync(join(root, f), "utf8").split("\n"));
    let current = -1;
    for (const line of text.split("\n")) {
      if (line.startsWith("# policies/")) current++;
      else if (!line.startsWith("#")) expect(shipped[current], line).toContain(line);
    }
    expect((await new Session().run({ line: "npx keyrunner check" })).code).toBe(0);
  });

  describe("build, serve, call; MCP over HTTP and stdio", () => {
    const session = new Session();
    const build = commandsOf(readmeBlocks.buildAndServe.text);
    const call = commandsOf(readmeBlocks.call.text);

    it("builds, checks the build, makes a token, exports every secret the manifest names, serves", async () => {
      expect(build.map((c) => c.line.split(" ").slice(0, 3).join(" "))).toEqual(["npx keyrunner build", "npx keyrunner build", "npx keyrunner token", "export STRIPE_API_KEY=sk_live_… GITHUB_TOKEN=…", "node dist/keyrunner.mjs serve"]);
      expect((await session.run(build[0]!)).code).toBe(0);
      expect((await session.run(build[1]!)).stdout).toBe("dist/generated is up to date\n");
      session.env.AGENT_TOKEN = await session.token(build[2]!, "agents");
      await session.run(build[3]!);
      const manifest = JSON.parse(readFileSync(join(session.dir, "dist", "manifest.json"), "utf8"));
      expect(Object.keys(session.env).filter((k) => k in SECRETS).sort()).toEqual(manifest.secrets);
      await session.run(build[4]!);
    });

    it("the agent's call executes with the real key, as the README shows", async () => {
      const mark = api.received.length;
      expect(call).toHaveLength(1);
      const ran = await session.run(call[0]!);
      expect(ran.code).toBe(0);
      expect(JSON.parse(ran.stdout).result).toMatchObject({ id: "re_1", amount: 2500 });
      const got = refundsAt(mark);
      expect(got).toHaveLength(1);
      expect(got[0]!.headers.authorization).toBe(`Bearer ${SECRETS.STRIPE_API_KEY}`);
    });

    it("MCP over Streamable HTTP, configured as shown", async () => {
      const config = JSON.parse(readmeBlocks.mcpHttp.text).mcpServers.keyrunner;
      const url = session.substitute(config.url);
      const headers = { Authorization: config.headers.Authorization.replace("kr_…", session.env.AGENT_TOKEN) };
      const client = new Client({ name: "readme", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(["refund_payment", "send_email"]);
      await client.close();
      expect((await fetch(url, { headers })).status).toBe(405);
    });

    it("MCP on stdio, configured as shown: several clients bridged to the one running server", async () => {
      const config = JSON.parse(readmeBlocks.mcpStdio.text).mcpServers.keyrunner;
      expect(config.command).toBe("npx");
      const [program, ...rest] = config.args as string[];
      expect(program).toBe("keyrunner");
      // `npx keyrunner` is this package's bin; the test runs it with node directly.
      const args = [join(root, "bin", "keyrunner.js"), ...rest.map((a) => session.substitute(a))];
      const env = Object.fromEntries(Object.entries(config.env as Record<string, string>).map(([k, v]) => [k, k === "KEYRUNNER_TOKEN" ? session.env.AGENT_TOKEN! : v]));
      expect(Object.keys(env)).toEqual(["KEYRUNNER_TOKEN"]);
      for (let i = 0; i < 2; i++) {
        const client = new Client({ name: `readme-${i}`, version: "1.0.0" });
        const transport = new StdioClientTransport({ command: process.execPath, args, env: { ...env, PATH: process.env.PATH ?? "" }, stderr: "pipe" });
        let stderr = "";
        transport.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
        const tools = await client.connect(transport).then(() => client.listTools()).then((r) => r.tools, (error: Error) => {
          throw new Error(`${error.message}: ${stderr}`);
        });
        expect(tools.map((t) => t.name).sort()).toEqual(["refund_payment", "send_email"]);
        await client.close();
      }
    });
  });

  it.skipIf(skipRedisCase)("approvals: the policy compiles in place of support_refunds, and the flow runs as shown", async () => {
    const policy = readmeBlocks.refundsPolicy.text;
    const agentsShown = readmeBlocks.agentsFile.text;
    const session = new Session((dir) => {
      rmSync(join(dir, "policies", "support_refunds.yaml"));
      writeFileSync(join(dir, "policies", "refunds.yaml"), `${policy}\n`);
    });
    expect((await session.run({ line: "npx keyrunner check" })).code).toBe(0);
    // The agents file as shown, each `…` filled in by the command its comment names.
    const named = [...agentsShown.matchAll(/from `keyrunner (token [^`]+)`/g)].map((m) => m[1]!);
    expect(named).toEqual(["token support-agent", "token alice --approver"]);
    session.env.AGENT_TOKEN = await session.token(tokenCommand("support-agent"), "agents");
    session.env.ALICE_TOKEN = await session.token(tokenCommand("alice", true), "approvers");
    await session.run({ line: "export STRIPE_API_KEY=… GITHUB_TOKEN=… HUBSPOT_TOKEN=… POSTMARK_SERVER_TOKEN=… PAGERDUTY_ROUTING_KEY=…" });

    const flow = commandsOf(readmeBlocks.approvalFlow.text);
    expect(flow.map((c) => c.line.split(" ").slice(0, 3).join(" "))).toEqual(["npx keyrunner build", "node dist/keyrunner.mjs serve", "curl -s localhost:8787/v1/execute", "npx keyrunner approvals", "npx keyrunner approvals", "curl -s localhost:8787/v1/execute"]);
    expect((await session.run(flow[0]!)).code).toBe(0);
    await session.run(flow[1]!);
    const mark = api.received.length;
    const asked = await session.run(flow[2]!);
    session.approvalId = JSON.parse(asked.stdout).approval_id;
    expect(refundsAt(mark)).toHaveLength(0);
    const listed = await session.run(flow[3]!);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`${session.approvalId}  pending  support-agent → refund_payment`);
    expect((await session.run(flow[4]!)).stdout).toBe(`${session.approvalId} approved\n`);
    const executed = await session.run(flow[5]!);
    expect(JSON.parse(executed.stdout).result).toMatchObject({ amount: 9000 });
    expect(refundsAt(mark)).toHaveLength(1);
  });

  it("forward proxy: ca init, serve --ca, proxy-env, the Stripe SDK over https and curl through HTTPS_PROXY", async () => {
    const script = readmeBlocks.agentScript.text;
    const commands = commandsOf(readmeBlocks.proxyCommands.text);
    expect(readme).toContain("add `encoding: form` under `run:` in\n`tools/refund_payment.yaml`");
    const session = new Session((dir) => {
      const tool = join(dir, "tools", "refund_payment.yaml");
      writeFileSync(tool, readFileSync(tool, "utf8").replace("run:\n", "run:\n  encoding: form\n"));
      writeFileSync(join(dir, "agent.mjs"), `${script}\n`);
    });
    expect((await session.run({ line: "npx keyrunner build" })).code).toBe(0);
    session.env.AGENT_TOKEN = await session.token(tokenCommand("support-agent"), "agents");
    await session.run({ line: "export STRIPE_API_KEY=… GITHUB_TOKEN=… HUBSPOT_TOKEN=… POSTMARK_SERVER_TOKEN=… PAGERDUTY_ROUTING_KEY=…" });
    expect(commands.map((c) => c.line.split(" ").slice(0, 3).join(" "))).toEqual(["npx keyrunner ca", "node dist/keyrunner.mjs serve", 'eval "$(npx keyrunner', "node agent.mjs", "curl -s https://api.stripe.com/v1/refunds"]);
    const init = await session.run(commands[0]!);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain("may sign only for: api.github.com, api.hubapi.com, api.postmarkapp.com, api.stripe.com, events.pagerduty.com");
    await session.run(commands[1]!);
    await session.run(commands[2]!);
    expect(session.env.HTTPS_PROXY).toBe(`http://support-agent:${session.env.AGENT_TOKEN}@127.0.0.1:${session.port}`);

    const mark = api.received.length;
    const agent = await session.run(commands[3]!);
    // the first refund executed with the real key; the second was denied and threw
    expect(agent.code).not.toBe(0);
    expect(agent.stderr).toContain("StripePermissionError");
    const sent = refundsAt(mark);
    expect(sent.map((r) => r.body), agent.stderr).toEqual(["payment_intent=pi_123&amount=2500"]);
    expect(sent[0]!.headers.authorization).toBe(`Bearer ${SECRETS.STRIPE_API_KEY}`);
    const curled = await session.run(commands[4]!);
    expect(JSON.parse(curled.stdout), curled.stderr).toMatchObject({ object: "refund", amount: 2500, status: "succeeded" });
    expect(refundsAt(mark)).toHaveLength(2);
    const audit = readFileSync(join(session.dir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(audit.filter((r) => r.decision === "allow").map((r) => r.reason)).toEqual(["double charge", "double charge"]);
  });

  it("export and test: each command succeeds; the exports are JSON", async () => {
    const session = new Session();
    const commands = commandsOf(readmeBlocks.exportAndTest.text);
    expect(commands).toHaveLength(4);
    for (const [i, command] of commands.entries()) {
      const ran = await session.run(command);
      expect(ran.code, `${command.line}: ${ran.stderr}`).toBe(0);
      if (i < 3) expect(() => JSON.parse(ran.stdout)).not.toThrow();
    }
  });

  it("review: diff against main as the PR comment, the widening gate, replay and shadow, as shown", async () => {
    // The session is a git repository: main (as origin/main) holds the example, the working tree adds an agent.
    const git = (dir: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], { cwd: dir, stdio: "ignore" });
    const session = new Session((dir) => {
      writeFileSync(join(dir, ".gitignore"), "node_modules\n");
      git(dir, "init", "-q");
      git(dir, "add", "-A");
      git(dir, "commit", "-qm", "the example");
      git(dir, "update-ref", "refs/remotes/origin/main", "HEAD");
      const email = join(dir, "policies", "support_email.yaml");
      writeFileSync(email, readFileSync(email, "utf8").replace("agents: [support-agent]", "agents: [support-agent, support-lead]"));
      cpSync(join(dir, "tools"), join(dir, "candidate", "tools"), { recursive: true });
      cpSync(join(dir, "policies"), join(dir, "candidate", "policies"), { recursive: true });
      cpSync(join(dir, "context.yaml"), join(dir, "candidate", "context.yaml"));
    });
    const commands = commandsOf(readmeBlocks.review.text);
    expect(commands.map((c) => c.line.split(" ").slice(0, 3).join(" "))).toEqual(["npx keyrunner diff", "npx keyrunner diff", "npx keyrunner replay", "npx keyrunner build"]);
    const comment = await session.run(commands[0]!);
    expect(comment.code, comment.stderr).toBe(0);
    expect(comment.stdout.split("\n")[0]).toBe("**keyrunner diff: ⚠️ 2 widened, 0 narrowed, 0 obligation changes, 1 other change**");
    expect(comment.stdout).toContain("| `send_email` | support-lead | deny (no rule) | allow by policies/support_email.yaml#allow[0] |");
    expect((await session.run(commands[1]!)).code).toBe(1);
    // An audit to replay: one request the working tree's config denies (the agent may not see the tool).
    const denied = await session.run({ line: `npx keyrunner run --agent nobody --tool send_email --input '{"to":"a@acme.example","subject":"s","text":"t"}'` });
    expect(denied.code, denied.stderr).toBe(2);
    const replay = await session.run(commands[2]!);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain("replayed 1 decision record against config");
    const shadow = await session.run(commands[3]!);
    expect(shadow.code, shadow.stderr).toBe(0);
    expect(shadow.stdout).toContain("shadow decisions of config");
  }, 180_000);

  it("a policy test case, as shown, passes through `keyrunner test`", async () => {
    const shown = readmeBlocks.policyTest.text;
    const session = new Session((dir) => {
      rmSync(join(dir, "tests"), { recursive: true });
      mkdirSync(join(dir, "tests"));
      writeFileSync(join(dir, "tests", "support.yaml"), `${shown}\n`);
    });
    const ran = await session.run({ line: "npx keyrunner test" });
    expect(ran.code, ran.stdout).toBe(0);
    expect(ran.stdout).toContain("✓ a refund within the limit, with a reason, is allowed  (allow by policies/support_refunds.yaml#allow[0])");
  });

  it("editor support: the schema line names the published schema, and a tool carrying it compiles", async () => {
    const line = readmeBlocks.schemaLine.text;
    const schema = /\$schema=(\S+)/.exec(line)![1]!;
    expect(existsSync(join(root, "tools", schema))).toBe(true);
    expect(existsSync(join(root, "schemas", "policy.schema.json"))).toBe(true);
    const session = new Session((dir) => {
      const tool = join(dir, "tools", "refund_payment.yaml");
      writeFileSync(tool, `${line}\n${readFileSync(tool, "utf8")}`);
    });
    expect((await session.run({ line: "npx keyrunner check" })).code).toBe(0);
  });

  it("layout: every folder and file it names exists, and it names every folder of the runtime", () => {
    const layout = readmeBlocks.layout.text;
    const named: string[] = [];
    let parent = "";
    for (const row of layout.split("\n")) {
      const first = row.trim().split(/\s{2,}/)[0]!;
      const indented = row.startsWith(" ");
      for (const item of first.split(/,\s*/)) named.push(indented ? `${parent}${item}` : item);
      if (!indented) parent = first;
    }
    for (const path of named) expect(existsSync(join(root, path)), `the layout names ${path}`).toBe(true);
    const runtimeFolders = readdirSync(join(root, "runtime-template"), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `runtime-template/${e.name}/`);
    expect(runtimeFolders.filter((f) => !named.includes(f))).toEqual([]);
    expect(named.length).toBeGreaterThan(20);
  });

  it("TypeScript: each snippet type-checks against the package's types", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kr-readme-ts-"));
    mkdirSync(join(dir, "node_modules", "@keyrunner"), { recursive: true });
    symlinkSync(root, join(dir, "node_modules", "@keyrunner", "runtime"));
    for (const dep of ["@types", "stripe", "http-proxy-agent", "https-proxy-agent", "agent-base"]) symlinkSync(join(root, "node_modules", dep), join(dir, "node_modules", dep));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    const snippets = readmeBlocks.typescript;
    expect(snippets.length).toBeGreaterThan(0);
    for (const [i, snippet] of snippets.entries()) {
      writeFileSync(join(dir, `snippet-${i}.ts`), `${snippet.text}\n`);
    }
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] }, include: ["*.ts"] }));
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const result = await promisify(execFile)(process.execPath, [tsc, "-p", dir]).then(
      () => ({ code: 0, stdout: "" }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
    expect(result.stdout).toBe("");
    expect(result.code).toBe(0);
  });

  it("every fenced block is exercised by a test above", () => {
    const unclaimed = blocks.filter((b) => !claimed.has(b)).map((b) => `README.md:${b.line} (${b.lang || "no language"})`);
    expect(unclaimed).toEqual([]);
  });
});
