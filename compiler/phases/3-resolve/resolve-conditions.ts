// Resolves a rule's `when` map into typed conditions on the tool's input fields: shorthand
// (`max_<field>`, `min_<field>`, `require_reason`) and long form (`<field>: { operator: value }`).

import type { Code } from "../../diagnostics/codes.js";
import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import { closestName, didYouMean } from "../../diagnostics/suggest.js";
import type { ConfigDocument, DocumentPath } from "../1-load/config-document.js";
import { checkPattern } from "./regex-pattern.js";
import { scalarHasType } from "./resolve-input.js";
import type { Condition, CredentialCheck, InputField, Operator, ResolvedTool, Scalar, TimeWindow } from "./resolved-config.js";
import { CREDENTIAL_PATTERNS } from "../../../runtime-template/contract/credential-patterns.js";
import { resolveTime } from "./resolve-time.js";

export const operatorsByType = {
  number: ["min", "max", "equals", "in", "not_in"],
  string: ["equals", "in", "not_in", "starts_with", "not_starts_with", "ends_with", "not_ends_with", "matches", "not_matches", "max_length", "no_credentials"],
  boolean: ["equals"],
  array: ["subset_of", "each_matches", "max_items", "no_credentials"],
} as const satisfies Record<string, readonly Operator[]>;

const allOperators: ReadonlySet<string> = new Set(Object.values(operatorsByType).flat());

/** Names people reach for from other policy languages and JSON Schema. */
const operatorSynonyms: Record<string, Operator> = {
  minimum: "min",
  maximum: "max",
  gte: "min",
  lte: "max",
  eq: "equals",
  equal: "equals",
  is: "equals",
  one_of: "in",
  oneof: "in",
  none_of: "not_in",
  prefix: "starts_with",
  suffix: "ends_with",
  pattern: "matches",
  regex: "matches",
  maxlength: "max_length",
  maxitems: "max_items",
  all_in: "subset_of",
};

export function operatorsFor(field: InputField): readonly Operator[] {
  if (field.array) return field.type === "string" ? operatorsByType.array : ["subset_of", "max_items"];
  return field.type === "integer" ? operatorsByType.number : operatorsByType[field.type];
}

export interface ResolvedWhen {
  conditions: Condition[];
  contextConditions: Condition[];
  window?: TimeWindow;
  requireReason: boolean;
  ok: boolean;
}

/** Operators a `context.<key>` condition may use. */
const CONTEXT_OPERATORS = ["equals", "in", "not_in"] as const;

export function resolveWhen(
  when: Record<string, unknown>,
  tool: ResolvedTool,
  doc: ConfigDocument,
  path: DocumentPath,
  log: DiagnosticLog,
  context: ReadonlyMap<string, readonly string[]> = new Map(),
): ResolvedWhen {
  const result: ResolvedWhen = { conditions: [], contextConditions: [], requireReason: false, ok: true };
  const fail = (...args: Parameters<DiagnosticLog["report"]>) => {
    log.report(...args);
    result.ok = false;
  };
  for (const [key, value] of Object.entries(when)) {
    const keyPath = [...path, key];
    const keySpan = doc.spanAt(keyPath, "key");
    if (key === "require_reason") {
      if (typeof value !== "boolean") fail("KR3007", doc.spanAt(keyPath), "`require_reason` must be true or false");
      else result.requireReason = value;
      continue;
    }
    if (key === "time" && !tool.fieldByName.has("time")) {
      const window = resolveTime(value, doc, keyPath, log);
      if (window === undefined) result.ok = false;
      else result.window = window;
      continue;
    }
    if (key.startsWith("context.")) {
      const condition = resolveContextCondition(key.slice("context.".length), value, context, doc, keyPath, fail);
      if (condition !== undefined) result.contextConditions.push(condition);
      continue;
    }
    const field = tool.fieldByName.get(key);
    const shorthand = /^(max|min)_(.+)$/.exec(key);
    if (field === undefined && shorthand !== null && tool.fieldByName.has(shorthand[2]!)) {
      const target = tool.fieldByName.get(shorthand[2]!)!;
      const operator = shorthand[1] as "min" | "max";
      if (target.array || (target.type !== "number" && target.type !== "integer")) {
        fail("KR3008", keySpan, `\`${key}\` needs a number field, but \`${target.name}\` is ${describeField(target)}`, {
          hint: target.type === "string" && !target.array && operator === "max" ? `to limit the length, write \`${target.name}: { max_length: ${String(value)} }\`` : undefined,
        });
      } else if (typeof value !== "number" || !Number.isFinite(value)) {
        fail("KR3007", doc.spanAt(keyPath), `\`${key}\` must be a number`);
      } else {
        result.conditions.push({ field: target.name, operator, value, written: `${key}: ${value}`, span: keySpan });
      }
      continue;
    }
    if (field === undefined) {
      fail("KR3004", keySpan, `\`${key}\` is not an input field of tool \`${tool.name}\``, { hint: suggestField(key, tool) });
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      fail("KR3007", doc.spanAt(keyPath), `condition on \`${key}\` must be a map of operators`, {
        hint: `e.g. \`${key}: { ${operatorsFor(field)[0]}: ${Array.isArray(value) ? "[...]" : flow(value)} }\``,
      });
      continue;
    }
    const ignoreCase = resolveIgnoreCase(value as Record<string, unknown>, field, key, keyPath, doc, fail);
    for (const [operator, operand] of Object.entries(value as Record<string, unknown>)) {
      if (operator === "ignore_case") continue;
      const opPath = [...keyPath, operator];
      const valid = operatorsFor(field);
      if (!allOperators.has(operator)) {
        const synonym = operatorSynonyms[operator];
        fail("KR3005", doc.spanAt(opPath, "key"), `unknown operator \`${operator}\``, {
          hint:
            (synonym !== undefined && (valid as readonly string[]).includes(synonym) ? `did you mean \`${synonym}\`?` : undefined) ??
            didYouMean(operator, valid) ??
            didYouMean(operator, allOperators) ??
            `operators for ${describeField(field)}: ${valid.join(", ")}`,
        });
        continue;
      }
      if (!(valid as readonly string[]).includes(operator)) {
        fail("KR3006", doc.spanAt(opPath, "key"), `operator \`${operator}\` does not apply to \`${key}\`, which is ${describeField(field)}`, {
          hint: `operators for ${describeField(field)}: ${valid.join(", ")}`,
        });
        continue;
      }
      const caseless = ignoreCase && CASED_OPERATORS.has(operator as Operator);
      const condition = resolveOperand(field, operator as Operator, operand, caseless);
      if ("problem" in condition) {
        fail(condition.code ?? "KR3007", doc.spanAt(opPath), condition.code ? condition.problem : `\`${key}.${operator}\` ${condition.problem}`, { hint: condition.hint });
        continue;
      }
      result.conditions.push({
        ...condition,
        ...(caseless ? { ignoreCase: true } : {}),
        written: `${key}: { ${operator}: ${flow(operand)}${caseless ? ", ignore_case: true" : ""} }`,
        span: doc.spanAt(opPath, "key"),
      } as Condition);
    }
  }
  return result;
}

/** Operators that compare text, which `ignore_case: true` makes case-insensitive. */
export const CASED_OPERATORS: ReadonlySet<Operator> = new Set<Operator>([
  "equals",
  "in",
  "not_in",
  "starts_with",
  "not_starts_with",
  "ends_with",
  "not_ends_with",
  "matches",
  "not_matches",
  "subset_of",
  "each_matches",
]);

/** `ignore_case` beside a field's operators: true or false, and only on string fields and string lists. */
function resolveIgnoreCase(
  operators: Record<string, unknown>,
  field: InputField,
  key: string,
  keyPath: DocumentPath,
  doc: ConfigDocument,
  fail: (...args: Parameters<DiagnosticLog["report"]>) => void,
): boolean {
  if (!Object.hasOwn(operators, "ignore_case")) return false;
  const flag = operators.ignore_case;
  const path = [...keyPath, "ignore_case"];
  if (typeof flag !== "boolean") {
    fail("KR3007", doc.spanAt(path), "`ignore_case` must be true or false");
    return false;
  }
  if (field.type !== "string") {
    fail("KR3006", doc.spanAt(path, "key"), `\`ignore_case\` does not apply to \`${key}\`, which is ${describeField(field)}`, {
      hint: "`ignore_case` applies to conditions on string fields and string lists",
    });
    return false;
  }
  return flag;
}

/** `context.<key>: { equals | in | not_in: ... }` over the key's declared values. */
function resolveContextCondition(
  key: string,
  value: unknown,
  context: ReadonlyMap<string, readonly string[]>,
  doc: ConfigDocument,
  keyPath: DocumentPath,
  fail: (...args: Parameters<DiagnosticLog["report"]>) => void,
): Condition | undefined {
  const declared = context.get(key);
  if (declared === undefined) {
    fail("KR3026", doc.spanAt(keyPath, "key"), `unknown context key \`${key}\``, {
      hint: context.size === 0 ? "declare it in context.yaml at the config root: `context: { " + key + ": [value, ...] }`" : (didYouMean(key, context.keys()) ?? `declared keys: ${[...context.keys()].join(", ")}`),
    });
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value) || Object.keys(value).length !== 1) {
    fail("KR3007", doc.spanAt(keyPath), `condition on \`context.${key}\` must be one of \`{ equals: v }\`, \`{ in: [...] }\`, \`{ not_in: [...] }\``);
    return undefined;
  }
  const [operator, operand] = Object.entries(value as Record<string, unknown>)[0]!;
  const opPath = [...keyPath, operator];
  if (!(CONTEXT_OPERATORS as readonly string[]).includes(operator)) {
    fail("KR3006", doc.spanAt(opPath, "key"), `operator \`${operator}\` does not apply to \`context.${key}\``, { hint: `operators for context keys: ${CONTEXT_OPERATORS.join(", ")}` });
    return undefined;
  }
  const values = operator === "equals" ? [operand] : operand;
  if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== "string")) {
    fail("KR3007", doc.spanAt(opPath), `\`context.${key}.${operator}\` must be ${operator === "equals" ? "a string" : "a non-empty list of strings"}`);
    return undefined;
  }
  const unknown = (values as string[]).find((v) => !declared.includes(v));
  if (unknown !== undefined) {
    fail("KR3027", doc.spanAt(opPath), `\`${unknown}\` is not a declared value of context key \`${key}\``, { hint: didYouMean(unknown, declared) ?? `declared values: ${declared.join(", ")}` });
    return undefined;
  }
  const written = `context.${key}: { ${operator}: ${flow(operand)} }`;
  const base = { field: key, context: true as const, written, span: doc.spanAt(opPath, "key") };
  return operator === "equals" ? { ...base, operator: "equals", value: operand as string } : { ...base, operator: operator as "in" | "not_in", value: [...new Set(values as string[])] };
}

let credentialChecks: CredentialCheck[] | undefined;

/** The credential pattern set as analysable patterns (built once; each is a DFA like any `matches`). */
export function credentialPatternChecks(): readonly CredentialCheck[] {
  if (credentialChecks === undefined) {
    credentialChecks = CREDENTIAL_PATTERNS.map((p) => {
      const check = checkPattern(p.source);
      if (!check.ok) throw new Error(`credential pattern ${p.id} does not compile: ${check.message}`);
      return { id: p.id, description: p.description, pattern: check.pattern };
    });
  }
  return credentialChecks;
}

type Resolved = { field: string; operator: Operator; value: unknown };
type Problem = { problem: string; code?: Code; hint?: string };

/** The typed condition, or why the operand is wrong (KR3007 unless a regular-expression code is given). */
function resolveOperand(field: InputField, operator: Operator, operand: unknown, ignoreCase: boolean): Resolved | Problem {
  const p = (problem: string): Problem => ({ problem });
  const element = pluralScalar(field.type);
  const base = { field: field.name, operator };
  switch (operator) {
    case "min":
    case "max":
      return typeof operand === "number" && Number.isFinite(operand) ? { ...base, value: operand } : p("must be a number");
    case "max_length":
    case "max_items":
      return Number.isInteger(operand) && (operand as number) >= 0 ? { ...base, value: operand } : p("must be a whole number, 0 or more");
    case "equals":
      return scalarHasType(operand, field.type) ? { ...base, value: operand } : p(`must be ${describeScalar(field.type)}`);
    case "in":
    case "not_in":
    case "subset_of": {
      if (!Array.isArray(operand)) return p(`must be a list of ${element}`);
      if (operator !== "subset_of" && operand.length === 0) return p("must not be empty");
      if (operand.some((v) => !scalarHasType(v, field.type))) return p(`must list ${element} only`);
      return { ...base, value: [...new Set(operand as Scalar[])] };
    }
    case "starts_with":
    case "not_starts_with":
    case "ends_with":
    case "not_ends_with":
      return typeof operand === "string" ? { ...base, value: operand } : p("must be a string");
    case "no_credentials":
      return operand === true ? { ...base, value: credentialPatternChecks() } : p("must be true (leave it out to allow credential-shaped values)");
    case "matches":
    case "not_matches":
    case "each_matches": {
      if (typeof operand !== "string") return p("must be a regular expression (a string)");
      const check = checkPattern(operand, { ignoreCase });
      return check.ok ? { ...base, value: check.pattern } : { problem: check.message, code: check.code, ...(check.hint === undefined ? {} : { hint: check.hint }) };
    }
  }
}

function suggestField(key: string, tool: ResolvedTool): string | undefined {
  const names = [...tool.fieldByName.keys()];
  const shorthand = /^(max|min)_(.+)$/.exec(key);
  if (shorthand !== null) {
    const close = closestName(shorthand[2]!, names);
    if (close !== undefined) return `did you mean \`${shorthand[1]}_${close}\`?`;
  }
  return didYouMean(key, names) ?? (names.length > 0 ? `fields of \`${tool.name}\`: ${names.join(", ")}` : undefined);
}

export function describeField(field: InputField): string {
  return field.array ? `a list of ${field.type}s` : describeScalar(field.type);
}

function pluralScalar(type: string): string {
  return type === "boolean" ? "true/false values" : `${type}s`;
}

function describeScalar(type: string): string {
  return type === "integer" ? "an integer" : `a ${type}`;
}

/** A compact YAML flow rendering of an operand, for messages and hints. */
export function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(", ")}]`;
  if (typeof value === "string") return /^[A-Za-z_][A-Za-z0-9_.@/-]*$/.test(value) && !/^(true|false|null|yes|no|on|off)$/i.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === "object" && "source" in value) return flow((value as { source: string }).source);
  return String(value);
}
