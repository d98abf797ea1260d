// The execute pipeline of SPEC section 5, shared by the HTTP server, `keyrunner run` and the SDK:
// resolve the tool → validate → decide → (durable decision record) → run → redact → outcome record.
// A denied or invalid request stops before any plan is built: no secret is read, nothing is sent.

import { randomUUID } from "node:crypto";
import type { AuditLog } from "../audit/audit-log.js";
import { requestText, type AuditEntry, type RecordFields } from "../audit/audit-record.js";
import { Egress, EgressRefused, ResponseTooLarge, UpstreamTimeout, type Resolver, type UpstreamResponse } from "../egress/egress.js";
import { runExec } from "../egress/exec-runner.js";
import { agentMaySee } from "./explain.js";
import { Metrics } from "./metrics.js";
import { createRedactor, type Redactor } from "./redact.js";
import { readUpstreamBody } from "./upstream-body.js";
import { TemplateValueError } from "../egress/request-encoding.js";
import type { SecretStore } from "../credentials/secrets.js";
import { checkObligations, type ObligationVerdict } from "./obligations.js";
import { effectiveStatus, StateUnavailable, type Approval, type StateStore } from "../state/state-store.js";
import type { CompiledConfig, ExecPlan, HttpRequestPlan, ToolModule, ValidationError } from "../contract/tool-module.js";

export interface ExecuteRequest {
  agent: string;
  tool: unknown;
  input: unknown;
  reason?: unknown;
  approval_id?: unknown;
}

export type ExecuteBody =
  | { status: "ok"; result: unknown; http_status?: number; audit_id: string }
  | { status: "invalid"; errors: ValidationError[]; audit_id: string }
  | { status: "denied"; reason: string; rule?: string; remaining?: number; audit_id: string }
  | { status: "pending_approval"; approval_id: string; expires_at: string; audit_id: string }
  | { status: "rate_limited"; retry_after_s: number; rule: string; audit_id: string }
  | { status: "unavailable"; message: string; audit_id: string }
  | { status: "not_found"; message: string; audit_id: string }
  | { status: "upstream_error" | "upstream_timeout"; http_status?: number; message: string; audit_id: string };

export interface ExecuteResponse {
  httpStatus: number;
  body: ExecuteBody;
  /** Forward mode only: the upstream's own status and its body (redacted, output rules applied). */
  upstream?: { status: number; body: unknown };
}

/** Forward-proxy mode: client headers passed on (Accept, User-Agent), and the upstream's errors passed through. */
export interface ForwardOptions {
  headers: Array<readonly [string, string]>;
}

export interface EngineOptions {
  config: CompiledConfig;
  secrets: SecretStore;
  audit: AuditLog;
  state: StateStore;
  resolver?: Resolver;
  metrics?: Metrics;
}

const MAX_LOGGED_NAME = 128;

/** What a request's record says beside its decision (approvers appear only in approval records). */
type RecordDetails = Omit<RecordFields, "decision" | "approver">;

export class Engine {
  readonly metrics: Metrics;
  readonly redactor: Redactor;
  readonly #egress: Egress;

  constructor(private readonly options: EngineOptions) {
    this.metrics = options.metrics ?? new Metrics();
    this.redactor = createRedactor(options.secrets.values());
    this.#egress = new Egress(options.resolver);
  }

  /** Tools this agent may see: those with an allow rule that governs it. */
  visibleTools(agent: string): ToolModule[] {
    return [...this.options.config.tools.values()].filter((t) => agentMaySee(t, agent));
  }

  /** Requests inside execute(): with others in flight, a decision record may wait briefly to share their write. */
  #inFlight = 0;

  execute(request: ExecuteRequest, forward?: ForwardOptions): Promise<ExecuteResponse> {
    // Without a commit delay nothing reads the count: the request goes straight through.
    return this.options.audit.groupsWrites ? this.#counted(request, forward) : this.#execute(request, forward);
  }

  async #counted(request: ExecuteRequest, forward?: ForwardOptions): Promise<ExecuteResponse> {
    this.#inFlight++;
    try {
      return await this.#execute(request, forward);
    } finally {
      this.#inFlight--;
    }
  }

  async #execute(request: ExecuteRequest, forward?: ForwardOptions): Promise<ExecuteResponse> {
    const id = randomUUID();
    const toolName = typeof request.tool === "string" ? request.tool : "";
    const tool = this.options.config.tools.get(toolName);
    const config = this.options.config.configSha256;
    const agent = request.agent;
    const loggedTool = toolName.length > MAX_LOGGED_NAME ? toolName.slice(0, MAX_LOGGED_NAME) : toolName;
    const loggedInput = this.redactor.json(request.input ?? null);
    const loggedReason = typeof request.reason === "string" ? this.redactor.text(request.reason) : undefined;
    /** The fields every record of this request shares, serialised once (the first record builds them). */
    let requestFields: string | undefined;
    const record = (decision: AuditEntry["decision"], fields: RecordDetails = {}) =>
      this.options.audit.appendRecord(
        (requestFields ??= requestText({ id, config, agent, tool: loggedTool, input: loggedInput, reason: loggedReason })),
        {
          decision,
          rule: fields.rule,
          approval_id: fields.approval_id,
          status: fields.status,
          http_status: fields.http_status,
          duration_ms: fields.duration_ms,
        },
        // The outcome record follows the answer: nobody waits for it, so it joins the next write. A
        // record the request waits for is written at once, unless other requests are in flight.
        decision === "outcome" ? "soon" : this.#inFlight > 1 ? "grouped" : "now",
      );
    /** Writes the request's last record; a decision that is also the answer is durable before the answer. */
    const finish = async (decision: AuditEntry["decision"], fields: RecordDetails, response: ExecuteResponse, outcome: string) => {
      this.metrics.countRequest(tool?.name ?? "(unknown)", outcome);
      const written = record(decision, fields);
      if (decision === "outcome") {
        // The allow decision was durable before anything ran, so the request is in the audit whatever
        // happens next; its outcome record goes out with the next batch instead of delaying the answer.
        written.catch(() => this.metrics.countRequest(tool?.name ?? "(unknown)", "audit_failed"));
        return response;
      }
      try {
        await written;
      } catch {
        this.metrics.countRequest(tool?.name ?? "(unknown)", "audit_failed");
        return { httpStatus: 403, body: { status: "denied", reason: "the audit log is unavailable, so nothing is executed", audit_id: id } } as ExecuteResponse;
      }
      return response;
    };

    // Unknown tools and tools the agent may not see get the same answer.
    if (tool === undefined || !agentMaySee(tool, request.agent)) {
      return finish("deny", { status: "unknown_tool" }, { httpStatus: 404, body: { status: "not_found", message: "unknown tool", audit_id: id } }, "not_found");
    }
    const invalid = (errors: ValidationError[]) =>
      finish("invalid", { status: "invalid" }, { httpStatus: 400, body: { status: "invalid", errors, audit_id: id } }, "invalid");
    if (request.reason !== undefined && typeof request.reason !== "string") return invalid([{ path: "reason", message: "must be a string" }]);
    const input = request.input;
    if (input === null || typeof input !== "object" || Array.isArray(input)) return invalid([{ path: "(input)", message: "must be an object" }]);
    const errors = tool.validate(input);
    if (errors !== undefined) return invalid(errors);
    const reason = request.reason as string | undefined;

    const decision = tool.decide(request.agent, input as never, reason);
    if (decision.effect === "deny") {
      const body = { status: "denied" as const, reason: decision.reason ?? "denied by policy", ...(decision.rule ? { rule: decision.rule } : {}), audit_id: id };
      return finish("deny", { rule: decision.rule, status: "denied" }, { httpStatus: 403, body }, "denied");
    }
    if (request.approval_id !== undefined && typeof request.approval_id !== "string") return invalid([{ path: "approval_id", message: "must be a string" }]);

    let plan: HttpRequestPlan | ExecPlan;
    try {
      plan = tool.plan(input as never, (name) => this.options.secrets.read(name));
    } catch (error) {
      if (error instanceof TemplateValueError) return invalid([{ path: error.field, message: error.message }]);
      throw error;
    }
    if (forward !== undefined && plan.kind === "http") {
      const own = new Set(plan.headers.map(([name]) => name));
      plan = { ...plan, headers: [...plan.headers, ...forward.headers.filter(([name]) => !own.has(name))] };
    }

    const rule = decision.rule!;
    let approvalId: string | undefined;
    if (decision.obligations !== undefined) {
      let verdict: ObligationVerdict;
      try {
        verdict = await checkObligations(
          this.options.state,
          decision,
          { agent: request.agent, tool: tool.name, input: input as Record<string, unknown>, ...(reason === undefined ? {} : { reason }), ...(typeof request.approval_id === "string" ? { approvalId: request.approval_id } : {}) },
          Date.now(),
        );
      } catch (error) {
        if (!(error instanceof StateUnavailable)) throw error;
        const body = { status: "unavailable" as const, message: "the state store for approvals and limits is unavailable, so nothing is executed", audit_id: id };
        return finish("deny", { rule, status: "state_unavailable" }, { httpStatus: 503, body }, "state_unavailable");
      }
      switch (verdict.kind) {
        case "pending": {
          const body = { status: "pending_approval" as const, approval_id: verdict.approval.id, expires_at: new Date(verdict.approval.expiresAt).toISOString(), audit_id: id };
          return finish("pending_approval", { rule, approval_id: verdict.approval.id, status: "pending_approval" }, { httpStatus: 202, body }, "pending_approval");
        }
        case "refused":
          return finish("deny", { rule, status: "approval_refused", approval_id: typeof request.approval_id === "string" ? request.approval_id : undefined }, { httpStatus: 403, body: { status: "denied", reason: verdict.reason, rule, audit_id: id } }, "approval_refused");
        case "rate_limited":
          return finish("deny", { rule, status: "rate_limited" }, { httpStatus: 429, body: { status: "rate_limited", retry_after_s: verdict.retryAfterSeconds, rule, audit_id: id } }, "rate_limited");
        case "over_budget":
          return finish("deny", { rule, status: "over_budget" }, { httpStatus: 403, body: { status: "denied", reason: verdict.reason, rule, remaining: verdict.remaining, audit_id: id } }, "over_budget");
        case "proceed":
          approvalId = verdict.approval?.id;
      }
    }

    // The decision record is durable before anything leaves this process.
    try {
      await record("allow", { rule, approval_id: approvalId });
    } catch {
      this.metrics.countRequest(tool.name, "audit_failed");
      return { httpStatus: 403, body: { status: "denied", reason: "the audit log is unavailable, so nothing is executed", audit_id: id } };
    }

    const started = performance.now();
    const outcome = await this.#run(tool, plan, id, forward !== undefined);
    const duration = performance.now() - started;
    if (plan.kind === "http") this.metrics.observeUpstream(tool.name, duration / 1000);
    const body = outcome.body;
    return finish(
      "outcome",
      { rule, status: body.status, http_status: "http_status" in body ? body.http_status : undefined, duration_ms: Math.round(duration * 1000) / 1000 },
      outcome,
      body.status,
    );
  }

  async #run(tool: ToolModule, plan: HttpRequestPlan | ExecPlan, id: string, passUpstream = false): Promise<ExecuteResponse> {
    if (plan.kind === "exec") {
      try {
        const result = await runExec(plan);
        if (result.timedOut) return { httpStatus: 504, body: { status: "upstream_timeout", message: "the command did not finish in time", audit_id: id } };
        const output = this.redactor.json({ exit_code: result.exitCode, stdout: result.stdout, stderr: result.stderr, truncated: result.truncated });
        return { httpStatus: 200, body: { status: "ok", result: output, audit_id: id } };
      } catch {
        return { httpStatus: 502, body: { status: "upstream_error", message: "the command could not be started", audit_id: id } };
      }
    }
    let response: UpstreamResponse;
    try {
      response = await this.#egress.send(plan, tool.egress!);
    } catch (error) {
      if (error instanceof UpstreamTimeout) return { httpStatus: 504, body: { status: "upstream_timeout", message: "the upstream did not answer in time", audit_id: id } };
      if (error instanceof EgressRefused) return { httpStatus: 502, body: { status: "upstream_error", message: "the upstream address is not allowed", audit_id: id } };
      if (error instanceof ResponseTooLarge) return { httpStatus: 502, body: { status: "upstream_error", message: "the upstream response is too large", audit_id: id } };
      return { httpStatus: 502, body: { status: "upstream_error", message: "the upstream could not be reached", audit_id: id } };
    }
    if (response.status >= 300 && response.status < 400) {
      // Redirects are never followed; the agent sees where it pointed, redacted.
      const location = response.headers.location;
      return { httpStatus: 200, body: { status: "ok", http_status: response.status, result: { location: this.redactor.text(String(location ?? "")) }, audit_id: id } };
    }
    if (response.status >= 400 && !passUpstream) {
      return { httpStatus: 502, body: { status: "upstream_error", http_status: response.status, message: "the upstream answered with an error", audit_id: id } };
    }
    const read = readUpstreamBody(response, { maxResponseBytes: plan.maxResponseBytes, redactor: this.redactor, output: tool.output });
    if (!read.ok) return { httpStatus: 502, body: { status: "upstream_error", http_status: response.status, message: read.message, audit_id: id } };
    const result = read.value;
    const upstream = passUpstream ? { upstream: { status: response.status, body: result } } : {};
    if (response.status >= 400) {
      return { httpStatus: 502, body: { status: "upstream_error", http_status: response.status, message: "the upstream answered with an error", audit_id: id }, ...upstream };
    }
    return { httpStatus: 200, body: { status: "ok", http_status: response.status, result, audit_id: id }, ...upstream };
  }

  /** A forward-proxy request refused before any tool (CONNECT, an undeclared destination): audited. */
  async refuseForward(agent: string, method: string, target: string, status: string, tool = "(forward)"): Promise<string> {
    const id = randomUUID();
    this.metrics.countRequest(tool, status);
    const input = { method: method.slice(0, 16), target: this.redactor.text(target.slice(0, 2048)) };
    await this.options.audit
      .append({ id, config: this.options.config.configSha256, agent, tool, input, decision: status === "invalid" ? "invalid" : "deny", status })
      .catch(() => undefined);
    return id;
  }

  /** Approvals, with their status as of now (pending or approved past their expiry read as expired). */
  async approvals(): Promise<Approval[]> {
    const now = Date.now();
    return (await this.options.state.listApprovals()).map((a) => ({ ...a, status: effectiveStatus(a, now), input: this.redactor.json(a.input) }));
  }

  async approval(id: string): Promise<Approval | undefined> {
    const approval = await this.options.state.getApproval(id);
    return approval === undefined ? undefined : { ...approval, status: effectiveStatus(approval, Date.now()), input: this.redactor.json(approval.input) };
  }

  /** A person grants or denies a pending approval; the step and the approver are audited. */
  async decideApproval(id: string, approver: string, grant: boolean): Promise<{ httpStatus: number; body: Record<string, unknown> }> {
    const now = Date.now();
    const current = await this.options.state.getApproval(id);
    if (current === undefined) return { httpStatus: 404, body: { status: "not_found", message: "unknown approval" } };
    if (effectiveStatus(current, now) !== "pending") return { httpStatus: 409, body: { status: effectiveStatus(current, now), message: `the approval is ${effectiveStatus(current, now)}, not pending` } };
    const decided = await this.options.state.transitionApproval(id, ["pending"], grant ? "approved" : "denied", { decidedBy: approver, decidedAt: now });
    if (decided === undefined) return { httpStatus: 409, body: { status: "conflict", message: "the approval changed meanwhile" } };
    const auditId = randomUUID();
    await this.options.audit.append({
      id: auditId,
      config: this.options.config.configSha256,
      agent: decided.agent,
      tool: decided.tool,
      input: this.redactor.json(decided.input),
      decision: grant ? "approval_granted" : "approval_denied",
      rule: decided.rule,
      approval_id: id,
      approver,
    });
    this.metrics.countRequest(decided.tool, grant ? "approval_granted" : "approval_denied");
    return { httpStatus: 200, body: { status: decided.status, approval_id: id, audit_id: auditId } };
  }

  async close(): Promise<void> {
    await this.#egress.close();
    await this.options.state.close();
  }
}
