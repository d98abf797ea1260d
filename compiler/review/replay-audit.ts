// `keyrunner replay`: re-decide every decision record of an audit log against a candidate config,
// through its generated code, executing nothing. A record holds what the decision saw — agent, tool,
// the (validated, redacted) input and reason — so it can be decided again; a value the audit redacted is
// decided as `[REDACTED]`, and counters (rate limits, budgets) and approvals are not replayed: the
// comparison is of the policy decision.

import type { CompiledConfig } from "../../runtime-template/contract/tool-module.js";
import { explainRequest } from "../../runtime-template/core/explain.js";

/** The policy's decision, which is what replay compares. */
export type PolicyDecision = "allow" | "pending_approval" | "deny" | "invalid";

export interface ReplayedRecord {
  readonly audit_id: string;
  /** The config hash that made the recorded decision. */
  readonly config: string;
  readonly old: { decision: PolicyDecision; rule?: string; status?: string };
  readonly new: { decision: PolicyDecision; rule?: string };
}

export interface ReplayReport {
  readonly replayed: number;
  readonly candidate_config: string;
  /** Records by the config hash that decided them; `candidate` marks the one replayed against. */
  readonly configs: Array<{ config: string; records: number; candidate: boolean }>;
  readonly changed: ReplayedRecord[];
  /** Changed records counted by old rule → new rule. */
  readonly summary: Array<{ old_rule: string; old_decision: PolicyDecision; new_rule: string; new_decision: PolicyDecision; count: number }>;
  /** Lines that are not decision records of a request (outcomes, approvals) are not replayed; unreadable ones are counted. */
  readonly unreadable_lines: number;
}

const DECISIONS = new Set(["allow", "deny", "invalid", "pending_approval"]);
/** Statuses of a deny record whose policy decision was an allow stopped later (by a counter, the state, a secret). */
const STOPPED_AFTER_ALLOW = new Set(["rate_limited", "over_budget", "state_unavailable", "missing_secrets"]);

function recordedDecision(r: Record<string, unknown>): PolicyDecision {
  const approved = typeof r.approval_id === "string";
  if (r.decision === "invalid") return "invalid";
  if (r.decision === "pending_approval" || r.status === "approval_refused") return "pending_approval";
  if (r.decision === "allow" || STOPPED_AFTER_ALLOW.has(String(r.status))) return approved ? "pending_approval" : "allow";
  return "deny";
}

function candidateDecision(config: CompiledConfig, r: Record<string, unknown>): { decision: PolicyDecision; rule?: string } {
  const explained = explainRequest(config, { agent: String(r.agent), tool: r.tool, input: r.input, ...(typeof r.reason === "string" ? { reason: r.reason } : {}) });
  if (explained.status === "not_found") return { decision: "deny" };
  if (explained.status === "invalid") return { decision: "invalid" };
  const d = explained.decision;
  const decision: PolicyDecision = d.effect === "deny" ? "deny" : d.obligations?.approval ? "pending_approval" : "allow";
  return { decision, ...(d.rule ? { rule: d.rule } : {}) };
}

export function replayAudit(text: string, config: CompiledConfig): ReplayReport {
  const seen = new Set<string>();
  const configs = new Map<string, number>();
  const changed: ReplayedRecord[] = [];
  let replayed = 0;
  let unreadable = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      unreadable++;
      continue;
    }
    if (r === null || typeof r !== "object" || typeof r.id !== "string" || !DECISIONS.has(String(r.decision))) continue;
    // One decision per request: its first decision record.
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    replayed++;
    const origin = typeof r.config === "string" ? r.config : "(unknown)";
    configs.set(origin, (configs.get(origin) ?? 0) + 1);
    const old = { decision: recordedDecision(r), ...(typeof r.rule === "string" ? { rule: r.rule } : {}), ...(typeof r.status === "string" ? { status: r.status } : {}) };
    const next = candidateDecision(config, r);
    if (old.decision !== next.decision) changed.push({ audit_id: r.id, config: origin, old, new: next });
  }
  const summary = new Map<string, ReplayReport["summary"][number]>();
  for (const c of changed) {
    const row = { old_rule: c.old.rule ?? "(no rule)", old_decision: c.old.decision, new_rule: c.new.rule ?? "(no rule)", new_decision: c.new.decision };
    const key = JSON.stringify(row);
    const existing = summary.get(key);
    if (existing) existing.count++;
    else summary.set(key, { ...row, count: 1 });
  }
  return {
    replayed,
    candidate_config: config.configSha256,
    configs: [...configs].sort().map(([hash, records]) => ({ config: hash, records, candidate: hash === config.configSha256 })),
    changed,
    summary: [...summary.values()].sort((a, b) => b.count - a.count || (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
    unreadable_lines: unreadable,
  };
}

export function renderReplayText(report: ReplayReport): string {
  const short = (hash: string) => hash.slice(0, 12);
  const lines = [`replayed ${report.replayed} decision record${report.replayed === 1 ? "" : "s"} against config ${short(report.candidate_config)}: ${report.changed.length} changed`];
  for (const c of report.configs) lines.push(`  ${c.records} decided by config ${short(c.config)}${c.candidate ? " (the candidate's own)" : ""}`);
  if (report.unreadable_lines > 0) lines.push(`  ${report.unreadable_lines} unreadable line${report.unreadable_lines === 1 ? "" : "s"} skipped`);
  const describe = (d: { decision: string; rule?: string }) => `${d.decision}${d.rule ? ` by ${d.rule}` : " (no rule)"}`;
  if (report.changed.length > 0) {
    lines.push("", "changed:");
    for (const c of report.changed) lines.push(`  ${c.audit_id}  ${describe(c.old)} → ${describe(c.new)}  (config ${short(c.config)})`);
    lines.push("", "by rule:");
    for (const s of report.summary) lines.push(`  ${s.count}× ${s.old_decision} by ${s.old_rule} → ${s.new_decision} by ${s.new_rule}`);
  }
  return `${lines.join("\n")}\n`;
}
