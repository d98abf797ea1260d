// Whether two time windows share an instant, and which. A window is a set of wall-clock minutes of the
// week in its zone; an instant is in it when the zone's clock shows such a minute then. Two windows are
// compared over every instant of ANALYSIS_YEARS from ANALYSIS_START: each zone's UTC offsets over that span
// (from Intl, the runtime's own clock source) cut it into intervals of constant offsets, and each interval
// is searched exactly. 28 years is the Gregorian calendar's cycle of dates and weekdays (within 1901–2099),
// so a zone whose rules are written as "the last Sunday of March" shows every case in the span.

import type { TimeWindow } from "../3-resolve/resolved-config.js";
import { inRanges, MINUTES_PER_WEEK } from "../../../runtime-template/contract/time-window.js";

export const ANALYSIS_START = Date.UTC(2026, 0, 1);
export const ANALYSIS_YEARS = 28;
const ANALYSIS_END = Date.UTC(2026 + ANALYSIS_YEARS, 0, 1);
const MINUTE = 60_000;
/** 1970-01-01 was a Thursday: minute 0 of the epoch is minute 3 × 1440 of a Monday-based week. */
const EPOCH_WEEK_OFFSET = 3 * 1440;

export type TimeOverlap = { readonly kind: "overlap"; readonly at: string } | { readonly kind: "disjoint" } | { readonly kind: "undecidable"; readonly why: string };

interface Segment {
  /** Epoch minutes, [from, to). */
  readonly from: number;
  readonly to: number;
  /** UTC offset in minutes. */
  readonly offset: number;
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** The zone's UTC offset at `epochMs`, in minutes (may be fractional for historical local mean time). */
export function utcOffsetMinutes(zone: string, epochMs: number): number {
  let format = offsetFormats.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: zone, year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric", hourCycle: "h23" });
    offsetFormats.set(zone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(epochMs)) if (part.type !== "literal") parts[part.type] = Number(part.value);
  const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return (local - Math.floor(epochMs / 1000) * 1000) / MINUTE;
}

const segmentCache = new Map<string, Segment[]>();

/** The zone's constant-offset segments over the analysis span (transitions found to the minute). */
export function zoneSegments(zone: string): Segment[] {
  const cached = segmentCache.get(zone);
  if (cached !== undefined) return cached;
  const segments: Segment[] = [];
  const step = 6 * 3600_000;
  let from = ANALYSIS_START;
  let offset = utcOffsetMinutes(zone, from);
  for (let t = ANALYSIS_START + step; t <= ANALYSIS_END; t += step) {
    const next = utcOffsetMinutes(zone, Math.min(t, ANALYSIS_END - MINUTE));
    if (next === offset && t < ANALYSIS_END) continue;
    if (next !== offset) {
      // The change lies in (t - step, t]: find its first minute.
      let lo = (t - step) / MINUTE;
      let hi = t / MINUTE;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (utcOffsetMinutes(zone, mid * MINUTE) === offset) lo = mid;
        else hi = mid;
      }
      segments.push({ from: from / MINUTE, to: hi, offset });
      from = hi * MINUTE;
      offset = next;
    }
  }
  segments.push({ from: from / MINUTE, to: ANALYSIS_END / MINUTE, offset });
  segmentCache.set(zone, segments);
  return segments;
}

const localMinute = (epochMinute: number, offset: number) => (((epochMinute + offset + EPOCH_WEEK_OFFSET) % MINUTES_PER_WEEK) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK;

/** The earliest instant in the span that both windows contain, or why there is none to be decided. */
export function timeOverlap(a: TimeWindow, b: TimeWindow): TimeOverlap {
  const sa = zoneSegments(a.timezone);
  const sb = zoneSegments(b.timezone);
  if ([...sa, ...sb].some((s) => !Number.isInteger(s.offset))) {
    return { kind: "undecidable", why: `a UTC offset of ${a.timezone} or ${b.timezone} is not a whole number of minutes` };
  }
  const maskA = minuteMask(a);
  const maskB = minuteMask(b);
  const byOffsets = new Map<string, number | null>();
  let i = 0;
  let j = 0;
  while (i < sa.length && j < sb.length) {
    const from = Math.max(sa[i]!.from, sb[j]!.from);
    const to = Math.min(sa[i]!.to, sb[j]!.to);
    const oa = sa[i]!.offset;
    const ob = sb[j]!.offset;
    if (to - from >= MINUTES_PER_WEEK) {
      // A whole week of every residue: the answer depends only on the two offsets.
      const key = `${oa}/${ob}`;
      let residue = byOffsets.get(key);
      if (residue === undefined) {
        residue = null;
        for (let r = 0; r < MINUTES_PER_WEEK; r++) {
          if (maskA[localMinute(r, oa)] === 1 && maskB[localMinute(r, ob)] === 1) {
            residue = r;
            break;
          }
        }
        byOffsets.set(key, residue);
      }
      if (residue !== null) {
        const first = from + ((((residue - from) % MINUTES_PER_WEEK) + MINUTES_PER_WEEK) % MINUTES_PER_WEEK);
        return { kind: "overlap", at: new Date(first * MINUTE).toISOString() };
      }
    } else {
      for (let m = from; m < to; m++) {
        if (maskA[localMinute(m, oa)] === 1 && maskB[localMinute(m, ob)] === 1) return { kind: "overlap", at: new Date(m * MINUTE).toISOString() };
      }
    }
    if (sa[i]!.to === to) i++;
    if (sb[j]!.to === to) j++;
  }
  return { kind: "disjoint" };
}

/** The earliest instant of the span in one window (a rule's own witness). */
export function windowInstant(w: TimeWindow): string | undefined {
  const found = timeOverlap(w, w);
  return found.kind === "overlap" ? found.at : undefined;
}

const maskCache = new WeakMap<TimeWindow, Uint8Array>();
function minuteMask(w: TimeWindow): Uint8Array {
  let mask = maskCache.get(w);
  if (mask === undefined) {
    mask = new Uint8Array(MINUTES_PER_WEEK);
    for (let m = 0; m < MINUTES_PER_WEEK; m++) if (inRanges(m, w.ranges)) mask[m] = 1;
    maskCache.set(w, mask);
  }
  return mask;
}
