// Obligations of an allow rule (SPEC section 3): an approval bound to the exact request, then rate
// limits and budgets reserved atomically, per agent and rule, before anything executes.

import { createHash, randomUUID } from "node:crypto";
import { canonicalJson } from "../audit/canonical-json.js";
import { ApprovalLimitReached, effectiveStatus, type Approval, type Reservation, type StateStore } from "../state/state-store.js";
import type { Decision } from "../contract/tool-module.js";

export type ObligationVerdict =
  | { kind: "proceed"; approval?: Approval }
  | { kind: "pending"; approval: Approval; created: boolean }
  | { kind: "refused"; reason: string }
  | { kind: "rate_limited"; retryAfterSeconds: number }
  | { kind: "over_budget"; remaining?: number; reason: string };

/** What an approval is bound to: the exact agent, tool, validated input and reason (a re-send with another reason is another request). */
export function bindingHash(agent: string, tool: string, input: unknown, reason: string | undefined): string {
  return createHash("sha256").update(canonicalJson({ agent, tool, input, ...(reason === undefined ? {} : { reason }) })).digest("hex");
}

export interface ObligationRequest {
  agent: string;
  tool: string;
  input: Record<string, unknown>;
  reason?: string;
  approvalId?: string;
}

export async function checkObligations(state: StateStore, decision: Decision, request: ObligationRequest, nowMs: number): Promise<ObligationVerdict> {
  const obligations = decision.obligations!;
  const rule = decision.rule!;
  // A budget only ever grows: a negative (or non-finite) amount would refill it. `check` rejects rules
  // that admit one (KR4008); this guard holds whatever the generated code or the store does.
  const contribution = obligations.budget === undefined ? 0 : budgetContribution(request.input[obligations.budget.field]);
  if (contribution === undefined) {
    return { kind: "over_budget", reason: `a budget counts amounts of 0 or more: \`${obligations.budget!.field}\` must be a finite number, 0 or more` };
  }
  let approval: Approval | undefined;
  if (obligations.approval !== undefined) {
    const binding = bindingHash(request.agent, request.tool, request.input, request.reason);
    if (request.approvalId === undefined) {
      approval = {
        id: `apr_${randomUUID().replace(/-/g, "")}`,
        agent: request.agent,
        tool: request.tool,
        rule,
        binding,
        input: request.input,
        ...(request.reason === undefined ? {} : { reason: request.reason }),
        status: "pending",
        createdAt: nowMs,
        expiresAt: nowMs + obligations.approval.expiresSeconds * 1000,
      };
      try {
        await state.createApproval(approval);
      } catch (error) {
        if (error instanceof ApprovalLimitReached) return { kind: "refused", reason: error.message };
        throw error;
      }
      return { kind: "pending", approval, created: true };
    }
    const stored = await state.getApproval(request.approvalId);
    if (stored === undefined || stored.agent !== request.agent || stored.tool !== request.tool) return { kind: "refused", reason: "unknown approval" };
    if (stored.binding !== binding || stored.rule !== rule) return { kind: "refused", reason: "the approval is for a different request (agent, tool, input and reason must be identical)" };
    const status = effectiveStatus(stored, nowMs);
    if (status === "pending") return { kind: "pending", approval: stored, created: false };
    if (status !== "approved") return { kind: "refused", reason: `the approval is ${status === "executed" ? "already used" : status}` };
    approval = stored;
  }

  const reservations: Reservation[] = [];
  if (obligations.rateLimit !== undefined) {
    reservations.push({ key: `rate:${rule}:${request.agent}`, amount: 1, max: obligations.rateLimit.max, windowSeconds: obligations.rateLimit.perSeconds });
  }
  if (obligations.budget !== undefined) {
    reservations.push({ key: `budget:${rule}:${request.agent}`, amount: contribution, max: obligations.budget.max, windowSeconds: obligations.budget.perSeconds });
  }
  if (reservations.length > 0) {
    const result = await state.reserve(reservations, nowMs);
    if (!result.ok) {
      const failed = reservations[result.index]!;
      if (failed.key.startsWith("rate:")) return { kind: "rate_limited", retryAfterSeconds: result.retryAfterSeconds };
      const remaining = Math.max(0, failed.max - result.used);
      return { kind: "over_budget", remaining, reason: `budget exceeded: ${remaining} of ${failed.max} ${obligations.budget!.field} remaining in this window` };
    }
  }
  if (approval !== undefined) {
    // Used once: only the request that moves it from approved to executed proceeds.
    const used = await state.transitionApproval(approval.id, ["approved"], "executed", { decidedAt: approval.decidedAt ?? nowMs });
    if (used === undefined || nowMs >= approval.expiresAt) return { kind: "refused", reason: "the approval is already used or expired" };
  }
  return { kind: "proceed", ...(approval ? { approval } : {}) };
}

/** What a request adds to a budget: its field's value (absent counts 0), or undefined when that would lower the sum. */
export function budgetContribution(value: unknown): number | undefined {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return undefined;
  // -0 adds nothing, but is written as 0 so no store ever sees a negative sign.
  return value === 0 ? 0 : value;
}
