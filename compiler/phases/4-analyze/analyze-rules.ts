// Phase 4: prove the rule set sound. Every rule must be able to match (else: unreachable), and any two
// rules for one tool with a common agent must be disjoint (else: overlap, with a witness request).
// Only rules of the same tool with a common agent are compared, so the work grows with rules per tool.

import type { DiagnosticLog, WitnessRequest } from "../../diagnostics/diagnostic.js";
import type { InputField, ResolvedConfig, ResolvedRule, ResolvedTool } from "../3-resolve/resolved-config.js";
import { conditionAtom, negation, schemaAtoms, type Atom } from "./constraints.js";
import { checkBudgetSign } from "./budget-sign.js";
import { warnCaseSensitive } from "./case-sensitivity.js";
import { overlapHint } from "./overlap-hint.js";
import { solve, solveAtoms, unsatisfiableCore } from "./solve-field.js";
import { TooComplexError } from "./string-language.js";
import { timeOverlap, windowInstant } from "./time-overlap.js";

export interface Analysis {
  readonly config: ResolvedConfig;
  /** Rules that can match, grouped by tool, in config order. */
  readonly rulesByTool: ReadonlyMap<string, readonly ResolvedRule[]>;
  /** For each rule that can match, a concrete request it matches: the proof that it is reachable. */
  readonly ruleWitnesses: ReadonlyMap<string, WitnessRequest>;
  /** Rule pairs compared for overlap: only rules of one tool with a common agent are. */
  readonly pairsCompared: number;
}

/** The reason attached to witness requests of rules that require one. */
export const WITNESS_REASON = "witness: a request both rules match";
const RULE_WITNESS_REASON = "witness: a request this rule matches";

interface RuleFacts {
  readonly rule: ResolvedRule;
  readonly tool: ResolvedTool;
  /** Condition atoms by field name. */
  readonly atoms: ReadonlyMap<string, readonly Atom[]>;
  /** Condition atoms on context keys, by key: each key is a field whose values are the declared ones. */
  readonly contextAtoms: ReadonlyMap<string, readonly Atom[]>;
  readonly contextFieldOf: (key: string, span: ResolvedRule["span"]) => InputField;
}

/** A context key as the analyser sees it: a string field whose enum is the key's declared values. */
function contextField(key: string, values: readonly string[], span: ResolvedRule["span"]): InputField {
  return { name: `context.${key}`, type: "string", array: false, optional: false, enum: values, allowDash: false, span };
}

export function analyseConfig(config: ResolvedConfig, log: DiagnosticLog): Analysis {
  const schema = new Map<InputField, Atom[]>();
  const schemaOf = (field: InputField) => {
    let atoms = schema.get(field);
    if (atoms === undefined) schema.set(field, (atoms = schemaAtoms(field)));
    return atoms;
  };

  const sample = new Map<InputField, unknown>();
  for (const tool of config.tools.values()) checkFields(tool, schemaOf, sample, log);

  for (const policy of config.policies) {
    if (policy.agents !== "all" && policy.agents.length === 0 && policy.rules.length > 0) {
      log.report("KR4001", policy.rules[0]!.agentsSpan, `the rules of policy \`${policy.name}\` can never match: its \`agents\` list is empty`, {
        hint: "name the agents this policy governs, or remove `agents` to govern every agent",
      });
    }
  }

  const contextFields = new Map<string, InputField>();
  const contextFieldOf = (key: string, span: ResolvedRule["span"]) => {
    let field = contextFields.get(key);
    if (field === undefined) contextFields.set(key, (field = contextField(key, config.context.get(key) ?? [], span)));
    return field;
  };
  const reachable: RuleFacts[] = [];
  const ruleWitnesses = new Map<string, WitnessRequest>();
  const knownAgents = [...new Set(config.rules.flatMap((r) => (r.agents === "all" ? [] : r.agents)))].sort();
  for (const rule of config.rules) {
    const tool = config.tools.get(rule.tool)!;
    const atoms = new Map<string, Atom[]>();
    for (const condition of rule.conditions) {
      const field = tool.fieldByName.get(condition.field)!;
      atoms.set(field.name, [...(atoms.get(field.name) ?? []), conditionAtom(condition, field)]);
    }
    const contextAtoms = new Map<string, Atom[]>();
    for (const condition of rule.contextConditions) {
      const field = contextFieldOf(condition.field, condition.span);
      contextAtoms.set(condition.field, [...(contextAtoms.get(condition.field) ?? []), conditionAtom(condition, field)]);
    }
    const facts: RuleFacts = { rule, tool, atoms, contextAtoms, contextFieldOf };
    warnCaseSensitive(rule, tool, log);
    if (rule.agents !== "all" && rule.agents.length === 0) continue;
    const values = reachableValues(facts, schemaOf, log);
    if (values !== undefined) {
      reachable.push(facts);
      const agent = rule.agents === "all" ? (knownAgents[0] ?? "any-agent") : rule.agents[0]!;
      const at = rule.window === undefined ? undefined : windowInstant(rule.window);
      ruleWitnesses.set(rule.id, {
        agent,
        tool: tool.name,
        input: witnessInput(tool, values.input, sample),
        ...(rule.requireReason ? { reason: RULE_WITNESS_REASON } : {}),
        ...(values.context.size > 0 ? { context: Object.fromEntries(values.context) as Record<string, string> } : {}),
        ...(at === undefined ? {} : { at }),
      });
      warnAlwaysHolds(facts, schemaOf, log);
      checkBudgetSign(rule, tool, atoms, schemaOf, log);
    }
  }

  const rulesByTool = new Map<string, RuleFacts[]>();
  for (const facts of reachable) rulesByTool.set(facts.tool.name, [...(rulesByTool.get(facts.tool.name) ?? []), facts]);
  let pairsCompared = 0;
  for (const rules of rulesByTool.values()) {
    for (let j = 1; j < rules.length; j++) {
      for (let i = 0; i < j; i++) {
        if (checkPair(rules[i]!, rules[j]!, schemaOf, sample, knownAgents, log)) pairsCompared++;
      }
    }
  }

  for (const tool of config.tools.values()) {
    if (tool.forward !== undefined && !tool.forward.ok) {
      log.report("KR4007", tool.span, `tool \`${tool.name}\` is left out of forward-proxy mode: ${tool.forward.reason}`);
    }
    if (!(rulesByTool.get(tool.name) ?? []).some((f) => f.rule.effect === "allow")) {
      log.report("KR4003", tool.span, `no rule allows tool \`${tool.name}\`, so every request for it is denied`);
    }
    const conditioned = new Set(config.rules.filter((r) => r.tool === tool.name).flatMap((r) => [...r.conditions.map((c) => c.field), ...(r.budget ? [r.budget.field] : [])]));
    for (const field of tool.fields) {
      if (!tool.usedFields.has(field.name) && !conditioned.has(field.name)) {
        log.report("KR4005", field.span, `input field \`${field.name}\` of tool \`${tool.name}\` is never used by a template or a rule`);
      }
    }
  }

  return {
    config,
    rulesByTool: new Map([...rulesByTool].map(([tool, facts]) => [tool, facts.map((f) => f.rule)])),
    ruleWitnesses,
    pairsCompared,
  };
}

type SchemaOf = (field: InputField) => readonly Atom[];

/** Each field must accept some value; remembers one per field for witnesses. */
function checkFields(tool: ResolvedTool, schemaOf: SchemaOf, sample: Map<InputField, unknown>, log: DiagnosticLog): void {
  for (const field of tool.fields) {
    const atoms = schemaOf(field);
    const solution = guarded(() => solveAtoms(field, atoms), field.span, log, `input field \`${field.name}\``);
    if (solution === undefined) continue;
    if (solution.found) sample.set(field, field.default ?? solution.value);
    else {
      log.report("KR3021", field.span, `input field \`${field.name}\` accepts no value: ${contradiction(unsatisfiableCore(field, atoms))}`);
    }
  }
}

/** A value for each constrained field (and context key) that satisfies the rule, or undefined (reported) when there is none. */
function reachableValues(facts: RuleFacts, schemaOf: SchemaOf, log: DiagnosticLog): { input: Map<string, unknown>; context: Map<string, unknown> } | undefined {
  const input = solveFieldsOf(facts, facts.atoms, (name) => facts.tool.fieldByName.get(name)!, schemaOf, log);
  if (input === undefined) return undefined;
  const context = solveFieldsOf(facts, facts.contextAtoms, (key) => facts.contextFieldOf(key, facts.rule.span), schemaOf, log);
  if (context === undefined) return undefined;
  return { input, context };
}

function solveFieldsOf(
  facts: RuleFacts,
  atomsByName: ReadonlyMap<string, readonly Atom[]>,
  fieldOf: (name: string) => InputField,
  schemaOf: SchemaOf,
  log: DiagnosticLog,
): Map<string, unknown> | undefined {
  const values = new Map<string, unknown>();
  for (const [name, atoms] of atomsByName) {
    const field = fieldOf(name);
    const all = [...schemaOf(field), ...atoms];
    const solution = guarded(() => solveAtoms(field, all), atoms[0]?.span ?? facts.rule.span, log, `the conditions on \`${name}\``);
    if (solution === undefined) return undefined;
    if (!solution.found) {
      const core = unsatisfiableCore(field, all);
      const span = core.find((a) => a.span !== undefined)?.span ?? facts.rule.span;
      log.report("KR4001", span, `rule ${facts.rule.id} can never match: ${contradiction(core)}`, {
        hint: "change or remove one of the contradicting conditions; a rule that can never match protects nothing",
      });
      return undefined;
    }
    values.set(name, solution.value);
  }
  return values;
}

/** A whole input: the given values, and a sample value for every other required field. */
function witnessInput(tool: ResolvedTool, values: ReadonlyMap<string, unknown>, sample: ReadonlyMap<InputField, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const field of tool.fields) {
    if (values.has(field.name)) input[field.name] = values.get(field.name);
    else if (!field.optional && sample.has(field)) input[field.name] = sample.get(field);
  }
  return input;
}

function contradiction(core: readonly Atom[]): string {
  // The rule's own conditions first: they are what the reader wrote and may change.
  const labels = [...core.filter((a) => !a.fromSchema), ...core.filter((a) => a.fromSchema)].map((a) => a.label);
  if (labels.length === 1) return `${labels[0]} can never hold`;
  if (labels.length === 2) return `${labels[0]} contradicts ${labels[1]}`;
  return `${labels.slice(0, -1).join(", ")} and ${labels.at(-1)} cannot all hold`;
}

/** A condition on a field that every value the schema allows already satisfies adds nothing. */
function warnAlwaysHolds(facts: RuleFacts, schemaOf: SchemaOf, log: DiagnosticLog): void {
  for (const condition of facts.rule.conditions) {
    const field = facts.tool.fieldByName.get(condition.field)!;
    // On an optional field without a default, any condition also requires the field to be present.
    if (field.optional && field.default === undefined) continue;
    // Whether a schema already rules out every credential shape is not worth a union automaton.
    if (condition.operator === "no_credentials") continue;
    const atom = conditionAtom(condition, field);
    const schemaConstraints = schemaOf(field).map((a) => a.constraint);
    let violable: boolean;
    const c = atom.constraint;
    try {
      if (c.kind === "items") {
        const negated = negation(c.element);
        const elementSchema = schemaConstraints.flatMap((s) => (s.kind === "items" ? [s.element] : []));
        const counts = schemaConstraints.filter((s) => s.kind === "count");
        const oneItemAllowed = solve(field, [...counts, { kind: "count", key: "count:1:inf", min: 1, max: Infinity }]).found;
        violable = negated === undefined || (oneItemAllowed && solve({ type: field.type, array: false }, [...elementSchema, negated]).found);
      } else {
        const negated = negation(c);
        violable = negated === undefined || solve(field, [...schemaConstraints, negated]).found;
      }
    } catch (error) {
      // Too large to decide: this warning is not given; the rule's own checks report the size (KR4006).
      if (error instanceof TooComplexError) continue;
      throw error;
    }
    if (!violable) {
      log.report("KR4004", condition.span, `condition ${atom.label} of ${facts.rule.id} always holds given the schema of \`${field.name}\``);
    }
  }
}

/** Reports the pair if some request matches both; returns whether they were compared (share an agent). */
function checkPair(a: RuleFacts, b: RuleFacts, schemaOf: SchemaOf, sample: ReadonlyMap<InputField, unknown>, knownAgents: readonly string[], log: DiagnosticLog): boolean {
  const agent = commonAgent(a.rule, b.rule, knownAgents);
  if (agent === undefined) return false;
  const values = new Map<string, unknown>();
  for (const field of a.tool.fields) {
    const atoms = [...(a.atoms.get(field.name) ?? []), ...(b.atoms.get(field.name) ?? [])];
    if (atoms.length === 0) continue;
    const solution = guarded(() => solveAtoms(field, [...schemaOf(field), ...atoms]), b.rule.span, log, `the conditions on \`${field.name}\` of ${a.rule.id} and ${b.rule.id}`);
    if (solution === undefined || !solution.found) return true;
    values.set(field.name, solution.value);
  }
  // Context keys: each a finite set of declared values, solved like a field.
  const context: Record<string, string> = {};
  for (const key of new Set([...a.contextAtoms.keys(), ...b.contextAtoms.keys()])) {
    const field = a.contextFieldOf(key, b.rule.span);
    const solution = solveAtoms(field, [...schemaOf(field), ...(a.contextAtoms.get(key) ?? []), ...(b.contextAtoms.get(key) ?? [])]);
    if (!solution.found) return true;
    context[key] = solution.value as string;
  }
  let at: string | undefined;
  if (a.rule.window !== undefined && b.rule.window !== undefined) {
    const overlap = timeOverlap(a.rule.window, b.rule.window);
    if (overlap.kind === "disjoint") return true;
    if (overlap.kind === "undecidable") {
      log.report("KR4006", b.rule.window.span, `cannot decide whether the time windows of ${a.rule.id} and ${b.rule.id} share an instant: ${overlap.why}`, { rules: [a.rule.id, b.rule.id] });
      return true;
    }
    at = overlap.at;
  } else {
    at = a.rule.window !== undefined ? windowInstant(a.rule.window) : b.rule.window !== undefined ? windowInstant(b.rule.window) : undefined;
  }
  const input = witnessInput(a.tool, values, sample);
  const witness: WitnessRequest = { agent, tool: a.tool.name, input };
  if (a.rule.requireReason || b.rule.requireReason) witness.reason = WITNESS_REASON;
  if (Object.keys(context).length > 0) witness.context = context;
  if (at !== undefined) witness.at = at;
  log.report("KR4002", b.rule.span, `rules overlap: ${a.rule.id} and ${b.rule.id} both match some requests for \`${a.tool.name}\``, {
    rules: [a.rule.id, b.rule.id],
    witness,
    hint: overlapHint(a.rule, b.rule, a.tool, input, at),
  });
  return true;
}

/** An agent both rules govern, or undefined when their agent lists are disjoint. */
function commonAgent(a: ResolvedRule, b: ResolvedRule, knownAgents: readonly string[]): string | undefined {
  if (a.agents === "all" && b.agents === "all") return knownAgents[0] ?? "any-agent";
  if (a.agents === "all") return (b.agents as string[])[0];
  if (b.agents === "all") return a.agents[0];
  const other = new Set(b.agents);
  return a.agents.find((name) => other.has(name));
}

function guarded<T>(run: () => T, span: ResolvedRule["span"], log: DiagnosticLog, what: string): T | undefined {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof TooComplexError)) throw error;
    log.report("KR4006", span, `${what}: too complex to decide within the analysis size limit`);
    return undefined;
  }
}
