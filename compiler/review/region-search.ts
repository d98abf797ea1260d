// Finds a request inside some rule regions and outside others: positive ∧ ¬excluded₁ ∧ ¬excluded₂ …
// The negation of a rule is a disjunction (one of its conditions fails, an optional field it tests is
// absent, or the reason it needs is missing); the search picks one alternative per excluded rule, depth
// first, pruning on the first unsatisfiable field. Where a condition cannot be negated soundly, or the
// search runs out of budget, the answer is "undecided", never a guess.

import type { InputField } from "../phases/3-resolve/resolved-config.js";
import { negation, type Constraint } from "../phases/4-analyze/constraints.js";
import { solve, type Solution } from "../phases/4-analyze/solve-field.js";
import { TooComplexError } from "../phases/4-analyze/string-language.js";
import type { RuleRegion } from "./rule-region.js";

/** "Some item of the list fails `element`": the negation of an `items` constraint. */
interface SomeItem {
  readonly kind: "some";
  readonly key: string;
  readonly element: Constraint;
}
type FieldConstraint = Constraint | SomeItem;

export type SearchResult =
  | { readonly kind: "found"; readonly input: Record<string, unknown>; readonly reason: boolean }
  | { readonly kind: "none" }
  | { readonly kind: "undecided"; readonly why: string };

export interface SearchSpace {
  readonly fields: readonly InputField[];
  /** The schema constraints of every config compared (a request must be valid for each). */
  readonly schema: ReadonlyMap<string, readonly Constraint[]>;
  /**
   * Variables that always have a value but are not input fields (context keys, the minute of the week):
   * left out of the answer unless a region constrains them (unconstrained, any value gives the same decisions).
   */
  readonly implicit?: ReadonlySet<string>;
}

/** Nodes the depth-first search may visit before it gives up (undecided). */
const NODE_BUDGET = 20_000;

interface State {
  readonly constraints: ReadonlyMap<string, readonly FieldConstraint[]>;
  readonly absent: ReadonlySet<string>;
  /** true: a valid reason is given; false: none is; undefined: either. */
  readonly reason: boolean | undefined;
}

type Alternative = { kind: "constraint"; field: string; constraint: FieldConstraint } | { kind: "absent"; field: string } | { kind: "no_reason" };

class Undecided extends Error {}

export function findRequest(space: SearchSpace, positive: readonly RuleRegion[], excluded: readonly RuleRegion[]): SearchResult {
  const opaque = [...positive, ...excluded].find((r) => r.opaque !== undefined);
  if (opaque !== undefined) return { kind: "undecided", why: `${opaque.rule.id}: ${opaque.opaque}` };
  const byName = new Map(space.fields.map((f) => [f.name, f]));
  const needsPresence = (name: string) => {
    const f = byName.get(name)!;
    return f.optional && f.default === undefined;
  };

  let state: State | undefined = { constraints: new Map(), absent: new Set(), reason: undefined };
  for (const region of positive) state = state && withRegion(state, region);
  if (state === undefined) return { kind: "none" };

  let nodes = 0;
  let incomplete: string | undefined;
  const satisfiable = (s: State, touched: Iterable<string>): boolean => {
    for (const name of touched) if (!fieldSolution(byName.get(name)!, space.schema.get(name) ?? [], s).found) return false;
    return true;
  };
  /** The state with a region's conditions added (for "does it still overlap?"), or undefined on conflict. */
  function withRegion(s: State, region: RuleRegion): State | undefined {
    if (region.requiresReason && s.reason === false) return undefined;
    const constraints = new Map(s.constraints);
    for (const [name, atoms] of region.atoms) {
      if (s.absent.has(name) && needsPresence(name)) return undefined;
      constraints.set(name, [...(constraints.get(name) ?? []), ...atoms]);
    }
    return { constraints, absent: s.absent, reason: region.requiresReason ? true : s.reason };
  }
  function alternatives(region: RuleRegion): Alternative[] {
    const out: Alternative[] = [];
    for (const [name, atoms] of region.atoms) {
      const field = byName.get(name)!;
      if (needsPresence(name) && region.schemaOnly !== true) out.push({ kind: "absent", field: name });
      for (const atom of atoms) {
        const negated = negate(atom, field);
        if (negated === undefined) incomplete ??= `${region.rule.id}: a condition on \`${name}\` cannot be negated exactly`;
        else for (const one of negated) out.push({ kind: "constraint", field: name, constraint: one });
      }
    }
    if (region.requiresReason) out.push({ kind: "no_reason" });
    return out;
  }
  function apply(s: State, alt: Alternative): State | undefined {
    switch (alt.kind) {
      case "no_reason":
        return s.reason === true ? undefined : { ...s, reason: false };
      case "absent":
        return (s.constraints.get(alt.field) ?? []).length > 0 ? undefined : { ...s, absent: new Set([...s.absent, alt.field]) };
      case "constraint": {
        if (s.absent.has(alt.field)) return undefined;
        const constraints = new Map(s.constraints);
        constraints.set(alt.field, [...(constraints.get(alt.field) ?? []), alt.constraint]);
        return { ...s, constraints };
      }
    }
  }
  function search(s: State, index: number): State | undefined {
    if (++nodes > NODE_BUDGET) throw new Undecided("the search exceeded its budget");
    if (index === excluded.length) return s;
    const region = excluded[index]!;
    // A region the request already cannot be in needs no exclusion.
    const inside = withRegion(s, region);
    if (inside === undefined || !satisfiable(inside, region.atoms.keys())) return search(s, index + 1);
    for (const alt of alternatives(region)) {
      const next = apply(s, alt);
      if (next === undefined) continue;
      if (alt.kind === "constraint" && !satisfiable(next, [alt.field])) continue;
      const found = search(next, index + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  try {
    if (!satisfiable(state, state.constraints.keys())) return { kind: "none" };
    const found = search(state, 0);
    if (found === undefined) return incomplete ? { kind: "undecided", why: incomplete } : { kind: "none" };
    return { kind: "found", input: requestInput(space, found), reason: found.reason === true };
  } catch (error) {
    if (error instanceof Undecided) return { kind: "undecided", why: error.message };
    if (error instanceof TooComplexError) return { kind: "undecided", why: "a condition is too complex to decide within the analysis size limit" };
    throw error;
  }
}

/** The constraints one of which holds exactly where `c` does not (a disjunction), or undefined. */
function negate(c: Constraint, field: InputField): FieldConstraint[] | undefined {
  // `no_credentials`: an intersection of "no match of pattern i"; it fails where some pattern matches.
  if (c.kind === "language" && c.parts !== undefined) return credentialNegation(c.parts);
  if (field.array && c.kind === "items" && c.element.kind === "language" && c.element.parts !== undefined) {
    const some = credentialNegation(c.element.parts);
    return some?.map((element) => ({ kind: "some", key: `some(${element.key})`, element: element as Constraint }));
  }
  if (field.array && c.kind === "items") {
    const element = negation(c.element);
    return element === undefined ? undefined : [{ kind: "some", key: `some(${element.key})`, element }];
  }
  // A range with a lower bound fails below it or above its upper bound.
  if ((c.kind === "length" || c.kind === "count") && c.min > 0) {
    const below = { kind: c.kind, key: `not(${c.key})<`, min: 0, max: c.min - 1 };
    const above = { kind: c.kind, key: `not(${c.key})>`, min: c.max + 1, max: Infinity };
    return c.max === Infinity ? [below] : [below, above];
  }
  const negated = negation(c);
  return negated === undefined ? undefined : [negated];
}

/** One alternative per credential pattern: the string contains a match of it (the union of the patterns). */
function credentialNegation(parts: readonly Constraint[]): Constraint[] | undefined {
  const out: Constraint[] = [];
  for (const part of parts) {
    const negated = negation(part);
    if (negated === undefined) return undefined;
    out.push(negated);
  }
  return out;
}

function fieldSolution(field: InputField, schema: readonly Constraint[], s: State): Solution {
  if (s.absent.has(field.name)) return { found: true, value: undefined };
  const all = [...schema, ...(s.constraints.get(field.name) ?? [])];
  const somes = all.filter((c): c is SomeItem => c.kind === "some");
  const plain = all.filter((c): c is Constraint => c.kind !== "some");
  const shape = { type: field.type, array: field.array };
  if (somes.length === 0) return solve(shape, plain);
  return listWithItems(field, plain, somes);
}

/** A list meeting `plain` with, for each `some`, an item failing what it negates. */
function listWithItems(field: InputField, plain: readonly Constraint[], somes: readonly SomeItem[]): Solution {
  if (!solve({ type: field.type, array: true }, plain).found) return { found: false };
  let min = 0;
  let max = Infinity;
  const element: Constraint[] = [];
  for (const c of plain) {
    if (c.kind === "count") {
      min = Math.max(min, c.min);
      max = Math.min(max, c.max);
    } else if (c.kind === "items") element.push(c.element);
  }
  const scalar = { type: field.type, array: false };
  const items = somes.map((s) => solve(scalar, [...element, s.element]));
  // Each required item must exist on its own, or no list has it.
  if (items.some((i) => !i.found)) return { found: false };
  const filler = solve(scalar, element);
  const fill = (list: unknown[]) => [...list, ...Array.from({ length: Math.max(0, min - list.length) }, () => (filler as { value: unknown }).value)];
  if (Math.max(min, somes.length) <= max) return { found: true, value: fill(items.map((i) => (i as { value: unknown }).value)) };
  const combined = solve(scalar, [...element, ...somes.map((s) => s.element)]);
  if (combined.found && Math.max(min, 1) <= max) return { found: true, value: fill([combined.value]) };
  // Fewer items than requirements: which items can share is a packing problem this search does not solve.
  throw new Undecided(`the list \`${field.name}\` would need more items than its schema allows to fail each condition separately`);
}

function requestInput(space: SearchSpace, s: State): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const field of space.fields) {
    if (s.absent.has(field.name)) continue;
    const constrained = (s.constraints.get(field.name) ?? []).length > 0;
    // Unconstrained optional fields are left out; required ones get any value the schemas accept.
    if (!constrained && (field.optional || space.implicit?.has(field.name) === true)) continue;
    const solution = fieldSolution(field, space.schema.get(field.name) ?? [], s);
    if (!solution.found) throw new Undecided(`no value of \`${field.name}\` is valid for every config`);
    input[field.name] = solution.value;
  }
  return input;
}
