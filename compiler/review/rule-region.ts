// The inputs one rule matches, as data the region search reads: its condition constraints by field, whether
// it needs a reason, and what it decides. A rule whose conditions the analyser cannot model is opaque.
// Context keys and the time window are variables of the same search: `context.<key>` is a string field
// whose values are the declared ones, and the window is an integer field, the local minute of the week
// in the one time zone of the compared rules' windows.

import type { Condition, InputField, ResolvedConfig, ResolvedRule, ResolvedTool } from "../phases/3-resolve/resolved-config.js";
import { conditionAtom, type Constraint } from "../phases/4-analyze/constraints.js";
import { NumberSet } from "../phases/4-analyze/number-set.js";

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

/** The search variable of a context key: the name the analyser gives it too. */
export const contextFieldName = (key: string) => `context.${key}`;
/** The search variable of the time windows: the local minute of the week (0 = Monday 00:00) in their zone. */
export const TIME_FIELD = "time.minute_of_week";

/** A context key as a string variable over `values` (the values every compared config declares). */
export function contextField(key: string, values: readonly string[], span: InputField["span"]): InputField {
  return { name: contextFieldName(key), type: "string", array: false, optional: false, enum: values, allowDash: false, span };
}

/** The minute-of-week variable: an integer in [0, 10080). */
export function timeField(span: InputField["span"]): InputField {
  return { name: TIME_FIELD, type: "integer", array: false, optional: false, minimum: 0, maximum: 7 * 1440 - 1, allowDash: false, span };
}

/** The constraint a window puts on TIME_FIELD: its local minute-of-week ranges. */
export function windowConstraint(window: NonNullable<ResolvedRule["window"]>): Constraint {
  return { kind: "number", key: `window:${JSON.stringify(window.ranges)}`, set: NumberSet.halfOpen(window.ranges) };
}

/**
 * `zone`: the one time zone of the compared rules' windows; a rule whose window is in another zone (the
 * compared rules use several) is opaque, as instants in two zones are not one minute-of-week variable.
 */
export function ruleRegion(rule: ResolvedRule, tool: ResolvedTool, zone?: string): RuleRegion {
  const atoms = new Map<string, Constraint[]>();
  let opaque: string | undefined;
  if (rule.window !== undefined) {
    if (zone !== undefined && rule.window.timezone === zone) atoms.set(TIME_FIELD, [windowConstraint(rule.window)]);
    else opaque = `the time windows of the compared rules are in several time zones (${rule.window.timezone} among them); the diff decides windows in one zone only`;
  }
  /** Adds the condition's constraint on `field`, or makes the rule opaque when the search cannot model it. */
  const add = (condition: Condition, field: InputField) => {
    let constraint: Constraint | undefined;
    try {
      constraint = conditionAtom(condition, field).constraint;
    } catch {
      constraint = undefined;
    }
    // Condition kinds added later are "cannot decide" until the search learns them.
    if (constraint === undefined || !KNOWN_KINDS.has(constraint.kind)) opaque ??= `condition \`${condition.written}\` is of a kind the diff cannot decide`;
    else atoms.set(field.name, [...(atoms.get(field.name) ?? []), constraint]);
  };
  for (const condition of rule.contextConditions) add(condition, contextField(condition.field, [], condition.span));
  for (const condition of rule.conditions) {
    const field: InputField | undefined = tool.fieldByName.get(condition.field);
    if (field === undefined) opaque ??= `condition on \`${condition.field}\` is not on an input field`;
    else add(condition, field);
  }
  return { rule, outcome: outcomeOf(rule), atoms, requiresReason: rule.requireReason, ...(opaque ? { opaque } : {}) };
}

/** The rules of `config` that govern `agent` (undefined: an agent no policy names) for `tool`. */
export function governingRules(config: ResolvedConfig, reachable: ReadonlyMap<string, readonly ResolvedRule[]>, toolName: string, agent: string | undefined): ResolvedRule[] {
  if (!config.tools.has(toolName)) return [];
  const rules = reachable.get(toolName) ?? [];
  return rules.filter((r) => r.agents === "all" || (agent !== undefined && r.agents.includes(agent)));
}

/** The rules of `config` that govern `agent` (undefined: an agent no policy names) for `tool`, as regions. */
export function governingRegions(config: ResolvedConfig, reachable: ReadonlyMap<string, readonly ResolvedRule[]>, toolName: string, agent: string | undefined, zone?: string): RuleRegion[] {
  const tool = config.tools.get(toolName);
  if (tool === undefined) return [];
  return governingRules(config, reachable, toolName, agent).map((r) => ruleRegion(r, tool, zone));
}

/** The one time zone of these rules' windows; undefined when none has a window or they use several. */
export function windowZone(rules: readonly ResolvedRule[]): string | undefined {
  const zones = new Set(rules.flatMap((r) => (r.window ? [r.window.timezone] : [])));
  return zones.size === 1 ? [...zones][0] : undefined;
}

/** Agents the config's policies name. */
export function namedAgents(config: ResolvedConfig): string[] {
  return [...new Set(config.policies.flatMap((p) => (p.agents === "all" ? [] : p.agents)))].sort();
}
