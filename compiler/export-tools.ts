// `keyrunner export`: the tool definitions in each ecosystem's function/tool-calling shape.

import { agentInputSchema } from "../runtime-template/core/tool-listing.js";
import type { Analysis } from "./phases/4-analyze/analyze-rules.js";
import { inputJsonSchema } from "./phases/5-generate/input-json-schema.js";

export type ExportFormat = "openai" | "anthropic" | "mcp";

interface ExportedTool {
  name: string;
  description: string;
  schema: Record<string, unknown>;
}

/** Tools some allow rule lets this agent call (any agent when none is named), in name order. */
export function exportedTools(analysis: Analysis, agent?: string): ExportedTool[] {
  const out: ExportedTool[] = [];
  for (const tool of [...analysis.config.tools.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const allows = (analysis.rulesByTool.get(tool.name) ?? []).filter((r) => r.effect === "allow" && (agent === undefined || r.agents === "all" || r.agents.includes(agent)));
    if (allows.length === 0) continue;
    const schema = agentInputSchema(inputJsonSchema(tool), {
      requiresReason: allows.some((r) => r.requireReason),
      requiresApproval: allows.some((r) => r.approval !== undefined),
    });
    out.push({ name: tool.name, description: tool.description, schema });
  }
  return out;
}

export function renderExport(tools: readonly ExportedTool[], format: ExportFormat): unknown {
  switch (format) {
    case "openai":
      return tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.schema } }));
    case "anthropic":
      return tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.schema }));
    case "mcp":
      return { tools: tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.schema })) };
  }
}
