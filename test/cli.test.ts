// The real `keyrunner` command as a user runs it: exit codes, human and JSON output, and JSON
// witnesses fed back as requests that match both named rules (judged by the reference evaluator).

import { cpSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { keyrunner } from "./support/cli.js";
import { describe, expect, it } from "vitest";
import { inputIsValid, policyGoverns, ruleMatches, type RawPolicy, type RawTool } from "./reference/policy-reference.js";

const root = join(import.meta.dirname, "..");


describe("keyrunner check", () => {
  it("passes the repository's own example config with no errors and no warnings", async () => {
    const { code, stdout } = await keyrunner(["check"]);
    expect(stdout).toBe("0 errors, 0 warnings: 6 tools, 10 rules proven disjoint and reachable\n");
    expect(code).toBe(0);
  });

  it("compiles the seed examples of SPEC sections 2 and 3 unchanged", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kr-seed-"));
    cpSync(join(root, "tools", "refund_payment.yaml"), join(dir, "tools", "refund_payment.yaml"), { recursive: true });
    cpSync(join(root, "policies", "support_refunds.yaml"), join(dir, "policies", "support_refunds.yaml"), { recursive: true });
    expect(readFileSync(join(dir, "policies", "support_refunds.yaml"), "utf8")).toBe(
      "policy: support_refunds\nallow:\n  - tool: refund_payment\n    when:\n      max_amount_cents: 5000\n      require_reason: true\n",
    );
    const { code, stdout } = await keyrunner(["check", dir]);
    expect(stdout).toBe("0 errors, 0 warnings: 1 tool, 1 rule proven disjoint and reachable\n");
    expect(code).toBe(0);
  });

  it("exits 1 on errors and names file, line, column and code", async () => {
    const { code, stdout } = await keyrunner(["check", "test/errors/overlap-allow-and-deny"]);
    expect(code).toBe(1);
    expect(stdout.split("\n")[0]).toBe(
      "policies/p.yaml:8:5 error KR4002 rules overlap: policies/p.yaml#allow[0] and policies/p.yaml#deny[0] both match some requests for `refund_payment`",
    );
  });

  it("exits 0 when there are only warnings", async () => {
    const { code, stdout } = await keyrunner(["check", "test/errors/unused-input-field"]);
    expect(stdout).toContain("warning KR4005");
    expect(code).toBe(0);
  });

  it("reads other folders with --tools and --policies, showing paths relative to DIR", async () => {
    const dir = "test/errors/overlap-allow-and-deny";
    const { code, stdout } = await keyrunner(["check", "--tools", `${dir}/tools`, "--policies", `${dir}/policies`]);
    expect(stdout.split("\n")[0]).toBe(
      `${dir}/policies/p.yaml:8:5 error KR4002 rules overlap: ${dir}/policies/p.yaml#allow[0] and ${dir}/policies/p.yaml#deny[0] both match some requests for \`refund_payment\``,
    );
    expect(code).toBe(1);
  });

  it("refuses an unknown --format with a clear message", async () => {
    const { code, stderr } = await keyrunner(["check", "--format", "xml"]);
    expect(code).toBe(1);
    expect(stderr).toBe("error: --format must be human or json, not xml\n");
  });

  it("prints SPEC section 4's JSON shape", async () => {
    const { code, stdout } = await keyrunner(["check", "test/errors/overlap-allow-and-deny", "--format", "json"]);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual({
      diagnostics: [
        {
          code: "KR4002",
          severity: "error",
          message: "rules overlap: policies/p.yaml#allow[0] and policies/p.yaml#deny[0] both match some requests for `refund_payment`",
          file: "policies/p.yaml",
          line: 8,
          column: 5,
          hint: "add `payment_id: { not_starts_with: pi_test_ }` to policies/p.yaml#allow[0] so that the rules cannot both match",
          rules: ["policies/p.yaml#allow[0]", "policies/p.yaml#deny[0]"],
          witness: {
            agent: "any-agent",
            tool: "refund_payment",
            input: { payment_id: "pi_test_", amount_cents: 0 },
            reason: "witness: a request both rules match",
          },
        },
      ],
    });
  });
});

describe("JSON witnesses fed back as requests", () => {
  const cases = readdirSync(join(root, "test", "errors")).filter((name) => name.startsWith("overlap-"));

  it.each(cases)("%s: the witness is valid and matches both named rules", async (name) => {
    const dir = join(root, "test", "errors", name);
    const { stdout } = await keyrunner(["check", dir, "--format", "json"]);
    const overlaps = (JSON.parse(stdout) as { diagnostics: Array<{ code: string; rules?: string[]; witness?: { agent: string; tool: string; input: Record<string, unknown>; reason?: string } }> }).diagnostics.filter((d) => d.code === "KR4002");
    expect(overlaps.length).toBeGreaterThan(0);
    const tools = new Map<string, RawTool>();
    for (const file of readdirSync(join(dir, "tools"))) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, "tools", file), "utf8"))) {
        const tool = doc.toJS() as RawTool;
        tools.set(tool.tool, tool);
      }
    }
    for (const overlap of overlaps) {
      const witness = overlap.witness!;
      const tool = tools.get(witness.tool)!;
      expect(inputIsValid(tool, witness.input)).toBe(true);
      for (const id of overlap.rules!) {
        const [file, where] = id.split("#") as [string, string];
        const [, effect, index] = /^(allow|deny)\[(\d+)\]$/.exec(where)!;
        const policy = parse(readFileSync(join(dir, file), "utf8")) as RawPolicy;
        const rule = policy[effect as "allow" | "deny"]![Number(index)]!;
        expect(policyGoverns(policy, witness.agent)).toBe(true);
        expect(ruleMatches(tool, policy, rule, witness), `${name}: witness matches ${id}`).toBe(true);
      }
    }
  });
});
