// A witness's minute of the week, as an instant: the diff solves the local minute of the week in the one
// zone of the compared windows, and a witness names an instant. The instant is taken in a reference week
// in which the zone's UTC offset does not change (the week of Monday 2027-01-04, or the first later week
// without a change), and checked against the runtime's own clock (localMinuteOfWeek).

import { localMinuteOfWeek, MINUTES_PER_WEEK } from "../../runtime-template/contract/time-window.js";
import { utcOffsetMinutes } from "../phases/4-analyze/time-overlap.js";

/** Monday 2027-01-04, 00:00 UTC: the calendar date the reference week starts on. */
export const REFERENCE_MONDAY = Date.UTC(2027, 0, 4);
const MINUTE = 60_000;
const WEEK = MINUTES_PER_WEEK * MINUTE;

export type ReferenceWeek = { readonly ok: true; readonly start: number } | { readonly ok: false; readonly why: string };

const cache = new Map<string, ReferenceWeek>();

/** The instant local Monday 00:00 of the reference week in `zone`, with one offset the whole week. */
export function referenceWeek(zone: string): ReferenceWeek {
  const cached = cache.get(zone);
  if (cached !== undefined) return cached;
  let found: ReferenceWeek = { ok: false, why: `no week of 2027 in ${zone} keeps one UTC offset of a whole number of minutes` };
  for (let week = 0; week < 53; week++) {
    const monday = REFERENCE_MONDAY + week * WEEK;
    const offset = utcOffsetMinutes(zone, monday);
    if (!Number.isInteger(offset)) break;
    const start = monday - offset * MINUTE;
    // The offset must hold from the local Monday 00:00 to the local Sunday 24:00, checked every quarter of an
    // hour (offsets change on quarter-hour boundaries), and every minute is checked again when it is used.
    let constant = true;
    for (let t = start; t <= start + WEEK && constant; t += 15 * MINUTE) constant = utcOffsetMinutes(zone, Math.min(t, start + WEEK - MINUTE)) === offset;
    if (constant && localMinuteOfWeek(start, zone) === 0) {
      found = { ok: true, start };
      break;
    }
  }
  cache.set(zone, found);
  return found;
}

/** The instant (ISO 8601, UTC) at which a clock in `zone` shows `minute` of the reference week. */
export function instantOfMinute(zone: string, minute: number): { ok: true; at: string } | { ok: false; why: string } {
  const week = referenceWeek(zone);
  if (!week.ok) return week;
  const epoch = week.start + minute * MINUTE;
  if (localMinuteOfWeek(epoch, zone) !== minute) return { ok: false, why: `minute ${minute} of the reference week in ${zone} does not map to one instant` };
  return { ok: true, at: new Date(epoch).toISOString() };
}
