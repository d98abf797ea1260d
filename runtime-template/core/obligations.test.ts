// Obligations against a real local store: budgets that cannot be refilled, edge amounts.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Decision } from "../contract/tool-module.js";
import { LocalStateStore } from "../state/local-state-store.js";
import { budgetContribution, checkObligations } from "./obligations.js";

const decision: Decision = { effect: "allow", rule: "policies/p.yaml#allow[0]", obligations: { budget: { field: "amount", max: 500, perSeconds: 86_400 } } };
const request = (amount: unknown) => ({ agent: "support-agent", tool: "refund_payment", input: { amount } as Record<string, unknown> });
const stores: LocalStateStore[] = [];
const store = async () => {
  const s = await LocalStateStore.open(mkdtempSync(join(tmpdir(), "kr-obligations-")));
  stores.push(s);
  return s;
};
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

describe("budgets cannot be refilled", () => {
  it("a negative amount is refused and the sum does not go down", async () => {
    const state = await store();
    expect(await checkObligations(state, decision, request(400), 1000)).toEqual({ kind: "proceed" });
    const refill = await checkObligations(state, decision, request(-1_000_000), 2000);
    expect(refill).toEqual({ kind: "over_budget", reason: "a budget counts amounts of 0 or more: `amount` must be a finite number, 0 or more" });
    // Had the refill counted, 400 more would fit; the sum is still 400, so 101 does not.
    expect(await checkObligations(state, decision, request(101), 3000)).toMatchObject({ kind: "over_budget", remaining: 100 });
    expect(await checkObligations(state, decision, request(100), 4000)).toEqual({ kind: "proceed" });
  });

  it.each([
    ["a negative number", -1, undefined],
    ["negative infinity", -Infinity, undefined],
    ["infinity", Infinity, undefined],
    ["NaN", Number.NaN, undefined],
    ["a numeric string", "-5", undefined],
    ["null", null, undefined],
    ["negative zero counts as 0", -0, 0],
    ["an absent field counts as 0", undefined, 0],
    ["a positive amount counts as itself", 12.5, 12.5],
  ])("%s", (_name, value, expected) => {
    const contribution = budgetContribution(value);
    expect(contribution).toBe(expected);
    if (contribution !== undefined) expect(Object.is(contribution, -0)).toBe(false);
  });
});
