// Resolves one tool document: typed input fields, run block with parsed templates, secrets used.

import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import type { ConfigDocument } from "../1-load/config-document.js";
import { resolveInput } from "./resolve-input.js";
import { resolveExecRun, resolveHttpRun, TemplateCollector, type RawExecRun, type RawHttpRun } from "./resolve-run.js";
import type { ResolvedTool } from "./resolved-config.js";
import { reverseRoute } from "./reverse-route.js";
import { templateFields, templateSecrets } from "./templates.js";

interface RawTool {
  tool: string;
  description: string;
  input?: Record<string, unknown>;
  run: RawHttpRun | RawExecRun;
  output?: { pick?: string[]; redact?: string[]; redact_credentials?: boolean };
}

export function resolveTool(doc: ConfigDocument, log: DiagnosticLog): ResolvedTool | undefined {
  const raw = doc.value as RawTool;
  const fields = resolveInput(doc, log);
  const declared = new Set(Object.keys(raw.input ?? {}));
  const collector = new TemplateCollector(doc, declared, log);
  const run = raw.run.type === "http" ? resolveHttpRun(raw.run, collector) : resolveExecRun(raw.run, collector);
  if (run === undefined || fields.length !== declared.size) return undefined;
  const templates = collector.templates;
  const secrets = new Set(templates.flatMap(templateSecrets));
  if (run.type === "http" && run.auth !== undefined) secrets.add(run.auth.secret);
  const tool = {
    name: raw.tool,
    description: raw.description,
    file: doc.file,
    span: doc.spanAt(["tool"]),
    fields,
    fieldByName: new Map(fields.map((f) => [f.name, f])),
    run,
    templates,
    usedFields: new Set(templates.flatMap(templateFields)),
    secrets: [...secrets].sort(),
    output: { pick: raw.output?.pick ?? [], redact: raw.output?.redact ?? [], ...(raw.output?.redact_credentials === true ? { redactCredentials: true as const } : {}) },
  };
  return { ...tool, forward: reverseRoute(tool) };
}
