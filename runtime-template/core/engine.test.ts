// The engine in process, every outcome: a hand-written tool module stands in for generated code, an
// in-memory audit log and state store stand in for the files, and a real HTTP upstream on 127.0.0.1.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditLog } from "../audit/audit-log.js";
import type { RecordFields } from "../audit/audit-record.js";
import type { CompiledConfig, Decision, HttpRequestPlan, ToolModule, ValidationError } from "../contract/tool-module.js";
import type { SecretStore } from "../credentials/secrets.js";
import { StateUnavailable, type Approval, type ApprovalStatus, type Reservation, type ReserveResult, type StateStore } from "../state/state-store.js";
import type { ServerResponse } from "node:http";
import { Upstream, type Received } from "../../test/support/upstream.js";
import { Engine } from "./engine.js";
import { EXECUTE_STATUS } from "../http/routes/execute.js";

const SECRET = "sk_live_engine_test_0123456789";

/** The records the engine appended, parsed back into objects. */
class MemoryAudit {
  records: Array<Record<string, unknown>> = [];
  failing = false;
  readonly groupsWrites = false;
  request<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }
  appendRequestRecord(request: string, fields: RecordFields): Promise<void> {
    if (this.failing) return Promise.reject(new Error("disk full"));
    this.records.push({ ...JSON.parse(`{${request.replace(/,$/, "")}}`), ...fields });
    return Promise.resolve();
  }
  append(entry: Record<string, unknown>): Promise<void> {
    if (this.failing) return Promise.reject(new Error("disk full"));
    this.records.push(entry);
    return Promise.resolve();
  }
}

class MemoryState implements StateStore {
  approvals = new Map<string, Approval>();
  counters = new Map<string, number>();
  unavailable = false;
  async reserve(reservations: readonly Reservation[]): Promise<ReserveResult> {
    if (this.unavailable) throw new StateUnavailable("state store down");
    for (const [index, r] of reservations.entries()) {
      const used = this.counters.get(r.key) ?? 0;
      if (used + r.amount > r.max) return { ok: false, index, used, retryAfterSeconds: r.windowSeconds };
    }
    for (const r of reservations) this.counters.set(r.key, (this.counters.get(r.key) ?? 0) + r.amount);
    return { ok: true };
  }
  async createApproval(approval: Approval): Promise<void> {
    if (this.unavailable) throw new StateUnavailable("state store down");
    this.approvals.set(approval.id, { ...approval });
  }
  async getApproval(id: string): Promise<Approval | undefined> {
    return this.approvals.get(id);
  }
  async transitionApproval(id: string, from: readonly ApprovalStatus[], to: ApprovalStatus, fields: Partial<Approval> = {}): Promise<Approval | undefined> {
    const current = this.approvals.get(id);
    if (current === undefined || !from.includes(current.status)) return undefined;
    const next = { ...current, ...fields, status: to };
    this.approvals.set(id, next);
    return next;
  }
  async listApprovals(): Promise<Approval[]> {
    return [...this.approvals.values()];
  }
  async close(): Promise<void> {}
}

interface RefundInput {
  payment_id: string;
  amount_cents: number;
  currency?: string;
}

function refundTool(origin: string): ToolModule<RefundInput> {
  const allowSmall: Decision = { effect: "allow", rule: "policies/p.yaml#allow[0]" };
  const allowLarge: Decision = { effect: "allow", rule: "policies/p.yaml#allow[1]", obligations: { approval: { expiresSeconds: 3600 } } };
  const limited: Decision = { effect: "allow", rule: "policies/p.yaml#allow[2]", obligations: { rateLimit: { max: 1, perSeconds: 3600 } } };
  return {
    name: "refund",
    description: "Refund a payment",
    source: "tools/refund.yaml:1",
    inputSchema: { type: "object", properties: { payment_id: { type: "string" }, amount_cents: { type: "number" }, currency: { type: "string", default: "usd" } }, required: ["payment_id", "amount_cents"], additionalProperties: false },
    visibleTo: ["support"],
    requiresReason: false,
    requiresApproval: true,
    secrets: ["API_KEY"],
    egress: { origin, method: "POST", path: /^\/refunds$/ },
    output: { pick: [], redact: [] },
    validate(input: unknown): ValidationError[] | undefined {
      const value = input as Record<string, unknown>;
      const errors: ValidationError[] = [];
      if (typeof value.payment_id !== "string") errors.push({ path: "payment_id", message: "must be a string" });
      if (typeof value.amount_cents !== "number") errors.push({ path: "amount_cents", message: "must be a number" });
      for (const key of Object.keys(value)) if (!["payment_id", "amount_cents", "currency"].includes(key)) errors.push({ path: key, message: "is not an input field" });
      if (errors.length > 0) return errors;
      value.currency ??= "usd";
      return undefined;
    },
    prepare(input: unknown) {
      if (input === null || typeof input !== "object" || Array.isArray(input)) return { errors: [{ path: "(input)", message: "must be an object" }] };
      const copy = { ...(input as Record<string, unknown>) };
      const errors = this.validate(copy);
      return errors === undefined ? { input: copy } : { errors };
    },
    decide(_agent, input): Decision {
      if (input.payment_id.startsWith("pi_test_")) return { effect: "deny", rule: "policies/p.yaml#deny[0]", reason: "test payments are not refunded" };
      if (input.payment_id.startsWith("pi_limited_")) return limited;
      if (input.amount_cents <= 5000) return allowSmall;
      if (input.amount_cents <= 50000) return allowLarge;
      return { effect: "deny", reason: "no rule allows this request" };
    },
    plan(input, secret): HttpRequestPlan {
      return {
        kind: "http",
        method: "POST",
        origin,
        path: "/refunds",
        query: "",
        headers: [["authorization", `Bearer ${secret("API_KEY")}`]],
        body: { contentType: "application/json", text: JSON.stringify(input) },
        timeoutMs: 2000,
        maxResponseBytes: 1 << 20,
      };
    },
  };
}

const secrets: SecretStore = { read: (name) => (name === "API_KEY" ? SECRET : ""), values: () => [SECRET], missing: () => [] };

/** The upstream's refund: it echoes the key it was sent and the payment id, as most APIs echo what they were sent. */
const echoRefund = (request: Received, res: ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" });
  const sent = JSON.parse(request.body) as { payment_id?: unknown };
  res.end(JSON.stringify({ id: "re_1", echoed_key: request.headers.authorization, payment_id: sent.payment_id }));
};

describe("engine outcomes, in process", () => {
  const upstream = new Upstream();
  let audit: MemoryAudit;
  let state: MemoryState;
  let engine: Engine;

  beforeAll(async () => {
    await upstream.start();
    upstream.routes.set("/refunds", echoRefund);
  });
  afterAll(async () => {
    await engine?.close();
    await upstream.stop();
  });

  const fresh = () => {
    audit = new MemoryAudit();
    state = new MemoryState();
    const tool = refundTool(`http://127.0.0.1:${upstream.port}`);
    const config: CompiledConfig = { configSha256: "c0ffee", tools: new Map([[tool.name, tool as ToolModule]]), secrets: ["API_KEY"] };
    engine = new Engine({ config, secrets, audit: audit as unknown as AuditLog, state });
    upstream.received.length = 0;
  };
  const refund = (input: Record<string, unknown>, extra: Record<string, unknown> = {}) => engine.execute({ agent: "support", tool: "refund", input, ...extra });

  it("ok: executes once with the secret, redacts it in the result, audits allow then outcome", async () => {
    fresh();
    const outcome = await refund({ payment_id: "pi_1", amount_cents: 100 });
    expect(outcome).toMatchObject({ status: "ok", http_status: 200, result: { id: "re_1", echoed_key: "Bearer [REDACTED]" } });
    expect(upstream.received).toHaveLength(1);
    expect(upstream.received[0]!.headers.authorization).toBe(`Bearer ${SECRET}`);
    await new Promise((r) => setTimeout(r, 20));
    expect(audit.records.map((r) => r.decision)).toEqual(["allow", "outcome"]);
    expect(JSON.stringify(audit.records)).not.toContain(SECRET);
    expect(EXECUTE_STATUS[outcome.status]).toBe(200);
  });

  it("invalid: unknown field and wrong type, nothing sent, one invalid record", async () => {
    fresh();
    const outcome = await refund({ payment_id: 7, amount_cents: 100, extra: 1 });
    expect(outcome).toMatchObject({ status: "invalid", errors: [{ path: "payment_id", message: "must be a string" }, { path: "extra", message: "is not an input field" }] });
    expect(upstream.received).toHaveLength(0);
    expect(audit.records.map((r) => r.decision)).toEqual(["invalid"]);
    expect(EXECUTE_STATUS[outcome.status]).toBe(400);
  });

  it("denied: a deny rule's reason and rule reach the agent; nothing sent", async () => {
    fresh();
    const outcome = await refund({ payment_id: "pi_test_1", amount_cents: 100 });
    expect(outcome).toMatchObject({ status: "denied", reason: "test payments are not refunded", rule: "policies/p.yaml#deny[0]" });
    expect(upstream.received).toHaveLength(0);
    expect(audit.records).toMatchObject([{ decision: "deny", status: "denied", rule: "policies/p.yaml#deny[0]" }]);
    expect(EXECUTE_STATUS[outcome.status]).toBe(403);
  });

  it("not_found: an unknown tool and a tool the agent may not see give the same answer", async () => {
    fresh();
    const unknown = await engine.execute({ agent: "support", tool: "nope", input: {} });
    const unseen = await engine.execute({ agent: "sales", tool: "refund", input: { payment_id: "pi_1", amount_cents: 1 } });
    expect(unknown).toMatchObject({ status: "not_found", message: "unknown tool" });
    expect(unseen).toMatchObject({ status: "not_found", message: "unknown tool" });
    expect(upstream.received).toHaveLength(0);
    expect(EXECUTE_STATUS[unseen.status]).toBe(404);
  });

  it("pending_approval, then an approved re-send executes once and a third send is refused", async () => {
    fresh();
    const pending = await refund({ payment_id: "pi_2", amount_cents: 9000 });
    expect(pending.status).toBe("pending_approval");
    expect(EXECUTE_STATUS[pending.status]).toBe(202);
    expect(upstream.received).toHaveLength(0);
    const id = (pending as { approval_id: string }).approval_id;
    expect(await engine.approvals.decide(id, "alice", true)).toMatchObject({ status: "decided", decision: "approved" });
    expect(await refund({ payment_id: "pi_2", amount_cents: 9000 }, { approval_id: id })).toMatchObject({ status: "ok" });
    expect(await refund({ payment_id: "pi_2", amount_cents: 9000 }, { approval_id: id })).toMatchObject({ status: "denied" });
    expect(upstream.received).toHaveLength(1);
  });

  it("an approve is durable in the audit before the state changes: with the audit down, the approval stays pending", async () => {
    fresh();
    const pending = await refund({ payment_id: "pi_7", amount_cents: 9000 });
    const id = (pending as { approval_id: string }).approval_id;
    audit.failing = true;
    expect(await engine.approvals.decide(id, "alice", true)).toMatchObject({ status: "unavailable" });
    expect(state.approvals.get(id)!.status).toBe("pending");
    audit.failing = false;
    expect(await engine.approvals.decide(id, "alice", true)).toMatchObject({ status: "decided", decision: "approved" });
    expect(audit.records.at(-1)).toMatchObject({ decision: "approval_granted", approver: "alice", approval_id: id });
  });

  it("nobody approves a request made under their own name", async () => {
    fresh();
    const id = ((await refund({ payment_id: "pi_8", amount_cents: 9000 })) as { approval_id: string }).approval_id;
    expect(await engine.approvals.decide(id, "support", true)).toEqual({ status: "self_approval" });
    expect(state.approvals.get(id)!.status).toBe("pending");
  });

  it("rate_limited: the second request in the window is refused before anything is sent", async () => {
    fresh();
    expect((await refund({ payment_id: "pi_limited_1", amount_cents: 1 })).status).toBe("ok");
    const second = await refund({ payment_id: "pi_limited_2", amount_cents: 1 });
    expect(second).toMatchObject({ status: "rate_limited", rule: "policies/p.yaml#allow[2]" });
    expect(EXECUTE_STATUS[second.status]).toBe(429);
    expect(upstream.received).toHaveLength(1);
  });

  it("unavailable: an audit that cannot be written stops everything (503, not a policy denial)", async () => {
    fresh();
    audit.failing = true;
    const outcome = await refund({ payment_id: "pi_3", amount_cents: 100 });
    expect(outcome).toMatchObject({ status: "unavailable" });
    expect(EXECUTE_STATUS[outcome.status]).toBe(503);
    expect(upstream.received).toHaveLength(0);
  });

  it("unavailable: a state store that cannot be reached stops obligations before anything runs", async () => {
    fresh();
    state.unavailable = true;
    const outcome = await refund({ payment_id: "pi_limited_3", amount_cents: 1 });
    expect(outcome).toMatchObject({ status: "unavailable", message: expect.stringContaining("state store") });
    expect(upstream.received).toHaveLength(0);
  });

  it("upstream_error and upstream_timeout: an unreachable and a stalling upstream", async () => {
    fresh();
    upstream.routes.set("/refunds", () => undefined);
    const stalled = await refund({ payment_id: "pi_4", amount_cents: 100 });
    expect(stalled).toMatchObject({ status: "upstream_timeout" });
    expect(EXECUTE_STATUS[stalled.status]).toBe(504);
    upstream.routes.set("/refunds", (_request, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end("{}");
    });
    const failed = await refund({ payment_id: "pi_5", amount_cents: 100 });
    expect(failed).toMatchObject({ status: "upstream_error", http_status: 500 });
    expect(EXECUTE_STATUS[failed.status]).toBe(502);
  });

  it("never changes the caller's input, and records the validated input (defaults applied) whether or not redaction changed it", async () => {
    fresh();
    upstream.routes.set("/refunds", (_request, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
    const plain = { payment_id: "pi_6", amount_cents: 100 };
    const withSecret = { payment_id: `pi_${SECRET}`, amount_cents: 100 };
    await refund(plain);
    await refund(withSecret);
    expect(plain).toEqual({ payment_id: "pi_6", amount_cents: 100 });
    expect(withSecret).toEqual({ payment_id: `pi_${SECRET}`, amount_cents: 100 });
    // The input holding the secret is denied before policy (the always-on rule); both records hold the
    // validated input, defaults applied, and the secret redacted.
    const decisions = audit.records.filter((r) => r.decision === "allow" || r.decision === "deny");
    expect(decisions.map((r) => [r.decision, r.status, (r.input as { currency?: string }).currency])).toEqual([
      ["allow", undefined, "usd"],
      ["deny", "secret_in_input", "usd"],
    ]);
    expect(JSON.stringify(audit.records)).not.toContain(SECRET);
  });

  it("denied, always: a value from the agent holding one of the runtime's own secrets, in any form the redactor knows, is never sent", async () => {
    fresh();
    const forms = [SECRET, Buffer.from(SECRET).toString("base64"), Buffer.from(SECRET).toString("hex"), encodeURIComponent(`x${SECRET}`), SECRET.toUpperCase()];
    for (const form of forms) {
      const outcome = await refund({ payment_id: `pi_${form}`, amount_cents: 100 });
      expect(outcome).toMatchObject({ status: "denied", reason: "the input holds one of this gateway's own secrets, which it never sends" });
    }
    expect(upstream.received).toHaveLength(0);
    expect(audit.records.map((r) => r.status)).toEqual(forms.map(() => "secret_in_input"));
    const text = JSON.stringify(audit.records);
    for (const form of forms) expect(text).not.toContain(form);
  });

  it("a piece of a secret in the input is no oracle: a right and a wrong guess get the same answer, echoed as sent", async () => {
    // An agent that knows 11 bytes tries each next byte: were the right one refused, or redacted where the
    // upstream echoes it, the secret would come out a byte at a time.
    fresh();
    upstream.routes.set("/refunds", echoRefund);
    const known = SECRET.slice(0, 11);
    const right = `${known}${SECRET[11]}`;
    const wrong = `${known}#`;
    const answers = [];
    for (const guess of [right, wrong, Buffer.from(right).toString("hex"), Buffer.from(wrong).toString("hex")]) {
      const outcome = await refund({ payment_id: guess, amount_cents: 100 });
      answers.push({ ...outcome, audit_id: "-" });
      expect(outcome).toMatchObject({ status: "ok", result: { payment_id: guess, echoed_key: "Bearer [REDACTED]" } });
    }
    expect(upstream.received).toHaveLength(4);
    await new Promise((r) => setTimeout(r, 20));
    // The audit, which the agent cannot read, holds the piece redacted.
    expect(JSON.stringify(audit.records)).not.toContain(right);
    expect(JSON.stringify(audit.records)).not.toContain(Buffer.from(right).toString("hex"));
    expect(JSON.stringify(audit.records)).toContain(wrong);
    // Answers differ only by the guess itself.
    expect(JSON.stringify(answers[0]).replace(right, "G")).toBe(JSON.stringify(answers[1]).replace(wrong, "G"));
  });

  it("an invalid answer lists at most 100 problems and counts the rest (80,000 unknown keys made a 5 MB answer)", async () => {
    fresh();
    const input: Record<string, unknown> = { payment_id: "pi_1", amount_cents: 100 };
    for (let i = 0; i < 5000; i++) input[`k${i}`] = 1;
    const outcome = await refund(input);
    expect(outcome.status).toBe("invalid");
    const errors = (outcome as { errors: Array<{ path: string; message: string }> }).errors;
    expect(errors).toHaveLength(101);
    expect(errors[0]).toEqual({ path: "k0", message: "is not an input field" });
    expect(errors[100]).toEqual({ path: "(input)", message: "and 4900 more problems, not listed" });
    expect(upstream.received).toHaveLength(0);
  });

  it("a validation message quoting a piece the agent sent quotes it as sent; a whole secret is still redacted", async () => {
    fresh();
    const piece = SECRET.slice(2, 18);
    const invalid = await refund({ payment_id: "pi_1", amount_cents: 100, [piece]: 1 });
    expect(invalid).toMatchObject({ status: "invalid", errors: [{ path: piece, message: "is not an input field" }] });
    const whole = await refund({ payment_id: "pi_1", amount_cents: 100, [SECRET]: 1 });
    expect(whole).toMatchObject({ status: "invalid", errors: [{ path: "[REDACTED]", message: "is not an input field" }] });
    expect(upstream.received).toHaveLength(0);
  });

  it("denied by no rule: the agent is told what failed for its own rules, the audit holds it in full; --denial-detail none says less", async () => {
    const detailed = (denialDetail?: "none" | "conditions") => {
      fresh();
      const tool = { ...refundTool(`http://127.0.0.1:${upstream.port}`) } as ToolModule;
      (tool as { denialDetail: ToolModule["denialDetail"] }).denialDetail = (_agent, input) => [{ rule: "policies/p.yaml#allow[0]", failed: [`amount_cents ${(input as { amount_cents: number }).amount_cents} is above 50000`] }];
      const config: CompiledConfig = { configSha256: "c0ffee", tools: new Map([[tool.name, tool]]), secrets: ["API_KEY"] };
      engine = new Engine({ config, secrets, audit: audit as unknown as AuditLog, state, ...(denialDetail ? { denialDetail } : {}) });
      return refund({ payment_id: "pi_9", amount_cents: 90000 });
    };
    expect(await detailed()).toMatchObject({
      status: "denied",
      reason: "no rule allows this request: amount_cents 90000 is above 50000 (policies/p.yaml#allow[0])",
      failed: [{ rule: "policies/p.yaml#allow[0]", failed: ["amount_cents 90000 is above 50000"] }],
    });
    expect(audit.records[0]).toMatchObject({ decision: "deny", status: "denied", detail: [{ rule: "policies/p.yaml#allow[0]", failed: ["amount_cents 90000 is above 50000"] }] });
    const terse = await detailed("none");
    expect(terse).toEqual({ status: "denied", reason: "no rule allows this request", audit_id: terse.audit_id });
    expect(audit.records[0]).toMatchObject({ detail: [{ rule: "policies/p.yaml#allow[0]", failed: ["amount_cents 90000 is above 50000"] }] });
    expect(upstream.received).toHaveLength(0);
  });
});
