// Decision changes on small config pairs: the shapes of negation the region search handles (a list item
// failing a condition, an optional field left out, a missing reason) and the ones it must call undecided.

import { describe, expect, it } from "vitest";
import { checkSources } from "../index.js";
import type { Analysis } from "../phases/4-analyze/analyze-rules.js";
import type { Condition } from "../phases/3-resolve/resolved-config.js";
import { diffDecisions, type DecisionChange } from "./diff-decisions.js";
import { findRequest } from "./region-search.js";
import { ruleRegion } from "./rule-region.js";

const TOOL = `tool: file_issue
description: File an issue
input:
  title: string
  labels: { type: "string[]", maxItems: 3 }
  team: string?
run:
  type: http
  method: POST
  url: https://api.example.com/issues
  body: { title: "\${title}", labels: "\${labels}", team: "\${team}" }
`;

function analysis(policy: string): Analysis {
  const result = checkSources([
    { path: "tools/t.yaml", kind: "tool", text: TOOL },
    { path: "policies/p.yaml", kind: "policy", text: policy },
  ]);
  if (result.analysis === undefined) throw new Error(JSON.stringify(result.diagnostics));
  return result.analysis;
}

const policy = (when: string) => `policy: p\nagents: [triage]\nallow:\n  - tool: file_issue\n    when: ${when}\n`;

describe("diff decisions", () => {
  it("negates a list condition with one item that fails it", () => {
    const changes = diffDecisions(analysis(policy("{ labels: { subset_of: [bug, docs] } }")), analysis(policy("{ labels: { subset_of: [bug] } }")));
    expect(changes.map((c) => c.kind)).toEqual(["narrowed"]);
    expect((changes[0] as DecisionChange).witness).toEqual({ agent: "triage", tool: "file_issue", input: { title: "a", labels: ["docs"] } });
  });

  it("leaves out an optional field whose condition the old rule needed", () => {
    const changes = diffDecisions(analysis(policy("{ team: { equals: core } }")), analysis(policy("{ title: { max_length: 100 } }")));
    const widened = changes.find((c) => c.kind === "widened") as DecisionChange;
    expect(widened.witness.input).not.toHaveProperty("team");
    expect(changes.find((c) => c.kind === "narrowed")).toBeDefined();
  });

  it("finds the request without a reason when the new rule stops requiring one", () => {
    const changes = diffDecisions(analysis(policy("{ require_reason: true }")), analysis(policy("{}")));
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ kind: "widened", agents: ["triage"], old: { decision: "deny" }, new: { decision: "allow" } });
    expect((changes[0] as DecisionChange).witness.reason).toBeUndefined();
  });

  it("reports nothing between a config and itself", () => {
    const text = policy("{ labels: { subset_of: [bug, docs] }, team: { starts_with: c }, require_reason: true }");
    expect(diffDecisions(analysis(text), analysis(text))).toEqual([]);
  });

  it("calls a pair undecided when a rule has a condition of a kind it cannot model, never a guess", () => {
    const a = analysis(policy("{ title: { max_length: 100 } }"));
    const rule = a.config.rules[0]!;
    const tool = a.config.tools.get("file_issue")!;
    // As a condition kind added later (a context key, a time window) reaches the diff before the search learns it.
    const contextual = { ...rule, conditions: [...rule.conditions, { field: "context.environment", operator: "equals", value: "production", written: "context.environment: production", span: rule.span } as unknown as Condition] };
    const unknownOperator = { ...rule, conditions: [{ ...rule.conditions[0]!, operator: "no_credentials", value: true, written: "no_credentials: true" } as unknown as Condition] };
    for (const r of [contextual, unknownOperator]) {
      const region = ruleRegion(r, tool);
      expect(region.opaque).toBeDefined();
      expect(findRequest({ fields: tool.fields, schema: new Map() }, [region], []).kind).toBe("undecided");
      expect(findRequest({ fields: tool.fields, schema: new Map() }, [], [region]).kind).toBe("undecided");
    }
  });
});
