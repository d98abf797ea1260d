// Phase 2: check every document against the published JSON Schemas (schemas/*.json), all errors at once.

import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import toolSchema from "../../../schemas/tool.schema.json" with { type: "json" };
import policySchema from "../../../schemas/policy.schema.json" with { type: "json" };
import type { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import type { ConfigDocument } from "../1-load/config-document.js";
import type { LoadedConfig } from "../1-load/load-config.js";
import { reportSchemaErrors } from "./schema-errors.js";

export interface ValidatedConfig {
  readonly sources: ReadonlyMap<string, string>;
  /** Documents that passed their schema; later phases see only these. */
  readonly tools: readonly ConfigDocument[];
  readonly policies: readonly ConfigDocument[];
  /** context.yaml (checked in the resolve phase, where its keys are read). */
  readonly context?: ConfigDocument | undefined;
  /** Names declared by tool documents that failed to parse or failed their schema, so references to them are not reported twice. */
  readonly brokenToolNames: ReadonlySet<string>;
  readonly toolFolderMissing: boolean;
}

let validators: { tool: ValidateFunction; policy: ValidateFunction } | undefined;

function compiledValidators(): { tool: ValidateFunction; policy: ValidateFunction } {
  if (validators === undefined) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    validators = { tool: ajv.compile(toolSchema), policy: ajv.compile(policySchema) };
  }
  return validators;
}

export function validateConfig(loaded: LoadedConfig, log: DiagnosticLog): ValidatedConfig {
  const { tool, policy } = compiledValidators();
  /**
   * The documents that pass their schema, and the salvage of those that fail it where `salvage` finds one
   * (undefined: the document is dropped); each failure is reported either way.
   */
  const validated = (docs: readonly ConfigDocument[], validate: ValidateFunction, what: string, salvage: (value: unknown, errors: readonly ErrorObject[]) => unknown) => {
    const kept: ConfigDocument[] = [];
    const salvaged = new Set<ConfigDocument>();
    for (const doc of docs) {
      if (validate(doc.value)) {
        kept.push(doc);
        continue;
      }
      const errors = (validate.errors ?? []) as ErrorObject[];
      reportSchemaErrors(doc, errors, what, log);
      const value = salvage(doc.value, errors);
      if (value !== undefined) {
        kept.push(doc.withValue(value));
        salvaged.add(doc);
      }
    }
    return { kept, salvaged };
  };
  // A tool whose only schema errors are unknown top-level keys (a typo such as `descripton`) is still
  // resolved without them, so the same run reports the policies' unknown fields and operators on it.
  const { kept: tools, salvaged: salvagedTools } = validated(loaded.tools, tool, "tool", (value, errors) => {
    const salvaged = salvageTool(value, errors);
    return salvaged !== undefined && tool(salvaged) ? salvaged : undefined;
  });
  // A policy with schema errors inside some rules (or an unknown top-level key) still has its other rules
  // resolved, so that one run of `check` reports their unknown names and fields too.
  const { kept: policies } = validated(loaded.policies, policy, "policy", salvagePolicy);
  const brokenToolNames = new Set([
    ...loaded.unparsedToolNames,
    ...loaded.tools.filter((d) => !tools.includes(d) && !salvagedTools.has(d)).flatMap((d) => {
      const name = (d.value as { tool?: unknown } | null)?.tool;
      return typeof name === "string" ? [name] : [];
    }),
  ]);
  return { sources: loaded.sources, tools, policies, context: loaded.context, brokenToolNames, toolFolderMissing: loaded.toolFolderMissing };
}

/**
 * The tool without its unknown top-level keys (and with a placeholder description where a misspelt one left it
 * missing), when those are its only schema errors; else undefined. It is only analysed: the errors already
 * reported stop the build.
 */
function salvageTool(value: unknown, errors: readonly ErrorObject[]): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const unknown = new Set<string>();
  for (const error of errors) {
    if (error.instancePath !== "") return undefined;
    const params = error.params as { additionalProperty?: unknown; missingProperty?: unknown };
    if (error.keyword === "additionalProperties" && typeof params.additionalProperty === "string") unknown.add(params.additionalProperty);
    else if (!(error.keyword === "required" && params.missingProperty === "description")) return undefined;
  }
  return { description: "(missing)", ...Object.fromEntries(Object.entries(value).filter(([key]) => !unknown.has(key))) };
}

/**
 * The policy with each rule that has a schema error replaced by null (resolve skips those), when every error
 * lies inside a rule or is an unknown top-level key; undefined when the policy as a whole is broken.
 */
function salvagePolicy(value: unknown, errors: readonly ErrorObject[]): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value) || typeof (value as { policy?: unknown }).policy !== "string") return undefined;
  const broken = { allow: new Set<number>(), deny: new Set<number>() };
  for (const error of errors) {
    const rule = /^\/(allow|deny)\/(\d+)(\/|$)/.exec(error.instancePath);
    if (rule !== null) broken[rule[1] as "allow" | "deny"].add(Number(rule[2]));
    else if (!(error.instancePath === "" && error.keyword === "additionalProperties")) return undefined;
  }
  const raw = value as Record<string, unknown>;
  const copy: Record<string, unknown> = { ...raw };
  for (const effect of ["allow", "deny"] as const) {
    const list = raw[effect];
    if (list !== undefined && !Array.isArray(list)) return undefined;
    if (Array.isArray(list)) copy[effect] = list.map((rule, index) => (broken[effect].has(index) ? null : rule));
  }
  return copy;
}
