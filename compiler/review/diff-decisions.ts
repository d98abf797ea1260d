// Decision changes between two checked configs, per agent and tool, by the analyser. In each config the
// rules for an agent and a tool are disjoint, so a request's decision is its one matching rule or the
// default deny; a change is a pair (old rule or default, new rule or default) that decide differently
// and whose regions meet. Each change carries a witness request from that meeting region — with the
// deployment context and the instant it is decided in when the rules test them.

import type { WitnessRequest } from "../diagnostics/diagnostic.js";
import type { Analysis } from "../phases/4-analyze/analyze-rules.js";
import type { InputField, ResolvedConfig, ResolvedRule, ResolvedTool } from "../phases/3-resolve/resolved-config.js";
import { schemaAtoms, type Constraint } from "../phases/4-analyze/constraints.js";
import { instantOfMinute } from "./reference-week.js";
import { findRequest, type SearchResult } from "./region-search.js";
import { contextField, DEFAULT_DENY, governingRegions, governingRules, namedAgents, TIME_FIELD, timeField, windowZone, type RuleOutcome, type RuleRegion } from "./rule-region.js";

export type DecisionChangeKind = "widened" | "narrowed" | "obligation";

export interface DecisionChange {
  readonly kind: DecisionChangeKind;
  readonly tool: string;
  /** Agents the change holds for; `*` stands for every agent neither config names. */
  readonly agents: string[];
  readonly old: RuleOutcome;
  readonly new: RuleOutcome;
  readonly witness: WitnessRequest;
}

export interface UndecidedChange {
  readonly kind: "undecided";
  readonly tool: string;
  readonly agents: string[];
  readonly old?: RuleOutcome;
  readonly new?: RuleOutcome;
  readonly why: string;
}

export const ANY_OTHER_AGENT = "*";
const INVALID: RuleOutcome = { decision: "invalid" };
export const WITNESS_REASON = "witness: a request whose decision changed";

export function classify(old: RuleOutcome, next: RuleOutcome): DecisionChangeKind | undefined {
  const allows = (o: RuleOutcome) => o.decision !== "deny" && o.decision !== "invalid";
  if (!allows(old) && !allows(next)) return undefined;
  if (!allows(old)) return "widened";
  if (!allows(next)) return "narrowed";
  // Executing without an obligation the old config required is wider access.
  if ((old.approval && !next.approval) || (old.rateLimit && !next.rateLimit) || (old.budget && !next.budget)) return "widened";
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (!same(old.approval, next.approval) || !same(old.rateLimit, next.rateLimit) || !same(old.budget, next.budget)) return "obligation";
  return undefined;
}

/** A name for "an agent neither config names" that is not one of the names. */
function otherAgentName(named: ReadonlySet<string>): string {
  let name = "other-agent";
  for (let i = 2; named.has(name); i++) name = `other-agent-${i}`;
  return name;
}

/** Two tools' input fields agree when a request can be valid for both by the same shape. */
function sameFields(a: ResolvedTool, b: ResolvedTool): boolean {
  const shape = (f: InputField) => JSON.stringify([f.name, f.type, f.array, f.optional, f.default ?? null, f.format ?? null]);
  return a.fields.map(shape).join() === b.fields.map(shape).join();
}

/**
 * The context keys the rules test, each a variable over the values every config that declares it declares
 * (a context must be valid for both); a key declared in both with no common value cannot be decided.
 */
function contextVariables(rules: readonly ResolvedRule[], configs: readonly ResolvedConfig[]): { fields: InputField[]; schema: Map<string, Constraint[]>; undecided?: string } {
  const fields: InputField[] = [];
  const schema = new Map<string, Constraint[]>();
  let undecided: string | undefined;
  const keys = [...new Set(rules.flatMap((r) => r.contextConditions.map((c) => c.field)))].sort();
  for (const key of keys) {
    const declared = configs.map((c) => c.context.get(key)).filter((v): v is readonly string[] => v !== undefined);
    const values = declared.reduce<readonly string[]>((common, next) => common.filter((v) => next.includes(v)), declared[0] ?? []);
    if (values.length === 0) undecided ??= `context key \`${key}\` has no value declared in both configs' context.yaml`;
    const span = rules.find((r) => r.contextConditions.some((c) => c.field === key))!.span;
    const field = contextField(key, values, span);
    fields.push(field);
    schema.set(field.name, schemaAtoms(field).map((a) => a.constraint));
  }
  return { fields, schema, ...(undecided ? { undecided } : {}) };
}

/** A found request as a witness: context variables become its `context`, the minute of the week its `at`. */
function witnessOf(agent: string, tool: string, found: Extract<SearchResult, { kind: "found" }>, zone: string | undefined): WitnessRequest | string {
  const input: Record<string, unknown> = {};
  const context: Record<string, string> = {};
  let at: string | undefined;
  for (const [name, value] of Object.entries(found.input)) {
    if (name === TIME_FIELD) {
      const instant = zone === undefined ? { ok: false as const, why: "a minute of the week without a time zone" } : instantOfMinute(zone, value as number);
      if (!instant.ok) return instant.why;
      at = instant.at;
    } else if (name.startsWith("context.")) context[name.slice("context.".length)] = value as string;
    else input[name] = value;
  }
  return {
    agent,
    tool,
    input,
    ...(found.reason ? { reason: WITNESS_REASON } : {}),
    ...(Object.keys(context).length > 0 ? { context } : {}),
    ...(at === undefined ? {} : { at }),
  };
}

/**
 * Rules written alike (conditions, context, window, reason, effect and obligations; not their names) decide
 * every request alike: two such rule sets have no decision change, whatever the search could decide.
 */
function sameRules(a: readonly ResolvedRule[], b: readonly ResolvedRule[]): boolean {
  const skip = new Set(["span", "budgetSpan", "agentsSpan", "matcher", "written", "id", "policy", "reason", "agents"]);
  const key = (r: ResolvedRule) => JSON.stringify(r, (k, v) => (skip.has(k) ? undefined : v instanceof RegExp ? v.source : v));
  const keys = (rules: readonly ResolvedRule[]) => rules.map(key).sort().join("\n");
  return a.length === b.length && keys(a) === keys(b);
}

export function diffDecisions(oldAnalysis: Analysis, newAnalysis: Analysis): Array<DecisionChange | UndecidedChange> {
  const oldConfig = oldAnalysis.config;
  const newConfig = newAnalysis.config;
  const named = [...new Set([...namedAgents(oldConfig), ...namedAgents(newConfig)])].sort();
  const other = otherAgentName(new Set(named));
  const classes: Array<{ label: string; name: string; governed: string | undefined }> = [
    ...named.map((n) => ({ label: n, name: n, governed: n })),
    { label: ANY_OTHER_AGENT, name: other, governed: undefined },
  ];
  const tools = [...new Set([...oldConfig.tools.keys(), ...newConfig.tools.keys()])].sort();
  const merged = new Map<string, DecisionChange | UndecidedChange>();
  const add = (key: string, change: DecisionChange | UndecidedChange, agent: string) => {
    const existing = merged.get(key);
    if (existing === undefined) merged.set(key, { ...change, agents: [agent] });
    else existing.agents.push(agent);
  };

  for (const toolName of tools) {
    const oldTool = oldConfig.tools.get(toolName);
    const newTool = newConfig.tools.get(toolName);
    const shapeTool = newTool ?? oldTool!;
    if (oldTool !== undefined && newTool !== undefined && !sameFields(oldTool, newTool)) {
      const change: UndecidedChange = { kind: "undecided", tool: toolName, agents: [], why: "the tool's input fields changed (names, types, optionality or defaults), so no request is valid for both configs by the same shape" };
      for (const c of classes) add(`undecided|${toolName}|fields`, change, c.label);
      continue;
    }
    const schema = new Map<string, Constraint[]>();
    for (const tool of [oldTool, newTool]) {
      if (tool === undefined) continue;
      for (const field of tool.fields) schema.set(field.name, [...(schema.get(field.name) ?? []), ...schemaAtoms(field).map((a) => a.constraint)]);
    }
    // Context keys and the time window are variables of the search beside the input fields.
    const toolRules = [...(oldAnalysis.rulesByTool.get(toolName) ?? []), ...(newAnalysis.rulesByTool.get(toolName) ?? [])];
    const contextVars = contextVariables(toolRules, [oldConfig, newConfig]);
    for (const [name, constraints] of contextVars.schema) schema.set(name, constraints);
    const windowed = toolRules.find((r) => r.window !== undefined);
    const implicitFields = [...contextVars.fields, ...(windowed ? [timeField(windowed.span)] : [])];
    if (windowed) schema.set(TIME_FIELD, schemaAtoms(implicitFields.at(-1)!).map((a) => a.constraint));
    const space = { fields: [...shapeTool.fields, ...implicitFields], schema, implicit: new Set(implicitFields.map((f) => f.name)) };
    const schemaOf = (tool: ResolvedTool | undefined) => new Map((tool?.fields ?? []).map((f) => [f.name, schemaAtoms(f).map((a) => a.constraint)]));
    const [oldSchema, newSchema] = [schemaOf(oldTool), schemaOf(newTool)];
    for (const agentClass of classes) {
      const [oldGoverning, newGoverning] = [governingRules(oldConfig, oldAnalysis.rulesByTool, toolName, agentClass.governed), governingRules(newConfig, newAnalysis.rulesByTool, toolName, agentClass.governed)];
      const zone = windowZone([...oldGoverning, ...newGoverning]);
      // The same rules on both sides (windows in several zones among them too) change no decision.
      const unchanged = oldTool !== undefined && newTool !== undefined && sameRules(oldGoverning, newGoverning);
      const opaqueContext = (r: RuleRegion): RuleRegion => (contextVars.undecided !== undefined && [...r.atoms.keys()].some((k) => k.startsWith("context.")) ? { ...r, opaque: r.opaque ?? contextVars.undecided } : r);
      const oldRules = governingRegions(oldConfig, oldAnalysis.rulesByTool, toolName, agentClass.governed, zone).map(opaqueContext);
      const newRules = governingRegions(newConfig, newAnalysis.rulesByTool, toolName, agentClass.governed, zone).map(opaqueContext);
      const witness = (found: Extract<SearchResult, { kind: "found" }>, old: RuleOutcome, next: RuleOutcome, kind: DecisionChangeKind): DecisionChange | UndecidedChange => {
        const w = witnessOf(agentClass.name, toolName, found, zone);
        return typeof w === "string" ? { kind: "undecided", tool: toolName, agents: [], old, new: next, why: w } : { kind, tool: toolName, agents: [], old, new: next, witness: w };
      };
      const cells = (rules: RuleRegion[]) => [...rules.map((r) => ({ region: r as RuleRegion | undefined, outcome: r.outcome })), { region: undefined, outcome: DEFAULT_DENY }];
      for (const o of unchanged ? [] : cells(oldRules)) {
        for (const n of cells(newRules)) {
          const kind = classify(o.outcome, n.outcome);
          if (kind === undefined) continue;
          const positive = [o.region, n.region].filter((r): r is RuleRegion => r !== undefined);
          const excluded = [...(o.region === undefined ? oldRules : []), ...(n.region === undefined ? newRules : [])];
          const found = findRequest(space, positive, excluded);
          const key = `${kind}|${toolName}|${o.outcome.rule ?? ""}|${n.outcome.rule ?? ""}`;
          if (found.kind === "none") continue;
          if (found.kind === "undecided") {
            add(key, { kind: "undecided", tool: toolName, agents: [], old: o.outcome, new: n.outcome, why: found.why }, agentClass.label);
            continue;
          }
          add(key, witness(found, o.outcome, n.outcome, kind), agentClass.label);
        }
      }
      if (oldTool !== undefined && newTool !== undefined) {
        // A schema change: requests one config's schema refuses that the other's rules allow.
        const sides = [
          { rules: newRules, valid: newSchema, refusing: oldSchema, pair: (r: RuleRegion) => ["widened", INVALID, r.outcome] as const },
          { rules: oldRules, valid: oldSchema, refusing: newSchema, pair: (r: RuleRegion) => ["narrowed", r.outcome, INVALID] as const },
        ];
        for (const side of sides) {
          for (const region of side.rules.filter((r) => r.outcome.decision !== "deny")) {
            const [kind, old, next] = side.pair(region);
            const key = `${kind}|${toolName}|${old.rule ?? "(invalid)"}|${next.rule ?? "(invalid)"}`;
            for (const [field, constraints] of side.refusing) {
              const keep = new Set((side.valid.get(field) ?? []).map((c) => c.key));
              for (const constraint of constraints.filter((c) => !keep.has(c.key))) {
                const refused: RuleRegion = { rule: { id: `the ${kind === "widened" ? "old" : "new"} schema of \`${field}\`` }, outcome: DEFAULT_DENY, atoms: new Map([[field, [constraint]]]), requiresReason: false, schemaOnly: true };
                const found = findRequest({ ...space, schema: new Map([...schema, ...side.valid]) }, [region], [refused]);
                if (found.kind === "none" || merged.get(key)?.agents.includes(agentClass.label)) continue;
                if (found.kind === "undecided") add(key, { kind: "undecided", tool: toolName, agents: [], old, new: next, why: found.why }, agentClass.label);
                else add(key, witness(found, old, next, kind), agentClass.label);
              }
            }
          }
        }
      }
    }
  }
  return [...merged.values()];
}
