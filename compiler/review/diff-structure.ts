// Changes that are not decisions: tools added or removed, where a tool reaches (egress origin, method,
// path; an exec tool's command), its input schema, the secrets the config names and the agents it governs.

import type { ResolvedConfig, ResolvedTool, Template } from "../phases/3-resolve/resolved-config.js";
import { inputJsonSchema } from "../phases/5-generate/input-json-schema.js";
import { namedAgents } from "./rule-region.js";

export interface Endpoint {
  readonly method: string;
  readonly origin: string;
  readonly path: string;
}

export type StructureChange =
  | { readonly kind: "tool_added" | "tool_removed"; readonly tool: string; readonly endpoint?: Endpoint; readonly command?: string }
  | { readonly kind: "egress"; readonly tool: string; readonly old: Endpoint | string; readonly new: Endpoint | string }
  | { readonly kind: "input_schema"; readonly tool: string; readonly fields: Array<{ field: string; old?: unknown; new?: unknown }> }
  | { readonly kind: "secret_added" | "secret_removed"; readonly secret: string }
  | { readonly kind: "agent_added" | "agent_removed"; readonly agent: string };

function templateText(t: Template): string {
  return t.parts.map((p) => (p.kind === "text" ? p.text : p.kind === "field" ? `\${${p.field}}` : `\${secrets.${p.secret}}`)).join("");
}

/** Where an HTTP tool reaches, or an exec tool's command line. */
function reach(tool: ResolvedTool): Endpoint | string {
  if (tool.run.type === "http") return { method: tool.run.method, origin: tool.run.origin, path: templateText(tool.run.path) };
  return tool.run.command.map(templateText).join(" ");
}

/** Each field's JSON Schema (descriptions left out, `required: true` added), as agents are shown it. */
function fieldSchemas(tool: ResolvedTool): Map<string, unknown> {
  const schema = inputJsonSchema(tool) as { required: string[]; properties: Record<string, unknown> };
  const clean = (value: unknown) => JSON.parse(JSON.stringify(value, (key, v) => (key === "description" ? undefined : v))) as Record<string, unknown>;
  return new Map(Object.entries(schema.properties).map(([field, s]) => [field, { ...clean(s), ...(schema.required.includes(field) ? { required: true } : {}) }]));
}

function fieldSchemaChanges(a: ResolvedTool, b: ResolvedTool): Array<{ field: string; old?: unknown; new?: unknown }> {
  const [sa, sb] = [fieldSchemas(a), fieldSchemas(b)];
  const names = [...new Set([...sa.keys(), ...sb.keys()])].sort();
  return names.filter((n) => JSON.stringify(sa.get(n)) !== JSON.stringify(sb.get(n))).map((field) => ({ field, ...(sa.has(field) ? { old: sa.get(field) } : {}), ...(sb.has(field) ? { new: sb.get(field) } : {}) }));
}

const secretsOf = (c: ResolvedConfig) => new Set([...c.tools.values()].flatMap((t) => t.secrets));

export function diffStructure(old: ResolvedConfig, next: ResolvedConfig): StructureChange[] {
  const changes: StructureChange[] = [];
  const names = [...new Set([...old.tools.keys(), ...next.tools.keys()])].sort();
  for (const name of names) {
    const a = old.tools.get(name);
    const b = next.tools.get(name);
    const where = (t: ResolvedTool) => {
      const r = reach(t);
      return typeof r === "string" ? { command: r } : { endpoint: r };
    };
    if (a === undefined) changes.push({ kind: "tool_added", tool: name, ...where(b!) });
    else if (b === undefined) changes.push({ kind: "tool_removed", tool: name, ...where(a) });
    else {
      if (JSON.stringify(reach(a)) !== JSON.stringify(reach(b))) changes.push({ kind: "egress", tool: name, old: reach(a), new: reach(b) });
      const fields = fieldSchemaChanges(a, b);
      if (fields.length > 0) changes.push({ kind: "input_schema", tool: name, fields });
    }
  }
  const [oldSecrets, newSecrets] = [secretsOf(old), secretsOf(next)];
  for (const s of [...newSecrets].filter((s) => !oldSecrets.has(s)).sort()) changes.push({ kind: "secret_added", secret: s });
  for (const s of [...oldSecrets].filter((s) => !newSecrets.has(s)).sort()) changes.push({ kind: "secret_removed", secret: s });
  const [oldAgents, newAgents] = [new Set(namedAgents(old)), new Set(namedAgents(next))];
  for (const a of [...newAgents].filter((a) => !oldAgents.has(a)).sort()) changes.push({ kind: "agent_added", agent: a });
  for (const a of [...oldAgents].filter((a) => !newAgents.has(a)).sort()) changes.push({ kind: "agent_removed", agent: a });
  return changes;
}
