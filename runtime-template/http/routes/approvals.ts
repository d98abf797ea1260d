// /v1/approvals: approvers list and decide pending approvals; an agent polls its own. Deciding needs an
// agents file with approvers: in trusted mode (no agents file) nobody can approve, since anyone could
// claim to be an approver.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { ApprovalOutcome } from "../../core/outcome.js";
import type { Approval } from "../../state/state-store.js";
import type { RouteContext } from "../context.js";
import { principal, type Role } from "../identity.js";
import { HttpError, notFound, readBody, send } from "../respond.js";

export function approvalView(a: Approval) {
  return {
    approval_id: a.id,
    status: a.status,
    agent: a.agent,
    tool: a.tool,
    rule: a.rule,
    input: a.input,
    ...(a.reason === undefined ? {} : { reason: a.reason }),
    created_at: new Date(a.createdAt).toISOString(),
    expires_at: new Date(a.expiresAt).toISOString(),
    ...(a.decidedBy === undefined ? {} : { decided_by: a.decidedBy }),
  };
}

/** The status and body of each approval outcome. */
function approvalAnswer(outcome: ApprovalOutcome): [number, Record<string, unknown>] {
  switch (outcome.status) {
    case "decided":
      return [200, { status: outcome.decision, approval_id: outcome.approval_id, audit_id: outcome.audit_id }];
    case "not_found":
      return [404, { status: "not_found", message: "unknown approval" }];
    case "not_pending":
      return [409, { status: outcome.current, message: `the approval is ${outcome.current}, not pending` }];
    case "conflict":
      return [409, { status: "conflict", message: "the approval changed meanwhile" }];
    case "self_approval":
      return [403, { status: "forbidden", message: "an approver cannot decide a request made under its own name" }];
    case "unavailable":
      return [503, { status: "unavailable", message: outcome.message }];
  }
}

function approver(ctx: RouteContext, req: IncomingMessage, refusal: string) {
  if (ctx.principals === undefined) throw new HttpError(403, { status: "forbidden", message: "approvals need an agents file with approvers (serve --agents FILE); without one nobody can approve" });
  const who = principal(req, ctx.principals, undefined, "approver");
  if (who.role !== "approver") throw new HttpError(403, { status: "forbidden", message: refusal });
  return who;
}

export async function approvalsRoute(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL, parts: readonly string[]): Promise<void> {
  const [id, action, ...extra] = parts;
  if (extra.length > 0) throw notFound();
  if (req.method === "GET" && id === undefined) {
    approver(ctx, req, "only approvers can list approvals");
    return send(res, 200, { approvals: (await ctx.engine.approvals.list()).map(approvalView) });
  }
  if (req.method === "GET" && id !== undefined && action === undefined) {
    // The requesting agent polls its own approval; approvers see any.
    const role: Role = ctx.principals === undefined || !url.searchParams.has("approver") ? "agent" : "approver";
    const who = principal(req, ctx.principals, url.searchParams.get("agent") ?? undefined, role);
    const approval = await ctx.engine.approvals.get(id);
    if (approval === undefined || (who.role === "agent" && approval.agent !== who.name)) throw new HttpError(404, { status: "not_found", message: "unknown approval" });
    return send(res, 200, approvalView(approval));
  }
  if (req.method === "POST" && id !== undefined && (action === "approve" || action === "deny")) {
    const who = approver(ctx, req, "agents' tokens cannot decide approvals");
    await readBody(req, ctx.bodyLimitBytes);
    const [status, body] = approvalAnswer(await ctx.engine.approvals.decide(id, who.name, action === "approve"));
    return send(res, status, body);
  }
  throw notFound();
}
