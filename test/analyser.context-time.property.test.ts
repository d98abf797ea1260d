// Property test: the analyser on random rule pairs with context conditions and time windows, against brute
// force over every context of a small context.yaml and every minute of two weeks — one in January, and one
// in March when New York has moved to summer time and Berlin has not, so the zones' offsets differ by an
// hour less than usual. The reference evaluates windows independently of the compiler, on the runtime's
// clock reading (Intl), minute by minute.
//  - no missed overlap: if some context and minute satisfy both rules, the analyser reports the overlap;
//  - no false overlap: every overlap witness (its context and instant) satisfies both rules;
//  - a witness for each rule satisfies it.
// KR_CONTEXT_TIME_RUNS sets the number of pairs (default 1000).

import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { checkSources } from "../compiler/index.js";
import { localMinuteOfWeek } from "../runtime-template/contract/time-window.js";
import { CONTEXT, contextArb, inWindowReference, type Key, type Rule, when, windowArb } from "./support/context-time-rules.js";

const RUNS = Number(process.env.KR_CONTEXT_TIME_RUNS ?? 1000);
const ZONES = ["UTC", "Asia/Tokyo", "Asia/Kolkata", "Europe/Berlin", "America/New_York"] as const;
const WEEKS = [Date.UTC(2026, 0, 5), Date.UTC(2026, 2, 9)];
const MINUTES = 7 * 1440;

const windowInZones = windowArb(fc.constantFrom(...ZONES));
const ruleArb: fc.Arbitrary<Rule> = fc.record({
  context: fc.subarray(["environment", "freeze"] as Key[]).chain((keys) => fc.tuple(...keys.map(contextArb))).map((c) => [...c]),
  window: fc.option(windowInZones, { nil: undefined }),
});

const localMinutes = new Map<string, Int16Array>();
/** Each zone's clock reading (local minute of the week) at each UTC minute of the sampled weeks. */
function clockOf(zone: string): Int16Array {
  let clock = localMinutes.get(zone);
  if (clock === undefined) {
    clock = new Int16Array(WEEKS.length * MINUTES);
    WEEKS.forEach((start, w) => {
      for (let m = 0; m < MINUTES; m++) clock![w * MINUTES + m] = localMinuteOfWeek(start + m * 60_000, zone);
    });
    localMinutes.set(zone, clock);
  }
  return clock;
}

function contextHolds(rule: Rule, context: Record<Key, string>): boolean {
  return rule.context.every((c) => (c.operator === "not_in" ? !c.values.includes(context[c.key]) : c.values.includes(context[c.key])));
}

function matchesAt(rule: Rule, context: Record<Key, string>, epochMs: number): boolean {
  return contextHolds(rule, context) && (rule.window === undefined || inWindowReference(rule.window, localMinuteOfWeek(epochMs, rule.window.zone)));
}

const contexts: Array<Record<Key, string>> = CONTEXT.environment.flatMap((environment) => CONTEXT.freeze.map((freeze) => ({ environment, freeze })));

/** A context and a sampled minute both rules hold at, or undefined. */
function bruteForce(a: Rule, b: Rule): { context: Record<Key, string>; minute: number } | undefined {
  for (const context of contexts) {
    if (!contextHolds(a, context) || !contextHolds(b, context)) continue;
    const ca = a.window ? clockOf(a.window.zone) : undefined;
    const cb = b.window ? clockOf(b.window.zone) : undefined;
    for (let i = 0; i < WEEKS.length * MINUTES; i++) {
      if ((ca === undefined || inWindowReference(a.window!, ca[i]!)) && (cb === undefined || inWindowReference(b.window!, cb[i]!))) return { context, minute: i };
    }
  }
  return undefined;
}

describe("analyser with context and time against brute force", () => {
  it(`agrees on ${RUNS} random rule pairs`, () => {
    let overlaps = 0;
    let disjoint = 0;
    let crossZone = 0;
    fc.assert(
      fc.property(ruleArb, ruleArb, (a, b) => {
        const files = [
          { path: "context.yaml", kind: "context" as const, text: stringify({ context: CONTEXT }) },
          { path: "tools/probe.yaml", kind: "tool" as const, text: "tool: probe\ndescription: probe\ninput: {}\nrun:\n  type: exec\n  command: [\"true\"]\n" },
          { path: "policies/p.yaml", kind: "policy" as const, text: stringify({ policy: "p", allow: [a, b].map((r) => ({ tool: "probe", ...(Object.keys(when(r)).length > 0 ? { when: when(r) } : {}) })) }) },
        ];
        const result = checkSources(files);
        const errors = result.diagnostics.filter((d) => d.severity === "error");
        // Context conditions over declared values may contradict themselves (`in: [a]` with `not_in: [a]` cannot be
        // written on one key here), so the only verdicts are overlap or none.
        expect(errors.filter((d) => d.code !== "KR4002" && d.code !== "KR4001")).toEqual([]);
        const unreachable = errors.filter((d) => d.code === "KR4001");
        for (const d of unreachable) {
          const rule = d.message.includes("allow[0]") ? a : b;
          for (const context of contexts) expect(contextHolds(rule, context), `unreachable but holds in ${JSON.stringify(context)}`).toBe(false);
        }
        if (unreachable.length > 0) return;
        const overlap = errors.find((d) => d.code === "KR4002");
        const found = bruteForce(a, b);
        if (a.window && b.window && a.window.zone !== b.window.zone) crossZone++;
        if (overlap === undefined) {
          disjoint++;
          expect(found, `called disjoint, but both hold in ${JSON.stringify(found?.context)} at minute ${found?.minute}: ${JSON.stringify([when(a), when(b)])}`).toBeUndefined();
        } else {
          overlaps++;
          const w = overlap.witness!;
          const context = { environment: "development", freeze: "none", ...(w.context ?? {}) } as Record<Key, string>;
          const at = w.at === undefined ? WEEKS[0]! : Date.parse(w.at);
          if (a.window || b.window) expect(w.at, "a witness instant when a rule has a window").toBeDefined();
          expect(matchesAt(a, context, at) && matchesAt(b, context, at), `witness ${JSON.stringify(w)} satisfies both ${JSON.stringify([when(a), when(b)])}`).toBe(true);
        }
        for (const [rule, id] of [[a, "policies/p.yaml#allow[0]"], [b, "policies/p.yaml#allow[1]"]] as const) {
          const w = result.analysis?.ruleWitnesses.get(id);
          if (w === undefined) continue;
          const context = { environment: "development", freeze: "none", ...(w.context ?? {}) } as Record<Key, string>;
          expect(matchesAt(rule, context, w.at === undefined ? WEEKS[0]! : Date.parse(w.at)), `rule witness ${JSON.stringify(w)}`).toBe(true);
        }
      }),
      { numRuns: RUNS, seed: process.env.KR_PROPERTY_SEED === undefined ? undefined : Number(process.env.KR_PROPERTY_SEED) },
    );
    expect(overlaps).toBeGreaterThan(RUNS / 10);
    expect(disjoint).toBeGreaterThan(RUNS / 10);
    expect(crossZone).toBeGreaterThan(RUNS / 20);
    console.log(`context/time property: ${RUNS} pairs — ${overlaps} overlaps, ${disjoint} disjoint, ${crossZone} across zones`);
  }, 120_000 + RUNS * 50);
});
