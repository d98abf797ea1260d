// Mail and DNS compare domains without regard to case; a case-sensitive comparison on an `email` or
// `hostname` field is worth a second look (KR4009), even though the domain reaches policy lower-cased.

import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import type { Operator, ResolvedRule, ResolvedTool } from "../3-resolve/resolved-config.js";

const LITERAL_COMPARISONS: ReadonlySet<Operator> = new Set<Operator>(["equals", "in", "not_in", "starts_with", "not_starts_with", "ends_with", "not_ends_with", "subset_of"]);

export function warnCaseSensitive(rule: ResolvedRule, tool: ResolvedTool, log: DiagnosticLog): void {
  for (const condition of rule.conditions) {
    const field = tool.fieldByName.get(condition.field);
    if (field?.format !== "email" && field?.format !== "hostname") continue;
    if (condition.ignoreCase === true || !LITERAL_COMPARISONS.has(condition.operator)) continue;
    log.report(
      "KR4009",
      condition.span,
      `condition \`${condition.written}\` of ${rule.id} compares the ${field.format} field \`${field.name}\` case-sensitively`,
      { hint: `add \`ignore_case: true\` beside \`${condition.operator}\` (\`${field.name}: { ${condition.operator}: …, ignore_case: true }\`)` },
    );
  }
}
