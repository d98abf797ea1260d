// `keyrunner test`: policy unit tests. Each case in DIR/tests/*.yaml is a request and the decision it
// must get; cases run through the generated validator and decision code, exactly as the bundle runs them.

import { existsSync, readdirSync } from "node:fs";
import { folderOutside, readFileInside, realFolder } from "./phases/1-load/config-file.js";
import { join, relative } from "node:path";
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import { describeFailures, explainRequest } from "../runtime-template/core/explain.js";
import { deploymentContext } from "../runtime-template/core/deployment-context.js";
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
  /** The deployment context the case is decided in (`key: value`, from context.yaml); keys left out are unset. */
  context?: Record<string, string>;
  /** The instant the case is decided at (ISO 8601); default: now. */
  at?: string;
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
  const realRoot = realFolder(root);
  const outside = folderOutside(dir, relative(root, dir).split("\\").join("/"), realRoot);
  if (outside !== undefined) return { cases, problems: [`${outside}: KeyRunner reads only folders inside it`] };
  for (const name of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    const file = relative(root, join(dir, name)).split("\\").join("/");
    const lines = new LineCounter();
    const read = readFileInside(join(dir, name), file, [realRoot]);
    if ("problem" in read) {
      problems.push(read.problem);
      continue;
    }
    const doc = parseDocument(read.text, { lineCounter: lines });
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
      const context = raw.context;
      if (context !== undefined && (context === null || typeof context !== "object" || Array.isArray(context) || Object.values(context).some((v) => typeof v !== "string"))) {
        return void problems.push(`${where}: \`context\` must map context keys to values, e.g. \`context: { environment: staging }\``);
      }
      const at = raw.at instanceof Date ? raw.at.toISOString() : raw.at;
      if (at !== undefined && (typeof at !== "string" || !Number.isFinite(Date.parse(at)))) return void problems.push(`${where}: \`at\` must be an instant such as 2026-12-07T10:00:00Z`);
      cases.push({
        where,
        name: typeof raw.name === "string" ? raw.name : `${raw.tool} #${index + 1}`,
        agent: String(raw.agent),
        tool: String(raw.tool),
        input: raw.input,
        ...(typeof raw.reason === "string" ? { reason: raw.reason } : {}),
        ...(context === undefined ? {} : { context: context as Record<string, string> }),
        ...(typeof at === "string" ? { at } : {}),
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
  let context;
  try {
    context = deploymentContext(config, Object.entries(c.context ?? {}).map(([k, v]) => `${k}=${v}`), { requireUsed: false });
  } catch (error) {
    return { case: c, got: "invalid", detail: (error as Error).message.replace(/^--context /, "context "), passed: false };
  }
  const explained = explainRequest(config, c, { context, now: c.at === undefined ? Date.now() : Date.parse(c.at) });
  if (explained.status === "not_found") return result("deny", undefined, "unknown tool for this agent");
  if (explained.status === "invalid") return result("invalid", undefined, explained.errors.map((e) => `${e.path} ${e.message}`).join("; "));
  const { decision } = explained;
  if (decision.effect === "deny") return result("deny", decision.rule, explained.failed && explained.failed.length > 0 ? `${decision.reason}: ${describeFailures(explained.failed)}` : decision.reason);
  return result(decision.obligations?.approval ? "pending_approval" : "allow", decision.rule);
}
