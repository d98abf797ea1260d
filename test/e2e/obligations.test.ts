// Approvals, rate limits and budgets through real bundle replicas sharing a real redis-server, and the
// local state store across a restart. Each test counts what the upstream actually received.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { keyrunner } from "../support/cli.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { describeWithRedis, freePort, startRedis } from "../support/redis-server.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_obligations_0123456789";
const AGENT = "kr_agent_token_obligations_01";
const METRICS_TOKEN = "kr_metrics_scraper_token_0002";
const APPROVER = "kr_approver_token_alice_0001";
const upstream = new Upstream();
let dir: string;
let bundle: string;
let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
let replicas: RunningBundle[] = [];
const env = { STRIPE_API_KEY: SECRET };

const agent = { authorization: `Bearer ${AGENT}` };
const approver = { authorization: `Bearer ${APPROVER}` };
const refund = (amount: number, extra: Record<string, unknown> = {}) => ({ tool: "refund_payment", input: { payment_id: "pi_1", amount_cents: amount }, reason: "asked", ...extra });
const refundsSince = (mark: number) => upstream.since(mark).filter((r) => r.url === "/v1/refunds");

async function replica(state: string, audit = join(dir, `audit-${replicas.length}.jsonl`)): Promise<RunningBundle> {
  const r = await startBundle(bundle, ["--audit", audit, "--agents", join(dir, "agents.yaml"), "--state", state, "--metrics-token-sha256", sha256Hex(METRICS_TOKEN)], env);
  replicas.push(r);
  return r;
}

beforeAll(async () => {
  await upstream.start();
  dir = writeConfig({
    "tools/refund_payment.yaml": `tool: refund_payment\ndescription: Refund\ninput:\n  payment_id: string\n  amount_cents: integer\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/v1/refunds\n  auth: { secret: STRIPE_API_KEY }\n  body: { payment_intent: "\${payment_id}", amount: "\${amount_cents}" }\n`,
    "policies/refunds.yaml": `policy: refunds
agents: [support-agent]
allow:
  - tool: refund_payment
    when: { amount_cents: { max: 1000 }, require_reason: true }
    rate_limit: { max: 50, per: 1h }
  - tool: refund_payment
    when: { amount_cents: { min: 1001, max: 5000 }, require_reason: true }
    budget: { sum: amount_cents, max: 10000, per: 1d }
  - tool: refund_payment
    when: { amount_cents: { min: 5001 }, require_reason: true }
    require_approval: true
    expires: 2h
`,
    "agents.yaml": `agents:\n  support-agent: { token_sha256: ${sha256Hex(AGENT)} }\napprovers:\n  alice: { token_sha256: ${sha256Hex(APPROVER)} }\n`,
  });
  bundle = await buildBundle(dir);
}, 60_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await redis?.stop();
  await upstream.stop();
});

describeWithRedis("shared state on Redis, two replicas", ["redis-server"], () => {
  let a: RunningBundle;
  let b: RunningBundle;
  beforeAll(async () => {
    redis = await startRedis();
    a = await replica(redis.url);
    b = await replica(redis.url);
  });

  it("200 concurrent requests against a limit of 50: exactly 50 execute across both replicas, the rest get 429", async () => {
    const mark = upstream.received.length;
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => post(`${(i % 2 ? a : b).url}/v1/execute`, refund(100), agent)));
    const byStatus = answers.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
    expect(byStatus).toEqual({ 200: 50, 429: 150 });
    expect(refundsSince(mark)).toHaveLength(50);
    const limited = answers.find((r) => r.status === 429)!;
    expect(limited.body).toMatchObject({ status: "rate_limited", rule: "policies/refunds.yaml#allow[0]" });
    expect(limited.body.retry_after_s).toBeGreaterThan(0);
    expect(limited.body.retry_after_s).toBeLessThanOrEqual(3600);
  });

  it("a budget of 10,000 cents hit from both replicas is never exceeded, and the denial says what remains", async () => {
    const mark = upstream.received.length;
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => post(`${(i % 2 ? a : b).url}/v1/execute`, refund(1300), agent)));
    const executed = refundsSince(mark).map((r) => Number(JSON.parse(r.body).amount));
    expect(executed.reduce((x, y) => x + y, 0)).toBe(7 * 1300);
    expect(answers.filter((r) => r.status === 200)).toHaveLength(7);
    const denied = answers.find((r) => r.status === 403)!;
    expect(denied.body).toMatchObject({ status: "denied", remaining: 900, reason: "budget exceeded: 900 of 10000 amount_cents remaining in this window" });
  });

  it("an approval granted on one replica executes on the other, once, and never with a changed input or reason", async () => {
    const asked = await post(`${a.url}/v1/execute`, refund(9000), agent);
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ status: "pending_approval", approval_id: expect.stringMatching(/^apr_[0-9a-f]{32}$/) });
    const id = asked.body.approval_id as string;
    const mark = upstream.received.length;

    // Waiting: re-sending says pending; nothing executes; an agent's token cannot approve.
    expect((await post(`${b.url}/v1/execute`, refund(9000, { approval_id: id }), agent)).status).toBe(202);
    expect((await post(`${b.url}/v1/approvals/${id}/approve`, {}, agent)).status).toBe(403);
    expect((await fetch(`${b.url}/v1/approvals/${id}`, { headers: agent }).then((r) => r.json())).status).toBe("pending");
    const list = await fetch(`${a.url}/v1/approvals`, { headers: approver }).then((r) => r.json());
    expect(list.approvals.map((x: { approval_id: string }) => x.approval_id)).toContain(id);

    const granted = await post(`${b.url}/v1/approvals/${id}/approve`, {}, approver);
    expect(granted.body).toMatchObject({ status: "approved", approval_id: id });
    const different = "the approval is for a different request (agent, tool, input and reason must be identical)";
    expect((await post(`${a.url}/v1/execute`, refund(9001, { approval_id: id }), agent)).body).toMatchObject({ status: "denied", reason: different });
    // The approver read the reason: a re-send with another reason is another request.
    expect((await post(`${a.url}/v1/execute`, refund(9000, { approval_id: id, reason: "something else entirely" }), agent)).body).toMatchObject({ status: "denied", reason: different });
    expect((await post(`${a.url}/v1/execute`, refund(9000, { approval_id: id }), approver)).status).toBe(403);
    const executed = await post(`${b.url}/v1/execute`, refund(9000, { approval_id: id }), agent);
    expect(executed.status).toBe(200);
    const again = await post(`${a.url}/v1/execute`, refund(9000, { approval_id: id }), agent);
    expect(again.body).toMatchObject({ status: "denied", reason: "the approval is already used" });
    expect(refundsSince(mark)).toHaveLength(1);
    expect((await fetch(`${a.url}/v1/approvals/${id}`, { headers: approver }).then((r) => r.json())).status).toBe("executed");
  });

  it("a denied approval never executes", async () => {
    const id = (await post(`${a.url}/v1/execute`, refund(7000), agent)).body.approval_id as string;
    expect((await post(`${b.url}/v1/approvals/${id}/deny`, {}, approver)).body).toMatchObject({ status: "denied" });
    const mark = upstream.received.length;
    expect((await post(`${a.url}/v1/execute`, refund(7000, { approval_id: id }), agent)).body).toMatchObject({ status: "denied", reason: "the approval is denied" });
    expect(refundsSince(mark)).toHaveLength(0);
  });

  it("every obligation outcome is in the audit (with the approver) and in /metrics", async () => {
    const records = [0, 1].flatMap((i) => readFileSync(join(dir, `audit-${i}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l)));
    const statuses = new Set(records.map((r) => r.status ?? r.decision));
    for (const s of ["rate_limited", "over_budget", "pending_approval", "approval_refused", "approval_granted", "approval_denied"]) expect(statuses, s).toContain(s);
    expect(records.find((r) => r.decision === "approval_granted")).toMatchObject({ approver: "alice", rule: "policies/refunds.yaml#allow[2]" });
    const scrape = { headers: { authorization: `Bearer ${METRICS_TOKEN}` } };
    const metrics = (await fetch(`${a.url}/metrics`, scrape).then((r) => r.text())) + (await fetch(`${b.url}/metrics`, scrape).then((r) => r.text()));
    for (const outcome of ["rate_limited", "over_budget", "pending_approval"]) expect(metrics).toContain(`outcome="${outcome}"`);
  });
});

describe("local state store", () => {
  it("keeps a pending approval across a restart of the bundle (creating --state DIR when missing)", async () => {
    const state = join(mkdtempSync(join(tmpdir(), "kr-local-state-")), "not", "yet", "there");
    const first = await replica(state, join(dirname(state), "audit.jsonl"));
    const id = (await post(`${first.url}/v1/execute`, refund(8000), agent)).body.approval_id as string;
    expect(await first.stop()).toBe(0);
    const second = await replica(state, join(dirname(state), "audit.jsonl"));
    expect((await fetch(`${second.url}/v1/approvals/${id}`, { headers: agent }).then((r) => r.json())).status).toBe("pending");
    await post(`${second.url}/v1/approvals/${id}/approve`, {}, approver);
    const mark = upstream.received.length;
    expect((await post(`${second.url}/v1/execute`, refund(8000, { approval_id: id }), agent)).status).toBe(200);
    expect(refundsSince(mark)).toHaveLength(1);
  });

  it("refuses a second process on the same state directory", async () => {
    const state = mkdtempSync(join(tmpdir(), "kr-local-state-"));
    await replica(state, join(state, "a1.jsonl"));
    await expect(replica(state, join(state, "a2.jsonl"))).rejects.toThrow(/the state folder \S+ is in use by a running keyrunner \(pid \d+\); give each server its own --state folder, or use --state redis:\/\//);
  });
});

describe("unreachable state store", () => {
  it("fails closed with 503 within a few seconds, reaching nothing, and keeps serving", async () => {
    const dead = await replica(`redis://127.0.0.1:${await freePort()}`);
    const mark = upstream.received.length;
    const started = Date.now();
    const res = await post(`${dead.url}/v1/execute`, refund(100), agent);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: "unavailable" });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(upstream.since(mark)).toHaveLength(0);
    expect((await fetch(`${dead.url}/healthz`)).status).toBe(200);
  });
});

describe("keyrunner approvals (CLI)", () => {
  it("lists, approves and denies on a running bundle with an approver's token; an agent's token is refused", async () => {
    const cli = (args: string[]) => keyrunner(args);
    const server = await replica(mkdtempSync(join(tmpdir(), "kr-cli-state-")));
    const id = (await post(`${server.url}/v1/execute`, refund(6000), agent)).body.approval_id as string;
    const listed = await cli(["approvals", "list", "--url", server.url, "--token", APPROVER]);
    expect(listed.stdout).toMatch(new RegExp(`^${id}  pending  support-agent → refund_payment \\{"payment_id":"pi_1","amount_cents":6000\\}  reason: asked  expires `));
    expect((await cli(["approvals", "approve", id, "--url", server.url, "--token", AGENT])).stderr).toBe("error: agents' tokens cannot decide approvals\n");
    expect(await cli(["approvals", "approve", id, "--url", server.url, "--token", APPROVER])).toMatchObject({ code: 0, stdout: `${id} approved\n` });
    expect((await cli(["approvals", "deny", id, "--url", server.url, "--token", APPROVER])).stderr).toBe("error: the approval is approved, not pending\n");
  });

  it("shows an agent's reason escaped: a carriage return, terminal escapes and a bidi override cannot rewrite the row", async () => {
    const server = await replica(mkdtempSync(join(tmpdir(), "kr-cli-state-")));
    const hostile = "ok\r00000000-fake  approved  ceo → wire_money\u001b[2K\u001b[1A\u009b2J\u202etxt.exe";
    const id = (await post(`${server.url}/v1/execute`, refund(6000, { reason: hostile }), agent)).body.approval_id as string;
    const listed = await keyrunner(["approvals", "list", "--url", server.url, "--token", APPROVER]);
    const row = listed.stdout.split("\n").find((line) => line.startsWith(id))!;
    expect(row).toContain("reason: ok\\x0d00000000-fake  approved  ceo → wire_money\\x1b[2K\\x1b[1A\\x9b2J\\u202etxt.exe");
    expect(listed.stdout).not.toMatch(/[\r\u001b\u009b\u202e]/);
  });
});
