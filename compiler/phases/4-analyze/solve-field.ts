// Decides whether some value of a field satisfies a set of constraints, and finds a readable one.
// Results are memoised by the constraints' keys, so rules that share constants share the work.

import type { ScalarType } from "../3-resolve/resolved-config.js";
import type { Atom, Constraint, StringLanguage } from "./constraints.js";
import { NumberSet } from "./number-set.js";
import { intersectAll, shortestWord, TooComplexError } from "./string-language.js";

export interface FieldShape {
  readonly type: ScalarType;
  readonly array: boolean;
}

export type Solution = { readonly found: true; readonly value: unknown } | { readonly found: false };

const EMPTY: Solution = { found: false };
const memo = new Map<string, Solution>();

export function solve(shape: FieldShape, constraints: readonly Constraint[]): Solution {
  const key = `${shape.type}${shape.array ? "[]" : ""}|${constraints.map((c) => c.key).sort().join("\u0000")}`;
  let solution = memo.get(key);
  if (solution === undefined) {
    solution = shape.array ? solveList(shape.type, constraints) : solveScalar(shape.type, constraints);
    memo.set(key, solution);
  }
  return solution;
}

export function solveAtoms(shape: FieldShape, atoms: readonly Atom[]): Solution {
  return solve(shape, atoms.map((a) => a.constraint));
}

/** A smallest subset of `atoms` that is still unsatisfiable (schema atoms are dropped first when possible). */
export function unsatisfiableCore(shape: FieldShape, atoms: readonly Atom[]): Atom[] {
  let core = [...atoms].sort((a, b) => Number(b.fromSchema) - Number(a.fromSchema));
  for (const atom of [...core]) {
    const without = core.filter((a) => a !== atom);
    if (!solveAtoms(shape, without).found) core = without;
  }
  return atoms.filter((a) => core.includes(a));
}

function solveScalar(type: ScalarType, constraints: readonly Constraint[]): Solution {
  switch (type) {
    case "number":
    case "integer": {
      let set = NumberSet.all();
      let integer = type === "integer";
      for (const c of constraints) {
        if (c.kind === "number") set = set.intersect(c.set);
        else if (c.kind === "integer") integer = true;
      }
      const value = set.pick(integer);
      return value === undefined ? EMPTY : { found: true, value };
    }
    case "boolean": {
      let values = [true, false];
      for (const c of constraints) if (c.kind === "boolean") values = values.filter((v) => c.values.includes(v));
      return values.length === 0 ? EMPTY : { found: true, value: values[0] };
    }
    case "string":
      return solveString(constraints);
  }
}

function solveString(constraints: readonly Constraint[]): Solution {
  let min = 0;
  let max = Infinity;
  const languages: StringLanguage[] = [];
  for (const c of constraints) {
    if (c.kind === "length") {
      min = Math.max(min, c.min);
      max = Math.min(max, c.max);
    } else if (c.kind === "language") languages.push(c);
  }
  if (min > max) return EMPTY;
  const finite = languages
    .filter((l) => l.words !== undefined)
    .sort((a, b) => a.words!.length - b.words!.length)[0];
  if (finite !== undefined) {
    // A finite language: check its words directly against every other constraint.
    for (const word of finite.words!) {
      const length = [...word].length;
      if (length >= min && length <= max && languages.every((l) => l.test(word))) return { found: true, value: word };
    }
    return EMPTY;
  }
  // Languages made of parts (no_credentials) join the product one part at a time, and only a part that the
  // current candidate violates: the answer is exact, and the product stays as small as the question needs.
  const eager = languages.filter((l) => l.parts === undefined);
  let pending = languages.flatMap((l) => l.parts ?? []);
  for (;;) {
    const dfa = intersectAll(eager.map((l) => l.dfa()));
    const word = shortestWord(dfa, Math.max(min, 1), max) ?? (min === 0 ? shortestWord(dfa, 0, 0) : undefined);
    if (word === undefined) return EMPTY;
    const violated = pending.filter((p) => !p.test(word));
    if (violated.length === 0) return { found: true, value: word };
    eager.push(...violated);
    pending = pending.filter((p) => !violated.includes(p));
  }
}

/** The most items a list witness is built with. */
const LONGEST_WITNESS_LIST = 100_000;

function solveList(type: ScalarType, constraints: readonly Constraint[]): Solution {
  let min = 0;
  let max = Infinity;
  const element: Constraint[] = [];
  for (const c of constraints) {
    if (c.kind === "count") {
      min = Math.max(min, c.min);
      max = Math.min(max, c.max);
    } else if (c.kind === "items") element.push(c.element);
  }
  if (min > max) return EMPTY;
  if (min === 0) return { found: true, value: [] };
  // A witness holds `min` items: beyond this no request body (1 MiB by default) could carry one, and an
  // array of 1e308 cannot be made at all (it was a RangeError). Too large to decide, said as KR4006.
  if (min > LONGEST_WITNESS_LIST) throw new TooComplexError(`a list of at least ${min} items`);
  const item = solve({ type, array: false }, element);
  return item.found ? { found: true, value: Array.from({ length: min }, () => item.value) } : EMPTY;
}
