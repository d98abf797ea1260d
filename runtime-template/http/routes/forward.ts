// Forward-proxy mode: an absolute-form request from a stock client, matched to a tool's route, mapped back
// to that tool's input and run through the same engine. KeyRunner's own answers are shaped so that stock
// SDKs raise them as errors (one table below); an executed request returns the upstream's own status.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Outcome } from "../../core/outcome.js";
import type { ToolModule } from "../../contract/tool-module.js";
import { UNAUTHENTICATED, type Engine } from "../../core/engine.js";
import type { RouteContext } from "../context.js";
import { forwardError, inputFromRequest, matchRoute } from "../forward-route.js";
import { proxyAgent } from "../identity.js";
import { readBody } from "../respond.js";

export function sendForwardError(res: ServerResponse, status: number, type: string, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(forwardError(type, message, extra));
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Each outcome of a forwarded request that did not pass the upstream's answer on. */
function sendForwardOutcome(res: ServerResponse, outcome: Outcome): void {
  const audit = { audit_id: outcome.audit_id };
  switch (outcome.status) {
    case "ok": {
      // Executed without an upstream answer to pass on: a redirect. KeyRunner never follows it; the stock
      // client gets the upstream's own status and its (redacted) Location, as the audit records them — if
      // it follows, that is a new request through this proxy, decided like any other.
      const status = outcome.http_status !== undefined && outcome.http_status >= 300 && outcome.http_status < 400 ? outcome.http_status : 200;
      const location = (outcome.result as { location?: unknown } | null)?.location;
      if (status !== 200) {
        res.writeHead(status, { "content-length": 0, "x-keyrunner-audit-id": outcome.audit_id, ...(typeof location === "string" && location !== "" ? { location } : {}) });
        res.end();
        return;
      }
      const text = JSON.stringify(outcome.result);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "x-keyrunner-audit-id": outcome.audit_id });
      res.end(text);
      return;
    }
    case "denied":
      return sendForwardError(res, 403, "permission_denied", `denied by KeyRunner: ${outcome.reason}`, { ...audit, ...(outcome.rule ? { rule: outcome.rule } : {}), ...(outcome.remaining === undefined ? {} : { remaining: outcome.remaining }) });
    case "invalid":
      return sendForwardError(res, 400, "invalid_request", outcome.errors.map((e) => `${e.path}: ${e.message}`).join("; "), { ...audit, errors: outcome.errors });
    case "not_found":
      return sendForwardError(res, 403, "permission_denied", "no tool of this agent matches this request", audit);
    case "pending_approval":
      return sendForwardError(res, 403, "approval_required", `a person must approve this request: re-send it with X-KeyRunner-Approval: ${outcome.approval_id} once approved`, { ...audit, approval_id: outcome.approval_id });
    case "rate_limited":
      return sendForwardError(res, 429, "rate_limited", `rate limited by KeyRunner; retry after ${outcome.retry_after_s} s`, { ...audit, retry_after_s: outcome.retry_after_s }, { "retry-after": String(outcome.retry_after_s) });
    case "unavailable":
      return sendForwardError(res, 503, "unavailable", outcome.message, audit);
    case "upstream_error":
      return sendForwardError(res, 502, outcome.status, outcome.message, audit);
    case "upstream_timeout":
      return sendForwardError(res, 504, outcome.status, outcome.message, audit);
  }
}

export async function forwardRoute(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { engine } = ctx;
  const method = req.method ?? "GET";
  const rawTarget = req.url ?? "";
  // Every forward request is audited, refusals too: with the audit down, none is answered but this.
  if (engine.unavailable !== undefined) return sendForwardError(res, 503, "unavailable", engine.unavailable);
  const agent = proxyAgent(req, ctx.principals);
  if (agent === undefined) {
    await engine.refuseForward(UNAUTHENTICATED, method, rawTarget, "proxy_auth_required");
    return sendForwardError(res, 407, "proxy_authentication_required", "KeyRunner needs the agent's token in Proxy-Authorization (HTTP_PROXY=http://AGENT:TOKEN@host:port)", {}, { "proxy-authenticate": 'Basic realm="keyrunner"' });
  }
  let target: URL;
  try {
    target = new URL(rawTarget);
  } catch {
    return sendForwardError(res, 400, "invalid_request", "the request target is not a valid URL");
  }
  const host = String(req.headers.host ?? "").toLowerCase();
  if (host !== "" && host !== target.host.toLowerCase()) return refuseHostMismatch(ctx, res, agent, method, rawTarget);
  return forwardAs(ctx, req, res, agent, rawTarget, target, engine.visibleTools(agent));
}

export async function refuseHostMismatch(ctx: RouteContext, res: ServerResponse, agent: string, method: string, rawTarget: string): Promise<void> {
  const auditId = await ctx.engine.refuseForward(agent, method, rawTarget, "host_mismatch");
  return sendForwardError(res, 400, "invalid_request", "the Host header disagrees with the request target", { audit_id: auditId });
}

/**
 * A request of an identified agent to `target`, served by one of `tools` or refused: the one path of
 * forward mode, for plain absolute-form requests and for those read inside an intercepted tunnel.
 */
export async function forwardAs(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, agent: string, rawTarget: string, target: URL, tools: Iterable<ToolModule>): Promise<void> {
  const { engine } = ctx;
  const method = req.method ?? "GET";
  if (engine.unavailable !== undefined) return sendForwardError(res, 503, "unavailable", engine.unavailable);
  const match = matchRoute(tools, method, target);
  if (match === undefined) {
    const auditId = await engine.refuseForward(agent, method, rawTarget, "forward_refused");
    // The path is the agent's: quoted back as it is but for a whole secret. Redacting a piece of one
    // would tell the agent that its guess is a piece (docs/policy-semantics.md).
    const where = agentText(engine, `${method.slice(0, 16)} ${target.origin}${target.pathname}`);
    return sendForwardError(res, 403, "permission_denied", `no tool of this agent is ${where}; KeyRunner forwards only what its tools declare`, { audit_id: auditId });
  }
  const body = await readBody(req, ctx.bodyLimitBytes);
  const mapped = inputFromRequest(match, target, req.headers, body);
  if (mapped.errors !== undefined) {
    const auditId = await engine.refuseForward(agent, method, rawTarget, "invalid", match.tool.name);
    // The paths quote the agent's query keys and fields: a whole secret among them is redacted.
    const errors = mapped.errors.map((e) => ({ path: agentText(engine, e.path), message: agentText(engine, e.message) }));
    const message = errors.map((e) => `${e.path}: ${e.message}`).join("; ");
    return sendForwardError(res, 400, "invalid_request", message, { errors, audit_id: auditId });
  }
  const passOn = (["accept", "user-agent"] as const).flatMap((name) => (typeof req.headers[name] === "string" ? [[name, req.headers[name] as string] as const] : []));
  const reason = req.headers["x-keyrunner-reason"];
  const approval = req.headers["x-keyrunner-approval"];
  const outcome = await engine.execute(
    { agent, tool: match.tool.name, input: mapped.input, ...(typeof reason === "string" ? { reason } : {}), ...(typeof approval === "string" ? { approval_id: approval } : {}) },
    { headers: passOn },
  );
  if ((outcome.status === "ok" || outcome.status === "upstream_error") && outcome.upstream !== undefined) {
    const upstreamBody = outcome.upstream.body;
    const text = typeof upstreamBody === "string" ? upstreamBody : JSON.stringify(upstreamBody);
    res.writeHead(outcome.upstream.status, { "content-type": typeof upstreamBody === "string" ? "text/plain; charset=utf-8" : "application/json", "content-length": Buffer.byteLength(text), "x-keyrunner-audit-id": outcome.audit_id });
    res.end(text);
    return;
  }
  sendForwardOutcome(res, outcome);
}

/** Text made of what the agent sent, to quote back: as it is but for a whole secret (Redactor#knowing). */
const agentText = (engine: Engine, text: string): string => engine.redactor.knowing([text]).text(text);
