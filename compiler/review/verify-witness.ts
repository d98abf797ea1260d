// Every witness is replayed through the generated decision code of both configs before it is printed:
// a witness whose replay does not give the stated decisions is an analyser bug, never output.

import type { WitnessRequest } from "../diagnostics/diagnostic.js";
import type { CompiledConfig } from "../../runtime-template/contract/tool-module.js";
import { explainRequest } from "../../runtime-template/core/explain.js";
import { REFERENCE_MONDAY } from "./reference-week.js";
import type { RuleOutcome } from "./rule-region.js";

export type ReplayedOutcome = RuleOutcome | { readonly decision: "invalid"; readonly rule?: undefined };

/**
 * What the generated code decides for a request, in the witness's context and at its instant (without
 * one, the search left the time free and any instant decides alike): `not_found` reads as the
 * default deny.
 */
export function replayDecision(config: CompiledConfig, request: WitnessRequest): ReplayedOutcome {
  const env = { context: request.context ?? {}, now: request.at === undefined ? REFERENCE_MONDAY : Date.parse(request.at) };
  const explained = explainRequest(config, { agent: request.agent, tool: request.tool, input: request.input, ...(request.reason === undefined ? {} : { reason: request.reason }) }, env);
  if (explained.status === "not_found") return { decision: "deny" };
  if (explained.status === "invalid") return { decision: "invalid" };
  const { decision } = explained;
  if (decision.effect === "deny") return { decision: "deny", ...(decision.rule ? { rule: decision.rule } : {}) };
  const o = decision.obligations ?? {};
  return {
    decision: o.approval ? "pending_approval" : "allow",
    ...(decision.rule ? { rule: decision.rule } : {}),
    ...(o.approval ? { approval: o.approval } : {}),
    ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
    ...(o.budget ? { budget: o.budget } : {}),
  };
}

export function sameOutcome(a: ReplayedOutcome, b: ReplayedOutcome): boolean {
  const key = (o: ReplayedOutcome) =>
    JSON.stringify([o.decision, o.rule ?? null, "approval" in o ? o.approval ?? null : null, "rateLimit" in o ? o.rateLimit ?? null : null, "budget" in o ? o.budget ?? null : null]);
  return key(a) === key(b);
}

/** Undefined when the witness replays as stated; else what the generated code decided instead. */
export function witnessMismatch(oldConfig: CompiledConfig, newConfig: CompiledConfig, witness: WitnessRequest, old: RuleOutcome, next: RuleOutcome): string | undefined {
  const [gotOld, gotNew] = [replayDecision(oldConfig, witness), replayDecision(newConfig, witness)];
  if (sameOutcome(gotOld, old) && sameOutcome(gotNew, next)) return undefined;
  return `the witness ${JSON.stringify(witness)} replays as ${JSON.stringify(gotOld)} → ${JSON.stringify(gotNew)}`;
}
