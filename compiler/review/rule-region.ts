// The inputs one rule matches, as data the region search reads: its condition constraints by field, whether
// it needs a reason, and what it decides. A rule whose conditions the analyser cannot model is opaque.

import type { InputField, ResolvedConfig, ResolvedRule, ResolvedTool } from "../phases/3-resolve/resolved-config.js";
import { conditionAtom, type Constraint } from "../phases/4-analyze/constraints.js";

/** The constraint kinds the search knows how to solve and negate; anything else makes a rule opaque. */
const KNOWN_KINDS = new Set(["number", "integer", "boolean", "language", "length", "items", "count"]);

/** `invalid`: the input does not match the tool's schema in that config (a schema change). */
export type DecisionName = "allow" | "pending_approval" | "deny" | "invalid";

/** What a rule (or the default deny) decides for the requests it matches. */
export interface RuleOutcome {
  readonly decision: DecisionName;
  readonly rule?: string;
  readonly approval?: { readonly expiresSeconds: number };
  readonly rateLimit?: { readonly max: number; readonly perSeconds: number };
  readonly budget?: { readonly field: string; readonly max: number; readonly perSeconds: number };
}

export interface RuleRegion {
  readonly rule: Pick<ResolvedRule, "id">;
  readonly outcome: RuleOutcome;
  /** Condition constraints by field name (a conjunction). */
  readonly atoms: ReadonlyMap<string, readonly Constraint[]>;
  readonly requiresReason: boolean;
  /** Set when a condition is of a kind the search cannot reason about: every comparison with it is undecided. */
  readonly opaque?: string;
  /** A schema constraint standing as a region: leaving it out never means leaving the field out. */
  readonly schemaOnly?: boolean;
}

export const DEFAULT_DENY: RuleOutcome = { decision: "deny" };

export function outcomeOf(rule: ResolvedRule): RuleOutcome {
  if (rule.effect === "deny") return { decision: "deny", rule: rule.id };
  return {
    decision: rule.approval ? "pending_approval" : "allow",
    rule: rule.id,
    ...(rule.approval ? { approval: rule.approval } : {}),
    ...(rule.rateLimit ? { rateLimit: rule.rateLimit } : {}),
    ...(rule.budget ? { budget: rule.budget } : {}),
  };
}

export function ruleRegion(rule: ResolvedRule, tool: ResolvedTool): RuleRegion {
  const atoms = new Map<string, Constraint[]>();
  let opaque: string | undefined;
  for (const condition of rule.conditions) {
    const field: InputField | undefined = tool.fieldByName.get(condition.field);
    if (field === undefined) {
      opaque ??= `condition on \`${condition.field}\` is not on an input field`;
      continue;
    }
    let constraint: Constraint | undefined;
    try {
      constraint = conditionAtom(condition, field).constraint;
    } catch {
      constraint = undefined;
    }
    // Condition kinds added later (context, time, …) are "cannot decide" until the search learns them.
    if (constraint === undefined || !KNOWN_KINDS.has(constraint.kind)) {
      opaque ??= `condition \`${condition.written}\` is of a kind the diff cannot decide`;
      continue;
    }
    atoms.set(field.name, [...(atoms.get(field.name) ?? []), constraint]);
  }
  return { rule, outcome: outcomeOf(rule), atoms, requiresReason: rule.requireReason, ...(opaque ? { opaque } : {}) };
}

/** The rules of `config` that govern `agent` (undefined: an agent no policy names) for `tool`. */
export function governingRegions(config: ResolvedConfig, reachable: ReadonlyMap<string, readonly ResolvedRule[]>, toolName: string, agent: string | undefined): RuleRegion[] {
  const tool = config.tools.get(toolName);
  if (tool === undefined) return [];
  const rules = reachable.get(toolName) ?? [];
  return rules.filter((r) => r.agents === "all" || (agent !== undefined && r.agents.includes(agent))).map((r) => ruleRegion(r, tool));
}

/** Agents the config's policies name. */
export function namedAgents(config: ResolvedConfig): string[] {
  return [...new Set(config.policies.flatMap((p) => (p.agents === "all" ? [] : p.agents)))].sort();
}
