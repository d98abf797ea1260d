// Decision changes between two checked configs, per agent and tool, by the analyser. In each config the
// rules for an agent and a tool are disjoint, so a request's decision is its one matching rule or the
// default deny; a change is a pair (old rule or default, new rule or default) that decide differently
// and whose regions meet. Each change carries a witness request from that meeting region.

import type { WitnessRequest } from "../diagnostics/diagnostic.js";
import type { Analysis } from "../phases/4-analyze/analyze-rules.js";
import type { InputField, ResolvedTool } from "../phases/3-resolve/resolved-config.js";
import { schemaAtoms, type Constraint } from "../phases/4-analyze/constraints.js";
import { findRequest } from "./region-search.js";
import { DEFAULT_DENY, governingRegions, namedAgents, type RuleOutcome, type RuleRegion } from "./rule-region.js";

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
    const space = { fields: shapeTool.fields, schema };
    const schemaOf = (tool: ResolvedTool | undefined) => new Map((tool?.fields ?? []).map((f) => [f.name, schemaAtoms(f).map((a) => a.constraint)]));
    const [oldSchema, newSchema] = [schemaOf(oldTool), schemaOf(newTool)];
    for (const agentClass of classes) {
      const oldRules = governingRegions(oldConfig, oldAnalysis.rulesByTool, toolName, agentClass.governed);
      const newRules = governingRegions(newConfig, newAnalysis.rulesByTool, toolName, agentClass.governed);
      const cells = (rules: RuleRegion[]) => [...rules.map((r) => ({ region: r as RuleRegion | undefined, outcome: r.outcome })), { region: undefined, outcome: DEFAULT_DENY }];
      for (const o of cells(oldRules)) {
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
          const witness: WitnessRequest = { agent: agentClass.name, tool: toolName, input: found.input, ...(found.reason ? { reason: WITNESS_REASON } : {}) };
          add(key, { kind, tool: toolName, agents: [], old: o.outcome, new: n.outcome, witness }, agentClass.label);
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
                const found = findRequest({ fields: shapeTool.fields, schema: side.valid }, [region], [refused]);
                if (found.kind === "none" || merged.get(key)?.agents.includes(agentClass.label)) continue;
                if (found.kind === "undecided") add(key, { kind: "undecided", tool: toolName, agents: [], old, new: next, why: found.why }, agentClass.label);
                else add(key, { kind, tool: toolName, agents: [], old, new: next, witness: { agent: agentClass.name, tool: toolName, input: found.input, ...(found.reason ? { reason: WITNESS_REASON } : {}) } }, agentClass.label);
              }
            }
          }
        }
      }
    }
  }
  return [...merged.values()];
}
