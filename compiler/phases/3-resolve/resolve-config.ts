// Phase 3: resolve names, types, templates, secrets and origins into the model the analyser reasons about.

import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import type { ConfigDocument } from "../1-load/config-document.js";
import type { ValidatedConfig } from "../2-validate/validate-config.js";
import { resolveContext } from "./resolve-context.js";
import { resolvePolicy } from "./resolve-policy.js";
import { resolveTool } from "./resolve-tool.js";
import type { ResolvedConfig, ResolvedPolicy, ResolvedTool } from "./resolved-config.js";

export function resolveConfig(validated: ValidatedConfig, log: DiagnosticLog): ResolvedConfig {
  const tools = new Map<string, ResolvedTool>();
  const broken = new Set(validated.brokenToolNames);
  const firstTool = new Map<string, ConfigDocument>();
  for (const doc of validated.tools) {
    const name = (doc.value as { tool: string }).tool;
    const first = firstTool.get(name);
    if (first !== undefined) {
      log.report("KR3001", doc.spanAt(["tool"]), `tool \`${name}\` is already defined at ${where(first)}`);
      continue;
    }
    firstTool.set(name, doc);
    const tool = resolveTool(doc, log);
    if (tool === undefined) broken.add(name);
    else tools.set(name, tool);
  }

  const context = resolveContext(validated.context, log);
  const documentsPerFile = new Map<string, number>();
  for (const doc of validated.policies) documentsPerFile.set(doc.file, (documentsPerFile.get(doc.file) ?? 0) + 1);
  const policies: ResolvedPolicy[] = [];
  const firstPolicy = new Map<string, ConfigDocument>();
  for (const doc of validated.policies) {
    const name = (doc.value as { policy: string }).policy;
    const first = firstPolicy.get(name);
    if (first !== undefined) {
      log.report("KR3002", doc.spanAt(["policy"]), `policy \`${name}\` is already defined at ${where(first)}`);
      continue;
    }
    firstPolicy.set(name, doc);
    const qualifyIds = (documentsPerFile.get(doc.file) ?? 0) > 1;
    policies.push(resolvePolicy(doc, { tools, brokenToolNames: broken, toolFolderMissing: validated.toolFolderMissing, qualifyIds, log, context }));
  }
  return { sources: validated.sources, tools, policies, rules: policies.flatMap((p) => p.rules), context };
}

function where(doc: ConfigDocument): string {
  const span = doc.spanAt([]);
  return `${span.file}:${span.line}`;
}
