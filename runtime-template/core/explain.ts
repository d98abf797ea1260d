// What a request would get, without executing or auditing: the tool as this agent sees it, the input
// validated, the policy decision. Used by the engine's visibility rule, `explain` and `keyrunner test`.

import type { CompiledConfig, Decision, DecisionEnv, RuleFailure, ToolModule, ValidationError } from "../contract/tool-module.js";

export type Explanation =
  | { status: "invalid"; errors: ValidationError[] }
  | { status: "not_found"; message: string }
  | { status: "allowed" | "denied"; decision: Decision; failed?: RuleFailure[] };

/** An agent sees a tool when some allow rule for it governs that agent; an unseen tool reads as unknown. */
export function agentMaySee(tool: ToolModule, agent: string): boolean {
  return tool.visibleTo.includes("*") || tool.visibleTo.includes(agent);
}

export function explainRequest(
  config: CompiledConfig,
  request: { agent: string; tool: unknown; input: unknown; reason?: unknown },
  env: DecisionEnv = { context: {}, now: Date.now() },
): Explanation {
  const tool = typeof request.tool === "string" ? config.tools.get(request.tool) : undefined;
  if (tool === undefined || !agentMaySee(tool, request.agent)) return { status: "not_found", message: "unknown tool" };
  // Decided on the canonical, defaulted copy, exactly as the engine decides; the request is unchanged.
  const prepared = tool.prepare(request.input);
  if (prepared.errors !== undefined) return { status: "invalid", errors: prepared.errors };
  const reason = typeof request.reason === "string" ? request.reason : undefined;
  const decision = tool.decide(request.agent, prepared.input as never, reason, env);
  if (decision.effect === "deny" && decision.rule === undefined && tool.denialDetail !== undefined) {
    return { status: "denied", decision, failed: tool.denialDetail(request.agent, prepared.input as never, reason, env) };
  }
  return { status: decision.effect === "allow" ? "allowed" : "denied", decision };
}

/** `a reason is required (policies/a.yaml#allow[0]); amount_cents 9000 is above 5000 (policies/a.yaml#allow[1])` */
export function describeFailures(detail: readonly RuleFailure[]): string {
  return detail.map((f) => `${f.failed.join(", ")} (${f.rule})`).join("; ");
}
