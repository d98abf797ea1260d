// What a request would get, without executing or auditing: the tool as this agent sees it, the input
// validated, the policy decision. Used by the engine's visibility rule, `explain` and `keyrunner test`.

import type { CompiledConfig, Decision, ToolModule, ValidationError } from "../contract/tool-module.js";

export type Explanation =
  | { status: "invalid"; errors: ValidationError[] }
  | { status: "not_found"; message: string }
  | { status: "allowed" | "denied"; decision: Decision };

/** An agent sees a tool when some allow rule for it governs that agent; an unseen tool reads as unknown. */
export function agentMaySee(tool: ToolModule, agent: string): boolean {
  return tool.visibleTo.includes("*") || tool.visibleTo.includes(agent);
}

export function explainRequest(config: CompiledConfig, request: { agent: string; tool: unknown; input: unknown; reason?: unknown }): Explanation {
  const tool = typeof request.tool === "string" ? config.tools.get(request.tool) : undefined;
  if (tool === undefined || !agentMaySee(tool, request.agent)) return { status: "not_found", message: "unknown tool" };
  // Decided on the canonical, defaulted copy, exactly as the engine decides; the request is unchanged.
  const prepared = tool.prepare(request.input);
  if (prepared.errors !== undefined) return { status: "invalid", errors: prepared.errors };
  const decision = tool.decide(request.agent, prepared.input as never, typeof request.reason === "string" ? request.reason : undefined);
  return { status: decision.effect === "allow" ? "allowed" : "denied", decision };
}
