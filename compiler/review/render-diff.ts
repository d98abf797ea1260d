// The three faces of a diff: text for a terminal, JSON for programs, markdown for a pull-request comment
// a reviewer reads in ten seconds (a summary line first, widened access first).

import type { WitnessRequest } from "../diagnostics/diagnostic.js";
import type { Change, ConfigDiff } from "./diff-configs.js";
import type { DecisionChange, UndecidedChange } from "./diff-decisions.js";
import type { Endpoint, StructureChange } from "./diff-structure.js";
import type { RuleOutcome } from "./rule-region.js";

export type DiffFormat = "text" | "json" | "markdown";
export const DIFF_FORMATS: readonly DiffFormat[] = ["text", "json", "markdown"];

type Decided = DecisionChange | UndecidedChange;
const isDecision = (c: Change): c is Decided => c.kind === "widened" || c.kind === "narrowed" || c.kind === "obligation" || c.kind === "undecided";

function duration(seconds: number): string {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

/** JSON shape of an outcome: snake_case, as the audit and the HTTP API spell fields. */
function outcomeJson(o: RuleOutcome): Record<string, unknown> {
  return {
    decision: o.decision,
    ...(o.rule ? { rule: o.rule } : {}),
    ...(o.approval ? { approval: { expires_seconds: o.approval.expiresSeconds } } : {}),
    ...(o.rateLimit ? { rate_limit: { max: o.rateLimit.max, per_seconds: o.rateLimit.perSeconds } } : {}),
    ...(o.budget ? { budget: { sum: o.budget.field, max: o.budget.max, per_seconds: o.budget.perSeconds } } : {}),
  };
}

export function renderDiffJson(diff: ConfigDiff): string {
  const changes = diff.changes.map((c) => {
    if (!isDecision(c)) return c;
    const { kind, tool, agents, old, new: next } = c;
    const last = c.kind === "undecided" ? { why: c.why } : { witness: c.witness };
    return { kind, tool, agents, ...(old ? { old: outcomeJson(old) } : {}), ...(next ? { new: outcomeJson(next) } : {}), ...last };
  });
  return `${JSON.stringify({ changes }, null, 2)}\n`;
}

function describeOutcome(o: RuleOutcome): string {
  const obligations = [
    o.approval ? `approval within ${duration(o.approval.expiresSeconds)}` : "",
    o.rateLimit ? `rate limit ${o.rateLimit.max}/${duration(o.rateLimit.perSeconds)}` : "",
    o.budget ? `budget ${o.budget.max} of ${o.budget.field}/${duration(o.budget.perSeconds)}` : "",
  ].filter(Boolean);
  return `${o.decision}${o.rule ? ` by ${o.rule}` : " (no rule)"}${obligations.length > 0 ? ` [${obligations.join(", ")}]` : ""}`;
}

const agentsText = (agents: readonly string[]) => agents.map((a) => (a === "*" ? "any other agent" : a)).join(", ");
const endpointText = (e: Endpoint | string) => (typeof e === "string" ? `exec ${e}` : `${e.method} ${e.origin}${e.path}`);
export const witnessText = (w: WitnessRequest) => JSON.stringify(w);

function structureText(c: StructureChange): string {
  switch (c.kind) {
    case "tool_added":
    case "tool_removed":
      return `${c.kind === "tool_added" ? "tool added" : "tool removed"}: ${c.tool} (${c.endpoint ? endpointText(c.endpoint) : `exec ${c.command}`})`;
    case "egress":
      return `egress of ${c.tool}: ${endpointText(c.old)} → ${endpointText(c.new)}`;
    case "input_schema":
      return `input schema of ${c.tool}: ${c.fields.map((f) => `${f.field} ${f.old === undefined ? "(none)" : JSON.stringify(f.old)} → ${f.new === undefined ? "(none)" : JSON.stringify(f.new)}`).join("; ")}`;
    case "secret_added":
    case "secret_removed":
      return `secret ${c.kind === "secret_added" ? "added" : "removed"}: ${c.secret}`;
    case "agent_added":
    case "agent_removed":
      return `agent ${c.kind === "agent_added" ? "added" : "removed"}: ${c.agent}`;
  }
}

export function summaryLine(diff: ConfigDiff): string {
  const count = (kind: string) => diff.changes.filter((c) => c.kind === kind).length;
  const structural = diff.changes.filter((c) => !isDecision(c)).length;
  const parts = [
    `${count("widened")} widened`,
    `${count("narrowed")} narrowed`,
    `${count("obligation")} obligation change${count("obligation") === 1 ? "" : "s"}`,
    ...(count("undecided") > 0 ? [`${count("undecided")} undecided`] : []),
    `${structural} other change${structural === 1 ? "" : "s"}`,
  ];
  return diff.changes.length === 0 ? "no changes" : parts.join(", ");
}

export function renderDiffText(diff: ConfigDiff): string {
  const lines = [`keyrunner diff: ${summaryLine(diff)}`];
  for (const c of diff.changes) {
    if (!isDecision(c)) {
      lines.push("", structureText(c));
      continue;
    }
    lines.push("", `${c.kind}: ${c.tool} for ${agentsText(c.agents)}`);
    if (c.old) lines.push(`  old: ${describeOutcome(c.old)}`);
    if (c.new) lines.push(`  new: ${describeOutcome(c.new)}`);
    if (c.kind === "undecided") lines.push(`  cannot decide: ${c.why}`);
    else lines.push(`  witness: ${witnessText(c.witness)}`);
  }
  return `${lines.join("\n")}\n`;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;

export function renderDiffMarkdown(diff: ConfigDiff): string {
  const widened = diff.changes.filter((c) => c.kind === "widened").length;
  const head = diff.changes.length === 0 ? "**keyrunner diff: no decision or reach changes**" : `**keyrunner diff: ${widened > 0 ? "⚠️ " : ""}${summaryLine(diff)}**`;
  const out = [head];
  const sections: Array<[string, Decided["kind"]]> = [["Widened access", "widened"], ["Narrowed access", "narrowed"], ["Obligation changes", "obligation"], ["Cannot decide", "undecided"]];
  for (const [title, kind] of sections) {
    const rows = diff.changes.filter((c): c is Decided => c.kind === kind);
    if (rows.length === 0) continue;
    out.push("", `### ${title}`, "", `| Tool | Agents | Old | New | ${kind === "undecided" ? "Why" : "Witness"} |`, "|---|---|---|---|---|");
    for (const c of rows) {
      const last = c.kind === "undecided" ? cell(c.why) : code(witnessText(c.witness));
      out.push(`| ${code(c.tool)} | ${cell(agentsText(c.agents))} | ${cell(c.old ? describeOutcome(c.old) : "")} | ${cell(c.new ? describeOutcome(c.new) : "")} | ${last} |`);
    }
  }
  const structural = diff.changes.filter((c): c is StructureChange => !isDecision(c));
  if (structural.length > 0) {
    out.push("", "### Tools, egress, secrets and agents", "");
    for (const c of structural) out.push(`- ${cell(structureText(c))}`);
  }
  return `${out.join("\n")}\n`;
}

export function renderDiff(diff: ConfigDiff, format: DiffFormat): string {
  return format === "json" ? renderDiffJson(diff) : format === "markdown" ? renderDiffMarkdown(diff) : renderDiffText(diff);
}
