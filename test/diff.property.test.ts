// Property test of `keyrunner diff`'s decision analysis against brute force with the reference evaluator
// (test/reference, written independently of the compiler), on random pairs of configs over one tool:
//  - no missed change: every request of a sample whose decision differs between the configs is covered by
//    a reported change (same kind, same old and new rule, for its agent) or an explicit "cannot decide";
//  - no false change: every reported witness is valid and the reference decides it as stated, in both.
// KR_DIFF_PROPERTY_RUNS sets the number of config pairs (default 300; the full suite uses more).

import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { checkSources } from "../compiler/index.js";
import { ANY_OTHER_AGENT, classify, diffDecisions, type DecisionChange, type UndecidedChange } from "../compiler/review/diff-decisions.js";
import type { RuleOutcome } from "../compiler/review/rule-region.js";
import { inputIsValid, ruleMatches, type RawPolicy, type RawTool, type Request } from "./reference/policy-reference.js";
import { agentsArb, inputArb, tool, whenOn } from "./support/policy-generators.js";

const RUNS = Number(process.env.KR_DIFF_PROPERTY_RUNS ?? 300);

interface GenRule {
  effect: "allow" | "deny";
  when: Record<string, unknown>;
  agents: string[] | undefined;
  obligation: "none" | "rate" | "approval";
}

const ruleArb = (fields: string[]) =>
  fc.record({
    effect: fc.constantFrom<"allow" | "deny">("allow", "allow", "deny"),
    when: whenOn(fields),
    agents: agentsArb,
    obligation: fc.constantFrom<GenRule["obligation"]>("none", "none", "rate", "approval"),
  });

/** The new config's tool: usually the same, sometimes with a value constraint of its schema changed. */
const SCHEMA_EDITS: Array<(input: Record<string, any>) => void> = [
  () => {},
  (i) => (i.n = { ...i.n, maximum: 50 }),
  (i) => (i.n = { ...i.n, minimum: 3 }),
  (i) => (i.c = { ...i.c, enum: ["usd", "eur", "gbp", "jpy"] }),
  (i) => (i.c = { ...i.c, enum: ["usd", "gbp"] }),
  (i) => (i.s = { ...i.s, maxLength: 2 }),
  (i) => (i.tags = { ...i.tags, maxItems: 1 }),
];
const toolWith = (edit: number): RawTool & Record<string, unknown> => {
  const variant = structuredClone(tool) as RawTool & Record<string, unknown> & { input: Record<string, any> };
  SCHEMA_EDITS[edit]!(variant.input);
  return variant;
};

/** An old config and a new one: often the old with one rule changed, dropped or added, so most decisions agree. */
const pairArb = fc.subarray(["n", "x", "s", "c", "b", "tags", "ids", "o"], { minLength: 1, maxLength: 2 }).chain((fields) =>
  fc.tuple(fc.array(ruleArb(fields), { minLength: 1, maxLength: 3 }), ruleArb(fields), fc.nat(), fc.constantFrom("replace", "drop", "add", "obligation", "fresh"), fc.array(ruleArb(fields), { maxLength: 3 })).map(
    ([old, extra, at, edit, fresh]) => {
      const next = [...old];
      const i = at % old.length;
      if (edit === "replace") next[i] = extra;
      else if (edit === "drop") next.splice(i, 1);
      else if (edit === "add") next.push(extra);
      else if (edit === "obligation") next[i] = { ...old[i]!, obligation: extra.obligation, effect: "allow" };
      else return { old, next: fresh };
      return { old, next };
    },
  ),
).chain((pair) => fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: SCHEMA_EDITS.length - 1 }) }).map((schemaEdit) => ({ ...pair, schemaEdit })));

function policies(rules: GenRule[]): RawPolicy[] {
  return rules.map((r, i) => {
    const rule: Record<string, unknown> = { tool: "probe", ...(Object.keys(r.when).length > 0 ? { when: r.when } : {}) };
    if (r.effect === "allow" && r.obligation === "rate") rule.rate_limit = { max: 5, per: "1h" };
    if (r.effect === "allow" && r.obligation === "approval") rule.require_approval = true;
    return { policy: `p${i}`, ...(r.agents === undefined ? {} : { agents: r.agents }), [r.effect]: [rule] } as RawPolicy;
  });
}

function outcomeOf(policy: RawPolicy): RuleOutcome {
  const effect = policy.allow ? "allow" : "deny";
  const rule = (policy.allow ?? policy.deny)![0]! as Record<string, unknown>;
  const id = `policies/${policy.policy}.yaml#${effect}[0]`;
  if (effect === "deny") return { decision: "deny", rule: id };
  return {
    decision: rule.require_approval ? "pending_approval" : "allow",
    rule: id,
    ...(rule.require_approval ? { approval: { expiresSeconds: 3600 } } : {}),
    ...(rule.rate_limit ? { rateLimit: { max: 5, perSeconds: 3600 } } : {}),
  };
}

/** The reference decision: invalid input, the one matching rule (the configs were proven disjoint), or the default deny. */
function decide(probe: RawTool, config: RawPolicy[], request: Request): RuleOutcome {
  if (!inputIsValid(probe, request.input)) return { decision: "invalid" };
  const matching = config.filter((p) => ruleMatches(probe, p, (p.allow ?? p.deny)![0]!, request));
  expect(matching.length, `at most one rule matches ${JSON.stringify(request)}`).toBeLessThanOrEqual(1);
  return matching.length === 0 ? { decision: "deny" } : outcomeOf(matching[0]!);
}

function analyse(probe: RawTool, config: RawPolicy[]) {
  const files = [
    { path: "tools/probe.yaml", kind: "tool" as const, text: stringify(probe) },
    ...config.map((p) => ({ path: `policies/${p.policy}.yaml`, kind: "policy" as const, text: stringify(JSON.parse(JSON.stringify(p))) })),
  ];
  return checkSources(files).analysis;
}

describe("keyrunner diff against brute force", () => {
  it(`misses no change and reports no false one on ${RUNS} config pairs`, () => {
    let compared = 0;
    let changesFound = 0;
    let witnessesReplayed = 0;
    let undecided = 0;
    fc.assert(
      fc.property(pairArb, fc.array(inputArb, { minLength: 60, maxLength: 60 }), ({ old, next, schemaEdit }, requests) => {
        const [oldConfig, newConfig] = [policies(old), policies(next)];
        const newTool = toolWith(schemaEdit);
        const [oldAnalysis, newAnalysis] = [analyse(tool, oldConfig), analyse(newTool, newConfig)];
        // Only configs that check can be compared (overlapping or unreachable rules are errors).
        if (oldAnalysis === undefined || newAnalysis === undefined) return;
        compared++;
        const changes = diffDecisions(oldAnalysis, newAnalysis);
        const named = new Set([...oldConfig, ...newConfig].flatMap((p) => p.agents ?? []));
        for (const c of changes) {
          if (c.kind === "undecided") {
            undecided++;
            continue;
          }
          const w = c.witness;
          expect(inputIsValid(tool, w.input) || inputIsValid(newTool, w.input), `witness is valid for one config: ${JSON.stringify(c)}`).toBe(true);
          const request: Request = { agent: w.agent, tool: w.tool, input: w.input, ...(w.reason === undefined ? {} : { reason: w.reason }) };
          expect(decide(tool, oldConfig, request), `old decision of ${JSON.stringify(c)}`).toEqual(c.old);
          expect(decide(newTool, newConfig, request), `new decision of ${JSON.stringify(c)}`).toEqual(c.new);
          witnessesReplayed++;
        }
        for (const request of requests) {
          const [o, n] = [decide(tool, oldConfig, request), decide(newTool, newConfig, request)];
          const kind = classify(o, n);
          if (kind === undefined) continue;
          changesFound++;
          const label = named.has(request.agent) ? request.agent : ANY_OTHER_AGENT;
          const covered = changes.some(
            (c: DecisionChange | UndecidedChange) => (c.kind === kind || c.kind === "undecided") && c.agents.includes(label) && c.old?.rule === o.rule && c.new?.rule === n.rule,
          );
          expect(covered, `the change for ${JSON.stringify(request)} (${JSON.stringify(o)} → ${JSON.stringify(n)}) is reported: ${JSON.stringify(changes)}`).toBe(true);
        }
      }),
      { numRuns: RUNS, seed: process.env.KR_PROPERTY_SEED === undefined ? undefined : Number(process.env.KR_PROPERTY_SEED) },
    );
    // The generator must produce comparable pairs with real changes, or the property says little.
    expect(compared).toBeGreaterThan(RUNS / 6);
    expect(changesFound).toBeGreaterThan(compared / 4);
    expect(witnessesReplayed).toBeGreaterThan(compared / 4);
    console.log(`diff property: ${compared} of ${RUNS} pairs compared, ${witnessesReplayed} witnesses replayed, ${changesFound} sampled changes all reported, ${undecided} undecided`);
  }, 120_000 + RUNS * 50);
});
