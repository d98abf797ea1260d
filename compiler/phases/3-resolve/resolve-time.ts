// `time: { days, between, timezone }` in a rule's `when`: checked and turned into local minute-of-week
// ranges (docs/policy-semantics.md, "Time windows").

import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import type { ConfigDocument, DocumentPath } from "../1-load/config-document.js";
import { windowRanges } from "../../../runtime-template/contract/time-window.js";
import type { TimeWindow } from "./resolved-config.js";

export const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const BETWEEN = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$/;

/** Whether Intl knows the IANA zone (the runtime decides with the same Intl). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function resolveTime(value: unknown, doc: ConfigDocument, path: DocumentPath, log: DiagnosticLog): TimeWindow | undefined {
  const span = doc.spanAt(path, "key");
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    log.report("KR3028", doc.spanAt(path), "`time` must be a map with `days`, `between` and `timezone`");
    return undefined;
  }
  const raw = value as Record<string, unknown>;
  let ok = true;
  const fail = (key: string, message: string, part: "key" | "value" = "value") => {
    log.report("KR3028", doc.spanAt(Object.hasOwn(raw, key) ? [...path, key] : path, part), message);
    ok = false;
  };
  for (const key of Object.keys(raw)) {
    if (!["days", "between", "timezone"].includes(key)) fail(key, `unknown key \`${key}\` in \`time\`${hintFor(key)}`, "key");
  }
  const days: number[] = [];
  if (!Array.isArray(raw.days) || raw.days.length === 0) fail("days", "`time.days` must list days: mon, tue, wed, thu, fri, sat, sun");
  else {
    for (const [index, day] of raw.days.entries()) {
      const at = DAY_NAMES.indexOf(String(day).toLowerCase() as (typeof DAY_NAMES)[number]);
      if (typeof day !== "string" || at < 0) {
        log.report("KR3028", doc.spanAt([...path, "days", index]), `\`${String(day)}\` is not a day`, { hint: didYouMean(String(day), DAY_NAMES) ?? `days are ${DAY_NAMES.join(", ")}` });
        ok = false;
      } else if (!days.includes(at)) days.push(at);
    }
  }
  let start = 0;
  let end = 0;
  const between = raw.between;
  const match = typeof between === "string" ? BETWEEN.exec(between) : null;
  if (match === null) fail("between", '`time.between` must be "HH:MM-HH:MM" (24-hour clock, e.g. "09:00-17:30"; "22:00-06:00" wraps past midnight)');
  else {
    start = Number(match[1]) * 60 + Number(match[2]);
    end = Number(match[3]) * 60 + Number(match[4]);
    if (end > 1440) fail("between", "`time.between` ends at most at 24:00");
    else if (start === end) fail("between", `\`time.between\` "${String(between)}" is empty: its start and end are the same`);
  }
  const zone = raw.timezone;
  if (typeof zone !== "string" || zone.length === 0) fail("timezone", "`time.timezone` must name an IANA time zone, e.g. Europe/Berlin");
  else if (!isTimeZone(zone)) {
    log.report("KR3029", doc.spanAt([...path, "timezone"]), `unknown time zone \`${zone}\``);
    ok = false;
  }
  if (!ok) return undefined;
  const sorted = days.sort((a, b) => a - b);
  const written = `time: { days: [${sorted.map((d) => DAY_NAMES[d]).join(", ")}], between: "${String(between)}", timezone: ${String(zone)} }`;
  return { days: sorted, startMinute: start, endMinute: end, timezone: zone as string, ranges: windowRanges(sorted, start, end), written, span };
}

function hintFor(key: string): string {
  const close = didYouMean(key, ["days", "between", "timezone"]);
  return close === undefined ? "" : ` (${close})`;
}
