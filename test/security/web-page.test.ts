// A hostile web page in the developer's browser can reach 127.0.0.1. It sends what a browser sends: its
// own Origin (a cross-site `text/plain` POST needs no preflight), Sec-Fetch-Site, and after DNS rebinding its
// own name as Host. Every such request is refused on every route, and nothing reaches the upstream.

import { request } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_web_page_suite_0123";
const AGENT_TOKEN = "kr_web_page_agent_token_0001";
const APPROVER_TOKEN = "kr_web_page_approver_token_01";
const upstream = new Upstream();
let dir: string;
let bundle: string;
let trusted: RunningBundle;
let tokens: RunningBundle;

/** One HTTP request with exactly these headers (Host included), as a browser would send it. */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = request({ host: "127.0.0.1", port: target.port, path: `${target.pathname}${target.search}`, method, headers: { ...headers, ...(body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) }) }, setHost: false }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const refund = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_web", amount_cents: 100 }, reason: "web page" });
const port = (server: RunningBundle) => new URL(server.url).port;

beforeAll(async () => {
  await upstream.start();
  dir = writeConfig({
    ...seedConfig(`http://127.0.0.1:${upstream.port}`),
    "policies/large_refunds.yaml": "policy: large_refunds\nallow:\n  - tool: refund_payment\n    when: { amount_cents: { min: 5001, max: 50000 }, require_reason: true }\n    require_approval: true\n",
    "agents.yaml": `agents:\n  support-agent: { token_sha256: ${sha256Hex(AGENT_TOKEN)} }\napprovers:\n  alice: { token_sha256: ${sha256Hex(APPROVER_TOKEN)} }\n`,
  });
  bundle = await buildBundle(dir);
  trusted = await startBundle(bundle, ["--audit", join(dir, "trusted.jsonl"), "--allowed-host", "gateway.internal"], { STRIPE_API_KEY: SECRET });
  tokens = await startBundle(bundle, ["--audit", join(dir, "tokens.jsonl"), "--agents", join(dir, "agents.yaml")], { STRIPE_API_KEY: SECRET });
}, 60_000);

afterAll(async () => {
  await trusted?.stop();
  await tokens?.stop();
  await upstream.stop();
});

describe("a web page cannot drive the gateway", () => {
  const attacks: Array<[string, (p: string) => Record<string, string>]> = [
    ["a cross-site text/plain POST with the page's Origin", (p) => ({ host: `127.0.0.1:${p}`, origin: "https://evil.example", "content-type": "text/plain" })],
    ["Origin: null (a sandboxed frame or a file: page)", (p) => ({ host: `127.0.0.1:${p}`, origin: "null", "content-type": "text/plain" })],
    ["an Origin on another port of localhost", (p) => ({ host: `127.0.0.1:${p}`, origin: "http://127.0.0.1:3000", "content-type": "text/plain" })],
    ["Sec-Fetch-Site: cross-site without an Origin", (p) => ({ host: `127.0.0.1:${p}`, "sec-fetch-site": "cross-site", "content-type": "text/plain" })],
    ["a DNS-rebinding page: its own name as Host, its own Origin", (p) => ({ host: `rebind.evil.example:${p}`, origin: `http://rebind.evil.example:${p}`, "content-type": "text/plain" })],
    ["a DNS-rebinding page: its own name as Host, no Origin", (p) => ({ host: `rebind.evil.example:${p}` })],
    ["a Host that only looks like loopback", (p) => ({ host: `127.0.0.1.evil.example:${p}` })],
  ];

  it.each(attacks)("trusted mode, /v1/execute: %s is refused, executes nothing and writes no record", async (_name, headers) => {
    const mark = upstream.received.length;
    const before = readFileSync(join(dir, "trusted.jsonl"), "utf8");
    const res = await send(`${trusted.url}/v1/execute`, "POST", headers(port(trusted)), refund);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toMatchObject({ status: "forbidden" });
    expect(upstream.received.length).toBe(mark);
    expect(readFileSync(join(dir, "trusted.jsonl"), "utf8")).toBe(before);
  });

  it.each([
    ["GET", "/v1/tools?agent=support-agent"],
    ["POST", "/mcp?agent=support-agent"],
    ["GET", "/v1/approvals"],
    ["POST", "/v1/approvals/apr_x/approve"],
    ["GET", "/healthz"],
  ])("every route refuses a foreign Origin and a foreign Host: %s %s", async (method, path) => {
    for (const server of [trusted, tokens]) {
      const p = port(server);
      const body = method === "POST" ? JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) : undefined;
      const foreignOrigin = await send(`${server.url}${path}`, method, { host: `127.0.0.1:${p}`, origin: "https://evil.example", "content-type": "text/plain", authorization: `Bearer ${APPROVER_TOKEN}` }, body);
      const foreignHost = await send(`${server.url}${path}`, method, { host: `evil.example:${p}`, "content-type": "application/json", authorization: `Bearer ${APPROVER_TOKEN}` }, body);
      expect([foreignOrigin.status, foreignHost.status]).toEqual([403, 403]);
    }
  });

  it("the same request without a browser's headers executes: the guard refuses pages, not clients", async () => {
    const mark = upstream.received.length;
    for (const host of [`127.0.0.1:${port(trusted)}`, `localhost:${port(trusted)}`, "gateway.internal", `127.0.0.1:${port(trusted)}`]) {
      const res = await send(`${trusted.url}/v1/execute`, "POST", { host, "content-type": "application/json" }, refund);
      expect(res.status).toBe(200);
    }
    // A same-origin Origin (a page this server would have served — it serves none) is not refused.
    const same = await send(`${trusted.url}/v1/execute`, "POST", { host: `127.0.0.1:${port(trusted)}`, origin: `http://127.0.0.1:${port(trusted)}`, "content-type": "application/json" }, refund);
    expect(same.status).toBe(200);
    expect(upstream.received.length).toBe(mark + 5);
  });

  it("two Host headers are refused, whichever comes first", async () => {
    const { connect } = await import("node:net");
    for (const hosts of [[`127.0.0.1:${port(trusted)}`, "evil.example"], ["evil.example", `127.0.0.1:${port(trusted)}`]]) {
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(Number(port(trusted)), "127.0.0.1");
        let text = "";
        socket.on("data", (c) => (text += c.toString()));
        socket.on("close", () => resolve(text));
        socket.write(`POST /v1/execute HTTP/1.1\r\nHost: ${hosts[0]}\r\nHost: ${hosts[1]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(refund)}\r\nConnection: close\r\n\r\n${refund}`);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 (400|403) /);
    }
  });

  it("a name added with --allowed-host is answered only on the server that was given it", async () => {
    const res = await send(`${tokens.url}/v1/execute`, "POST", { host: "gateway.internal", "content-type": "application/json", authorization: `Bearer ${AGENT_TOKEN}` }, refund);
    expect(res.status).toBe(403);
  });
});

describe("in trusted mode nobody can approve", () => {
  it("an agent naming itself (or anyone) approver cannot list or decide approvals; its request stays pending and never runs", async () => {
    const mark = upstream.received.length;
    const host = { host: `127.0.0.1:${port(trusted)}`, "content-type": "application/json" };
    const large = { agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_big", amount_cents: 9000 }, reason: "large" };
    const pending = await send(`${trusted.url}/v1/execute`, "POST", host, JSON.stringify(large));
    expect(pending.status).toBe(202);
    const id = JSON.parse(pending.text).approval_id as string;
    const list = await send(`${trusted.url}/v1/approvals?approver=support-agent`, "GET", host);
    expect(list.status).toBe(403);
    expect(JSON.parse(list.text).message).toMatch(/approvals need an agents file with approvers/);
    for (const approver of ["support-agent", "alice"]) {
      const decide = await send(`${trusted.url}/v1/approvals/${id}/approve`, "POST", host, JSON.stringify({ approver }));
      expect(decide.status).toBe(403);
      expect(JSON.parse(decide.text).message).toMatch(/nobody can approve/);
    }
    const polled = await send(`${trusted.url}/v1/approvals/${id}?agent=support-agent`, "GET", host);
    expect(JSON.parse(polled.text)).toMatchObject({ approval_id: id, status: "pending" });
    const resent = await send(`${trusted.url}/v1/execute`, "POST", host, JSON.stringify({ ...large, approval_id: id }));
    expect(JSON.parse(resent.text)).toMatchObject({ status: "pending_approval", approval_id: id });
    expect(upstream.received.length).toBe(mark);
  });
});
