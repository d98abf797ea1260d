// `keyrunner export`: the tool definitions in each ecosystem's function/tool-calling shape, rendered by the
// runtime's own tool listing, so that export, /v1/tools, MCP tools/list and the SDK cannot drift apart.

import { listTools, renderListing, type ListableTool, type ListedTool, type ListingFormat } from "../runtime-template/core/tool-listing.js";
import type { Analysis } from "./phases/4-analyze/analyze-rules.js";
import { inputJsonSchema } from "./phases/5-generate/input-json-schema.js";

export type ExportFormat = ListingFormat;

/**
 * Tools some allow rule lets this agent call (any agent when none is named), in name order. Whether the
 * `reason` and `approval_id` arguments are shown is the tool's, as in its generated module: some allow
 * rule of the tool uses them.
 */
export function exportedTools(analysis: Analysis, agent?: string): ListedTool[] {
  const listable: ListableTool[] = [];
  for (const tool of analysis.config.tools.values()) {
    const allows = (analysis.rulesByTool.get(tool.name) ?? []).filter((r) => r.effect === "allow");
    if (!allows.some((r) => agent === undefined || r.agents === "all" || r.agents.includes(agent))) continue;
    listable.push({
      name: tool.name,
      description: tool.description,
      inputSchema: inputJsonSchema(tool),
      requiresReason: allows.some((r) => r.requireReason),
      requiresApproval: allows.some((r) => r.approval !== undefined),
    });
  }
  return listTools(listable);
}

export function renderExport(tools: readonly ListedTool[], format: ExportFormat): unknown {
  const rendered = renderListing(tools, format);
  return format === "mcp" ? { tools: rendered } : rendered;
}
