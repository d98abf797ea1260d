// How a tool is shown to an agent, in one place for /v1/tools, MCP tools/list, `keyrunner export` and the
// SDK: its input schema plus the `reason` and `approval_id` arguments its rules use (they travel beside
// the input), rendered in the OpenAI, Anthropic or MCP tool shape.

export interface ListableTool {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  /** Some allow rule for the tool needs a reason. */
  readonly requiresReason: boolean;
  /** Some allow rule for the tool needs a person's approval. */
  readonly requiresApproval: boolean;
}

export interface ListedTool {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments an agent sends: the input's fields, and `reason`/`approval_id` where used. */
  readonly schema: Record<string, unknown>;
}

export type ListingFormat = "openai" | "anthropic" | "mcp";
export const LISTING_FORMATS: readonly ListingFormat[] = ["openai", "anthropic", "mcp"];

export function agentInputSchema(tool: ListableTool): Record<string, unknown> {
  const schema = tool.inputSchema as { properties: Record<string, unknown> };
  const extra: Record<string, unknown> = {};
  if (tool.requiresReason) extra.reason = { type: "string", minLength: 1, maxLength: 1000, description: "Why this is needed. Some requests are allowed only with a reason; it is recorded in the audit." };
  if (tool.requiresApproval) extra.approval_id = { type: "string", description: "The approval_id of a request a person approved; send it with the identical request." };
  return { ...tool.inputSchema, properties: { ...schema.properties, ...extra } };
}

/** The tools in name order, as an agent is shown them. */
export function listTools(tools: Iterable<ListableTool>): ListedTool[] {
  return [...tools]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => ({ name: t.name, description: t.description, schema: agentInputSchema(t) }));
}

export function renderOpenAi(tools: readonly ListedTool[]) {
  return tools.map((t) => ({ type: "function" as const, function: { name: t.name, description: t.description, parameters: t.schema } }));
}

export function renderAnthropic(tools: readonly ListedTool[]) {
  return tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.schema }));
}

export function renderMcp(tools: readonly ListedTool[]) {
  return tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.schema as { type: "object"; [key: string]: unknown } }));
}

export function renderListing(tools: readonly ListedTool[], format: ListingFormat): unknown[] {
  return format === "openai" ? renderOpenAi(tools) : format === "anthropic" ? renderAnthropic(tools) : renderMcp(tools);
}
