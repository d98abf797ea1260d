// Property test: the analyser against the reference evaluator (test/reference), on random rule pairs
// over one tool with every field kind, and random requests built from the same constants.
//  - every overlap witness is a valid request that both rules really match;
//  - no pair the analyser calls disjoint is matched by any generated request;
//  - no rule the analyser calls unreachable is matched by any generated request.
// KR_PROPERTY_RUNS sets the number of configurations (default 10,000).

import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { checkSources } from "../compiler/index.js";
import { inputIsValid, policyGoverns, ruleMatches, type RawPolicy, type RawRule, type RawTool, type Request } from "./reference/policy-reference.js";

const RUNS = Number(process.env.KR_PROPERTY_RUNS ?? 10_000);

const tool: RawTool & Record<string, unknown> = {
  tool: "probe",
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
    url: "https://api.example.com/v1/probe",
    body: { n: "${n}", x: "${x}", s: "${s}", c: "${c}", b: "${b}", tags: "${tags}", ids: "${ids}", o: "${o}" },
  },
};

const INTS = [-1, 0, 1, 2, 3, 5, 10, 50, 99, 100, 101];
const NUMS = [-1, 0, 0.25, 0.5, 1, 2, 2.5, 3, 4];
const STRS = ["", "a", "b", "ab", "ba", "abc", "aab", "pi_", "pi_t", "bb", "c", "cab", "abcdefg"];
const AFFIXES = ["", "a", "b", "ab", "pi_", "c"];
const REGEXES = ["^a", "b$", "^a[a-z]*b$", "^[ab]+$", "c", "^$", "^.{2}$", "^(a|pi_)", "[0-9]"];
const CURRENCIES = ["usd", "eur", "gbp", "jpy"];
const CURRENCY_REGEXES = ["^e", "d$", "^(usd|gbp)$", "p$"];
const TAGS = ["a", "b", "ab", "x"];
const TAG_REGEXES = ["^a", "b$", "^[ab]+$"];
const AGENTS = ["a1", "a2", "a3"];

const sub = <T>(pool: readonly T[], min = 1) => fc.subarray([...pool], { minLength: min });
const ops = (...arbs: fc.Arbitrary<Record<string, unknown>>[]) => fc.oneof(...arbs);
const op = <T>(name: string, arb: fc.Arbitrary<T>) => arb.map((v) => ({ [name]: v }));

const conditionByField: Record<string, fc.Arbitrary<[string, unknown]>> = {
  n: fc.oneof(
    fc.tuple(fc.constantFrom("max_n", "min_n"), fc.constantFrom(...INTS)),
    ops(op("min", fc.constantFrom(...INTS, 2.5)), op("max", fc.constantFrom(...INTS)), op("equals", fc.constantFrom(...INTS)), op("in", sub(INTS)), op("not_in", sub(INTS)),
      fc.tuple(fc.constantFrom(...INTS), fc.constantFrom(...INTS)).map(([a, b]) => ({ min: a, max: b }))).map((o) => ["n", o] as [string, unknown]),
  ),
  x: ops(op("min", fc.constantFrom(...NUMS)), op("max", fc.constantFrom(...NUMS)), op("equals", fc.constantFrom(...NUMS)), op("not_in", sub(NUMS))).map((o) => ["x", o]),
  s: ops(
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
  ).map((o) => ["s", o]),
  c: ops(op("equals", fc.constantFrom(...CURRENCIES)), op("in", sub(CURRENCIES)), op("not_in", sub(CURRENCIES)), op("starts_with", fc.constantFrom("e", "u", "g", "")), op("matches", fc.constantFrom(...CURRENCY_REGEXES))).map((o) => ["c", o]),
  b: op("equals", fc.boolean()).map((o) => ["b", o]),
  tags: ops(op("subset_of", sub(TAGS, 0)), op("each_matches", fc.constantFrom(...TAG_REGEXES)), op("max_items", fc.integer({ min: 0, max: 3 }))).map((o) => ["tags", o]),
  ids: ops(op("subset_of", sub([1, 2, 3], 0)), op("max_items", fc.integer({ min: 0, max: 2 }))).map((o) => ["ids", o]),
  o: ops(op("equals", fc.constantFrom(...STRS)), op("starts_with", fc.constantFrom(...AFFIXES))).map((o) => ["o", o]),
};

/** Conditions on a subset of `fields`, and maybe require_reason. */
const whenOn = (fields: readonly string[]): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .tuple(fc.subarray([...fields]).chain((chosen) => fc.tuple(...chosen.map((f) => conditionByField[f]!))), fc.boolean())
    .map(([conditions, requireReason]) => {
      const when: Record<string, unknown> = Object.fromEntries(conditions);
      if (requireReason) when.require_reason = true;
      return when;
    });

const agentsArb = fc.oneof(
  { weight: 9, arbitrary: fc.constantFrom<string[] | undefined>(undefined, ["a1"], ["a2"], ["a1", "a2"]) },
  { weight: 1, arbitrary: fc.constant<string[]>([]) },
);

interface Case {
  samePolicy: boolean;
  effects: ["allow" | "deny", "allow" | "deny"];
  whens: [Record<string, unknown>, Record<string, unknown>];
  agents: [string[] | undefined, string[] | undefined];
}

// Both rules draw their conditions from one small set of fields, so that they often constrain the
// same field and the interesting verdicts (disjoint, overlapping, contradictory) all come up.
const caseArb: fc.Arbitrary<Case> = fc.subarray(Object.keys(conditionByField), { minLength: 1, maxLength: 3 }).chain((fields) =>
  fc.record({
    samePolicy: fc.boolean(),
    effects: fc.tuple(fc.constantFrom("allow" as const, "deny" as const), fc.constantFrom("allow" as const, "deny" as const)),
    whens: fc.tuple(whenOn(fields), whenOn(fields)),
    agents: fc.tuple(agentsArb, agentsArb),
  }),
);

const inputArb: fc.Arbitrary<Request> = fc
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

interface PlacedRule {
  id: string;
  policy: RawPolicy;
  rule: RawRule;
}

function place(c: Case): { files: { path: string; kind: "tool" | "policy"; text: string }[]; rules: [PlacedRule, PlacedRule] } {
  const rules = c.whens.map((when) => ({ tool: "probe", ...(Object.keys(when).length > 0 ? { when } : {}) })) as [RawRule, RawRule];
  const policies: RawPolicy[] = [];
  let placed: [PlacedRule, PlacedRule];
  if (c.samePolicy) {
    const policy: RawPolicy = { policy: "p1", ...(c.agents[0] === undefined ? {} : { agents: c.agents[0] }) };
    const add = (i: 0 | 1): PlacedRule => {
      const list = (policy[c.effects[i]] ??= []);
      list.push(rules[i]);
      return { id: `policies/p1.yaml#${c.effects[i]}[${list.length - 1}]`, policy, rule: rules[i] };
    };
    placed = [add(0), add(1)];
    policies.push(policy);
  } else {
    const make = (i: 0 | 1): PlacedRule => {
      const policy: RawPolicy = { policy: `p${i + 1}`, ...(c.agents[i] === undefined ? {} : { agents: c.agents[i] }), [c.effects[i]]: [rules[i]] };
      policies.push(policy);
      return { id: `policies/p${i + 1}.yaml#${c.effects[i]}[0]`, policy, rule: rules[i] };
    };
    placed = [make(0), make(1)];
  }
  const clean = (p: RawPolicy) => JSON.parse(JSON.stringify(p)) as object;
  return {
    files: [
      { path: "tools/probe.yaml", kind: "tool", text: stringify(tool) },
      ...policies.map((p) => ({ path: `policies/${p.policy}.yaml`, kind: "policy" as const, text: stringify(clean(p)) })),
    ],
    rules: placed,
  };
}

describe("analyser against the reference evaluator", () => {
  it(`agrees on ${RUNS} random rule pairs`, () => {
    let overlaps = 0;
    let unreachable = 0;
    let disjoint = 0;
    let disjointChecksThatMatchedOne = 0;
    fc.assert(
      fc.property(caseArb, fc.array(inputArb, { minLength: 40, maxLength: 40 }), (c, requests) => {
        const { files, rules } = place(c);
        const result = checkSources(files);
        const unexpected = result.diagnostics.filter((d) => d.severity === "error" && d.code !== "KR4001" && d.code !== "KR4002");
        expect(unexpected).toEqual([]);
        const unreachableIds = new Set(
          rules.filter((r) => result.diagnostics.some((d) => d.code === "KR4001" && d.message.includes(`rule ${r.id} `))).map((r) => r.id),
        );
        for (const r of rules) if (r.policy.agents?.length === 0) unreachableIds.add(r.id);
        const overlap = result.diagnostics.find((d) => d.code === "KR4002");
        const valid = requests.filter((req) => inputIsValid(tool, req.input));
        const matches = (r: PlacedRule, req: Request) => ruleMatches(tool, r.policy, r.rule, req);

        for (const r of rules) {
          if (!unreachableIds.has(r.id)) {
            // Reachable: the analysis must hold a concrete request that matches, valid for the tool.
            const w = result.analysis?.ruleWitnesses.get(r.id);
            if (result.analysis !== undefined) {
              expect(w, `a witness for reachable ${r.id}`).toBeDefined();
              const request: Request = { agent: w!.agent, tool: w!.tool, input: w!.input, ...(w!.reason === undefined ? {} : { reason: w!.reason }) };
              expect(inputIsValid(tool, w!.input), `rule witness is valid: ${JSON.stringify(w)}`).toBe(true);
              expect(matches(r, request), `rule witness matches ${r.id}: ${JSON.stringify(w)}`).toBe(true);
            }
            continue;
          }
          unreachable++;
          for (const req of valid) expect(matches(r, req), `${r.id} is called unreachable but matches ${JSON.stringify(req)}`).toBe(false);
        }
        if (overlap !== undefined) {
          overlaps++;
          expect([...overlap.rules!].sort()).toEqual([rules[0].id, rules[1].id].sort());
          const w = overlap.witness!;
          expect(inputIsValid(tool, w.input), `witness input is valid: ${JSON.stringify(w)}`).toBe(true);
          expect(policyGoverns(rules[0].policy, w.agent) && policyGoverns(rules[1].policy, w.agent)).toBe(true);
          const request: Request = { agent: w.agent, tool: w.tool, input: w.input, ...(w.reason === undefined ? {} : { reason: w.reason }) };
          expect(matches(rules[0], request), `witness matches ${rules[0].id}: ${JSON.stringify(w)}`).toBe(true);
          expect(matches(rules[1], request), `witness matches ${rules[1].id}: ${JSON.stringify(w)}`).toBe(true);
        } else if (unreachableIds.size === 0) {
          disjoint++;
          for (const req of valid) {
            const [a, b] = [matches(rules[0], req), matches(rules[1], req)];
            expect(a && b, `disjoint rules both match ${JSON.stringify(req)}`).toBe(false);
            if (a || b) disjointChecksThatMatchedOne++;
          }
        }
      }),
      { numRuns: RUNS, seed: process.env.KR_PROPERTY_SEED === undefined ? undefined : Number(process.env.KR_PROPERTY_SEED) },
    );
    // The generator must exercise every verdict, or the property says little.
    expect(overlaps).toBeGreaterThan(RUNS / 20);
    expect(disjoint).toBeGreaterThan(RUNS / 20);
    expect(unreachable).toBeGreaterThan(RUNS / 100);
    // Requests must often match one of two disjoint rules, or "never both" would hold vacuously.
    expect(disjointChecksThatMatchedOne).toBeGreaterThan(disjoint);
    console.log(
      `analyser property: ${RUNS} configurations — ${overlaps} overlaps, ${disjoint} disjoint pairs ` +
        `(${disjointChecksThatMatchedOne} requests matched one of them), ${unreachable} unreachable rules`,
    );
  });
});
