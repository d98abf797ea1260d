// Shadow decisions (`build --shadow DIR`): the candidate config decides every request beside the
// enforced one. Only the policy decision is compared — nothing of the shadow's is executed, planned or
// answered; where the two differ, the decision record carries `shadow` and /metrics counts it.

import type { ShadowDecision } from "../audit/audit-record.js";
import type { CompiledConfig, Decision, DecisionEnv } from "../contract/tool-module.js";
import { explainRequest } from "./explain.js";

export type { ShadowDecision };

/** A policy decision as a record names it: approval-bound allows are `pending_approval`. */
export function decisionName(decision: Decision): ShadowDecision {
  const name = decision.effect === "deny" ? "deny" : decision.obligations?.approval ? "pending_approval" : "allow";
  return { decision: name, ...(decision.rule === undefined ? {} : { rule: decision.rule }) };
}

/** What the shadow config decides for the request. Its generated code is the same kind as the enforced; a throw still only names the shadow. */
export function shadowDecision(shadow: CompiledConfig, request: { agent: string; tool: unknown; input: unknown; reason?: unknown }, env: DecisionEnv): ShadowDecision {
  try {
    const explained = explainRequest(shadow, { ...request, reason: typeof request.reason === "string" ? request.reason : undefined }, env);
    if (explained.status === "not_found") return { decision: "not_found" };
    if (explained.status === "invalid") return { decision: "invalid" };
    return decisionName(explained.decision);
  } catch {
    return { decision: "invalid" };
  }
}

/** Decisions are compared, not rule names: a candidate that only renames or splits rules agrees. */
export function sameDecision(a: ShadowDecision, b: ShadowDecision): boolean {
  return a.decision === b.decision;
}
