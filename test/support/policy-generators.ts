// Random tools, rules and requests for property tests: one tool with every field kind, conditions
// drawn from small constant pools (so rules often constrain the same values), and requests built from
// the same constants.

import fc from "fast-check";
import type { RawTool, Request } from "../reference/policy-reference.js";

export function probeTool(name = "probe", url = "https://api.example.com/v1/probe"): RawTool & Record<string, unknown> {
  return {
  tool: name,
  description: "property-test tool with one field of each kind",
  input: {
    n: { type: "integer", minimum: 0, maximum: 100 },
    x: "number",
    s: { type: "string", maxLength: 6 },
    c: { type: "string", enum: ["usd", "eur", "gbp"] },
    b: "boolean",
    tags: { type: "string[]", maxItems: 3 },
    ids: { type: "integer[]", optional: true },
    o: "string?",
  },
  run: {
    type: "http",
    method: "POST",
    url,
    body: { n: "${n}", x: "${x}", s: "${s}", c: "${c}", b: "${b}", tags: "${tags}", ids: "${ids}", o: "${o}" },
  },
};
}

export const tool = probeTool();

const INTS = [-1, 0, 1, 2, 3, 5, 10, 50, 99, 100, 101];
const NUMS = [-1, 0, 0.25, 0.5, 1, 2, 2.5, 3, 4];
const STRS = ["", "a", "b", "ab", "ba", "abc", "aab", "pi_", "pi_t", "bb", "c", "cab", "abcdefg", "A", "Ab", "PI_T", "aB"];
const AFFIXES = ["", "a", "b", "ab", "pi_", "c", "B", "Pi_"];
const REGEXES = ["^a", "b$", "^a[a-z]*b$", "^[ab]+$", "c", "^$", "^.{2}$", "^(a|pi_)", "[0-9]"];
const CURRENCIES = ["usd", "eur", "gbp", "jpy"];
const CURRENCY_REGEXES = ["^e", "d$", "^(usd|gbp)$", "p$"];
const TAGS = ["a", "b", "ab", "x", "A", "aB"];
const TAG_REGEXES = ["^a", "b$", "^[ab]+$"];
const AGENTS = ["a1", "a2", "a3"];

const sub = <T>(pool: readonly T[], min = 1) => fc.subarray([...pool], { minLength: min });
const ops = (...arbs: fc.Arbitrary<Record<string, unknown>>[]) => fc.oneof(...arbs);
const op = <T>(name: string, arb: fc.Arbitrary<T>) => arb.map((v) => ({ [name]: v }));
/** The same operators, sometimes with `ignore_case: true`. */
const maybeCaseless = (arb: fc.Arbitrary<Record<string, unknown>>) =>
  fc.tuple(arb, fc.integer({ min: 0, max: 2 })).map(([o, n]) => (n === 0 ? { ...o, ignore_case: true } : o));

const conditionByField: Record<string, fc.Arbitrary<[string, unknown]>> = {
  n: fc.oneof(
    fc.tuple(fc.constantFrom("max_n", "min_n"), fc.constantFrom(...INTS)),
    ops(op("min", fc.constantFrom(...INTS, 2.5)), op("max", fc.constantFrom(...INTS)), op("equals", fc.constantFrom(...INTS)), op("in", sub(INTS)), op("not_in", sub(INTS)),
      fc.tuple(fc.constantFrom(...INTS), fc.constantFrom(...INTS)).map(([a, b]) => ({ min: a, max: b }))).map((o) => ["n", o] as [string, unknown]),
  ),
  x: ops(op("min", fc.constantFrom(...NUMS)), op("max", fc.constantFrom(...NUMS)), op("equals", fc.constantFrom(...NUMS)), op("not_in", sub(NUMS))).map((o) => ["x", o]),
  s: maybeCaseless(ops(
    op("equals", fc.constantFrom(...STRS)),
    op("in", sub(STRS)),
    op("not_in", sub(STRS)),
    op("starts_with", fc.constantFrom(...AFFIXES)),
    op("not_starts_with", fc.constantFrom(...AFFIXES)),
    op("ends_with", fc.constantFrom(...AFFIXES)),
    op("not_ends_with", fc.constantFrom(...AFFIXES)),
    op("matches", fc.constantFrom(...REGEXES)),
    op("not_matches", fc.constantFrom(...REGEXES)),
    op("max_length", fc.integer({ min: 0, max: 7 })),
    fc.tuple(fc.constantFrom(...AFFIXES), fc.constantFrom(...REGEXES)).map(([p, r]) => ({ starts_with: p, not_matches: r })),
  )).map((o) => ["s", o]),
  c: ops(op("equals", fc.constantFrom(...CURRENCIES)), op("in", sub(CURRENCIES)), op("not_in", sub(CURRENCIES)), op("starts_with", fc.constantFrom("e", "u", "g", "")), op("matches", fc.constantFrom(...CURRENCY_REGEXES))).map((o) => ["c", o]),
  b: op("equals", fc.boolean()).map((o) => ["b", o]),
  tags: maybeCaseless(ops(op("subset_of", sub(TAGS, 0)), op("each_matches", fc.constantFrom(...TAG_REGEXES)), op("max_items", fc.integer({ min: 0, max: 3 })))).map((o) => ["tags", o]),
  ids: ops(op("subset_of", sub([1, 2, 3], 0)), op("max_items", fc.integer({ min: 0, max: 2 }))).map((o) => ["ids", o]),
  o: ops(op("equals", fc.constantFrom(...STRS)), op("starts_with", fc.constantFrom(...AFFIXES))).map((o) => ["o", o]),
};

/** Conditions on a subset of `fields`, and maybe require_reason. */
export const whenOn = (fields: readonly string[]): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .tuple(fc.subarray([...fields]).chain((chosen) => fc.tuple(...chosen.map((f) => conditionByField[f]!))), fc.boolean())
    .map(([conditions, requireReason]) => {
      const when: Record<string, unknown> = Object.fromEntries(conditions);
      if (requireReason) when.require_reason = true;
      return when;
    });

export const agentsArb = fc.oneof(
  { weight: 9, arbitrary: fc.constantFrom<string[] | undefined>(undefined, ["a1"], ["a2"], ["a1", "a2"]) },
  { weight: 1, arbitrary: fc.constant<string[]>([]) },
);

export interface Case {
  samePolicy: boolean;
  effects: ["allow" | "deny", "allow" | "deny"];
  whens: [Record<string, unknown>, Record<string, unknown>];
  agents: [string[] | undefined, string[] | undefined];
}

// Both rules draw their conditions from one small set of fields, so that they often constrain the
// same field and the interesting verdicts (disjoint, overlapping, contradictory) all come up.
export const caseArb: fc.Arbitrary<Case> = fc.subarray(Object.keys(conditionByField), { minLength: 1, maxLength: 3 }).chain((fields) =>
  fc.record({
    samePolicy: fc.boolean(),
    effects: fc.tuple(fc.constantFrom("allow" as const, "deny" as const), fc.constantFrom("allow" as const, "deny" as const)),
    whens: fc.tuple(whenOn(fields), whenOn(fields)),
    agents: fc.tuple(agentsArb, agentsArb),
  }),
);

export const inputArb: fc.Arbitrary<Request> = fc
  .record({
    agent: fc.constantFrom(...AGENTS),
    reason: fc.constantFrom<string | undefined>(undefined, "", "because the customer asked"),
    n: fc.constantFrom(...INTS),
    x: fc.constantFrom(...NUMS),
    s: fc.constantFrom(...STRS),
    c: fc.constantFrom(...CURRENCIES),
    b: fc.boolean(),
    tags: fc.array(fc.constantFrom(...TAGS), { maxLength: 4 }),
    ids: fc.option(fc.array(fc.constantFrom(1, 2, 3, 4), { maxLength: 3 }), { nil: undefined }),
    o: fc.option(fc.constantFrom(...STRS), { nil: undefined }),
  })
  .map(({ agent, reason, ids, o, ...fields }) => ({
    agent,
    tool: "probe",
    input: { ...fields, ...(ids === undefined ? {} : { ids }), ...(o === undefined ? {} : { o }) },
    ...(reason === undefined ? {} : { reason }),
  }));

