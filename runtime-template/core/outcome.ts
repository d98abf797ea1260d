// What the engine answers: one typed outcome per request, named as SPEC section 5 names them. Nothing
// here is HTTP; each adapter (/v1/execute, the forward proxy, MCP) maps an outcome in one table of its own.

import type { ValidationError } from "../contract/tool-module.js";

export interface ExecuteRequest {
  agent: string;
  tool: unknown;
  input: unknown;
  reason?: unknown;
  approval_id?: unknown;
}

/** The upstream's own status and body (redacted, output rules applied): forward mode passes them on. */
export interface UpstreamAnswer {
  readonly status: number;
  readonly body: unknown;
}

export type Outcome =
  | { status: "ok"; result: unknown; http_status?: number; audit_id: string; upstream?: UpstreamAnswer }
  | { status: "invalid"; errors: ValidationError[]; audit_id: string }
  | { status: "denied"; reason: string; rule?: string; remaining?: number; failed?: ReadonlyArray<{ readonly rule: string; readonly failed: readonly string[] }>; audit_id: string }
  | { status: "pending_approval"; approval_id: string; expires_at: string; audit_id: string }
  | { status: "rate_limited"; retry_after_s: number; rule: string; audit_id: string }
  | { status: "unavailable"; message: string; audit_id: string }
  | { status: "not_found"; message: string; audit_id: string }
  | { status: "upstream_error" | "upstream_timeout"; http_status?: number; message: string; audit_id: string; upstream?: UpstreamAnswer };

export type OutcomeStatus = Outcome["status"];

/** The outcome as the agent reads it: everything but forward mode's upstream passthrough. */
export type ExecuteBody = Outcome extends infer O ? (O extends Outcome ? Omit<O, "upstream"> : never) : never;

export function outcomeBody(outcome: Outcome): ExecuteBody {
  if (!("upstream" in outcome) || outcome.upstream === undefined) return outcome;
  const { upstream: _upstream, ...body } = outcome;
  return body;
}

/** A person's decision on a pending approval. */
export type ApprovalOutcome =
  | { status: "decided"; decision: "approved" | "denied"; approval_id: string; audit_id: string }
  | { status: "not_found" }
  | { status: "not_pending"; current: string }
  | { status: "conflict" }
  | { status: "self_approval" }
  | { status: "unavailable"; message: string };
