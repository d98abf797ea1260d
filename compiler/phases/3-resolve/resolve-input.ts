// Resolves a tool's `input` map (shorthand or long form) into typed fields, checking that each
// field's constraints apply to its type and agree with each other.

import type { Code } from "../../diagnostics/codes.js";
import type { DiagnosticLog, Span } from "../../diagnostics/diagnostic.js";
import type { ConfigDocument } from "../1-load/config-document.js";
import { canonicalValue, type InputFormat } from "../../../runtime-template/contract/canonical-format.js";
import { checkPattern } from "./regex-pattern.js";
import type { InputField, Scalar, ScalarType, ValueConstraints } from "./resolved-config.js";

interface LongField {
  type: string;
  description?: string;
  optional?: boolean;
  default?: unknown;
  enum?: Scalar[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: RawConstraints;
  allow_dash?: boolean;
  format?: InputFormat;
}
type RawConstraints = Pick<LongField, "enum" | "minimum" | "maximum" | "minLength" | "maxLength" | "pattern">;

export function resolveInput(doc: ConfigDocument, log: DiagnosticLog): InputField[] {
  const input = ((doc.value as { input?: Record<string, string | LongField> }).input ?? {}) as Record<string, string | LongField>;
  const fields: InputField[] = [];
  for (const [name, spec] of Object.entries(input)) {
    const path = ["input", name];
    const span = doc.spanAt(path, "key");
    const long: LongField = typeof spec === "string" ? shorthand(spec) : spec;
    const array = long.type.endsWith("[]");
    const type = long.type.replace("[]", "") as ScalarType;
    const problems = new FieldProblems(doc, path, name, log);
    const own = resolveConstraints(long, type, array ? "array" : "scalar", problems, []);
    let items: ValueConstraints | undefined;
    if (long.items !== undefined) {
      if (!array) problems.report(["items"], "`items` applies to list fields only");
      else items = resolveConstraints(long.items, type, "items", problems, ["items"]);
    }
    for (const key of ["minItems", "maxItems"] as const) {
      if (long[key] !== undefined && !array) problems.report([key], `\`${key}\` applies to list fields only`);
    }
    if (array && long.minItems !== undefined && long.maxItems !== undefined && long.minItems > long.maxItems) {
      problems.report(["minItems"], `\`minItems\` ${long.minItems} is greater than \`maxItems\` ${long.maxItems}`);
    }
    if (long.allow_dash !== undefined && type !== "string") problems.report(["allow_dash"], "`allow_dash` applies to string fields only");
    if (long.format !== undefined && type !== "string") problems.report(["format"], "`format` applies to string fields and string lists only");
    const field: InputField = {
      name,
      type,
      array,
      optional: long.optional === true || long.default !== undefined,
      ...(long.description === undefined ? {} : { description: long.description }),
      ...own,
      ...(array && long.minItems !== undefined ? { minItems: long.minItems } : {}),
      ...(array && long.maxItems !== undefined ? { maxItems: long.maxItems } : {}),
      ...(items === undefined ? {} : { items }),
      allowDash: long.allow_dash === true,
      ...(long.format === undefined || type !== "string" ? {} : { format: long.format }),
      span,
    };
    if (long.default !== undefined) {
      const problem = valueProblem(field, long.default);
      const canonical = canonicalProblem(field, long.default);
      if (problem !== undefined) problems.report(["default"], `default ${JSON.stringify(long.default)} ${problem}`);
      else if (canonical !== undefined) problems.report(["default"], `default ${JSON.stringify(long.default)} ${canonical}`);
      else Object.assign(field, { default: long.default });
    }
    if (!problems.any) fields.push(field);
  }
  return fields;
}

function shorthand(spec: string): LongField {
  const optional = spec.endsWith("?");
  return { type: optional ? spec.slice(0, -1) : spec, optional };
}

class FieldProblems {
  any = false;
  constructor(
    private readonly doc: ConfigDocument,
    private readonly path: readonly string[],
    private readonly name: string,
    private readonly log: DiagnosticLog,
  ) {}
  span(at: readonly string[]): Span {
    return this.doc.spanAt([...this.path, ...at], at.length > 0 ? "key" : "value");
  }
  report(at: readonly string[], message: string): void {
    this.reportCode("KR3021", at, `input field \`${this.name}\`: ${message}`);
  }
  reportCode(code: Code, at: readonly string[], message: string, hint?: string): void {
    this.any = true;
    this.log.report(code, this.span(at), message, { hint });
  }
}

function resolveConstraints(
  raw: RawConstraints,
  type: ScalarType,
  shape: "scalar" | "array" | "items",
  problems: FieldProblems,
  at: string[],
): ValueConstraints {
  const out: { -readonly [K in keyof ValueConstraints]: ValueConstraints[K] } = {};
  const numeric = type === "number" || type === "integer";
  const elementwise = shape !== "array";
  const inapplicable = (key: string, what: string) => problems.report([...at, key], `\`${key}\` applies to ${what} only`);
  if (raw.enum !== undefined) {
    if (!elementwise) inapplicable("enum", "single values (use `items.enum` for lists)");
    else if (raw.enum.some((v) => !scalarHasType(v, type))) problems.report([...at, "enum"], `every \`enum\` value must be ${describeType(type)}`);
    else out.enum = raw.enum;
  }
  for (const key of ["minimum", "maximum"] as const) {
    if (raw[key] === undefined) continue;
    if (!elementwise || !numeric) inapplicable(key, shape === "array" ? "number fields (use `items`)" : "number and integer fields");
    else out[key] = raw[key];
  }
  for (const key of ["minLength", "maxLength", "pattern"] as const) {
    if (raw[key] === undefined) continue;
    if (!elementwise || type !== "string") inapplicable(key, shape === "array" ? "string fields (use `items`)" : "string fields");
    else if (key === "pattern") {
      const check = checkPattern(raw.pattern!);
      if (check.ok) out.pattern = check.pattern;
      else problems.reportCode(check.code, [...at, "pattern"], check.message, check.hint);
    } else out[key] = raw[key];
  }
  if (out.minimum !== undefined && out.maximum !== undefined && out.minimum > out.maximum) {
    problems.report([...at, "minimum"], `\`minimum\` ${out.minimum} is greater than \`maximum\` ${out.maximum}`);
  }
  if (out.minLength !== undefined && out.maxLength !== undefined && out.minLength > out.maxLength) {
    problems.report([...at, "minLength"], `\`minLength\` ${out.minLength} is greater than \`maxLength\` ${out.maxLength}`);
  }
  return out;
}

export function scalarHasType(value: unknown, type: ScalarType): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
  }
}

function describeType(type: ScalarType): string {
  return type === "integer" ? "an integer" : `a ${type}`;
}

/** A default is applied after canonicalisation, so a `format` field's default must already be canonical. */
function canonicalProblem(field: InputField, value: unknown): string | undefined {
  if (field.format === undefined) return undefined;
  for (const item of Array.isArray(value) ? value : [value]) {
    if (typeof item !== "string") continue;
    const canonical = canonicalValue(field.format, item);
    if (canonical === undefined) return `is not a valid \`${field.format}\``;
    if (canonical !== item) return `is not in canonical \`${field.format}\` form: write ${JSON.stringify(canonical)}`;
  }
  return undefined;
}

/** Why `value` is not a valid value of `field`, or undefined when it is. */
export function valueProblem(field: InputField, value: unknown): string | undefined {
  if (field.array) {
    if (!Array.isArray(value)) return `is not a list`;
    if (field.minItems !== undefined && value.length < field.minItems) return `has fewer than ${field.minItems} items`;
    if (field.maxItems !== undefined && value.length > field.maxItems) return `has more than ${field.maxItems} items`;
    for (const item of value) {
      const problem = scalarProblem(field.type, field.items ?? {}, item);
      if (problem !== undefined) return `has an item that ${problem}`;
    }
    return undefined;
  }
  return scalarProblem(field.type, field, value);
}

function scalarProblem(type: ScalarType, c: ValueConstraints, value: unknown): string | undefined {
  if (!scalarHasType(value, type)) return `is not ${describeType(type)}`;
  if (c.enum !== undefined && !c.enum.includes(value as Scalar)) return `is not one of the field's \`enum\` values`;
  if (typeof value === "number") {
    if (c.minimum !== undefined && value < c.minimum) return `is below \`minimum\` ${c.minimum}`;
    if (c.maximum !== undefined && value > c.maximum) return `is above \`maximum\` ${c.maximum}`;
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (c.minLength !== undefined && length < c.minLength) return `is shorter than \`minLength\` ${c.minLength}`;
    if (c.maxLength !== undefined && length > c.maxLength) return `is longer than \`maxLength\` ${c.maxLength}`;
    if (c.pattern !== undefined && !new RegExp(c.pattern.source, "u").test(value)) return `does not match \`pattern\``;
  }
  return undefined;
}
