// NumberSet: intervals with open and closed ends, their complements, and integer-aware picking.
import { describe, expect, it } from "vitest";
import { NumberSet } from "./number-set.js";

describe("NumberSet", () => {
  it.each([
    ["min 6000 and max 5000 have no member", NumberSet.atLeast(6000).intersect(NumberSet.atMost(5000)), false, undefined],
    ["min 5000 and max 5000 meet at 5000", NumberSet.atLeast(5000).intersect(NumberSet.atMost(5000)), false, 5000],
    ["an upper bound picks zero", NumberSet.atMost(5000), false, 0],
    ["a lower bound above zero picks the bound", NumberSet.atLeast(6000), false, 6000],
    ["integers between 1.5 and 1.9: none", NumberSet.atLeast(1.5).intersect(NumberSet.atMost(1.9)), true, undefined],
    ["numbers between 1.5 and 1.9: the lower bound", NumberSet.atLeast(1.5).intersect(NumberSet.atMost(1.9)), false, 1.5],
    ["everything but zero picks one", NumberSet.points([0]).complement(), false, 1],
    ["everything but 0 and 1 picks -1", NumberSet.points([0, 1]).complement(), true, -1],
    ["points intersected with their complement: none", NumberSet.points([2, 3]).intersect(NumberSet.points([2, 3]).complement()), false, undefined],
    ["complement of everything is empty", NumberSet.all().complement(), false, undefined],
    ["complement of an upper bound starts just above it (integers)", NumberSet.atMost(5).complement(), true, 6],
  ])("%s", (_name, set, integer, expected) => {
    expect(set.pick(integer)).toBe(expected);
    expect(set.isEmpty(integer)).toBe(expected === undefined);
  });

  it("a complement excludes exactly the closed bound", () => {
    const above = NumberSet.atMost(5).complement();
    expect(above.intervals).toEqual([{ lo: 5, hi: Infinity, loOpen: true, hiOpen: true }]);
    expect(above.complement().intervals).toEqual([{ lo: -Infinity, hi: 5, loOpen: true, hiOpen: false }]);
  });
});
