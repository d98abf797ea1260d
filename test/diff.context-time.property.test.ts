// Property test of `keyrunner diff` on random config pairs whose rules test context keys and time windows,
// against brute force over every context of a small context.yaml and every half hour of a January week
// (the windows start and end on half hours). The reference evaluates context conditions and windows from
// the semantics on the runtime's clock reading (Intl), independently of the compiler.
//  - no missed change: every sampled (context, instant) whose decision differs is covered by a reported
//    change (same kind, same old and new rule) or an explicit "cannot decide";
//  - no false change: every witness, decided by the reference in its context and at its instant, gets the
//    stated old and new decisions;
//  - windows in one zone on both sides are decided (the generator mostly uses one zone); undecided
//    only where the compared windows are in several zones.
// KR_DIFF_PROPERTY_RUNS sets the number of config pairs (default 300).

import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { checkSources } from "../compiler/index.js";
import { classify, diffDecisions, type DecisionChange } from "../compiler/review/diff-decisions.js";
import type { RuleOutcome } from "../compiler/review/rule-region.js";
import { localMinuteOfWeek } from "../runtime-template/contract/time-window.js";
import { CONTEXT, contextArb, inWindowReference, type ContextCondition, type Key, type Rule, when, windowArb } from "./support/context-time-rules.js";

const RUNS = Number(process.env.KR_DIFF_PROPERTY_RUNS ?? 300);
/** Sampled: every half hour of the week from Sunday 2027-01-03 12:00 UTC (covers every zone's Monday). */
const SAMPLE_START = Date.UTC(2027, 0, 3, 12);
const SAMPLES = 7 * 48 + 48;

/** One zone for the pair, and now and then a second one. */
const zoneArb = fc.constantFrom("Europe/Berlin", "America/New_York", "Asia/Kolkata");
const ruleArb = (zone: fc.Arbitrary<string>): fc.Arbitrary<Rule> =>
  fc.record({
    context: fc.subarray(["environment", "freeze"] as Key[]).chain((keys) => fc.tuple(...keys.map(contextArb))).map((c) => [...c]),
    window: fc.option(windowArb(zone), { nil: undefined, freq: 2 }),
  });

const pairArb = fc
  .tuple(zoneArb, fc.option(zoneArb, { nil: undefined, freq: 6 }))
  .chain(([zone, second]) => {
    const zones = second === undefined ? fc.constant(zone) : fc.constantFrom(zone, second);
    return fc.tuple(fc.array(ruleArb(zones), { minLength: 1, maxLength: 3 }), ruleArb(zones), fc.nat(), fc.constantFrom("replace", "drop", "add", "fresh"), fc.array(ruleArb(zones), { maxLength: 3 }));
  })
  .map(([old, extra, at, edit, fresh]) => {
    const next = [...old];
    const i = at % old.length;
    if (edit === "replace") next[i] = extra;
    else if (edit === "drop") next.splice(i, 1);
    else if (edit === "add") next.push(extra);
    else return { old, next: fresh };
    return { old, next };
  });

function matches(rule: Rule, context: Partial<Record<Key, string>>, epochMs: number): boolean {
  const holds = (c: ContextCondition) => {
    const value = context[c.key];
    // An unset key fails every condition on it.
    if (value === undefined) return false;
    return c.operator === "not_in" ? !c.values.includes(value) : c.values.includes(value);
  };
  return rule.context.every(holds) && (rule.window === undefined || inWindowReference(rule.window, localMinuteOfWeek(epochMs, rule.window.zone)));
}

/** Each rule its own policy: `policies/p<i>.yaml#allow[0]`. */
function sources(rules: Rule[]) {
  return [
    { path: "context.yaml", kind: "context" as const, text: stringify({ context: CONTEXT }) },
    { path: "tools/probe.yaml", kind: "tool" as const, text: 'tool: probe\ndescription: probe\ninput: {}\nrun:\n  type: exec\n  command: ["true"]\n' },
    ...rules.map((r, i) => ({ path: `policies/p${i}.yaml`, kind: "policy" as const, text: stringify({ policy: `p${i}`, allow: [{ tool: "probe", ...(Object.keys(when(r)).length > 0 ? { when: when(r) } : {}) }] }) })),
  ];
}

function decide(rules: Rule[], context: Partial<Record<Key, string>>, epochMs: number): RuleOutcome {
  const matching = rules.flatMap((r, i) => (matches(r, context, epochMs) ? [i] : []));
  expect(matching.length).toBeLessThanOrEqual(1);
  return matching.length === 0 ? { decision: "deny" } : { decision: "allow", rule: `policies/p${matching[0]}.yaml#allow[0]` };
}

const contexts: Array<Record<Key, string>> = CONTEXT.environment.flatMap((environment) => CONTEXT.freeze.map((freeze) => ({ environment, freeze })));

describe("keyrunner diff with context and time windows against brute force", () => {
  it(`misses no change and reports no false one on ${RUNS} config pairs`, () => {
    let compared = 0;
    let witnesses = 0;
    let sampledChanges = 0;
    let undecidedOneZone = 0;
    let undecided = 0;
    fc.assert(
      fc.property(pairArb, ({ old, next }) => {
        const [a, b] = [checkSources(sources(old)).analysis, checkSources(sources(next)).analysis];
        if (a === undefined || b === undefined) return;
        compared++;
        const changes = diffDecisions(a, b);
        const zones = new Set([...old, ...next].flatMap((r) => (r.window ? [r.window.zone] : [])));
        for (const c of changes) {
          if (c.kind === "undecided") {
            undecided++;
            if (zones.size <= 1) undecidedOneZone++;
            expect(zones.size > 1, `undecided only with several zones: ${JSON.stringify(c)}`).toBe(true);
            continue;
          }
          const w = (c as DecisionChange).witness;
          const at = w.at === undefined ? Date.UTC(2027, 0, 4) : Date.parse(w.at);
          const context = (w.context ?? {}) as Partial<Record<Key, string>>;
          for (const [key, value] of Object.entries(context)) expect(CONTEXT[key as Key] as readonly string[]).toContain(value);
          expect(decide(old, context, at), `old decision of ${JSON.stringify(c)}`).toEqual(c.old);
          expect(decide(next, context, at), `new decision of ${JSON.stringify(c)}`).toEqual(c.new);
          witnesses++;
        }
        for (const context of contexts) {
          for (let s = 0; s < SAMPLES; s++) {
            const t = SAMPLE_START + s * 30 * 60_000;
            const [o, n] = [decide(old, context, t), decide(next, context, t)];
            const kind = classify(o, n);
            if (kind === undefined) continue;
            sampledChanges++;
            const covered = changes.some((c) => (c.kind === kind || c.kind === "undecided") && c.old?.rule === o.rule && c.new?.rule === n.rule);
            expect(covered, `the change in ${JSON.stringify(context)} at ${new Date(t).toISOString()} (${JSON.stringify(o)} → ${JSON.stringify(n)}) is reported: ${JSON.stringify(changes)}`).toBe(true);
          }
        }
      }),
      { numRuns: RUNS, seed: process.env.KR_PROPERTY_SEED === undefined ? undefined : Number(process.env.KR_PROPERTY_SEED) },
    );
    expect(compared).toBeGreaterThan(RUNS / 6);
    expect(witnesses).toBeGreaterThan(compared / 4);
    expect(undecidedOneZone).toBe(0);
    console.log(`diff context/time property: ${compared} of ${RUNS} pairs compared, ${witnesses} witnesses replayed, ${sampledChanges} sampled changes all reported, ${undecided} undecided (several zones)`);
  }, 120_000 + RUNS * 200);
});
