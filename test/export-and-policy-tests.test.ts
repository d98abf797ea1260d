// `keyrunner export` (validated against each SDK's own definition of a tool) and `keyrunner test`.

import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListToolsResultSchema } from "@modelcontextprotocol/sdk/types.js";
import ts from "typescript";
import { keyrunner } from "./support/cli.js";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

/** Type-checks `value` as `type` (imported from an SDK) with the TypeScript compiler. */
function typeErrors(imports: string, type: string, value: unknown): string[] {
  const dir = mkdtempSync(join(root, "node_modules", ".kr-typecheck-"));
  const file = join(dir, "check.ts");
  writeFileSync(file, `${imports}\nexport const tools: ${type} = ${JSON.stringify(value, null, 2)};\n`);
  const program = ts.createProgram([file], { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, skipLibCheck: true });
  const errors = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  rmSync(dir, { recursive: true, force: true });
  return errors;
}

describe("keyrunner export", () => {
  it("prints OpenAI tools that type-check as the openai SDK's ChatCompletionTool[]", async () => {
    const { code, stdout } = await keyrunner(["export", "--format", "openai"]);
    expect(code).toBe(0);
    const tools = JSON.parse(stdout);
    expect(tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(["create_crm_contact", "create_github_issue", "refund_payment", "restart_service", "send_email", "trigger_incident"]);
    expect(typeErrors('import type { ChatCompletionTool } from "openai/resources/chat/completions";', "ChatCompletionTool[]", tools)).toEqual([]);
  });

  it("prints Anthropic tools that type-check as @anthropic-ai/sdk's Tool[], with reason where a rule requires it", async () => {
    const { stdout } = await keyrunner(["export", "--format", "anthropic", "--agent", "support-agent"]);
    const tools = JSON.parse(stdout);
    expect(tools.map((t: { name: string }) => t.name)).toEqual(["refund_payment", "send_email"]);
    expect(Object.keys(tools[0].input_schema.properties)).toEqual(["payment_id", "amount_cents", "reason"]);
    expect(typeErrors('import type { Tool } from "@anthropic-ai/sdk/resources/messages";', "Tool[]", tools)).toEqual([]);
  });

  it("prints an MCP tools/list result that the MCP SDK's schema accepts, with approval_id where a rule needs approval", async () => {
    const { stdout } = await keyrunner(["export", "--format", "mcp", "--agent", "ops-agent"]);
    const parsed = ListToolsResultSchema.parse(JSON.parse(stdout));
    // The seed refund policy names no agents, so it governs the ops agent too.
    expect(parsed.tools.map((t) => t.name)).toEqual(["refund_payment", "restart_service", "trigger_incident"]);
    expect(Object.keys(parsed.tools[1]!.inputSchema.properties ?? {})).toEqual(["service", "reason", "approval_id"]);
  });

  it("refuses an unknown format", async () => {
    expect(await keyrunner(["export", "--format", "yaml"])).toMatchObject({ code: 1, stderr: "error: --format must be openai, anthropic or mcp, not yaml\n" });
  });
});

describe("keyrunner test", () => {
  it("passes the example config's cases, which exercise every rule", async () => {
    const { code, stdout } = await keyrunner(["test"]);
    expect(code).toBe(0);
    expect(stdout).not.toContain("rules no case exercises");
    expect(stdout).toMatch(/\npolicy tests: 32 of 32 cases as expected\n$/);
  });

  it("fails on a wrong expectation, naming the case, and lists rules no case exercises", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kr-policy-tests-"));
    cpSync(join(root, "tools"), join(dir, "tools"), { recursive: true });
    cpSync(join(root, "policies"), join(dir, "policies"), { recursive: true });
    cpSync(join(root, "context.yaml"), join(dir, "context.yaml"));
    cpSync(join(root, "tests", "support.yaml"), join(dir, "tests", "support.yaml"), { recursive: true });
    writeFileSync(join(dir, "tests", "wrong.yaml"), "tests:\n  - name: a big refund is allowed (it is not)\n    agent: support-agent\n    tool: refund_payment\n    input: { payment_id: pi_1, amount_cents: 9000 }\n    reason: r\n    expect: allow\n");
    const { code, stdout } = await keyrunner(["test", dir]);
    expect(code).toBe(1);
    expect(stdout).toContain("  ✗ a big refund is allowed (it is not)  tests/wrong.yaml:2\n      expected allow, got deny: no rule allows this request: amount_cents 9000 is above 5000 (policies/support_refunds.yaml#allow[0])\n");
    expect(stdout).toContain("rules no case exercises:\n  policies/github_issues.yaml#allow[0]\n");
    expect(stdout).toMatch(/policy tests: 9 of 10 cases as expected, 1 not\n$/);
  });
});
