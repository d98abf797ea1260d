// Rule conditions as plain TypeScript expressions over `input`, `agent` and `reason`. Constants that
// are not literals (sets, regular expressions) are hoisted to module scope and named once.

import { inLineComment } from "./comment-text.js";
import type { AnalysablePattern, Condition, InputField, ResolvedRule, ResolvedTool } from "../3-resolve/resolved-config.js";
import { checkPattern, escapeLiteral } from "../3-resolve/regex-pattern.js";
import { caselessLanguageSource } from "../4-analyze/constraints.js";
import { dfaComment, dfaInitializer } from "./emit-dfa.js";
import { CREDENTIAL_PATTERN_SET_VERSION } from "../../../runtime-template/contract/credential-patterns.js";

export class ModuleConstants {
  readonly declarations: Array<{ name: string; initializer: string; doc?: string }> = [];
  readonly #byInitializer = new Map<string, string>();

  /** The name of a module constant with this initializer; `doc` is kept from its first use. */
  constant(prefix: string, initializer: string, doc?: string): string {
    let name = this.#byInitializer.get(initializer);
    if (name === undefined) {
      name = `${prefix}_${this.declarations.filter((d) => d.name.startsWith(`${prefix}_`)).length}`;
      this.#byInitializer.set(initializer, name);
      this.declarations.push({ name, initializer, ...(doc === undefined ? {} : { doc }) });
    }
    return name;
  }
}

const literal = (value: unknown) => JSON.stringify(value);

export function ruleExpression(rule: ResolvedRule, tool: ResolvedTool, constants: ModuleConstants): string {
  const parts: string[] = [];
  if (rule.agents !== "all") {
    parts.push(`${constants.constant("AGENTS", `new Set<string>(${literal(rule.agents)})`)}.has(agent)`);
  }
  const byField = new Map<string, Condition[]>();
  for (const condition of rule.conditions) byField.set(condition.field, [...(byField.get(condition.field) ?? []), condition]);
  for (const field of tool.fields) {
    const conditions = byField.get(field.name);
    if (conditions === undefined) continue;
    const value = `input.${field.name}`;
    const tests = conditions.map((c) => conditionExpression(c, field, value, constants));
    // A condition on an optional field without a default needs the field (docs/policy-semantics.md).
    if (field.optional && field.default === undefined) tests.unshift(`${value} !== undefined`);
    parts.push(...tests);
  }
  for (const condition of rule.contextConditions) parts.push(contextExpression(condition, constants));
  if (rule.window !== undefined) parts.push(`inWindow(env.now, ${windowConstant(rule, constants)})`);
  if (rule.requireReason) parts.push("hasReason(reason)");
  return parts.length === 0 ? "true" : parts.join(" && ");
}

function windowConstant(rule: ResolvedRule, constants: ModuleConstants): string {
  const w = rule.window!;
  return constants.constant(
    "WINDOW",
    `{ timezone: ${literal(w.timezone)}, ranges: ${literal(w.ranges)} } as const`,
    `\`${w.written}\` (${w.span.file}:${w.span.line}) as minute-of-week ranges [from, to), 0 = Monday 00:00 on the zone's clock.`,
  );
}

/** A `context.<key>` condition: the server's context is fixed at start, every key a policy names is set. */
function contextExpression(c: Condition, constants: ModuleConstants): string {
  const v = `env.context[${literal(c.field)}]`;
  switch (c.operator) {
    case "equals":
      return `${v} === ${literal(c.value)}`;
    case "in":
      return c.value.length === 1 ? `${v} === ${literal(c.value[0])}` : `${constants.constant("SET", `new Set<string | undefined>(${literal(c.value)})`)}.has(${v})`;
    case "not_in":
      return `${v} !== undefined && !${constants.constant("SET", `new Set<string | undefined>(${literal(c.value)})`)}.has(${v})`;
    default:
      throw new Error(`no context operator \`${c.operator}\``);
  }
}

/** One DFA per pattern of the credential set, as one module constant. */
function credentialConstant(c: Extract<Condition, { operator: "no_credentials" }>, constants: ModuleConstants): string {
  const initializer = `[\n${c.value.map((check) => `  // ${inLineComment(`${check.id}: ${check.description}, \`${check.pattern.source}\``)}\n  ${dfaInitializer(check.pattern).replace(/\n/g, "\n  ")},`).join("\n")}\n]`;
  return constants.constant("CREDENTIALS", initializer, `The credential pattern set ${CREDENTIAL_PATTERN_SET_VERSION} (runtime-template/contract/credential-patterns.ts), each pattern as a minimal DFA.`);
}

/** A rule's conditions that failed for this request, in words: the denial detail for the agent's own rules. */
export function failureChecks(rule: ResolvedRule, tool: ResolvedTool, constants: ModuleConstants): Array<{ test?: string; message: string }> {
  // `test` absent: the message is given whatever the request (it must not tell whether something holds).
  const checks: Array<{ test?: string; message: string }> = [];
  for (const c of rule.conditions) {
    const field = tool.fieldByName.get(c.field)!;
    const v = `input.${field.name}`;
    const test = conditionExpression(c, field, v, constants);
    const message = failureMessage(c, field, v, constants);
    if (field.optional && field.default === undefined) checks.push({ test: `${v} !== undefined && ${test}`, message: `${v} === undefined ? ${literal(`\`${field.name}\` is required`)} : ${message}` });
    else checks.push({ test, message });
  }
  if (rule.contextConditions.length > 0) {
    // Neither which context value failed nor whether one did: said only when the context failed, its
    // absence would tell the agent the context passed. The record's own `context` says which it was.
    checks.push({ message: literal("allowed only in some deployment contexts (which is not said)") });
  }
  if (rule.window !== undefined) {
    const w = rule.window;
    const days = w.days.map((d) => ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d]).join(", ");
    const between = `${String(Math.floor(w.startMinute / 60)).padStart(2, "0")}:${String(w.startMinute % 60).padStart(2, "0")}-${String(Math.floor(w.endMinute / 60)).padStart(2, "0")}:${String(w.endMinute % 60).padStart(2, "0")}`;
    checks.push({ test: `inWindow(env.now, ${windowConstant(rule, constants)})`, message: literal(`outside the time window (${days} ${between} ${w.timezone})`) });
  }
  if (rule.requireReason) checks.push({ test: "hasReason(reason)", message: literal("a reason is required") });
  return checks;
}

function failureMessage(c: Condition, field: InputField, v: string, constants: ModuleConstants): string {
  switch (c.operator) {
    case "min":
      return `\`${field.name} \${${v}} is below ${c.value}\``;
    case "max":
      return `\`${field.name} \${${v}} is above ${c.value}\``;
    case "max_length":
      return literal(`\`${field.name}\` is longer than ${c.value} characters`);
    case "max_items":
      return literal(`\`${field.name}\` has more than ${c.value} items`);
    case "no_credentials":
      return `credentialFinding(${literal(field.name)}, ${v}, ${credentialConstant(c, constants)}, ${literal(c.value.map((x) => x.description))})`;
    default:
      // The agent's own string values are not echoed back: the condition as written says what is wanted.
      return literal(`\`${field.name}\` must satisfy \`${c.written}\``);
  }
}

function conditionExpression(c: Condition, field: InputField, v: string, constants: ModuleConstants): string {
  const set = (values: readonly unknown[]) => constants.constant("SET", `new Set<${field.type === "string" ? "string" : "number"}>(${literal(values)})`);
  // Never a backtracking RegExp on agent input: the pattern's DFA (docs/policy-semantics.md).
  const regex = (pattern: AnalysablePattern) =>
    constants.constant("PATTERN", dfaInitializer(pattern), dfaComment(pattern, `${c.span.file}:${c.span.line}`));
  if (c.ignoreCase === true) return caselessExpression(c, v, regex);
  switch (c.operator) {
    case "min":
      return `${v} >= ${c.value}`;
    case "max":
      return `${v} <= ${c.value}`;
    case "equals":
      return `${v} === ${literal(c.value)}`;
    case "in":
      return c.value.length === 1 ? `${v} === ${literal(c.value[0])}` : `${set(c.value)}.has(${v})`;
    case "not_in":
      return c.value.length === 1 ? `${v} !== ${literal(c.value[0])}` : `!${set(c.value)}.has(${v})`;
    case "starts_with":
      return `${v}.startsWith(${literal(c.value)})`;
    case "not_starts_with":
      return `!${v}.startsWith(${literal(c.value)})`;
    case "ends_with":
      return `${v}.endsWith(${literal(c.value)})`;
    case "not_ends_with":
      return `!${v}.endsWith(${literal(c.value)})`;
    case "matches":
      return `${regex(c.value)}.test(${v})`;
    case "not_matches":
      return `!${regex(c.value)}.test(${v})`;
    case "max_length":
      return `codePointLength(${v}) <= ${c.value}`;
    case "subset_of":
      return `everyIn(${v}, ${set(c.value)})`;
    case "each_matches":
      return `everyMatches(${v}, ${regex(c.value)})`;
    case "max_items":
      return `${v}.length <= ${c.value}`;
    case "no_credentials":
      return field.array ? `everyFreeOfCredentials(${v}, ${credentialConstant(c, constants)})` : `freeOfCredentials(${v}, ${credentialConstant(c, constants)})`;
  }
}

/**
 * `ignore_case: true`: every comparison is the DFA of an `iu` pattern (Unicode simple case folding) over
 * exactly the language the analyser decided (`caselessLanguageSource`), so both compare alike.
 */
function caselessExpression(c: Condition, v: string, regex: (pattern: AnalysablePattern) => string): string {
  const caseless = (source: string) => {
    const check = checkPattern(source, { ignoreCase: true });
    if (!check.ok) throw new Error(`the caseless language of \`${c.operator}\` does not compile: ${check.message}`);
    return regex(check.pattern);
  };
  switch (c.operator) {
    case "matches":
      return `${regex(c.value)}.test(${v})`;
    case "not_matches":
      return `!${regex(c.value)}.test(${v})`;
    case "each_matches":
      return `everyMatches(${v}, ${regex(c.value)})`;
    case "ends_with":
    case "not_ends_with": {
      // Equivalent to the analysed `[\s\S]*suffix`, and constant time: only the value's tail can match.
      const test = `${caseless(`^(?:${escapeLiteral(c.value)})$`)}.test(lastCodePoints(${v}, ${[...c.value].length}))`;
      return c.operator === "ends_with" ? test : `!${test}`;
    }
    default: {
      const full = caseless(`^(?:${caselessLanguageSource(c)})$`);
      if (c.operator === "subset_of") return `everyMatches(${v}, ${full})`;
      return c.operator.startsWith("not_") ? `!${full}.test(${v})` : `${full}.test(${v})`;
    }
  }
}
