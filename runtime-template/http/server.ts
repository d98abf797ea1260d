// The HTTP API of SPEC section 5 on Node's own `http` (the hot path needs no framework): guards first, then
// one route per concern (routes/). Every answer is JSON without stack traces or internal paths.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { keepAnswersOnClientError } from "./client-errors.js";
import { tokenMatchesDigest } from "../credentials/constant-time.js";
import type { Principal } from "../credentials/agents-file.js";
import type { Engine } from "../core/engine.js";
import type { RouteContext } from "./context.js";
import { answeringHosts, guardRefusal } from "./guards.js";
import { bearerToken } from "./identity.js";
import { answerAfterHalfClose } from "./half-close.js";
import { inTurn } from "./pipelining.js";
import { HttpError, notFound, pathPart, send } from "./respond.js";
import { approvalsRoute } from "./routes/approvals.js";
import { connectRoute } from "./routes/connect.js";
import { executeRoute } from "./routes/execute.js";
import { forwardRoute } from "./routes/forward.js";
import { mcpRoute } from "./routes/mcp.js";
import { toolsRoute } from "./routes/tools.js";
import { Interception, type InterceptionOptions } from "./tunnel-server.js";

export interface ServerOptions {
  engine: Engine;
  /** Present: bearer tokens identify agents. Absent: trusted loopback mode, the body names the agent. */
  principals?: readonly Principal[];
  /** Host names and addresses requests may name in Host (default: the loopback names). */
  allowedHosts?: Iterable<string>;
  /** /metrics on this server only for a bearer token with this sha256; without it, /metrics is not served here. */
  metrics?: { tokenSha256: string };
  bodyLimitBytes?: number;
  /** The request line and headers together (431 above it). */
  headerLimitBytes?: number;
  /** Time for a client to send a whole request (408 after it); its headers must arrive within 10 s or this, if shorter. */
  requestTimeoutMs?: number;
  log?: (line: string) => void;
  /** Present (`serve --ca`): CONNECTs to the agent's https tool origins are intercepted with leaves from this cache. */
  interception?: Pick<InterceptionOptions, "leaves" | "idleTimeoutMs">;
}

const interceptions = new WeakMap<Server, Interception>();

/** The tunnel server of a server made with `interception` (the drain closes its tunnels too). */
export const interceptionOf = (server: Server): Interception | undefined => interceptions.get(server);

export const SERVER_LIMIT_DEFAULTS = { bodyLimitBytes: 1024 * 1024, headerLimitBytes: 16 * 1024, requestTimeoutMs: 30_000 } as const;

const ABSOLUTE_FORM = /^https?:\/\//i;

/** Whether the request bears a token with this sha256 (compared in constant time). */
function bearerMatches(req: IncomingMessage, tokenSha256: string): boolean {
  const token = bearerToken(req);
  return token !== undefined && tokenMatchesDigest(token, tokenSha256);
}

export function createHttpServer(options: ServerOptions): Server {
  const requestTimeout = options.requestTimeoutMs ?? SERVER_LIMIT_DEFAULTS.requestTimeoutMs;
  const { engine } = options;
  const allowedHosts = new Set(options.allowedHosts ?? answeringHosts("127.0.0.1"));
  const ctx: RouteContext = { engine, principals: options.principals, bodyLimitBytes: options.bodyLimitBytes ?? SERVER_LIMIT_DEFAULTS.bodyLimitBytes };

  // One routing function for the server, not a closure per request. Not async: a route's promise is
  // returned as it is, not wrapped in another one (two fewer microtask turns per request); what it throws
  // before that is caught by the request listener.
  const route = (req: IncomingMessage, res: ServerResponse): Promise<void> | void => {
    const forward = ABSOLUTE_FORM.test(req.url ?? "");
    const refusal = guardRefusal(req, allowedHosts, forward);
    if (refusal !== undefined) throw refusal;
    // The hot path, `POST /v1/execute` without a query, is recognised without parsing a URL.
    if (req.method === "POST" && req.url === "/v1/execute") return executeRoute(ctx, req, res);
    if (forward) return forwardRoute(ctx, req, res);
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://keyrunner.invalid");
    } catch {
      throw new HttpError(400, { status: "invalid", message: "the request target is not a valid path" });
    }
    const path = `${req.method} ${url.pathname}`;
    if (path === "POST /v1/execute") return executeRoute(ctx, req, res);
    if (path === "GET /v1/tools") return toolsRoute(ctx, req, res, url);
    // Not ok while the audit cannot be written (a full disk): every execute then answers 503.
    if (path === "GET /healthz") return engine.unavailable === undefined ? send(res, 200, { status: "ok" }) : send(res, 503, { status: "unavailable", message: engine.unavailable });
    if (path === "GET /metrics" && options.metrics !== undefined && bearerMatches(req, options.metrics.tokenSha256)) return send(res, 200, engine.metrics.render(), "text/plain; version=0.0.4");
    if (url.pathname === "/mcp") return mcpRoute(ctx, req, res, url);
    if (url.pathname === "/v1/approvals" || url.pathname.startsWith("/v1/approvals/")) {
      return approvalsRoute(ctx, req, res, url, url.pathname.split("/").slice(3).filter((p) => p !== "").map(pathPart));
    }
    throw notFound();
  };
  const failed = (req: IncomingMessage, res: ServerResponse, error: unknown): void => {
    if (error instanceof HttpError) return send(res, error.status, error.body, "application/json", error.headers);
    options.log?.(engine.redactor.text(`internal error on ${req.method} ${String(req.url).slice(0, 200)}: ${(error as Error).message ?? "unknown"}`));
    if (!res.headersSent) send(res, 500, { status: "error", message: "internal error" });
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let routed: Promise<void> | void;
    try {
      routed = route(req, res);
    } catch (error) {
      return failed(req, res, error);
    }
    routed?.catch((error: unknown) => failed(req, res, error));
  };

  const server = createServer(
    {
      maxHeaderSize: options.headerLimitBytes ?? SERVER_LIMIT_DEFAULTS.headerLimitBytes,
      requestTimeout,
      headersTimeout: Math.min(10_000, requestTimeout),
      // How often Node looks for requests past their timeout (its default, 30 s, would let a short timeout slip).
      connectionsCheckingInterval: Math.min(1000, requestTimeout),
    },
    // A connection's pipelined requests take turns (pipelining.ts): a few run at once, the rest wait.
    (req, res) => inTurn(req, res, handle),
  );
  const interception =
    options.interception === undefined
      ? undefined
      : new Interception(ctx, { ...options.interception, headerLimitBytes: options.headerLimitBytes ?? SERVER_LIMIT_DEFAULTS.headerLimitBytes, requestTimeoutMs: requestTimeout, ...(options.log ? { log: options.log } : {}) });
  if (interception !== undefined) interceptions.set(server, interception);
  answerAfterHalfClose(server);
  server.on("connect", (req, socket, head) => connectRoute(ctx, req, socket, head, interception));
  keepAnswersOnClientError(server);
  return server;
}
