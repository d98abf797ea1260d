// SIGTERM drains: the server stops accepting, finishes what is in flight (its answers say
// `Connection: close`), cuts off what outlasts --drain-timeout, and exits — and a replacement started
// on the same state and audit waits for it. An approval granted before the handover executes exactly
// once across the two processes (a draining server once kept answering on busy connections, then
// rewrote the state from stale memory after its replacement had taken over, and executed it twice).

import { request as httpRequest, Agent } from "node:http";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditFile } from "../../runtime-template/audit/audit-verify.js";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_drain_0123456789";
const AGENT = "kr_agent_token_drain_000001";
const APPROVER = "kr_approver_token_drain_0001";
const agent = { authorization: `Bearer ${AGENT}` };
const approver = { authorization: `Bearer ${APPROVER}` };
const refund = (amount: number, extra: Record<string, unknown> = {}) => ({ tool: "refund_payment", input: { payment_id: "pi_drain", amount_cents: amount }, reason: "asked", ...extra });
const upstream = new Upstream();
let dir: string;
let bundle: string;

beforeAll(async () => {
  await upstream.start();
  // amount 1: answered after 1.5 s (in flight across the SIGTERM); amount 2: not within the drain timeout.
  upstream.routes.set("/v1/refunds", async (request, res) => {
    const amount = Number(new URLSearchParams(request.body).get("amount") ?? JSON.parse(request.body || "{}").amount);
    if (amount === 1) await sleep(1500);
    if (amount === 2) await sleep(20_000);
    if (!res.destroyed) res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: "re_1", amount }));
  });
  dir = writeConfig({
    "tools/refund_payment.yaml": `tool: refund_payment\ndescription: Refund\ninput:\n  payment_id: string\n  amount_cents: integer\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/v1/refunds\n  auth: { secret: STRIPE_API_KEY }\n  body: { payment_intent: "\${payment_id}", amount: "\${amount_cents}" }\n`,
    "policies/refunds.yaml": `policy: refunds
agents: [support-agent]
allow:
  - tool: refund_payment
    when: { amount_cents: { max: 1000 }, require_reason: true }
  - tool: refund_payment
    when: { amount_cents: { min: 5001 }, require_reason: true }
    require_approval: true
`,
    "agents.yaml": `agents:\n  support-agent: { token_sha256: ${sha256Hex(AGENT)} }\napprovers:\n  alice: { token_sha256: ${sha256Hex(APPROVER)} }\n`,
  });
  bundle = await buildBundle(dir);
}, 60_000);
afterAll(() => upstream.stop());

/** One request on a kept-alive connection: its status, its `Connection` header and its body. */
function keptAlive(agentPool: Agent, url: string, body: unknown): Promise<{ status: number; connection: string | undefined; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/execute`, { method: "POST", agent: agentPool, headers: { "content-type": "application/json", ...agent } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: JSON.parse(text) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

const refundsOf = (amount: number) => upstream.received.filter((r) => r.url === "/v1/refunds" && Number(JSON.parse(r.body).amount) === amount).length;

describe("drain and handover", () => {
  it("A drains within --drain-timeout while clients keep it busy; B waits for A's locks; the approval executes exactly once", async () => {
    const audit = join(dir, "drain-audit.jsonl");
    const state = join(dir, "drain-state");
    const flags = ["--audit", audit, "--state", state, "--agents", join(dir, "agents.yaml")];
    const env = { STRIPE_API_KEY: SECRET };
    const a = await startBundle(bundle, [...flags, "--drain-timeout", "3000"], env);

    const asked = await post(`${a.url}/v1/execute`, refund(9000), agent);
    expect(asked.status).toBe(202);
    const id = asked.body.approval_id as string;
    expect((await post(`${a.url}/v1/approvals/${id}/approve`, {}, approver)).body).toMatchObject({ status: "approved" });

    // A client keeps A busy: one request in flight across the SIGTERM on a kept-alive connection, and
    // one the upstream holds open far longer than the drain timeout.
    const pool = new Agent({ keepAlive: true, maxSockets: 2 });
    const inFlight = keptAlive(pool, a.url, refund(1));
    const held = keptAlive(pool, a.url, refund(2)).catch((error: Error) => error);
    await sleep(300);
    const termAt = Date.now();
    a.process.kill("SIGTERM");

    // B starts at once on the same state and audit: it waits for A, and says so.
    let b: RunningBundle | undefined;
    const bStarted = startBundle(bundle, flags, env).then((started) => (b = started));
    // While A drains, it accepts no new connection.
    await sleep(200);
    await expect(fetch(`${a.url}/healthz`)).rejects.toThrow();

    // The request in flight is finished, and its answer closes the kept-alive connection.
    expect(await inFlight).toMatchObject({ status: 200, connection: "close" });
    expect(await a.exited).toBe(0);
    const drained = Date.now() - termAt;
    expect(drained).toBeLessThan(3000 + 2000);
    // The request held past the deadline lost its connection.
    expect(await held).toBeInstanceOf(Error);
    await bStarted;
    expect(b!.stderr()).toMatch(/is held by a keyrunner that is shutting down \(pid \d+, \d+ s left at most\); waiting for it/);

    // On B, the approval granted on A executes once; again, it is refused.
    const executed = await post(`${b!.url}/v1/execute`, refund(9000, { approval_id: id }), agent);
    expect(executed.status).toBe(200);
    const again = await post(`${b!.url}/v1/execute`, refund(9000, { approval_id: id }), agent);
    expect(again.body).toMatchObject({ status: "denied", reason: "the approval is already used" });
    // A wrote nothing after B took over: the state B reads still says executed after A is gone.
    await sleep(200);
    expect((await fetch(`${b!.url}/v1/approvals/${id}`, { headers: approver }).then((r) => r.json())).status).toBe("executed");
    expect(refundsOf(9000)).toBe(1);
    expect(refundsOf(1)).toBe(1);
    expect(await b!.stop()).toBe(0);
    pool.destroy();

    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
    const records = readFileSync(audit, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { decision: string; approval_id?: string; status?: string });
    expect(records.filter((r) => r.approval_id === id && r.decision === "allow")).toHaveLength(1);
  }, 60_000);

  it("at SIGTERM, pipelined requests still waiting their turn never run: the running ones are answered, the newest closing the connection", async () => {
    // 20 requests on one connection, each answered by the upstream after 1.5 s: 8 run at once (http/
    // pipelining.ts), 12 wait. Starting the waiting ones during the drain would run them past the point
    // where their answers can be written (two more rounds here; with a slow upstream, cut off at
    // --drain-timeout after they executed).
    const audit = join(dir, "waiting-audit.jsonl");
    const a = await startBundle(bundle, ["--audit", audit, "--state", join(dir, "waiting-state"), "--agents", join(dir, "agents.yaml"), "--drain-timeout", "8000"], { STRIPE_API_KEY: SECRET });
    const before = refundsOf(1);
    const { host } = new URL(a.url);
    const text = JSON.stringify(refund(1));
    const one = `POST /v1/execute HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${AGENT}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
    const socket = connect(Number(new URL(a.url).port), "127.0.0.1");
    let answers = "";
    socket.on("data", (c: Buffer) => (answers += c.toString()));
    const closed = new Promise((resolve) => socket.on("close", resolve));
    socket.write(one.repeat(20));
    await sleep(400);
    const signalled = Date.now();
    a.process.kill("SIGTERM");
    await closed;
    expect(await a.exited).toBe(0);
    const heads = answers.split(/(?=HTTP\/1\.1 \d{3} )/).map((h) => h.toLowerCase());
    expect(heads.map((h) => Number(/^http\/1\.1 (\d{3})/.exec(h)?.[1]))).toEqual(Array(8).fill(200));
    expect(heads.slice(0, 7).some((h) => h.includes("connection: close"))).toBe(false);
    expect(heads[7]).toContain("connection: close");
    expect(refundsOf(1) - before).toBe(8);
    const records = readFileSync(audit, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { decision: string });
    expect(records.filter((r) => r.decision === "allow")).toHaveLength(8);
    expect(records.filter((r) => r.decision === "outcome")).toHaveLength(8);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
    // One round of the upstream (1.5 s), not three, and well inside the drain timeout.
    expect(Date.now() - signalled).toBeLessThan(6000);
  }, 60_000);

  it("requests pipelined on a busy connection across the SIGTERM are all answered by A; the approval executes once across A and B", async () => {
    const audit = join(dir, "pipelined-audit.jsonl");
    const state = join(dir, "pipelined-state");
    const flags = ["--audit", audit, "--state", state, "--agents", join(dir, "agents.yaml")];
    const env = { STRIPE_API_KEY: SECRET };
    const a = await startBundle(bundle, [...flags, "--drain-timeout", "5000"], env);
    const asked = await post(`${a.url}/v1/execute`, { ...refund(9000), input: { payment_id: "pi_pipelined", amount_cents: 9000 } }, agent);
    const id = asked.body.approval_id as string;
    expect((await post(`${a.url}/v1/approvals/${id}/approve`, {}, approver)).status).toBe(200);
    const before = refundsOf(9000);

    // One connection, two requests sent back to back: the slow one, then the approved one behind it.
    const { host } = new URL(a.url);
    const http = (body: unknown) => {
      const text = JSON.stringify(body);
      return `POST /v1/execute HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${AGENT}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
    };
    const socket = connect(Number(new URL(a.url).port), "127.0.0.1");
    let answers = "";
    socket.on("data", (c: Buffer) => (answers += c.toString()));
    const closed = new Promise((resolve) => socket.on("close", resolve));
    socket.write(http(refund(1)) + http({ ...refund(9000, { approval_id: id }), input: { payment_id: "pi_pipelined", amount_cents: 9000 } }));
    await sleep(300);
    a.process.kill("SIGTERM");
    const bStarted = startBundle(bundle, flags, env);
    await closed;
    expect(await a.exited).toBe(0);
    const b = await bStarted;

    // A answered both requests of the busy connection, in order, then closed it. The first answer does
    // not say `Connection: close`: it would have closed the connection under the answer pipelined behind
    // it, whose request had already run (that answer was ready before the SIGTERM, so it says keep-alive;
    // the connection closes once idle).
    const heads = answers.split(/(?=HTTP\/1\.1 \d{3} )/).map((a) => a.toLowerCase());
    expect(heads.map((h) => Number(/^http\/1\.1 (\d{3})/.exec(h)?.[1]))).toEqual([200, 200]);
    expect(heads[0]).not.toContain("connection: close");
    expect(heads[1]).toContain('"amount":9000');
    // B holds the state A left: the approval is used; re-sending it executes nothing.
    const resent = { ...refund(9000, { approval_id: id }), input: { payment_id: "pi_pipelined", amount_cents: 9000 } };
    expect((await post(`${b.url}/v1/execute`, resent, agent)).body).toMatchObject({ status: "denied", reason: "the approval is already used" });
    expect(refundsOf(9000) - before).toBe(1);
    expect(await b.stop()).toBe(0);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
  }, 60_000);
});
