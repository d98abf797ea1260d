// The HTTP API of SPEC section 5 on Node's own `http` (the hot path needs no framework): /v1/execute,
// /v1/tools, /healthz, /metrics. Every answer is JSON without stack traces or internal paths.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { AGENT_NAME, AGENT_NAME_RULE, authenticate, type Principal } from "../credentials/agents-file.js";
import type { Engine } from "../core/engine.js";
import type { Approval } from "../state/state-store.js";
import { forwardError, inputFromRequest, matchRoute } from "./forward-route.js";
import { RUNTIME_VERSION } from "../version.js";
import type { ExecuteBody } from "../core/engine.js";

export interface ServerOptions {
  engine: Engine;
  /** Present: bearer tokens identify agents. Absent: trusted loopback mode, the body names the agent. */
  principals?: readonly Principal[];
  bodyLimitBytes?: number;
  /** The request line and headers together (431 above it). */
  headerLimitBytes?: number;
  /** Time for a client to send a whole request (408 after it); its headers must arrive within 10 s or this, if shorter. */
  requestTimeoutMs?: number;
  log?: (line: string) => void;
}

export const SERVER_LIMIT_DEFAULTS = { bodyLimitBytes: 1024 * 1024, headerLimitBytes: 16 * 1024, requestTimeoutMs: 30_000 } as const;

class HttpError extends Error {
  constructor(readonly status: number, readonly body: Record<string, unknown>) {
    super(String(body.message ?? body.status));
  }
}

function send(res: ServerResponse, status: number, body: unknown, contentType = "application/json"): void {
  const text = contentType === "application/json" ? JSON.stringify(body) : String(body);
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

/** Percent-decoded text, or undefined when it is not valid percent-encoding. */
function percentDecoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** A decoded path segment; one that does not decode names nothing here. */
function pathPart(segment: string): string {
  const decoded = percentDecoded(segment);
  if (decoded === undefined) throw new HttpError(404, { status: "not_found", message: "no such endpoint" });
  return decoded;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) return reject(new HttpError(413, { status: "too_large", message: `request body over ${limit} bytes` }));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, { status: "too_large", message: `request body over ${limit} bytes` }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => reject(new HttpError(400, { status: "invalid", message: "the request body could not be read" })));
  });
}

export function createHttpServer(options: ServerOptions): Server {
  const limit = options.bodyLimitBytes ?? SERVER_LIMIT_DEFAULTS.bodyLimitBytes;
  const requestTimeout = options.requestTimeoutMs ?? SERVER_LIMIT_DEFAULTS.requestTimeoutMs;
  const { engine } = options;

  /** Who is calling. With an agents file the bearer token decides; without one (loopback only) the caller's claim. */
  const principal = (req: IncomingMessage, claimed: unknown, role: "agent" | "approver"): Principal => {
    if (options.principals === undefined) {
      const field = role === "agent" ? "agent" : "approver";
      if (typeof claimed !== "string" || claimed === "") throw new HttpError(400, { status: "invalid", errors: [{ path: field, message: "is required without an agents file" }] });
      if (!AGENT_NAME.test(claimed)) throw new HttpError(400, { status: "invalid", errors: [{ path: field, message: AGENT_NAME_RULE }] });
      return { name: claimed, tokenSha256: "", role };
    }
    const header = req.headers.authorization ?? "";
    const match = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    const found = match === null ? undefined : authenticate(options.principals, match[1]!);
    if (found === undefined) throw new HttpError(401, { status: "unauthorized", message: "unknown or missing agent token" });
    return found;
  };
  const identify = (req: IncomingMessage, claimed: unknown): string => {
    const who = principal(req, claimed, "agent");
    if (who.role !== "agent") throw new HttpError(403, { status: "forbidden", message: "approvers' tokens cannot execute tools" });
    return who.name;
  };

  const execute = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req, limit);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new HttpError(400, { status: "invalid", errors: [{ path: "(body)", message: "malformed JSON" }] });
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, { status: "invalid", errors: [{ path: "(body)", message: "must be a JSON object" }] });
    const request = body as { agent?: unknown; tool?: unknown; input?: unknown; reason?: unknown; approval_id?: unknown };
    const agent = identify(req, request.agent);
    const result = await engine.execute({ agent, tool: request.tool, input: request.input, reason: request.reason, approval_id: request.approval_id });
    send(res, result.httpStatus, result.body);
  };

  const tools = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const agent = identify(req, url.searchParams.get("agent") ?? undefined);
    const format = url.searchParams.get("format") ?? "anthropic";
    const list = engine.visibleTools(agent).map((t) =>
      format === "openai"
        ? { type: "function", function: { name: t.name, description: t.description, parameters: t.inputSchema } }
        : { name: t.name, description: t.description, input_schema: t.inputSchema },
    );
    send(res, 200, { tools: list });
  };

  const approvalView = (a: Approval) => ({
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
  });

  const approvals = async (req: IncomingMessage, res: ServerResponse, url: URL, parts: string[]) => {
    const [id, action] = parts;
    if (req.method === "GET" && id === undefined) {
      const who = principal(req, url.searchParams.get("approver") ?? undefined, "approver");
      if (who.role !== "approver") throw new HttpError(403, { status: "forbidden", message: "only approvers can list approvals" });
      return send(res, 200, { approvals: (await engine.approvals()).map(approvalView) });
    }
    if (req.method === "GET" && id !== undefined && action === undefined) {
      // The requesting agent polls its own approval; approvers see any.
      const claimed = url.searchParams.get("agent") ?? url.searchParams.get("approver") ?? undefined;
      const who = principal(req, claimed, url.searchParams.has("approver") ? "approver" : "agent");
      const approval = await engine.approval(id);
      if (approval === undefined || (who.role === "agent" && approval.agent !== who.name)) throw new HttpError(404, { status: "not_found", message: "unknown approval" });
      return send(res, 200, approvalView(approval));
    }
    if (req.method === "POST" && id !== undefined && (action === "approve" || action === "deny")) {
      const raw = await readBody(req, limit);
      let claimed: unknown;
      try {
        claimed = raw.length === 0 ? undefined : (JSON.parse(raw.toString("utf8")) as { approver?: unknown }).approver;
      } catch {
        claimed = undefined;
      }
      const who = principal(req, claimed ?? url.searchParams.get("approver") ?? undefined, "approver");
      if (who.role !== "approver") throw new HttpError(403, { status: "forbidden", message: "agents' tokens cannot decide approvals" });
      const result = await engine.decideApproval(id, who.name, action === "approve");
      return send(res, result.httpStatus, result.body);
    }
    throw new HttpError(404, { status: "not_found", message: "no such endpoint" });
  };

  /** The agent of a forward-proxy request: its token rides in Proxy-Authorization (Basic agent:TOKEN, or Bearer). */
  const proxyAgent = (req: IncomingMessage): string | undefined => {
    const header = String(req.headers["proxy-authorization"] ?? "");
    let user: string | undefined;
    let token: string | undefined;
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    const bearer = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
    if (basic !== null) {
      const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      user = colon === -1 ? decoded : decoded.slice(0, colon);
      token = colon === -1 ? undefined : percentDecoded(decoded.slice(colon + 1));
    } else if (bearer !== null) token = bearer[1];
    if (options.principals === undefined) return user !== undefined && AGENT_NAME.test(user) ? user : undefined;
    const found = token === undefined ? undefined : authenticate(options.principals, token);
    return found?.role === "agent" ? found.name : undefined;
  };

  const sendForwardError = (res: ServerResponse, status: number, type: string, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(forwardError(type, message, extra));
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const forward = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const rawTarget = req.url ?? "";
    const agent = proxyAgent(req);
    if (agent === undefined) {
      await engine.refuseForward("(unauthenticated)", method, rawTarget, "proxy_auth_required");
      return sendForwardError(res, 407, "proxy_authentication_required", "KeyRunner needs the agent's token in Proxy-Authorization (HTTP_PROXY=http://AGENT:TOKEN@host:port)", {}, { "proxy-authenticate": 'Basic realm="keyrunner"' });
    }
    let target: URL;
    try {
      target = new URL(rawTarget);
    } catch {
      return sendForwardError(res, 400, "invalid_request", "the request target is not a valid URL");
    }
    const host = String(req.headers.host ?? "").toLowerCase();
    if (host !== "" && host !== target.host.toLowerCase()) {
      const auditId = await engine.refuseForward(agent, method, rawTarget, "host_mismatch");
      return sendForwardError(res, 400, "invalid_request", "the Host header disagrees with the request target", { audit_id: auditId });
    }
    const match = matchRoute(engine.visibleTools(agent), method, target);
    if (match === undefined) {
      const auditId = await engine.refuseForward(agent, method, rawTarget, "forward_refused");
      return sendForwardError(res, 403, "permission_denied", `no tool of this agent is ${method} ${target.origin}${target.pathname}; KeyRunner forwards only what its tools declare`, { audit_id: auditId });
    }
    const body = await readBody(req, limit);
    const mapped = inputFromRequest(match, target, req.headers, body);
    if (mapped.errors !== undefined) {
      const auditId = await engine.refuseForward(agent, method, rawTarget, "invalid", match.tool.name);
      const message = mapped.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
      return sendForwardError(res, 400, "invalid_request", message, { errors: mapped.errors, audit_id: auditId });
    }
    const passOn = (["accept", "user-agent"] as const).flatMap((name) => (typeof req.headers[name] === "string" ? [[name, req.headers[name] as string] as const] : []));
    const reason = req.headers["x-keyrunner-reason"];
    const approval = req.headers["x-keyrunner-approval"];
    const result = await engine.execute(
      { agent, tool: match.tool.name, input: mapped.input, ...(typeof reason === "string" ? { reason } : {}), ...(typeof approval === "string" ? { approval_id: approval } : {}) },
      { headers: passOn },
    );
    if (result.upstream !== undefined) {
      const upstreamBody = result.upstream.body;
      const text = typeof upstreamBody === "string" ? upstreamBody : JSON.stringify(upstreamBody);
      res.writeHead(result.upstream.status, { "content-type": typeof upstreamBody === "string" ? "text/plain; charset=utf-8" : "application/json", "content-length": Buffer.byteLength(text), "x-keyrunner-audit-id": result.body.audit_id });
      return res.end(text);
    }
    return sendForwardAnswer(res, result.httpStatus, result.body);
  };

  /** KeyRunner's own answers in forward mode, shaped so that stock SDKs raise them as errors. */
  const sendForwardAnswer = (res: ServerResponse, status: number, body: ExecuteBody) => {
    const audit = { audit_id: body.audit_id };
    switch (body.status) {
      case "denied":
        return sendForwardError(res, 403, "permission_denied", `denied by KeyRunner: ${body.reason}`, { ...audit, ...(body.rule ? { rule: body.rule } : {}), ...(body.remaining === undefined ? {} : { remaining: body.remaining }) });
      case "invalid":
        return sendForwardError(res, 400, "invalid_request", body.errors.map((e) => `${e.path}: ${e.message}`).join("; "), { ...audit, errors: body.errors });
      case "not_found":
        return sendForwardError(res, 403, "permission_denied", "no tool of this agent matches this request", audit);
      case "pending_approval":
        return sendForwardError(res, 403, "approval_required", `a person must approve this request: re-send it with X-KeyRunner-Approval: ${body.approval_id} once approved`, { ...audit, approval_id: body.approval_id });
      case "rate_limited":
        return sendForwardError(res, 429, "rate_limited", `rate limited by KeyRunner; retry after ${body.retry_after_s} s`, { ...audit, retry_after_s: body.retry_after_s }, { "retry-after": String(body.retry_after_s) });
      case "unavailable":
        return sendForwardError(res, 503, "unavailable", body.message, audit);
      case "upstream_error":
      case "upstream_timeout":
        return sendForwardError(res, status, body.status, body.message, audit);
      default:
        return sendForwardError(res, status, "error", "unexpected answer", audit);
    }
  };

  /** MCP over Streamable HTTP, stateless: a fresh server per request, bound to the caller's identity. */
  const mcp = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const claimed = url.searchParams.get("agent") ?? req.headers["x-keyrunner-agent"];
    const agent = identify(req, claimed);
    const body = req.method === "POST" ? await readBody(req, limit) : undefined;
    let parsed: unknown;
    if (body !== undefined) {
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch {
        return send(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
      }
    }
    // Loaded on first use: the MCP SDK builds its message schemas at import, which would slow every start.
    const [{ StreamableHTTPServerTransport }, { createMcpServer }] = await Promise.all([import("@modelcontextprotocol/sdk/server/streamableHttp.js"), import("../mcp/mcp-server.js")]);
    const server = createMcpServer(engine, agent, RUNTIME_VERSION);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, parsed);
  };

  const serverOptions = {
    maxHeaderSize: options.headerLimitBytes ?? SERVER_LIMIT_DEFAULTS.headerLimitBytes,
    requestTimeout,
    headersTimeout: Math.min(10_000, requestTimeout),
    // How often Node looks for requests past their timeout (its default, 30 s, would let a short timeout slip).
    connectionsCheckingInterval: Math.min(1000, requestTimeout),
  };
  const server = createServer(serverOptions, (req, res) => {
    const handle = async () => {
      // The hot path, `POST /v1/execute` without a query, is recognised without parsing a URL.
      if (req.method === "POST" && req.url === "/v1/execute") return execute(req, res);
      if (/^https?:\/\//i.test(req.url ?? "")) return forward(req, res);
      let url: URL;
      try {
        url = new URL(req.url ?? "/", "http://keyrunner.invalid");
      } catch {
        throw new HttpError(400, { status: "invalid", message: "the request target is not a valid path" });
      }
      const route = `${req.method} ${url.pathname}`;
      if (route === "POST /v1/execute") return execute(req, res);
      if (route === "GET /v1/tools") return tools(req, res, url);
      if (route === "GET /healthz") return send(res, 200, { status: "ok" });
      if (route === "GET /metrics") return send(res, 200, engine.metrics.render(), "text/plain; version=0.0.4");
      if (url.pathname === "/mcp") return mcp(req, res, url);
      if (url.pathname === "/v1/approvals" || url.pathname.startsWith("/v1/approvals/")) {
        return approvals(req, res, url, url.pathname.split("/").slice(3).filter((p) => p !== "").map(pathPart));
      }
      throw new HttpError(404, { status: "not_found", message: "no such endpoint" });
    };
    handle().catch((error: unknown) => {
      if (error instanceof HttpError) return send(res, error.status, error.body);
      options.log?.(engine.redactor.text(`internal error on ${req.method} ${String(req.url).slice(0, 200)}: ${(error as Error).message ?? "unknown"}`));
      if (!res.headersSent) send(res, 500, { status: "error", message: "internal error" });
    });
  });

  // KeyRunner does not tunnel what it cannot inspect: every CONNECT is refused, and audited.
  // Nothing thrown here may escape: a listener's exception would take the whole server down.
  server.on("connect", (req: IncomingMessage, socket) => {
    socket.on("error", () => socket.destroy());
    const refuse = (auditId: string | undefined) => {
      const text = JSON.stringify(forwardError("permission_denied", "KeyRunner does not tunnel (CONNECT); send plain-http requests for tool endpoints through the proxy", auditId === undefined ? {} : { audit_id: auditId }));
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    };
    let agent = "(unauthenticated)";
    try {
      agent = proxyAgent(req) ?? agent;
    } catch {
      // an unreadable credential is no credential
    }
    engine.refuseForward(agent, "CONNECT", req.url ?? "", "connect_refused").then(refuse, () => refuse(undefined));
  });
  return server;
}
