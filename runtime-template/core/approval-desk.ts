// The approvals API behind the engine: approvals with their status as of now, and a person's decision —
// durable in the audit before the state changes, so an approval never changes without its record.

import { randomUUID } from "node:crypto";
import type { AuditLog } from "../audit/audit-log.js";
import type { CompiledConfig } from "../contract/tool-module.js";
import { effectiveStatus, type Approval, type StateStore } from "../state/state-store.js";
import type { Metrics } from "./metrics.js";
import type { ApprovalOutcome } from "./outcome.js";
import type { Redactor } from "./redact.js";

const AUDIT_UNAVAILABLE = "the audit log cannot be written, so the approval is unchanged";

export interface ApprovalDeskDeps {
  readonly config: CompiledConfig;
  readonly audit: AuditLog;
  readonly state: StateStore;
  readonly redactor: Redactor;
  readonly metrics: Metrics;
}

export class ApprovalDesk {
  constructor(private readonly deps: ApprovalDeskDeps) {}

  /** Approvals, with their status as of now (pending or approved past their expiry read as expired). */
  async list(): Promise<Approval[]> {
    const now = Date.now();
    return (await this.deps.state.listApprovals()).map((a) => ({ ...a, status: effectiveStatus(a, now), input: this.deps.redactor.json(a.input) }));
  }

  async get(id: string): Promise<Approval | undefined> {
    const approval = await this.deps.state.getApproval(id);
    return approval === undefined ? undefined : { ...approval, status: effectiveStatus(approval, Date.now()), input: this.deps.redactor.json(approval.input) };
  }

  /**
   * A person grants or denies a pending approval. The step and the approver are durable in the audit
   * before the state changes: if the audit cannot be written, the approval does not change.
   */
  async decide(id: string, approver: string, grant: boolean): Promise<ApprovalOutcome> {
    const now = Date.now();
    const current = await this.deps.state.getApproval(id);
    if (current === undefined) return { status: "not_found" };
    if (effectiveStatus(current, now) !== "pending") return { status: "not_pending", current: effectiveStatus(current, now) };
    // Nobody approves their own request, however the agents file was written.
    if (approver === current.agent) return { status: "self_approval" };
    const auditId = randomUUID();
    const entry = {
      id: auditId,
      config: this.deps.config.configSha256,
      agent: current.agent,
      tool: current.tool,
      input: this.deps.redactor.json(current.input),
      ...(current.reason === undefined ? {} : { reason: this.deps.redactor.text(current.reason) }),
      rule: current.rule,
      approval_id: id,
      approver,
    };
    try {
      await this.deps.audit.append({ ...entry, decision: grant ? "approval_granted" : "approval_denied" });
    } catch {
      return { status: "unavailable", message: AUDIT_UNAVAILABLE };
    }
    const decided = await this.deps.state.transitionApproval(id, ["pending"], grant ? "approved" : "denied", { decidedBy: approver, decidedAt: now });
    if (decided === undefined) {
      // Another decision (or the expiry) came first: the record above did not take effect, and says so.
      await this.deps.audit.append({ ...entry, decision: "outcome", status: "approval_conflict" }).catch(() => undefined);
      return { status: "conflict" };
    }
    this.deps.metrics.countRequest(decided.tool, grant ? "approval_granted" : "approval_denied");
    return { status: "decided", decision: grant ? "approved" : "denied", approval_id: id, audit_id: auditId };
  }
}
