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
import { inputIsValid, policyGoverns, ruleMatches, type RawPolicy, type RawRule, type Request } from "./reference/policy-reference.js";
import { caseArb, inputArb, tool, type Case } from "./support/policy-generators.js";

const RUNS = Number(process.env.KR_PROPERTY_RUNS ?? 10_000);

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
    // About 3 ms a configuration on this 2-core machine in a slow phase: the time allowed grows with RUNS.
  }, 60_000 + RUNS * 6);
});
