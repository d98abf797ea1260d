// A budget sums a field; if some request the rule allows carries a negative amount, that request
// refills the budget. The rule's conditions and the field's schema must keep the field at 0 or above.

import type { DiagnosticLog, Span } from "../../diagnostics/diagnostic.js";
import type { InputField, ResolvedRule, ResolvedTool } from "../3-resolve/resolved-config.js";
import type { Atom } from "./constraints.js";
import { NumberSet } from "./number-set.js";
import { solve } from "./solve-field.js";

const NEGATIVE = { kind: "number", key: "<0", set: NumberSet.atLeast(0).complement() } as const;

/** Reports KR4008 when the budget's field may be negative for some request `rule` matches. */
export function checkBudgetSign(
  rule: ResolvedRule,
  tool: ResolvedTool,
  ruleAtoms: ReadonlyMap<string, readonly Atom[]>,
  schemaOf: (field: InputField) => readonly Atom[],
  log: DiagnosticLog,
): void {
  if (rule.budget === undefined) return;
  const field = tool.fieldByName.get(rule.budget.field)!;
  const atoms = [...schemaOf(field), ...(ruleAtoms.get(field.name) ?? [])];
  const negative = solve(field, [...atoms.map((a) => a.constraint), NEGATIVE]);
  if (!negative.found) return;
  const span: Span = rule.budgetSpan ?? rule.span;
  log.report(
    "KR4008",
    span,
    `budget of ${rule.id} sums \`${field.name}\`, which may be negative under the rule's conditions (e.g. ${String(negative.value)}): such a request would refill the budget`,
    { hint: `add \`${field.name}: { min: 0 }\` to the rule's \`when\`, or \`minimum: 0\` to the field in ${tool.file}` },
  );
}
