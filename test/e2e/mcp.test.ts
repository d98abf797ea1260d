// MCP with the SDK's own client, over Streamable HTTP (/mcp on the real bundle) and over stdio
// (`node keyrunner.mjs mcp`), against a real upstream: the same identity, policy, approvals,
// audit and redaction as /v1/execute.

import { readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { Upstream } from "../support/upstream.js";
import { repoRoot } from "../support/cli.js";
import { verifyAuditFile } from "../../runtime-template/audit/audit-verify.js";

const SECRET = "sk_test_mcp_secret_0123456789";
const AGENT = "kr_mcp_agent_token_000000001";
const OTHER = "kr_mcp_other_agent_token_0002";
const upstream = new Upstream();
let dir: string;
let bundle: string;
let server: RunningBundle;

beforeAll(async () => {
  await upstream.start();
  upstream.routes.set("/v1/refunds", (req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "re_1", status: "succeeded", echoed_auth: req.headers.authorization }));
  });
  dir = writeConfig({
    "tools/refund.yaml": `tool: refund_payment\ndescription: Refund a Stripe payment\ninput:\n  payment_id: string\n  amount_cents: integer\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/v1/refunds\n  auth: { secret: STRIPE_API_KEY }\n  body: { payment_intent: "\${payment_id}", amount: "\${amount_cents}" }\n`,
    "tools/other.yaml": `tool: ops_only\ndescription: Only for ops\nrun: { type: http, method: GET, url: "http://127.0.0.1:${upstream.port}/ops" }\n`,
    "policies/p.yaml": `policy: support\nagents: [support-agent]\nallow:\n  - tool: refund_payment\n    when: { amount_cents: { max: 5000 }, require_reason: true }\n  - tool: refund_payment\n    when: { amount_cents: { min: 5001 } }\n    require_approval: true\n---\npolicy: ops\nagents: [ops-agent]\nallow:\n  - tool: ops_only\n`,
    "agents.yaml": `agents:\n  support-agent: { token_sha256: ${sha256Hex(AGENT)} }\n  ops-agent: { token_sha256: ${sha256Hex(OTHER)} }\n`,
  });
  bundle = await buildBundle(dir);
  server = await startBundle(bundle, ["--audit", join(dir, "audit.jsonl"), "--agents", join(dir, "agents.yaml")], { STRIPE_API_KEY: SECRET }, ["--disallow-code-generation-from-strings"]);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

async function httpClient(token: string): Promise<Client> {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

async function stdioClient(token: string): Promise<Client> {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [bundle, "mcp", "--agents", join(dir, "agents.yaml"), "--audit", join(dir, "stdio-audit.jsonl"), "--state", join(dir, "stdio-state")],
      env: { PATH: process.env.PATH ?? "", STRIPE_API_KEY: SECRET, KEYRUNNER_TOKEN: token },
      stderr: "pipe",
    }),
  );
  return client;
}

/** `keyrunner mcp --url`: the stdio bridge to the running bundle's /mcp. */
async function bridgeClient(token: string): Promise<Client> {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [join(repoRoot, "bin", "keyrunner.js"), "mcp", "--url", server.url],
      env: { PATH: process.env.PATH ?? "", KEYRUNNER_TOKEN: token },
      stderr: "pipe",
    }),
  );
  return client;
}

describe.each([
  ["Streamable HTTP", httpClient],
  ["stdio", stdioClient],
  ["the stdio bridge (keyrunner mcp --url)", bridgeClient],
])("MCP over %s", (_transport, connect) => {
  let client: Client;
  beforeAll(async () => {
    client = await connect(AGENT);
  });
  afterAll(async () => client?.close());

  it("tools/list shows only the agent's tools, with JSON Schema and the policy's reason and approval_id", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["refund_payment"]);
    expect(tools[0]!.inputSchema).toMatchObject({ type: "object", required: ["payment_id", "amount_cents"], properties: { payment_id: { type: "string" }, amount_cents: { type: "integer" }, reason: { type: "string" }, approval_id: { type: "string" } } });
  });

  it("tools/call executes an allowed request, with the secret injected and redacted from the answer", async () => {
    const mark = upstream.received.length;
    const result = await client.callTool({ name: "refund_payment", arguments: { payment_id: "pi_1", amount_cents: 2500, reason: "double charge" } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ id: "re_1", status: "succeeded", echoed_auth: "Bearer [REDACTED]" });
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(upstream.since(mark).map((r) => r.headers.authorization)).toEqual([`Bearer ${SECRET}`]);
  });

  it("returns a denial as a tool error with the reason, and nothing reaches the upstream", async () => {
    const mark = upstream.received.length;
    const denied = await client.callTool({ name: "refund_payment", arguments: { payment_id: "pi_1", amount_cents: 2500 } });
    expect(denied).toMatchObject({ isError: true, content: [{ type: "text", text: "Denied by KeyRunner policy: no rule allows this request: a reason is required (policies/p.yaml#support.allow[0]); amount_cents 2500 is below 5001 (policies/p.yaml#support.allow[1]). Nothing was executed." }] });
    const invalid = await client.callTool({ name: "refund_payment", arguments: { payment_id: "pi_1", amount_cents: "lots" } });
    expect(invalid).toMatchObject({ isError: true, content: [{ type: "text", text: "Invalid input, nothing was executed: amount_cents must be integer" }] });
    const hidden = await client.callTool({ name: "ops_only", arguments: {} });
    expect(hidden).toMatchObject({ isError: true, content: [{ type: "text", text: "Unknown tool." }] });
    expect(upstream.since(mark)).toHaveLength(0);
  });

  it("a request needing approval comes back as a tool error naming the approval", async () => {
    const pending = await client.callTool({ name: "refund_payment", arguments: { payment_id: "pi_2", amount_cents: 9000 } });
    expect(pending.isError).toBe(true);
    expect((pending.content as Array<{ text: string }>)[0]!.text).toMatch(/^Waiting for a person to approve this request \(approval_id apr_[0-9a-f]{32}, expires /);
  });
});

describe("MCP identity", () => {
  it("HTTP refuses an unknown token; another agent sees only its own tools", async () => {
    await expect(httpClient("kr_wrong")).rejects.toThrow();
    const ops = await httpClient(OTHER);
    expect((await ops.listTools()).tools.map((t) => t.name)).toEqual(["ops_only"]);
    await ops.close();
  });

  it("several stdio clients through the bridge share one server and one audit, whose chain holds", async () => {
    const clients = await Promise.all([bridgeClient(AGENT), bridgeClient(AGENT), bridgeClient(AGENT)]);
    const results = await Promise.all(clients.map((c, i) => c.callTool({ name: "refund_payment", arguments: { payment_id: `pi_bridge_${i}`, amount_cents: 100, reason: "shared" } })));
    expect(results.map((r) => r.isError ?? false)).toEqual([false, false, false]);
    await Promise.all(clients.map((c) => c.close()));
    const audit = join(dir, "audit.jsonl");
    const ids = readFileSync(audit, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { input?: { payment_id?: string } });
    for (let i = 0; i < 3; i++) expect(ids.some((r) => r.input?.payment_id === `pi_bridge_${i}`)).toBe(true);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
  });

  it("the bridge refuses an unknown token, and a server that is not there, with an answer", async () => {
    await expect(bridgeClient("kr_wrong")).rejects.toThrow();
    const client = new Client({ name: "test-agent", version: "1.0.0" });
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    await expect(
      client.connect(new StdioClientTransport({ command: process.execPath, args: [join(repoRoot, "bin", "keyrunner.js"), "mcp", "--url", `http://127.0.0.1:${closed}`], env: { PATH: process.env.PATH ?? "", KEYRUNNER_TOKEN: AGENT }, stderr: "pipe" })),
    ).rejects.toThrow(new RegExp(`keyrunner at http://127.0.0.1:${closed}: cannot reach it \\(ECONNREFUSED\\)`));
  });

  it("stdio refuses to start without a token that names an agent", async () => {
    await expect(stdioClient("kr_wrong")).rejects.toThrow();
  });

  it("every MCP call is in the audit like any other request", () => {
    const records = readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const statuses = records.filter((r) => r.agent === "support-agent").map((r) => r.status ?? r.decision);
    for (const s of ["allow", "ok", "denied", "invalid", "unknown_tool", "pending_approval"]) expect(statuses).toContain(s);
  });
});

describe("a malformed tools/call", () => {
  /** One JSON-RPC request over Streamable HTTP, its answer read from JSON or from the event stream. */
  const rpc = async (params: unknown) => {
    const res = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${AGENT}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params }),
    });
    const text = await res.text();
    const data = text.split("\n").find((l) => l.startsWith("data: "));
    return JSON.parse(data === undefined ? text : data.slice(6)) as { error?: { code: number; message: string }; result?: unknown };
  };

  it.each([
    ["arguments null", { name: "refund_payment", arguments: null }, "tools/call params.arguments must be an object of the tool's input fields"],
    ["arguments a string", { name: "refund_payment", arguments: "payment_id=pi_1" }, "tools/call params.arguments must be an object of the tool's input fields"],
    ["arguments a list", { name: "refund_payment", arguments: [1] }, "tools/call params.arguments must be an object of the tool's input fields"],
    ["no name", { arguments: {} }, "tools/call needs params.name, the tool's name as a string"],
    ["a number as the name", { name: 7 }, "tools/call needs params.name, the tool's name as a string"],
  ])("%s: invalid params, said in words (not the schema library's issue dump), and nothing runs", async (_name, params, message) => {
    const before = upstream.received.length;
    expect(await rpc(params)).toMatchObject({ error: { code: -32602, message: `MCP error -32602: ${message}` } });
    expect(upstream.received.length).toBe(before);
  });

  it("an id holding a secret whole is refused, not echoed back", async () => {
    const res = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${AGENT}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: `x${SECRET}`, method: "tools/list" }),
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).not.toContain(SECRET);
    expect(JSON.parse(text)).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: the id holds one of this gateway's own secrets" } });
  });

  it("a well-formed call still runs, without arguments too", async () => {
    expect(await rpc({ name: "refund_payment", arguments: { payment_id: "pi_rpc", amount_cents: 100, reason: "raw rpc" } })).toMatchObject({ result: { content: [{ type: "text" }] } });
    expect(await rpc({ name: "refund_payment" })).toMatchObject({ result: { isError: true } });
  });
});

describe("GET /mcp holds no stream", () => {
  it("answers 405 with Allow: POST, so 2,000 GET /mcp cannot pin the server's file descriptors", async () => {
    const { request } = await import("node:http");
    const { readdirSync } = await import("node:fs");
    const url = new URL(`${server.url}/mcp`);
    const get = () =>
      new Promise<{ status: number; allow: string | undefined }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: url.port, path: "/mcp", method: "GET", headers: { authorization: `Bearer ${AGENT}`, accept: "text/event-stream" }, agent: false }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow }));
        });
        req.on("error", reject);
        req.end();
      });
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 10; batch++) {
      for (const r of await Promise.all(Array.from({ length: 200 }, get))) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    expect([...statuses]).toEqual([[405, 2000]]);
    expect((await get()).allow).toBe("POST");
    // Every stream was answered and closed: the serving processes hold a handful of descriptors, not 2,000.
    const pids = [server.process.pid!, ...readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
      try {
        return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]) === server.process.pid;
      } catch {
        return false;
      }
    })];
    const fds = pids.reduce((n, pid) => n + readdirSync(`/proc/${pid}/fd`).length, 0);
    expect(fds).toBeLessThan(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("stdio MCP stopping", () => {
  const slowRefunds = (id: string) =>
    upstream.routes.set("/v1/refunds", (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id }));
      }, 700);
    });
  const quickRefunds = () =>
    upstream.routes.set("/v1/refunds", (req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "re_1", status: "succeeded", echoed_auth: req.headers.authorization }));
    });

  /** `keyrunner.mjs mcp` on raw pipes, with its own audit and state, initialised; what it wrote so far. */
  async function rawStdioServer(name: string) {
    const { spawn } = await import("node:child_process");
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const place = mkdtempSync(join(tmpdir(), `kr-mcp-${name}-`));
    const child = spawn(process.execPath, [bundle, "mcp", "--agents", join(dir, "agents.yaml"), "--audit", join(place, "audit.jsonl"), "--state", join(place, "state")], {
      env: { PATH: process.env.PATH ?? "", STRIPE_API_KEY: SECRET, KEYRUNNER_TOKEN: AGENT },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const io = { stdout: "", stderr: "" };
    child.stdout.on("data", (c: Buffer) => (io.stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (io.stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const send = (message: unknown) => child.stdin.write(`${JSON.stringify(message)}\n`);
    send({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    const records = () => readFileSync(join(place, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { id: string; decision: string; status?: string });
    /** Waits until a call has reached the upstream (which answers 700 ms later). */
    const reachedUpstream = async (mark: number) => {
      const started = Date.now();
      while (upstream.received.length === mark && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
    };
    return { child, io, exited, send, records, reachedUpstream };
  }

  it.each([["stdin closes"], ["SIGTERM"]])("when %s, every call already received is answered and its outcome recorded", async (how) => {
    slowRefunds("re_slow");
    const mark = upstream.received.length;
    const server = await rawStdioServer("stop");
    server.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "refund_payment", arguments: { payment_id: "pi_stop", amount_cents: 100, reason: "stop test" } } });
    server.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "refund_payment", arguments: { payment_id: "pi_stop", amount_cents: 999999 } } });
    // Once the call has reached the upstream, the client stops the server.
    await server.reachedUpstream(mark);
    if (how === "stdin closes") server.child.stdin.end();
    else server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    const answers = server.io.stdout.trim().split("\n").map((line) => JSON.parse(line) as { id: number; result?: { isError?: boolean; _meta?: Record<string, string> } });
    expect(answers.map((a) => a.id).sort()).toEqual([0, 1, 2]);
    const executed = answers.find((a) => a.id === 1)!.result!;
    expect(executed.isError).toBeUndefined();
    const id = executed._meta!["keyrunner/audit_id"]!;
    expect(server.records().filter((r) => r.id === id).map((r) => [r.decision, r.status])).toEqual([["allow", undefined], ["outcome", "ok"]]);
    expect(upstream.received.length).toBe(mark + 1);
    quickRefunds();
  });

  // A client that dies closes both its pipes: the server's answer then meets EPIPE. That once crashed it
  // (an unhandled 'error' with a stack trace) between the call's decision record and its outcome record.
  it("when the client goes away mid-call, the call is still recorded to its outcome and the server exits 0", async () => {
    slowRefunds("re_gone");
    const mark = upstream.received.length;
    const server = await rawStdioServer("gone");
    server.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "refund_payment", arguments: { payment_id: "pi_gone", amount_cents: 100, reason: "client dies" } } });
    await server.reachedUpstream(mark);
    server.child.stdout.destroy();
    server.child.stdin.destroy();
    expect(await server.exited).toBe(0);
    expect(server.io.stderr).not.toMatch(/EPIPE|\n\s+at /);
    const records = server.records();
    expect(records.map((r) => [r.decision, r.status])).toEqual([["allow", undefined], ["outcome", "ok"]]);
    expect(new Set(records.map((r) => r.id)).size).toBe(1);
    expect(upstream.received.length).toBe(mark + 1);
    quickRefunds();
  });

  it("a message over the transport's 10 MiB limit is said on stderr, and the server stops cleanly", async () => {
    const server = await rawStdioServer("big");
    // The server stops reading once over the limit: the rest of this write meets a closed pipe.
    server.child.stdin.on("error", () => undefined);
    server.child.stdin.write(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"${"x".repeat(11 * 1024 * 1024)}"}}\n`);
    expect(await server.exited).toBe(0);
    expect(server.io.stderr).toContain("keyrunner: mcp: ReadBuffer exceeded maximum size of 10485760 bytes\n");
  });

  it("without an agents file, KEYRUNNER_AGENT must be a name a policy could name", async () => {
    const { spawnSync } = await import("node:child_process");
    const result = spawnSync(process.execPath, [bundle, "mcp", "--audit", join(dir, "bad-agent.jsonl"), "--state", join(dir, "bad-agent-state")], {
      env: { PATH: process.env.PATH ?? "", STRIPE_API_KEY: SECRET, KEYRUNNER_AGENT: "x\n\u001b[31mkeyrunner: FAKE LOG LINE" },
      input: "",
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("KEYRUNNER_AGENT must be an agent name");
  });

  it("the bundle's own mcp --url is the bridge, as the audit lock's message tells", async () => {
    const client = new Client({ name: "bridge-via-bundle", version: "1.0.0" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [bundle, "mcp", "--url", server.url], env: { PATH: process.env.PATH ?? "", KEYRUNNER_TOKEN: AGENT }, stderr: "pipe" }));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["refund_payment"]);
    const result = await client.callTool({ name: "refund_payment", arguments: { payment_id: "pi_b", amount_cents: 10, reason: "bridge" } });
    expect(result._meta).toMatchObject({ "keyrunner/audit_id": expect.stringMatching(/^[0-9a-f-]{36}$/) });
    await client.close();
  });
});
