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
  const check = (docs: readonly ConfigDocument[], validate: ValidateFunction, what: string): ConfigDocument[] =>
    docs.filter((doc) => {
      if (validate(doc.value)) return true;
      reportSchemaErrors(doc, (validate.errors ?? []) as ErrorObject[], what, log);
      return false;
    });
  const tools = check(loaded.tools, tool, "tool");
  const policies = check(loaded.policies, policy, "policy");
  const brokenToolNames = new Set([
    ...loaded.unparsedToolNames,
    ...loaded.tools.filter((d) => !tools.includes(d)).flatMap((d) => {
      const name = (d.value as { tool?: unknown } | null)?.tool;
      return typeof name === "string" ? [name] : [];
    }),
  ]);
  return { sources: loaded.sources, tools, policies, brokenToolNames, toolFolderMissing: loaded.toolFolderMissing };
}
