// Resolves one policy document: its agents and its allow/deny rules with typed conditions and obligations.

import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import type { ConfigDocument } from "../1-load/config-document.js";
import { describeField, resolveWhen } from "./resolve-conditions.js";
import type { Effect, ResolvedPolicy, ResolvedRule, ResolvedTool } from "./resolved-config.js";

interface RawRule {
  tool: string;
  when?: Record<string, unknown>;
  reason?: string;
  require_approval?: boolean;
  expires?: string;
  rate_limit?: { max: number; per: string };
  budget?: { sum: string; max: number; per: string };
}

interface RawPolicy {
  policy: string;
  agents?: string[];
  allow?: RawRule[];
  deny?: RawRule[];
}

export interface PolicyScope {
  readonly tools: ReadonlyMap<string, ResolvedTool>;
  /** Tool names whose documents failed earlier phases: references to them are not reported again. */
  readonly brokenToolNames: ReadonlySet<string>;
  readonly toolFolderMissing: boolean;
  /** Whether rule ids need the policy name to be unique (the file holds several policies). */
  readonly qualifyIds: boolean;
  readonly log: DiagnosticLog;
  /** context.yaml's keys and values. */
  readonly context: ReadonlyMap<string, readonly string[]>;
}

const SECONDS = { m: 60, h: 3600, d: 86400 } as const;

export function durationSeconds(text: string): number {
  return Number(text.slice(0, -1)) * SECONDS[text.at(-1) as keyof typeof SECONDS];
}

export function resolvePolicy(doc: ConfigDocument, scope: PolicyScope): ResolvedPolicy {
  const raw = doc.value as RawPolicy;
  const agents = raw.agents === undefined ? "all" : [...new Set(raw.agents)].sort();
  const rules: ResolvedRule[] = [];
  for (const effect of ["allow", "deny"] as const) {
    (raw[effect] ?? []).forEach((rule, index) => {
      // A rule with schema errors (already reported) is left out; the others are still resolved.
      if (rule === null) return;
      const resolved = resolveRule(doc, raw, rule, effect, index, agents, scope);
      if (resolved !== undefined) rules.push(resolved);
    });
  }
  return { name: raw.policy, file: doc.file, agents, rules };
}

function resolveRule(
  doc: ConfigDocument,
  policy: RawPolicy,
  raw: RawRule,
  effect: Effect,
  index: number,
  agents: readonly string[] | "all",
  scope: PolicyScope,
): ResolvedRule | undefined {
  const path = [effect, index];
  const tool = scope.tools.get(raw.tool);
  if (tool === undefined) {
    if (!scope.brokenToolNames.has(raw.tool) && !scope.toolFolderMissing) {
      scope.log.report("KR3003", doc.spanAt([...path, "tool"]), `unknown tool \`${raw.tool}\``, {
        hint: didYouMean(raw.tool, [...scope.tools.keys(), ...[...scope.brokenToolNames].filter((name) => /^[a-z][a-z0-9_]*$/.test(name))]) ?? "tools are defined in tools/*.yaml",
      });
    }
    return undefined;
  }
  const when = resolveWhen(raw.when ?? {}, tool, doc, [...path, "when"], scope.log, scope.context);
  let ok = when.ok;
  let budget: ResolvedRule["budget"];
  if (raw.budget !== undefined) {
    const field = tool.fieldByName.get(raw.budget.sum);
    const span = doc.spanAt([...path, "budget", "sum"]);
    if (field === undefined) {
      scope.log.report("KR3004", span, `budget sums \`${raw.budget.sum}\`, which is not an input field of tool \`${tool.name}\``, {
        hint: didYouMean(raw.budget.sum, tool.fieldByName.keys()),
      });
      ok = false;
    } else if (field.array || (field.type !== "number" && field.type !== "integer")) {
      scope.log.report("KR3023", span, `budget sums \`${field.name}\`, which is ${describeField(field)}`);
      ok = false;
    } else {
      budget = { field: field.name, max: raw.budget.max, perSeconds: durationSeconds(raw.budget.per) };
    }
  }
  if (!ok) return undefined;
  const id = scope.qualifyIds ? `${doc.file}#${policy.policy}.${effect}[${index}]` : `${doc.file}#${effect}[${index}]`;
  return {
    id,
    policy: policy.policy,
    effect,
    tool: tool.name,
    agents,
    conditions: when.conditions,
    contextConditions: when.contextConditions,
    ...(when.window === undefined ? {} : { window: when.window }),
    requireReason: when.requireReason,
    ...(raw.reason === undefined ? {} : { reason: raw.reason }),
    ...(raw.require_approval === true ? { approval: { expiresSeconds: durationSeconds(raw.expires ?? "1h") } } : {}),
    ...(raw.rate_limit === undefined ? {} : { rateLimit: { max: raw.rate_limit.max, perSeconds: durationSeconds(raw.rate_limit.per) } }),
    ...(budget === undefined ? {} : { budget, budgetSpan: doc.spanAt([...path, "budget", "sum"]) }),
    span: doc.spanAt([...path, "tool"], "key"),
    agentsSpan: policy.agents === undefined ? doc.spanAt([...path, "tool"], "key") : doc.spanAt(["agents"], "key"),
  };
}
