// The model the context-and-time property tests share: random context conditions and time windows, the
// YAML `when` they are written as, and the reference reading of a window (from the semantics, not the
// compiler) that brute force checks the analyser and the diff against.

import fc from "fast-check";

export const CONTEXT = { environment: ["development", "staging", "production"], freeze: ["none", "active"] } as const;
export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

export type Key = keyof typeof CONTEXT;
export interface ContextCondition {
  key: Key;
  operator: "equals" | "in" | "not_in";
  values: string[];
}
export interface Window {
  days: number[];
  start: number;
  end: number;
  zone: string;
}
export interface Rule {
  context: ContextCondition[];
  window?: Window;
}

export const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;

export const contextArb = (key: Key): fc.Arbitrary<ContextCondition> =>
  fc
    .record({ key: fc.constant(key), operator: fc.constantFrom("equals" as const, "in" as const, "not_in" as const), values: fc.subarray([...CONTEXT[key]], { minLength: 1 }) })
    .map((c) => (c.operator === "equals" ? { ...c, values: [c.values[0]!] } : c));

/** Windows on half hours, in a zone drawn from `zone`; never empty (start ≠ end). */
export const windowArb = (zone: fc.Arbitrary<string>): fc.Arbitrary<Window> =>
  fc
    .record({
      days: fc.subarray([0, 1, 2, 3, 4, 5, 6], { minLength: 1 }),
      start: fc.integer({ min: 0, max: 47 }).map((h) => h * 30),
      end: fc.integer({ min: 1, max: 48 }).map((h) => h * 30),
      zone,
    })
    .filter((w) => w.start !== w.end);

/** The rule's `when`, as a policy writes it. */
export function when(rule: Rule): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of rule.context) out[`context.${c.key}`] = { [c.operator]: c.operator === "equals" ? c.values[0] : c.values };
  if (rule.window) out.time = { days: rule.window.days.map((d) => DAYS[d]), between: `${hhmm(rule.window.start)}-${hhmm(rule.window.end)}`, timezone: rule.window.zone };
  return out;
}

/** The reference: a local minute of the week is in the window, written out from the semantics, not the compiler. */
export function inWindowReference(w: Window, local: number): boolean {
  const day = Math.floor(local / 1440);
  const time = local % 1440;
  if (w.start < w.end) return w.days.includes(day) && time >= w.start && time < w.end;
  return (w.days.includes(day) && time >= w.start) || (w.days.includes((day + 6) % 7) && time < w.end);
}
