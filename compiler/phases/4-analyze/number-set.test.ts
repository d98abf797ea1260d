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

  it("builds a time window's half-open minute ranges, and their complement is the rest of the week", () => {
    const window = NumberSet.halfOpen([[540, 1020], [1980, 2460]]);
    const week = NumberSet.atLeast(0).intersect(NumberSet.atMost(10079));
    expect(window.intersect(NumberSet.points([539, 540, 1019, 1020])).intervals.map((i) => i.lo)).toEqual([540, 1019]);
    const outside = window.complement().intersect(week).intersect(NumberSet.atLeast(540));
    expect(outside.pick(true)).toBe(1020);
    expect(window.complement().intersect(NumberSet.halfOpen([[540, 1020]])).isEmpty(true)).toBe(true);
  });
});
