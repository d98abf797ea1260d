// Context conditions, time windows, credentials in arguments and results, and denial detail, through the
// real bundle as a process: /v1/execute, forward-proxy mode and MCP, against a real upstream that records
// what it received (nothing, on every denial). The clock is pinned with Debian's faketime (libfaketime
// preloaded into the bundle's Node, which reads the pinned time through Date.now and Intl alike).

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { fetch as undiciFetch, ProxyAgent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { Upstream } from "../support/upstream.js";

const GITHUB_KEY = "ghp_runtime_own_secret_token_0123456789";
const TOKENS = { ops: "kr_ops_agent_token_context_00001", triage: "kr_triage_agent_token_ctx_00002", support: "kr_support_agent_token_ctx_0003" };
/** A GitHub token of the shape the pattern set knows (gitleaks' own test value), pasted by a user. */
const PASTED = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const MONDAY_11_BERLIN = "2026-12-07 10:00:00";
const MONDAY_21_BERLIN = "2026-12-07 20:00:00";

const upstream = new Upstream();
let dir: string;
let bundle: string;
let origin: string;
const servers: RunningBundle[] = [];

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const auditOf = (file: string) =>
  existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];

async function serve(name: string, args: string[], fakeTime?: string): Promise<{ server: RunningBundle; audit: string }> {
  const audit = join(dir, `${name}.jsonl`);
  const env: Record<string, string> = { GITHUB_TOKEN: GITHUB_KEY, TZ: "UTC" };
  if (fakeTime !== undefined) Object.assign(env, { LD_PRELOAD: LIBFAKETIME, FAKETIME: `@${fakeTime}` });
  const server = await startBundle(bundle, ["--audit", audit, "--agents", join(dir, "agents.yaml"), ...args], env);
  servers.push(server);
  return { server, audit };
}

async function mcpCall(server: RunningBundle, token: string, name: string, args: Record<string, unknown>): Promise<{ isError?: boolean; text: string }> {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: bearer(token) } }));
  try {
    const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ text: string }> };
    return { ...(result.isError === undefined ? {} : { isError: result.isError }), text: result.content.map((c) => c.text).join("\n") };
  } finally {
    await client.close();
  }
}

/** A stock client's request through the bundle in forward-proxy mode, as `name`. */
async function forward(server: RunningBundle, name: string, token: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const response = await undiciFetch(`${origin}${path}`, {
    method: "POST",
    headers,
    dispatcher: new ProxyAgent({ uri: server.url.replace("http://", `http://${name}:${token}@`), proxyTunnel: false }),
  });
  return { status: response.status, text: await response.text() };
}

beforeAll(async () => {
  await upstream.start();
  origin = `http://127.0.0.1:${upstream.port}`;
  upstream.routes.set("/restart/", (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ restarted: true }));
  });
  upstream.routes.set("/repos/", (_req, res) => {
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify({ number: 7, body_echo: "see AKIAIOSFODNN7EXAMPLE and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", ok: "plain text" }));
  });
  upstream.routes.set("/refunds", (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
  dir = writeConfig({
    "context.yaml": "context:\n  environment: [development, staging, production]\n  change_freeze: [none, active]\n",
    "tools/restart.yaml": `tool: restart_service\ndescription: Restart a service\ninput:\n  service: { type: string, enum: [api, worker] }\nrun:\n  type: http\n  method: POST\n  url: ${origin}/restart/\${service}\n`,
    "tools/issue.yaml": `tool: create_issue\ndescription: Open an issue\ninput:\n  owner: string\n  repo: string\n  title: string\n  body: string\nrun:\n  type: http\n  method: POST\n  url: ${origin}/repos/\${owner}/\${repo}/issues\n  auth: { secret: GITHUB_TOKEN }\n  body: { title: "\${title}", body: "\${body}" }\noutput:\n  redact_credentials: true\n`,
    "tools/refund.yaml": `tool: refund\ndescription: Refund\ninput:\n  payment_id: string\n  amount_cents: integer\nrun:\n  type: http\n  method: POST\n  url: ${origin}/refunds\n  body: { payment_id: "\${payment_id}", amount: "\${amount_cents}" }\n`,
    "policies/ops.yaml":
      "policy: ops\nagents: [ops-agent]\nallow:\n  - tool: restart_service\n    when:\n      context.environment: { equals: staging }\n      context.change_freeze: { equals: none }\n" +
      '  - tool: restart_service\n    when:\n      context.environment: { equals: production }\n      time: { days: [mon, tue, wed, thu, fri], between: "09:00-17:30", timezone: Europe/Berlin }\n      require_reason: true\n',
    "policies/triage.yaml": "policy: triage\nagents: [triage-agent]\nallow:\n  - tool: create_issue\n    when:\n      owner: { equals: acme }\n      body: { no_credentials: true }\n",
    "policies/support.yaml":
      "policy: support\nagents: [support-agent]\nallow:\n  - tool: refund\n    when:\n      max_amount_cents: 5000\n      require_reason: true\n" +
      "---\npolicy: finance\nagents: [finance-agent]\nallow:\n  - tool: refund\n    when:\n      payment_id: { starts_with: pi_finance_ }\n",
    "agents.yaml": `agents:\n  ops-agent: { token_sha256: ${sha256Hex(TOKENS.ops)} }\n  triage-agent: { token_sha256: ${sha256Hex(TOKENS.triage)} }\n  support-agent: { token_sha256: ${sha256Hex(TOKENS.support)} }\n`,
  });
  bundle = await buildBundle(dir);
}, 120_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await upstream.stop();
});

describe("deployment context", () => {
  it("stops the server at start when a key a policy tests is not given, or a value is not declared", async () => {
    for (const [args, message] of [
      [[], "policies test the context `change_freeze`, `environment`, so the server needs --context change_freeze=<none|active> --context environment=<development|staging|production>"],
      [["--context", "environment=prod", "--context", "change_freeze=none"], '--context environment="prod": environment is one of development, staging, production'],
      [["--context", "region=eu"], '--context "region" is not a key of context.yaml (declared: change_freeze, environment)'],
    ] as const) {
      await expect(serve("refused", [...args])).rejects.toThrow(message);
    }
  });

  it("allows a restart in staging without a freeze and denies it in a freeze; the records carry the context, the agent never sees it", async () => {
    const staging = await serve("staging", ["--context", "environment=staging", "--context", "change_freeze=none"]);
    upstream.received.length = 0;
    const ok = await post(`${staging.server.url}/v1/execute`, { tool: "restart_service", input: { service: "worker" } }, bearer(TOKENS.ops));
    expect(ok.status).toBe(200);
    expect(upstream.received.map((r) => r.url)).toEqual(["/restart/worker"]);
    expect(auditOf(staging.audit).find((r) => r.decision === "allow")).toMatchObject({ context: { environment: "staging", change_freeze: "none" } });
    const forwardedOk = await forward(staging.server, "ops-agent", TOKENS.ops, "/restart/api");
    expect(forwardedOk.status, forwardedOk.text).toBe(200);
    expect(upstream.received.map((r) => r.url)).toEqual(["/restart/worker", "/restart/api"]);

    // Pinned inside the production rule's window, so only its context and reason fail (the detail is exact).
    const frozen = await serve("frozen", ["--context", "environment=staging", "--context", "change_freeze=active"], MONDAY_11_BERLIN);
    upstream.received.length = 0;
    const denied = await post(`${frozen.server.url}/v1/execute`, { tool: "restart_service", input: { service: "worker" } }, bearer(TOKENS.ops));
    expect(denied.status).toBe(403);
    expect(denied.body.reason).toContain("allowed only in some deployment contexts (which is not said)");
    expect(denied.text).not.toMatch(/staging|active|change_freeze/);
    const mcp = await mcpCall(frozen.server, TOKENS.ops, "restart_service", { service: "worker" });
    expect(mcp.isError).toBe(true);
    expect(mcp.text).toContain("allowed only in some deployment contexts (which is not said)");
    // A stock client cannot set the context either: headers naming it change nothing.
    const forwarded = await forward(frozen.server, "ops-agent", TOKENS.ops, "/restart/worker", { "x-keyrunner-context": "change_freeze=none", "x-keyrunner-environment": "production" });
    expect(forwarded.status).toBe(403);
    expect(forwarded.text).toContain("allowed only in some deployment contexts (which is not said)");
    expect(forwarded.text).not.toMatch(/staging|active|change_freeze/);
    expect(upstream.received).toHaveLength(0);
    const records = auditOf(frozen.audit).filter((r) => r.decision === "deny" && r.tool === "restart_service" && r.status === "denied");
    expect(records).toHaveLength(3);
    for (const r of records) {
      expect(r).toMatchObject({
        context: { environment: "staging", change_freeze: "active" },
        detail: [
          { rule: "policies/ops.yaml#allow[0]", failed: ["allowed only in some deployment contexts (which is not said)"] },
          { rule: "policies/ops.yaml#allow[1]", failed: ["allowed only in some deployment contexts (which is not said)", "a reason is required"] },
        ],
      });
    }
  });
});

describe("time windows, on a clock pinned with faketime", () => {
  it("allows a production restart on Monday 11:00 in Berlin and denies it at 21:00; the record holds the instant", async () => {
    const day = await serve("prod-day", ["--context", "environment=production", "--context", "change_freeze=none"], MONDAY_11_BERLIN);
    upstream.received.length = 0;
    const ok = await post(`${day.server.url}/v1/execute`, { tool: "restart_service", input: { service: "api" }, reason: "memory leak" }, bearer(TOKENS.ops));
    expect(ok.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    expect(String(auditOf(day.audit).find((r) => r.decision === "allow")?.decided_at)).toMatch(/^2026-12-07T10:00:/);
    // The agent's own idea of the time (a Date header) is not read.
    const forwardedOk = await forward(day.server, "ops-agent", TOKENS.ops, "/restart/worker", { "x-keyrunner-reason": "memory leak", date: "Mon, 07 Dec 2026 23:00:00 GMT" });
    expect(forwardedOk.status, forwardedOk.text).toBe(200);
    expect(upstream.received.map((r) => r.url)).toEqual(["/restart/api", "/restart/worker"]);

    const night = await serve("prod-night", ["--context", "environment=production", "--context", "change_freeze=none"], MONDAY_21_BERLIN);
    upstream.received.length = 0;
    const denied = await post(`${night.server.url}/v1/execute`, { tool: "restart_service", input: { service: "api" }, reason: "memory leak" }, bearer(TOKENS.ops));
    expect(denied.status).toBe(403);
    expect(denied.body.reason).toContain("outside the time window (mon, tue, wed, thu, fri 09:00-17:30 Europe/Berlin)");
    const mcp = await mcpCall(night.server, TOKENS.ops, "restart_service", { service: "api", reason: "memory leak" });
    expect(mcp.isError).toBe(true);
    expect(mcp.text).toContain("outside the time window");
    const forwarded = await forward(night.server, "ops-agent", TOKENS.ops, "/restart/api", { "x-keyrunner-reason": "memory leak", date: "Mon, 07 Dec 2026 10:00:00 GMT" });
    expect(forwarded.status).toBe(403);
    expect(forwarded.text).toContain("outside the time window");
    expect(upstream.received).toHaveLength(0);
    expect(String(auditOf(night.audit).find((r) => r.decision === "deny")?.decided_at)).toMatch(/^2026-12-07T20:00:/);
    // The same denial in another context says exactly the same: the detail does not tell where it runs.
    const elsewhere = await serve("staging-night", ["--context", "environment=staging", "--context", "change_freeze=active"], MONDAY_21_BERLIN);
    const there = await post(`${elsewhere.server.url}/v1/execute`, { tool: "restart_service", input: { service: "api" }, reason: "memory leak" }, bearer(TOKENS.ops));
    expect(there.status).toBe(403);
    expect(there.body.failed).toEqual(denied.body.failed);
    expect(there.body.reason).toBe(denied.body.reason);
    expect(upstream.received).toHaveLength(0);
  });
});

describe("credentials in arguments and results", () => {
  let server: RunningBundle;
  let audit: string;
  beforeAll(async () => {
    ({ server, audit } = await serve("issues", ["--context", "environment=staging", "--context", "change_freeze=none", "--metrics-token-sha256", sha256Hex("metrics-token-ctx")]));
  });

  it("denies an issue body with a GitHub token pasted into it over /v1/execute, forward mode and MCP; nothing is sent and the audit holds no part of the token", async () => {
    upstream.received.length = 0;
    const input = { owner: "acme", repo: "docs", title: "CI fails", body: `the log says ${PASTED} failed` };
    const direct = await post(`${server.url}/v1/execute`, { tool: "create_issue", input }, bearer(TOKENS.triage));
    expect(direct.status).toBe(403);
    expect(direct.body.reason).toContain("`body` contains something credential-shaped (a GitHub token); remove it");
    expect(direct.text).not.toContain(PASTED);

    const proxy = server.url.replace("http://", `http://triage-agent:${TOKENS.triage}@`);
    const forwarded = await undiciFetch(`${origin}/repos/acme/docs/issues`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer fake-key-the-agent-holds" },
      body: JSON.stringify({ title: input.title, body: input.body }),
      dispatcher: new ProxyAgent({ uri: proxy, proxyTunnel: false }),
    });
    expect(forwarded.status).toBe(403);
    expect(await forwarded.text()).not.toContain(PASTED);

    const mcp = await mcpCall(server, TOKENS.triage, "create_issue", input);
    expect(mcp.isError).toBe(true);
    expect(mcp.text).toContain("credential-shaped");
    expect(upstream.received).toHaveLength(0);

    const text = readFileSync(audit, "utf8");
    const denials = auditOf(audit).filter((r) => r.tool === "create_issue" && r.decision === "deny");
    expect(denials.length).toBeGreaterThanOrEqual(3);
    // No 8-character piece of the token's random part is anywhere in the audit.
    const tail = PASTED.slice(4);
    for (let i = 0; i + 8 <= tail.length; i++) expect(text).not.toContain(tail.slice(i, i + 8));
  });

  it("allows a clean body and replaces credential-shaped strings in the result, counted in /metrics", async () => {
    upstream.received.length = 0;
    const ok = await post(`${server.url}/v1/execute`, { tool: "create_issue", input: { owner: "acme", repo: "docs", title: "Typo", body: "page 2 has a typo" } }, bearer(TOKENS.triage));
    expect(ok.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    expect(ok.body.result).toEqual({ number: 7, body_echo: "see [REDACTED] and [REDACTED]", ok: "plain text" });
    const metrics = await fetch(`${server.url}/metrics`, { headers: bearer("metrics-token-ctx") });
    expect(await metrics.text()).toContain('keyrunner_credentials_redacted_total{tool="create_issue"} 2');
  });

  it("never sends one of its own secrets that came from the agent, whatever the policy says; denied and audited without it", async () => {
    upstream.received.length = 0;
    for (const body of [`token ${GITHUB_KEY}`, Buffer.from(GITHUB_KEY).toString("base64")]) {
      const denied = await post(`${server.url}/v1/execute`, { tool: "create_issue", input: { owner: "acme", repo: "docs", title: "x", body } }, bearer(TOKENS.triage));
      expect(denied.status).toBe(403);
      expect(denied.body.reason).toBe("the input holds one of this gateway's own secrets, which it never sends");
    }
    expect(upstream.received).toHaveLength(0);
    const text = readFileSync(audit, "utf8");
    expect(text).not.toContain(GITHUB_KEY);
    expect(text).not.toContain(Buffer.from(GITHUB_KEY).toString("base64"));
    expect(auditOf(audit).filter((r) => r.status === "secret_in_input")).toHaveLength(2);
  });
});

describe("denials say why", () => {
  it("names what failed for the agent's own rules over /v1/execute and MCP, never another agent's; --denial-detail none says less, the audit always all", async () => {
    const { server, audit } = await serve("detail", ["--context", "environment=staging", "--context", "change_freeze=none"]);
    upstream.received.length = 0;
    const noReason = await post(`${server.url}/v1/execute`, { tool: "refund", input: { payment_id: "pi_1", amount_cents: 100 } }, bearer(TOKENS.support));
    expect(noReason.body.reason).toBe("no rule allows this request: a reason is required (policies/support.yaml#support.allow[0])");
    const tooMuch = await post(`${server.url}/v1/execute`, { tool: "refund", input: { payment_id: "pi_1", amount_cents: 9000 }, reason: "r" }, bearer(TOKENS.support));
    expect(tooMuch.body.reason).toBe("no rule allows this request: amount_cents 9000 is above 5000 (policies/support.yaml#support.allow[0])");
    expect(tooMuch.text).not.toContain("pi_finance_");
    const mcp = await mcpCall(server, TOKENS.support, "refund", { payment_id: "pi_1", amount_cents: 9000, reason: "r" });
    expect(mcp.text).toContain("amount_cents 9000 is above 5000");
    expect(upstream.received).toHaveLength(0);

    const terse = await serve("terse", ["--context", "environment=staging", "--context", "change_freeze=none", "--denial-detail", "none"]);
    const plain = await post(`${terse.server.url}/v1/execute`, { tool: "refund", input: { payment_id: "pi_1", amount_cents: 9000 }, reason: "r" }, bearer(TOKENS.support));
    expect(plain.body).toEqual({ status: "denied", reason: "no rule allows this request", audit_id: plain.body.audit_id });
    expect(auditOf(terse.audit).find((r) => r.decision === "deny")).toMatchObject({ detail: [{ rule: "policies/support.yaml#support.allow[0]", failed: ["amount_cents 9000 is above 5000"] }] });
    expect(auditOf(audit).filter((r) => r.decision === "deny").length).toBe(3);
    expect(upstream.received).toHaveLength(0);
  });
});

describe("the repository's example config", () => {
  it("denies an issue body with a GitHub token pasted into it; nothing reaches GitHub's stand-in and the audit holds no part of the token", async () => {
    const root = join(import.meta.dirname, "..", "..");
    const files: Record<string, string> = { "context.yaml": readFileSync(join(root, "context.yaml"), "utf8") };
    for (const folder of ["tools", "policies"]) {
      for (const name of readdirSync(join(root, folder))) files[`${folder}/${name}`] = readFileSync(join(root, folder, name), "utf8");
    }
    // The example's GitHub tool, pointed at the recording stand-in; every rule and the rest of the config as shipped.
    files["tools/create_github_issue.yaml"] = files["tools/create_github_issue.yaml"]!.replace("https://api.github.com", origin);
    const example = writeConfig({ ...files, "agents.yaml": `agents:\n  triage-agent: { token_sha256: ${sha256Hex(TOKENS.triage)} }\n` });
    const audit = join(example, "audit.jsonl");
    const env = { GITHUB_TOKEN: GITHUB_KEY, HUBSPOT_TOKEN: "hub_example_token_1", PAGERDUTY_ROUTING_KEY: "pd_example_key_01", POSTMARK_SERVER_TOKEN: "pm_example_token1", STRIPE_API_KEY: "sk_test_example_000001" };
    const server = await startBundle(await buildBundle(example), ["--audit", audit, "--agents", join(example, "agents.yaml"), "--context", "environment=production", "--context", "change_freeze=none"], env);
    servers.push(server);
    upstream.received.length = 0;
    const issue = { owner: "acme", repo: "docs", title: "Build fails", labels: ["bug"] };
    const denied = await post(`${server.url}/v1/execute`, { tool: "create_github_issue", input: { ...issue, body: `CI log:\n  GITHUB_TOKEN=${PASTED}\n` } }, bearer(TOKENS.triage));
    expect(denied.status).toBe(403);
    expect(denied.body.reason).toContain("`body` contains something credential-shaped (a GitHub token); remove it");
    expect(denied.text).not.toContain(PASTED.slice(4, 20));
    expect(upstream.received).toHaveLength(0);
    const text = readFileSync(audit, "utf8");
    const tail = PASTED.slice(4);
    for (let i = 0; i + 8 <= tail.length; i++) expect(text).not.toContain(tail.slice(i, i + 8));
    const clean = await post(`${server.url}/v1/execute`, { tool: "create_github_issue", input: { ...issue, body: "CI fails on main since the last merge" } }, bearer(TOKENS.triage));
    expect(clean.status, clean.text).toBe(200);
    expect(upstream.received.map((r) => [r.method, r.url, r.headers.authorization])).toEqual([["POST", "/repos/acme/docs/issues", `Bearer ${GITHUB_KEY}`]]);
  });
});
