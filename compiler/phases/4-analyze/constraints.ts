// Constraints on one input field, from its schema and from rule conditions, as data the solver reads.
// Every constraint has a key (for memoising) and a label (for saying which constraints contradict).

import type { DFA } from "refa";
import type { Span } from "../../diagnostics/diagnostic.js";
import { flow } from "../3-resolve/resolve-conditions.js";
import type { Condition, InputField, Scalar, ValueConstraints } from "../3-resolve/resolved-config.js";
import { NumberSet } from "./number-set.js";
import { escapeLiteral } from "../3-resolve/regex-pattern.js";
import { complementOf, finiteLanguage, intersectAll, languageOf } from "./string-language.js";

export type Constraint =
  | { readonly kind: "number"; readonly key: string; readonly set: NumberSet }
  | { readonly kind: "integer"; readonly key: string }
  | { readonly kind: "boolean"; readonly key: string; readonly values: readonly boolean[] }
  | StringLanguage
  | { readonly kind: "length"; readonly key: string; readonly min: number; readonly max: number }
  | { readonly kind: "items"; readonly key: string; readonly element: Constraint }
  | { readonly kind: "count"; readonly key: string; readonly min: number; readonly max: number };

export interface StringLanguage {
  readonly kind: "language";
  readonly key: string;
  readonly test: (value: string) => boolean;
  readonly dfa: () => DFA;
  /** Set when the language is a finite list of words (equals, in, enum, subset_of). */
  readonly words?: readonly string[];
  /**
   * Set when the language is the intersection of these (`no_credentials`: one complement per pattern). Their
   * product automaton can be large, so the solver intersects a part only when a candidate witness violates it.
   */
  readonly parts?: readonly StringLanguage[];
}

export interface Atom {
  readonly label: string;
  readonly fromSchema: boolean;
  readonly constraint: Constraint;
  /** Where a rule condition was written; schema atoms have none. */
  readonly span?: Span;
}

const lazy = <T>(make: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= make());
};

export function wordsLanguage(key: string, words: readonly string[]): StringLanguage {
  const set = new Set(words);
  return { kind: "language", key, words: [...set], test: (v) => set.has(v), dfa: lazy(() => finiteLanguage([...set])) };
}

function notWords(key: string, words: readonly string[]): StringLanguage {
  const set = new Set(words);
  return { kind: "language", key, test: (v) => !set.has(v), dfa: lazy(() => complementOf(finiteLanguage([...set]))) };
}

function regexLanguage(key: string, language: string, test: (v: string) => boolean, negate: boolean): StringLanguage {
  return {
    kind: "language",
    key,
    test: negate ? (v) => !test(v) : test,
    dfa: lazy(() => (negate ? complementOf(languageOf(language)) : languageOf(language))),
  };
}

function patternLanguage(key: string, pattern: { source: string; language: string }, negate: boolean, ignoreCase = false): StringLanguage {
  const regex = new RegExp(pattern.source, ignoreCase ? "iu" : "u");
  return {
    kind: "language",
    key,
    test: negate ? (v) => !regex.test(v) : (v) => regex.test(v),
    dfa: lazy(() => (negate ? complementOf(languageOf(pattern.language, ignoreCase)) : languageOf(pattern.language, ignoreCase))),
  };
}

/**
 * The anchor-free language a case-insensitive condition accepts (full matches, `iu` flags). The generated
 * code tests `^(?:language)$` with the same flags, so the analyser and the runtime compare alike.
 */
export function caselessLanguageSource(c: Condition): string {
  const words = (values: readonly unknown[]) => (values.length === 0 ? "[]" : values.map((v) => escapeLiteral(String(v))).join("|"));
  switch (c.operator) {
    case "equals":
      return escapeLiteral(String(c.value));
    case "in":
    case "not_in":
    case "subset_of":
      return words(c.value);
    case "starts_with":
    case "not_starts_with":
      return `${escapeLiteral(c.value)}[\\s\\S]*`;
    case "ends_with":
    case "not_ends_with":
      return `[\\s\\S]*${escapeLiteral(c.value)}`;
    default:
      throw new Error(`no caseless literal language for \`${c.operator}\``);
  }
}

/** A case-insensitive condition's constraint on one string (its own, or each item's for lists). */
function caselessConstraint(c: Condition, key: string): StringLanguage {
  if (c.operator === "matches" || c.operator === "not_matches" || c.operator === "each_matches") {
    return patternLanguage(key, c.value, c.operator === "not_matches", true);
  }
  const language = caselessLanguageSource(c);
  const regex = new RegExp(`^(?:${language})$`, "iu");
  const negate = c.operator.startsWith("not_");
  return {
    kind: "language",
    key,
    test: negate ? (v) => !regex.test(v) : (v) => regex.test(v),
    dfa: lazy(() => (negate ? complementOf(languageOf(language, true)) : languageOf(language, true))),
  };
}

/** The constraints a field's declared type and schema put on every value. */
export function schemaAtoms(field: InputField): Atom[] {
  const atoms = valueAtoms(field.type, field.array ? {} : field, "the tool's schema");
  if (!field.array) {
    if (field.type === "integer") atoms.unshift({ label: "its type (integer)", fromSchema: true, constraint: { kind: "integer", key: "int" } });
    return atoms;
  }
  const element = valueAtoms(field.type, field.items ?? {}, "the tool's `items` schema");
  if (field.type === "integer") element.unshift({ label: "its item type (integer)", fromSchema: true, constraint: { kind: "integer", key: "int" } });
  const out: Atom[] = element.map((a) => ({ ...a, constraint: { kind: "items", key: `items(${a.constraint.key})`, element: a.constraint } }));
  const minItems = field.minItems ?? 0;
  if (field.maxItems !== undefined || minItems > 0) {
    const max = field.maxItems ?? Infinity;
    out.push({ label: `the tool's schema \`${describeCount(minItems, max)}\``, fromSchema: true, constraint: { kind: "count", key: `count:${minItems}:${max}`, min: minItems, max } });
  }
  return out;
}

function describeCount(min: number, max: number): string {
  return [min > 0 ? `minItems: ${min}` : "", max !== Infinity ? `maxItems: ${max}` : ""].filter(Boolean).join(", ");
}

function valueAtoms(type: string, c: ValueConstraints, where: string): Atom[] {
  const atoms: Atom[] = [];
  const add = (label: string, constraint: Constraint) => atoms.push({ label: `${where} \`${label}\``, fromSchema: true, constraint });
  if (c.enum !== undefined) add(`enum: ${flow(c.enum)}`, enumConstraint(type, c.enum, `enum:${JSON.stringify(c.enum)}`));
  if (c.minimum !== undefined) add(`minimum: ${c.minimum}`, { kind: "number", key: `>=${c.minimum}`, set: NumberSet.atLeast(c.minimum) });
  if (c.maximum !== undefined) add(`maximum: ${c.maximum}`, { kind: "number", key: `<=${c.maximum}`, set: NumberSet.atMost(c.maximum) });
  if (c.minLength !== undefined || c.maxLength !== undefined) {
    const min = c.minLength ?? 0;
    const max = c.maxLength ?? Infinity;
    const label = [c.minLength !== undefined ? `minLength: ${min}` : "", c.maxLength !== undefined ? `maxLength: ${max}` : ""].filter(Boolean).join(", ");
    add(label, { kind: "length", key: `len:${min}:${max}`, min, max });
  }
  if (c.pattern !== undefined) add(`pattern: ${flow(c.pattern.source)}`, patternLanguage(`re:${c.pattern.source}`, c.pattern, false));
  return atoms;
}

function enumConstraint(type: string, values: readonly Scalar[], key: string): Constraint {
  if (type === "string") return wordsLanguage(key, values as string[]);
  if (type === "boolean") return { kind: "boolean", key, values: values as boolean[] };
  return { kind: "number", key, set: NumberSet.points(values as number[]) };
}

/** The constraint a rule condition puts on its field. */
export function conditionAtom(condition: Condition, field: InputField): Atom {
  return { label: `\`${condition.written}\``, fromSchema: false, constraint: conditionConstraint(condition, field), span: condition.span };
}

/** `no_credentials: true`: no pattern of the credential set finds a match. */
function credentialFree(key: string, checks: Extract<Condition, { operator: "no_credentials" }>["value"]): StringLanguage {
  const parts = checks.map((check) => patternLanguage(`re:${check.pattern.source}`, check.pattern, true));
  return {
    kind: "language",
    key,
    test: (v) => parts.every((p) => p.test(v)),
    dfa: lazy(() => intersectAll(parts.map((p) => p.dfa()))),
    parts,
  };
}

function conditionConstraint(c: Condition, field: InputField): Constraint {
  if (c.operator === "no_credentials") {
    const key = `no_credentials:${c.value.map((v) => v.pattern.source).join("\u0000")}`;
    const language = credentialFree(key, c.value);
    return field.array ? { kind: "items", key, element: language } : language;
  }
  const key = `${c.operator}:${JSON.stringify(c.value)}${c.ignoreCase === true ? ":i" : ""}`;
  if (c.ignoreCase === true) {
    const element = caselessConstraint(c, key);
    return c.operator === "subset_of" || c.operator === "each_matches" ? { kind: "items", key, element } : element;
  }
  switch (c.operator) {
    case "min":
      return { kind: "number", key, set: NumberSet.atLeast(c.value) };
    case "max":
      return { kind: "number", key, set: NumberSet.atMost(c.value) };
    case "equals":
      return enumConstraint(field.type, [c.value], key);
    case "in":
      return enumConstraint(field.type, c.value, key);
    case "not_in":
      return field.type === "string"
        ? notWords(key, c.value as string[])
        : { kind: "number", key, set: NumberSet.points(c.value as number[]).complement() };
    case "starts_with":
    case "not_starts_with": {
      const prefix = c.value;
      return regexLanguage(key, `${escapeLiteral(prefix)}[\\s\\S]*`, (v) => v.startsWith(prefix), c.operator === "not_starts_with");
    }
    case "ends_with":
    case "not_ends_with": {
      const suffix = c.value;
      return regexLanguage(key, `[\\s\\S]*${escapeLiteral(suffix)}`, (v) => v.endsWith(suffix), c.operator === "not_ends_with");
    }
    case "matches":
    case "not_matches":
      return patternLanguage(key, c.value, c.operator === "not_matches");
    case "max_length":
      return { kind: "length", key, min: 0, max: c.value };
    case "subset_of":
      return { kind: "items", key, element: enumConstraint(field.type, c.value, key) };
    case "each_matches":
      return { kind: "items", key, element: patternLanguage(key, c.value, false) };
    case "max_items":
      return { kind: "count", key, min: 0, max: c.value };
  }
}

/** The constraint that holds exactly where `c` does not (scalar fields and list counts). */
export function negation(c: Constraint): Constraint | undefined {
  const key = `not(${c.key})`;
  switch (c.kind) {
    case "number":
      return { kind: "number", key, set: c.set.complement() };
    case "boolean":
      return { kind: "boolean", key, values: [true, false].filter((v) => !c.values.includes(v)) };
    case "language":
      // The complement of a product of parts (a union of credential patterns) is not built: not decided here.
      if (c.parts !== undefined) return undefined;
      return { kind: "language", key, test: (v) => !c.test(v), dfa: lazy(() => complementOf(c.dfa())) };
    case "length":
      return c.min === 0 ? { kind: "length", key, min: c.max + 1, max: Infinity } : undefined;
    case "count":
      return c.min === 0 ? { kind: "count", key, min: c.max + 1, max: Infinity } : undefined;
    default:
      return undefined;
  }
}
