// `keyrunner diff` on the example config against a copy with a raised limit, a new agent, a removed
// approval, a new tool and a new origin: every change is listed, in all three formats (golden files), and
// every witness printed is replayed here through `explain`'s decision on both configs. A pure refactor
// (a rule split, rules reordered, a policy file renamed) reports nothing.

import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explainRequest } from "../runtime-template/core/explain.js";
import type { CompiledConfig } from "../runtime-template/contract/tool-module.js";
import { loadCompiled } from "../compiler/runtime-commands.js";
import { diffConfigs, type ConfigDiff } from "../compiler/review/diff-configs.js";
import { renderDiff } from "../compiler/review/render-diff.js";
import { keyrunner, repoRoot } from "./support/cli.js";
import { copyExampleConfig, editYaml, removeConfig, ruleIndex } from "./support/config-copy.js";
import { expectGolden } from "./support/snapshot.js";

const golden = (name: string) => join(import.meta.dirname, "diff", name);

/** The example with the five edits of the "done when", made through the YAML model. */
function editedExample(): string {
  const dir = copyExampleConfig();
  editYaml(dir, "policies/oncall.yaml", (doc) => {
    // A raised limit: paging at error/warning/info, 30 → 60 an hour.
    const paging = ruleIndex(doc, "allow", "trigger_incident", (r) => r.rate_limit !== undefined);
    doc.setIn(["allow", paging, "rate_limit", "max"], 60);
    // A removed approval: a critical page no longer waits for a person.
    const critical = ruleIndex(doc, "allow", "trigger_incident", (r) => r.require_approval === true);
    doc.deleteIn(["allow", critical, "require_approval"]);
    doc.deleteIn(["allow", critical, "expires"]);
  });
  // A new agent in an existing policy.
  editYaml(dir, "policies/support_email.yaml", (doc) => {
    doc.setIn(["agents"], doc.createNode([...((doc.toJS() as { agents: string[] }).agents), "support-lead"], { flow: true }));
  });
  // A new origin for an existing tool.
  editYaml(dir, "tools/trigger_incident.yaml", (doc) => doc.setIn(["run", "url"], "https://events.eu.pagerduty.com/v2/enqueue"));
  // A new tool (on a new origin, with a new secret), allowed for a new agent.
  writeFileSync(
    join(dir, "tools/create_invoice.yaml"),
    [
      "tool: create_invoice",
      "description: Create an invoice",
      "input:",
      "  customer_id: string",
      "  amount_cents: { type: integer, minimum: 1 }",
      "run:",
      "  type: http",
      "  method: POST",
      "  url: https://api.invoices.example/v1/invoices",
      "  auth: { secret: INVOICES_API_KEY }",
      "  body: { customer: '${customer_id}', amount: '${amount_cents}' }",
      "",
    ].join("\n"),
  );
  writeFileSync(join(dir, "policies/billing.yaml"), ["policy: billing", "agents: [billing-agent]", "allow:", "  - tool: create_invoice", "    when: { max_amount_cents: 100000 }", ""].join("\n"));
  return dir;
}

/** The example with its decisions unchanged: one rule split in two, rules reordered, a file renamed. */
function refactoredExample(): string {
  const dir = copyExampleConfig();
  editYaml(dir, "policies/support_refunds.yaml", (doc) => {
    const index = ruleIndex(doc, "allow", "refund_payment");
    const rule = (doc.toJS() as { allow: Array<Record<string, any>> }).allow[index]!;
    const split = (payment_id: Record<string, string>) => ({ ...rule, when: { ...rule.when, payment_id } });
    doc.setIn(["allow", index], doc.createNode(split({ starts_with: "pi_" })));
    doc.addIn(["allow"], doc.createNode(split({ not_starts_with: "pi_" })));
  });
  editYaml(dir, "policies/oncall.yaml", (doc) => {
    const allow = (doc.toJS() as { allow: unknown[] }).allow;
    doc.setIn(["allow"], doc.createNode([...allow].reverse()));
  });
  renameSync(join(dir, "policies/support_refunds.yaml"), join(dir, "policies/refunds.yaml"));
  return dir;
}

function decisionOf(config: CompiledConfig, w: { agent: string; tool: string; input: unknown; reason?: string }): { decision: string; rule?: string } {
  const e = explainRequest(config, w);
  if (e.status === "not_found") return { decision: "deny" };
  if (e.status === "invalid") return { decision: "invalid" };
  const d = e.decision;
  return { decision: d.effect === "deny" ? "deny" : d.obligations?.approval ? "pending_approval" : "allow", ...(d.rule ? { rule: d.rule } : {}) };
}

describe("keyrunner diff on the example config", () => {
  let edited: string;
  let diff: ConfigDiff;
  beforeAll(async () => {
    edited = editedExample();
    const result = await diffConfigs({ dir: repoRoot }, { dir: edited });
    if (!result.ok) throw new Error(`the ${result.side} config does not check: ${JSON.stringify(result.check.diagnostics)}`);
    diff = result.diff;
  }, 120_000);
  afterAll(() => removeConfig(edited));

  it("lists each change, widened first, in all three formats", () => {
    const kinds = diff.changes.map((c) => c.kind);
    expect(kinds[0]).toBe("widened");
    expect(kinds).not.toContain("undecided");
    const has = (kind: string, where: (c: any) => boolean) => expect(diff.changes.some((c: any) => c.kind === kind && where(c)), `${kind}`).toBe(true);
    has("obligation", (c) => c.tool === "trigger_incident" && c.old.rateLimit.max === 30 && c.new.rateLimit.max === 60);
    has("widened", (c) => c.tool === "trigger_incident" && c.old.decision === "pending_approval" && c.new.decision === "allow");
    has("widened", (c) => c.tool === "send_email" && c.agents.includes("support-lead") && c.old.decision === "deny");
    has("widened", (c) => c.tool === "create_invoice" && c.agents.includes("billing-agent"));
    has("tool_added", (c) => c.tool === "create_invoice" && c.endpoint.origin === "https://api.invoices.example");
    has("egress", (c) => c.tool === "trigger_incident" && c.new.origin === "https://events.eu.pagerduty.com");
    has("agent_added", (c) => c.agent === "support-lead");
    has("agent_added", (c) => c.agent === "billing-agent");
    has("secret_added", (c) => c.secret === "INVOICES_API_KEY");
    expectGolden(golden("example-changes.txt"), renderDiff(diff, "text"));
    expectGolden(golden("example-changes.json"), renderDiff(diff, "json"));
    expectGolden(golden("example-changes.md"), renderDiff(diff, "markdown"));
  });

  it("gives witnesses that `explain`'s decision replays on both configs as stated", async () => {
    const [old, next] = [await loadCompiled({ dir: repoRoot }), await loadCompiled({ dir: edited })];
    let replayed = 0;
    for (const change of JSON.parse(renderDiff(diff, "json")).changes) {
      if (change.witness === undefined) continue;
      expect(decisionOf(old.bundle!.config, change.witness), `old ${JSON.stringify(change)}`).toEqual({ decision: change.old.decision, ...(change.old.rule ? { rule: change.old.rule } : {}) });
      expect(decisionOf(next.bundle!.config, change.witness), `new ${JSON.stringify(change)}`).toEqual({ decision: change.new.decision, ...(change.new.rule ? { rule: change.new.rule } : {}) });
      replayed++;
    }
    expect(replayed).toBeGreaterThanOrEqual(4);
  }, 120_000);

  it("exits 1 with --fail-on widen, 0 without, 2 on usage errors and configs that do not check", async () => {
    const failing = await keyrunner(["diff", repoRoot, edited, "--format", "json", "--fail-on", "widen"]);
    expect(failing.code, failing.stderr).toBe(1);
    expect(JSON.parse(failing.stdout).changes.length).toBe(diff.changes.length);
    expect((await keyrunner(["diff", repoRoot, edited, "--format", "markdown"])).code).toBe(0);
    expect((await keyrunner(["diff", repoRoot, edited, "--format", "yaml"])).code).toBe(2);
    expect((await keyrunner(["diff", repoRoot, edited, "--fail-on", "narrow"])).code).toBe(2);
    expect((await keyrunner(["diff", "/nonexistent-config", edited])).code).toBe(2);
    expect((await keyrunner(["diff"])).code).toBe(2);
    const broken = copyExampleConfig();
    writeFileSync(join(broken, "policies/broken.yaml"), "policy: broken\nallow:\n  - tool: no_such_tool\n");
    const result = await keyrunner(["diff", repoRoot, broken]);
    removeConfig(broken);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("does not check");
    expect(result.stderr).toContain("no_such_tool");
  }, 180_000);
});

describe("keyrunner diff on a pure refactor", () => {
  it("reports no change when rules are split, reordered and files renamed", async () => {
    const refactored = refactoredExample();
    const result = await diffConfigs({ dir: repoRoot }, { dir: refactored });
    removeConfig(refactored);
    expect(result.ok).toBe(true);
    expect(result.ok && result.diff.changes).toEqual([]);
  }, 120_000);

  it("reports the gap when a split leaves one out", async () => {
    const dir = copyExampleConfig();
    editYaml(dir, "policies/support_refunds.yaml", (doc) => {
      const index = ruleIndex(doc, "allow", "refund_payment");
      doc.setIn(["allow", index, "when", "payment_id"], doc.createNode({ starts_with: "pi_" }));
    });
    const result = await diffConfigs({ dir: repoRoot }, { dir });
    removeConfig(dir);
    expect(result.ok).toBe(true);
    const changes = result.ok ? result.diff.changes : [];
    expect(changes.map((c) => c.kind)).toEqual(["narrowed"]);
    const w = (changes[0] as { witness: { input: { payment_id: string } } }).witness;
    expect(w.input.payment_id.startsWith("pi_")).toBe(false);
  }, 120_000);
});
