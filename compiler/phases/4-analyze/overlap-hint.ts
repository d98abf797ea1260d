// How to make two overlapping rules disjoint: write the exception out, by adding to one rule the
// negation of one of the other rule's conditions (SPEC section 3: "an exception is written out").

import { flow } from "../3-resolve/resolve-conditions.js";
import type { Condition, ResolvedRule, ResolvedTool } from "../3-resolve/resolved-config.js";

export function overlapHint(a: ResolvedRule, b: ResolvedRule, tool: ResolvedTool, input: Record<string, unknown>, at?: string): string {
  // Between an allow and a deny, the deny is the exception: narrow the allow by it.
  // Between rules of one effect, narrow the later rule by the earlier one.
  const source = a.effect !== b.effect && b.effect === "deny" ? b : a;
  const target = source === a ? b : a;
  for (const [from, to] of [[source, target], [target, source]] as const) {
    // A context condition's exception is the other values of the key (a finite, declared set).
    const context = from.contextConditions[0];
    if (context !== undefined && to.contextConditions.every((c) => c.field !== context.field)) {
      const negated = context.operator === "not_in" ? `in: ${flow(context.value)}` : `not_in: ${flow(context.operator === "equals" ? [context.value] : context.value)}`;
      return `add \`context.${context.field}: { ${negated} }\` to ${to.id} so that the rules cannot both match`;
    }
  }
  if (a.window !== undefined && b.window !== undefined && a.conditions.length === 0 && b.conditions.length === 0) {
    return `the time windows share instants (e.g. ${at ?? "one the witness names"}); narrow one window, or give the rules conditions that exclude each other`;
  }
  if (source.conditions.length === 0) {
    return `${source.id} matches every \`${tool.name}\` request of its agents; give the two rules conditions that exclude each other, or disjoint \`agents\``;
  }
  const emptyList = Object.keys(input).find(
    (name) => Array.isArray(input[name]) && (input[name] as unknown[]).length === 0 && a.conditions.some((c) => c.field === name) && b.conditions.some((c) => c.field === name),
  );
  if (emptyList !== undefined) {
    return `both rules accept an empty \`${emptyList}\` list; give the field \`minItems: 1\` in tool \`${tool.name}\` if an empty list should not be allowed`;
  }
  for (const [from, to] of [[source, target], [target, source]] as const) {
    for (const condition of from.conditions) {
      const negated = negatedCondition(condition, tool);
      if (negated !== undefined) return `add \`${negated}\` to ${to.id} so that the rules cannot both match`;
    }
  }
  return `give the two rules conditions that exclude each other (e.g. one field that one rule requires and the other rule excludes), or disjoint \`agents\``;
}

/** The written form of a condition that holds exactly where `c` fails (among present values), if expressible. */
function negatedCondition(c: Condition, tool: ResolvedTool): string | undefined {
  const field = tool.fieldByName.get(c.field);
  if (field === undefined) return undefined;
  const write = (operator: string, value: unknown) => `${c.field}: { ${operator}: ${flow(value)}${c.ignoreCase ? ", ignore_case: true" : ""} }`;
  switch (c.operator) {
    case "equals":
      return typeof c.value === "boolean" ? write("equals", !c.value) : write("not_in", [c.value]);
    case "in":
      return write("not_in", c.value);
    case "not_in":
      return write("in", c.value);
    case "starts_with":
      return write("not_starts_with", c.value);
    case "not_starts_with":
      return write("starts_with", c.value);
    case "ends_with":
      return write("not_ends_with", c.value);
    case "not_ends_with":
      return write("ends_with", c.value);
    case "matches":
      return write("not_matches", c.value.source);
    case "not_matches":
      return write("matches", c.value.source);
    // There is no strict bound operator; for whole-number bounds the next whole number excludes the
    // bound (on a `number` field this leaves the gap between them to the default deny).
    case "min":
      return Number.isInteger(c.value) ? write("max", c.value - 1) : undefined;
    case "max":
      return Number.isInteger(c.value) ? write("min", c.value + 1) : undefined;
    default:
      return undefined;
  }
}
