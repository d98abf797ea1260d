// POST /v1/execute: the agent's request in, the engine's outcome out, mapped by one status table.

import type { IncomingMessage, ServerResponse } from "node:http";
import { outcomeBody, type Outcome, type OutcomeStatus } from "../../core/outcome.js";
import type { RouteContext } from "../context.js";
import { agentOf } from "../identity.js";
import { readJsonObject, send } from "../respond.js";

/** The HTTP status of each outcome on /v1/execute (SPEC section 5). */
export const EXECUTE_STATUS: Readonly<Record<OutcomeStatus, number>> = {
  ok: 200,
  invalid: 400,
  denied: 403,
  not_found: 404,
  pending_approval: 202,
  rate_limited: 429,
  unavailable: 503,
  upstream_error: 502,
  upstream_timeout: 504,
};

export function sendOutcome(res: ServerResponse, outcome: Outcome): void {
  const headers = outcome.status === "rate_limited" ? { "retry-after": String(outcome.retry_after_s) } : undefined;
  send(res, EXECUTE_STATUS[outcome.status], outcomeBody(outcome), "application/json", headers);
}

export async function executeRoute(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const request = await readJsonObject(req, ctx.bodyLimitBytes);
  const agent = agentOf(req, ctx.principals, request.agent);
  const outcome = await ctx.engine.execute({ agent, tool: request.tool, input: request.input, reason: request.reason, approval_id: request.approval_id });
  sendOutcome(res, outcome);
}
