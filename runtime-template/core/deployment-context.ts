// `--context key=value` (serve, mcp, run): parsed and checked against the config's context.yaml at start.
// A value outside the declared set, an undeclared key, or a key some policy tests but not given stops the start.

import type { CompiledConfig } from "../contract/tool-module.js";

export class ContextError extends Error {}

export interface ContextRequirement {
  /** false: keys left out stay unset (every condition on an unset key fails; `keyrunner test`). */
  readonly requireUsed?: boolean;
  /**
   * One-shot commands (`explain`, `run`) decide one tool: only the keys its rules test are required. A server
   * (serve, mcp, the SDK) requires every key some policy tests, at start.
   */
  readonly requireFor?: string;
}

/** The context keys the rules of `tool` test (every used key in a bundle that does not say per tool). */
export function keysTestedBy(config: CompiledConfig, tool: string): readonly string[] {
  const context = config.context;
  if (context === undefined) return [];
  return context.usedBy === undefined ? context.used : (context.usedBy[tool] ?? []);
}

/** `["environment=production", "region=eu"]` → `{ environment: "production", region: "eu" }`, checked. */
export function deploymentContext(config: CompiledConfig, settings: readonly string[], options: ContextRequirement = {}): Readonly<Record<string, string>> {
  const declared = config.context?.declared ?? {};
  const context: Record<string, string> = {};
  for (const setting of settings) {
    const at = setting.indexOf("=");
    if (at <= 0) throw new ContextError(`--context takes key=value, not ${JSON.stringify(setting)}`);
    const key = setting.slice(0, at);
    const value = setting.slice(at + 1);
    const values = Object.hasOwn(declared, key) ? declared[key]! : undefined;
    if (values === undefined) {
      const keys = Object.keys(declared);
      throw new ContextError(`--context ${JSON.stringify(key)} is not a key of context.yaml (${keys.length === 0 ? "the config declares no context" : `declared: ${keys.join(", ")}`})`);
    }
    if (!values.includes(value)) throw new ContextError(`--context ${key}=${JSON.stringify(value)}: ${key} is one of ${values.join(", ")}`);
    if (Object.hasOwn(context, key) && context[key] !== value) throw new ContextError(`--context ${key} is given twice`);
    context[key] = value;
  }
  const required = options.requireUsed === false ? [] : options.requireFor !== undefined ? keysTestedBy(config, options.requireFor) : (config.context?.used ?? []);
  const missing = required.filter((key) => !Object.hasOwn(context, key));
  if (missing.length > 0) {
    const who = options.requireFor === undefined ? "policies test" : `the rules of \`${options.requireFor}\` test`;
    const what = options.requireFor === undefined ? "the server needs" : "the request needs";
    throw new ContextError(`${who} the context ${missing.map((k) => `\`${k}\``).join(", ")}, so ${what} ${missing.map((k) => `--context ${k}=<${declared[k]?.join("|") ?? "value"}>`).join(" ")}`);
  }
  return Object.freeze(context);
}
