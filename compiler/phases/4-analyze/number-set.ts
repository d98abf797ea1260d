// Sets of numbers as sorted, disjoint intervals with open or closed ends; integer-aware picking.

export interface Interval {
  readonly lo: number;
  readonly hi: number;
  readonly loOpen: boolean;
  readonly hiOpen: boolean;
}

export class NumberSet {
  private constructor(readonly intervals: readonly Interval[]) {}

  static all(): NumberSet {
    return new NumberSet([{ lo: -Infinity, hi: Infinity, loOpen: true, hiOpen: true }]);
  }
  static atLeast(n: number): NumberSet {
    return new NumberSet([{ lo: n, hi: Infinity, loOpen: false, hiOpen: true }]);
  }
  static atMost(n: number): NumberSet {
    return new NumberSet([{ lo: -Infinity, hi: n, loOpen: true, hiOpen: false }]);
  }
  static points(values: readonly number[]): NumberSet {
    const sorted = [...new Set(values)].sort((a, b) => a - b);
    return new NumberSet(sorted.map((v) => ({ lo: v, hi: v, loOpen: false, hiOpen: false })));
  }

  /** The union of sorted, disjoint half-open ranges [from, to) (a time window's minutes of the week). */
  static halfOpen(ranges: ReadonlyArray<readonly [number, number]>): NumberSet {
    return new NumberSet(ranges.map(([lo, hi]) => ({ lo, hi, loOpen: false, hiOpen: true })));
  }

  intersect(other: NumberSet): NumberSet {
    const out: Interval[] = [];
    for (const a of this.intervals) {
      for (const b of other.intervals) {
        const lo = Math.max(a.lo, b.lo);
        const hi = Math.min(a.hi, b.hi);
        const loOpen = (a.lo === lo && a.loOpen) || (b.lo === lo && b.loOpen);
        const hiOpen = (a.hi === hi && a.hiOpen) || (b.hi === hi && b.hiOpen);
        if (lo < hi || (lo === hi && !loOpen && !hiOpen)) out.push({ lo, hi, loOpen, hiOpen });
      }
    }
    out.sort((x, y) => x.lo - y.lo);
    return new NumberSet(out);
  }

  complement(): NumberSet {
    const gaps: Interval[] = [];
    let lo = -Infinity;
    let loOpen = true;
    for (const i of this.intervals) {
      gaps.push({ lo, hi: i.lo, loOpen, hiOpen: !i.loOpen });
      lo = i.hi;
      loOpen = !i.hiOpen;
    }
    gaps.push({ lo, hi: Infinity, loOpen, hiOpen: true });
    return new NumberSet(gaps.filter((g) => g.lo < g.hi || (g.lo === g.hi && !g.loOpen && !g.hiOpen)));
  }

  /** A member, preferring integers and the one nearest zero; undefined when the set (of integers) is empty. */
  pick(integer: boolean): number | undefined {
    let best: number | undefined;
    for (const i of this.intervals) {
      const candidate = pickIn(i, integer);
      if (candidate !== undefined && (best === undefined || Math.abs(candidate) < Math.abs(best) || (Math.abs(candidate) === Math.abs(best) && candidate > best))) {
        best = candidate;
      }
    }
    return best;
  }

  isEmpty(integer: boolean): boolean {
    return this.pick(integer) === undefined;
  }
}

function pickIn(i: Interval, integer: boolean): number | undefined {
  const lo = i.lo === -Infinity ? -Infinity : i.loOpen ? Math.floor(i.lo) + 1 : Math.ceil(i.lo);
  const hi = i.hi === Infinity ? Infinity : i.hiOpen ? Math.ceil(i.hi) - 1 : Math.floor(i.hi);
  if (lo <= hi) {
    const nearest = lo <= 0 && 0 <= hi ? 0 : lo > 0 ? lo : hi;
    if (Number.isSafeInteger(nearest)) return nearest;
  }
  if (integer) return undefined;
  if (!i.loOpen && Number.isFinite(i.lo)) return i.lo;
  if (!i.hiOpen && Number.isFinite(i.hi)) return i.hi;
  if (Number.isFinite(i.lo) && Number.isFinite(i.hi)) return i.lo + (i.hi - i.lo) / 2;
  return undefined;
}
