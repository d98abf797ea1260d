// `keyrunner test`: policy unit tests. Each case in DIR/tests/*.yaml is a request and the decision it
// must get; cases run through the generated validator and decision code, exactly as the bundle runs them.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import { explainRequest } from "../runtime-template/core/explain.js";
import type { CompiledConfig } from "../runtime-template/contract/tool-module.js";

export type Expectation = "allow" | "deny" | "invalid" | "pending_approval";
const EXPECTATIONS = new Set<string>(["allow", "deny", "invalid", "pending_approval"]);

export interface PolicyTestCase {
  where: string;
  name: string;
  agent: string;
  tool: string;
  input: unknown;
  reason?: string;
  expect: Expectation;
  rule?: string;
}

export interface CaseResult {
  case: PolicyTestCase;
  got: Expectation;
  rule?: string;
  detail?: string;
  passed: boolean;
}

/** Reads every case; a malformed case is a problem with its file:line, not a crash. */
export function readPolicyTests(dir: string, root: string): { cases: PolicyTestCase[]; problems: string[] } {
  const cases: PolicyTestCase[] = [];
  const problems: string[] = [];
  if (!existsSync(dir)) return { cases, problems: [`no tests folder: ${relative(root, dir) || "."}/ (put cases in tests/*.yaml)`] };
  for (const name of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    const file = relative(root, join(dir, name)).split("\\").join("/");
    const lines = new LineCounter();
    const doc = parseDocument(readFileSync(join(dir, name), "utf8"), { lineCounter: lines });
    if (doc.errors.length > 0) {
      problems.push(`${file}: ${doc.errors[0]!.message.split("\n")[0]}`);
      continue;
    }
    const list = doc.get("tests", true);
    if (!isSeq(list)) {
      problems.push(`${file}: expected \`tests:\` with a list of cases`);
      continue;
    }
    list.items.forEach((item, index) => {
      const line = lines.linePos((item as { range?: [number] }).range?.[0] ?? 0).line;
      const where = `${file}:${line}`;
      const raw = (isMap(item) ? item.toJSON() : undefined) as Record<string, unknown> | undefined;
      if (raw === undefined) return void problems.push(`${where}: a case must be a map`);
      const missing = ["agent", "tool", "input", "expect"].filter((k) => raw[k] === undefined);
      if (missing.length > 0) return void problems.push(`${where}: case needs ${missing.map((k) => `\`${k}\``).join(", ")}`);
      if (!EXPECTATIONS.has(String(raw.expect))) return void problems.push(`${where}: \`expect\` must be allow, deny, invalid or pending_approval`);
      cases.push({
        where,
        name: typeof raw.name === "string" ? raw.name : `${raw.tool} #${index + 1}`,
        agent: String(raw.agent),
        tool: String(raw.tool),
        input: raw.input,
        ...(typeof raw.reason === "string" ? { reason: raw.reason } : {}),
        expect: raw.expect as Expectation,
        ...(typeof raw.rule === "string" ? { rule: raw.rule } : {}),
      });
    });
  }
  return { cases, problems };
}

export function runPolicyTest(config: CompiledConfig, c: PolicyTestCase): CaseResult {
  const result = (got: Expectation, rule?: string, detail?: string): CaseResult => ({
    case: c,
    got,
    ...(rule === undefined ? {} : { rule }),
    ...(detail === undefined ? {} : { detail }),
    passed: got === c.expect && (c.rule === undefined || c.rule === rule),
  });
  const explained = explainRequest(config, c);
  if (explained.status === "not_found") return result("deny", undefined, "unknown tool for this agent");
  if (explained.status === "invalid") return result("invalid", undefined, explained.errors.map((e) => `${e.path} ${e.message}`).join("; "));
  const { decision } = explained;
  if (decision.effect === "deny") return result("deny", decision.rule, decision.reason);
  return result(decision.obligations?.approval ? "pending_approval" : "allow", decision.rule);
}
