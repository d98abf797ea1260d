// The input schema an agent is shown: the tool's own, plus `reason` and `approval_id` where its rules
// use them (they travel beside the input: the request's `reason` and `approval_id`).

export interface AgentFacing {
  readonly requiresReason: boolean;
  readonly requiresApproval: boolean;
}

export function agentInputSchema(inputSchema: Readonly<Record<string, unknown>>, tool: AgentFacing): Record<string, unknown> {
  const schema = inputSchema as { properties: Record<string, unknown> };
  const extra: Record<string, unknown> = {};
  if (tool.requiresReason) extra.reason = { type: "string", minLength: 1, maxLength: 1000, description: "Why this is needed. Some requests are allowed only with a reason; it is recorded in the audit." };
  if (tool.requiresApproval) extra.approval_id = { type: "string", description: "The approval_id of a request a person approved; send it with the identical request." };
  return { ...inputSchema, properties: { ...schema.properties, ...extra } };
}
