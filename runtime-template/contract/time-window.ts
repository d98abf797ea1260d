// Time windows at decision time: the wall-clock minute of the week in a zone, and whether it falls in a
// window's ranges. The compiler builds the ranges with windowRanges; the analyser reads the same clock.

export const MINUTES_PER_WEEK = 7 * 1440;

/** Local minute-of-week ranges [from, to) (0 = Monday 00:00) of a window; wrapping days continue into the next. */
export function windowRanges(days: readonly number[], start: number, end: number): Array<[number, number]> {
  const pieces: Array<[number, number]> = [];
  for (const day of days) {
    const from = day * 1440 + start;
    const to = day * 1440 + (end > start ? end : end + 1440);
    if (to <= MINUTES_PER_WEEK) pieces.push([from, to]);
    else pieces.push([from, MINUTES_PER_WEEK], [0, to - MINUTES_PER_WEEK]);
  }
  pieces.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const piece of pieces) {
    const last = merged.at(-1);
    if (last !== undefined && piece[0] <= last[1]) last[1] = Math.max(last[1], piece[1]);
    else merged.push([...piece]);
  }
  return merged;
}

const WEEKDAY: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The minute of the week (0 = Monday 00:00) that a clock in `zone` shows at `epochMs`. */
export function localMinuteOfWeek(epochMs: number, zone: string): number {
  let format = formatters.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    formatters.set(zone, format);
  }
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const part of format.formatToParts(epochMs)) {
    if (part.type === "weekday") day = WEEKDAY[part.value] ?? 0;
    else if (part.type === "hour") hour = Number(part.value);
    else if (part.type === "minute") minute = Number(part.value);
  }
  return day * 1440 + hour * 60 + minute;
}

export interface WindowSpec {
  readonly timezone: string;
  readonly ranges: ReadonlyArray<readonly [number, number]>;
}

export function inRanges(minute: number, ranges: WindowSpec["ranges"]): boolean {
  for (const [from, to] of ranges) if (minute >= from && minute < to) return true;
  return false;
}

/** Whether the instant `epochMs` falls in the window (its zone's wall clock). */
export function inWindow(epochMs: number, window: WindowSpec): boolean {
  return inRanges(localMinuteOfWeek(epochMs, window.timezone), window.ranges);
}
