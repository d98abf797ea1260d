// Forward-proxy mode with stock clients holding fake keys: the stripe SDK, @octokit/rest and curl -x,
// configured only with a proxy (and a base URL). Each allowed call reaches the upstream with the real
// key and nothing extra; each refused one reaches nothing.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Octokit } from "@octokit/rest";
import { HttpProxyAgent } from "http-proxy-agent";
import Stripe from "stripe";
import { fetch as undiciFetch, ProxyAgent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { Upstream, type Received } from "../support/upstream.js";

const STRIPE_KEY = "sk_test_real_key_forward_0123";
const GITHUB_KEY = "ghp_real_token_forward_456789";
const TOKEN = "kr_support_forward_token_0001";
const upstream = new Upstream();
let server: RunningBundle;
let proxy: string;
let origin: string;
let dir: string;

const curl = async (args: string[]) => {
  try {
    const { stdout } = await promisify(execFile)("curl", ["-s", "-i", ...args]);
    return stdout;
  } catch (error) {
    return (error as { stdout: string }).stdout;
  }
};
const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1]);
const bodyOf = (raw: string) => raw.slice(raw.indexOf("\r\n\r\n") + 4);
const headerNames = (r: Received) => r.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()).sort();
const audit = () => readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  await upstream.start();
  origin = `http://127.0.0.1:${upstream.port}`;
  upstream.routes.set("/v1/refunds", (req, res) => {
    const form = new URLSearchParams(req.body);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "re_123", object: "refund", amount: Number(form.get("amount")), payment_intent: form.get("payment_intent"), status: "succeeded" }));
  });
  upstream.routes.set("/repos/", (req, res) => {
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify({ number: 7, html_url: "https://github.com/acme/docs/issues/7", state: "open", title: JSON.parse(req.body).title }));
  });
  dir = writeConfig({
    "tools/stripe.yaml": `tool: create_refund\ndescription: Refund a payment (form-encoded, as Stripe takes it)\ninput:\n  payment_id: string\n  amount_cents: integer\nrun:\n  type: http\n  method: POST\n  url: ${origin}/v1/refunds\n  encoding: form\n  auth: { secret: STRIPE_API_KEY }\n  body:\n    payment_intent: \${payment_id}\n    amount: \${amount_cents}\n`,
    "tools/github.yaml": `tool: create_issue\ndescription: Open a GitHub issue\ninput:\n  owner: string\n  repo: string\n  title: string\n  body: string\n  labels: { type: "string[]", default: [] }\nrun:\n  type: http\n  method: POST\n  url: ${origin}/repos/\${owner}/\${repo}/issues\n  auth: { secret: GITHUB_TOKEN }\n  body: { title: "\${title}", body: "\${body}", labels: "\${labels}" }\n`,
    "policies/agents.yaml": `policy: support\nagents: [support-agent]\nallow:\n  - tool: create_refund\n    when: { amount_cents: { max: 5000 } }\n  - tool: create_issue\n    when:\n      owner: { equals: acme }\n      labels: { subset_of: [bug, docs] }\n`,
    "agents.yaml": `agents:\n  support-agent: { token_sha256: ${sha256Hex(TOKEN)} }\n`,
  });
  server = await startBundle(await buildBundle(dir), ["--audit", join(dir, "audit.jsonl"), "--agents", join(dir, "agents.yaml")], { STRIPE_API_KEY: STRIPE_KEY, GITHUB_TOKEN: GITHUB_KEY });
  proxy = server.url.replace("http://", `http://support-agent:${TOKEN}@`);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

describe("the stripe SDK with a fake key, through HTTP_PROXY", () => {
  const stripe = () =>
    new Stripe("sk_test_fake_key_the_agent_holds", { host: "127.0.0.1", port: upstream.port, protocol: "http", httpAgent: new HttpProxyAgent(proxy), maxNetworkRetries: 0 });

  it("an allowed refund reaches the upstream with the real key and nothing extra", async () => {
    const mark = upstream.received.length;
    const refund = await stripe().refunds.create({ payment_intent: "pi_123", amount: 2500 });
    expect(refund).toMatchObject({ id: "re_123", amount: 2500, status: "succeeded" });
    const got = upstream.since(mark);
    expect(got).toHaveLength(1);
    expect(got[0]!.headers.authorization).toBe(`Bearer ${STRIPE_KEY}`);
    expect(got[0]!.body).toBe("payment_intent=pi_123&amount=2500");
    expect(headerNames(got[0]!)).toEqual(["accept", "accept-encoding", "authorization", "connection", "content-length", "content-type", "host", "user-agent"]);
  });

  it("a denial makes the SDK throw, and reaches nothing", async () => {
    const mark = upstream.received.length;
    const error = await stripe().refunds.create({ payment_intent: "pi_123", amount: 9000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect((error as Error).message).toBe("denied by KeyRunner: no rule allows this request: amount_cents 9000 is above 5000 (policies/agents.yaml#allow[0])");
    expect(upstream.since(mark)).toHaveLength(0);
  });

  it("a field the route does not declare (reverse_transfer) is invalid, and reaches nothing", async () => {
    const mark = upstream.received.length;
    const error = await stripe().refunds.create({ payment_intent: "pi_123", amount: 100, reverse_transfer: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((error as Error).message).toBe("reverse_transfer: is not a field of this tool");
    expect(upstream.since(mark)).toHaveLength(0);
  });
});

describe("@octokit/rest with a fake token, through a proxy", () => {
  const octokit = () =>
    new Octokit({
      auth: "ghp_fake_token_the_agent_holds",
      baseUrl: origin,
      request: { fetch: (url: string, init: object) => undiciFetch(url, { ...init, dispatcher: new ProxyAgent({ uri: proxy, proxyTunnel: false }) }) },
    });

  it("an allowed issue reaches the upstream with the real token; the answer is the upstream's own status", async () => {
    const mark = upstream.received.length;
    const response = await octokit().rest.issues.create({ owner: "acme", repo: "docs", title: "Broken link", body: "The link on page 2 is dead.", labels: ["docs"] });
    expect(response.status).toBe(201);
    expect(response.data).toMatchObject({ number: 7, title: "Broken link" });
    const got = upstream.since(mark);
    expect(got.map((r) => [r.method, r.url, r.headers.authorization])).toEqual([["POST", "/repos/acme/docs/issues", `Bearer ${GITHUB_KEY}`]]);
    expect(JSON.parse(got[0]!.body)).toEqual({ title: "Broken link", body: "The link on page 2 is dead.", labels: ["docs"] });
  });

  it("a denial (another owner) makes Octokit throw, and reaches nothing", async () => {
    const mark = upstream.received.length;
    const error = (await octokit().rest.issues.create({ owner: "evil", repo: "docs", title: "x", body: "y" }).catch((e: unknown) => e)) as { status: number };
    expect(error.status).toBe(403);
    expect(upstream.since(mark)).toHaveLength(0);
  });
});

describe("curl -x", () => {
  it("forwards an allowed call with the real credential in place of the client's, dropping every other header", async () => {
    const mark = upstream.received.length;
    const raw = await curl([
      "-x", proxy, `${origin}/v1/refunds`,
      "-H", "Authorization: Bearer sk_test_client_fake", "-H", "Stripe-Account: acct_other", "-H", "Proxy-Connection: keep-alive", "-H", "X-Custom: 1",
      "-H", "X-KeyRunner-Reason: customer asked",
      "-d", "payment_intent=pi_9", "-d", "amount=100",
    ]);
    expect(statusOf(raw)).toBe(200);
    expect(JSON.parse(bodyOf(raw))).toMatchObject({ id: "re_123", amount: 100 });
    const [got] = upstream.since(mark);
    expect(got!.headers.authorization).toBe(`Bearer ${STRIPE_KEY}`);
    for (const dropped of ["stripe-account", "proxy-connection", "x-custom", "proxy-authorization", "x-keyrunner-reason"]) expect(got!.headers[dropped]).toBeUndefined();
    expect(audit().find((r) => r.decision === "allow" && r.tool === "create_refund" && (r.input as { payment_id: string }).payment_id === "pi_9")).toMatchObject({ reason: "customer asked" });
  });

  it("an upstream redirect reaches the client as the upstream's status and Location, as the audit records it; KeyRunner follows nothing", async () => {
    const issues = upstream.routes.get("/repos/")!;
    upstream.routes.set("/repos/", (req, res) => {
      if (!req.url.startsWith("/repos/acme/moved/")) return issues(req, res);
      res.writeHead(301, { location: `${origin}/repos/acme/docs/issues?from=moved&token=${GITHUB_KEY}` });
      res.end();
    });
    try {
      const mark = upstream.received.length;
      const raw = await curl(["-x", proxy, `${origin}/repos/acme/moved/issues`, "-H", "content-type: application/json", "-d", '{"title":"t","body":"b"}']);
      expect(statusOf(raw)).toBe(301);
      expect(raw).toMatch(new RegExp(`\r\nlocation: ${origin.replace(/[.]/g, "\\.")}/repos/acme/docs/issues\\?from=moved&token=\\[REDACTED\\]\r\n`, "i"));
      const auditId = /\r\nx-keyrunner-audit-id: ([0-9a-f-]+)\r\n/i.exec(raw)?.[1];
      expect(upstream.since(mark).map((r) => r.url)).toEqual(["/repos/acme/moved/issues"]);
      // The outcome record is written after the answer.
      for (let i = 0; i < 50 && audit().filter((r) => r.id === auditId).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(audit().filter((r) => r.id === auditId).map((r) => [r.decision, r.http_status])).toEqual([["allow", undefined], ["outcome", 301]]);
    } finally {
      upstream.routes.set("/repos/", issues);
    }
  });

  it("a path no tool declares is refused without quoting a secret the agent put in it", async () => {
    const raw = await curl(["-x", proxy, `${origin}/v1/${STRIPE_KEY}/refunds`, "-d", "amount=1"]);
    expect(statusOf(raw)).toBe(403);
    expect(raw).toContain("no tool of this agent is POST");
    expect(raw).not.toContain(STRIPE_KEY);
    expect(readFileSync(join(dir, "audit.jsonl"), "utf8")).not.toContain(STRIPE_KEY);
  });

  it("407 with Proxy-Authenticate without a credential or with a wrong one", async () => {
    for (const proxyUrl of [server.url, server.url.replace("http://", "http://support-agent:wrong@")]) {
      const raw = await curl(["-x", proxyUrl, `${origin}/v1/refunds`, "-d", "payment_intent=p&amount=1"]);
      expect(statusOf(raw)).toBe(407);
      expect(raw).toMatch(/\r\nproxy-authenticate: Basic realm="keyrunner"\r\n/i);
    }
  });

  it("refuses and audits CONNECT, undeclared destinations and methods, and a disagreeing Host; none reaches the upstream", async () => {
    const mark = upstream.received.length;
    const tunnel = await curl(["-p", "-x", proxy, "https://api.stripe.com/v1/refunds"]);
    expect(statusOf(tunnel)).toBe(403);
    expect(statusOf(await curl(["-x", proxy, `${origin}/v1/charges`, "-d", "amount=1"]))).toBe(403);
    expect(statusOf(await curl(["-x", proxy, "-X", "DELETE", `${origin}/v1/refunds`]))).toBe(403);
    expect(statusOf(await curl(["-x", proxy, `http://localhost:${upstream.port}/v1/refunds`, "-d", "payment_intent=p&amount=1"]))).toBe(403);
    const host = await curl(["-x", proxy, "-H", "Host: evil.example", `${origin}/v1/refunds`, "-d", "payment_intent=p&amount=1"]);
    expect(statusOf(host)).toBe(400);
    expect(JSON.parse(bodyOf(host))).toMatchObject({ message: "the Host header disagrees with the request target", error: { type: "invalid_request" } });
    expect(upstream.since(mark)).toHaveLength(0);
    const statuses = audit().map((r) => r.status);
    for (const s of ["connect_refused", "forward_refused", "host_mismatch"]) expect(statuses).toContain(s);
  });
});
