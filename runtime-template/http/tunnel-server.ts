// HTTPS interception: a CONNECT that connect.ts admitted is answered 200, TLS is terminated on its socket
// with a leaf for the CONNECT host (ALPN http/1.1 only: no HTTP/2 request escapes inspection), and the
// HTTP/1.1 requests inside are read by a server of their own and served exactly as forward mode serves
// an absolute-form request to https://host:port/path. Nothing inside a tunnel is ever relayed as bytes.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket as TlsSocket } from "node:tls";
import type { ToolModule } from "../contract/tool-module.js";
import type { LeafCache } from "../interception/leaf-cache.js";
import type { RouteContext } from "./context.js";
import { keepAnswersOnClientError } from "./client-errors.js";
import { guardRefusal } from "./guards.js";
import { answerAfterHalfClose } from "./half-close.js";
import { inTurn } from "./pipelining.js";
import { closeAfterRunning } from "./drain-connection.js";
import { HttpError, send } from "./respond.js";
import { forwardAs, refuseHostMismatch, sendForwardError } from "./routes/forward.js";

/** Where a tunnel goes and for whom: fixed by its CONNECT. */
export interface TunnelTarget {
  readonly agent: string;
  /** Lower case, IPv6 without brackets. */
  readonly host: string;
  readonly port: string;
  /** `X-KeyRunner-Reason` of the CONNECT: the reason of each request inside that does not give its own. */
  readonly reason?: string;
}

export interface InterceptionOptions {
  readonly leaves: LeafCache;
  /** A tunnel with no request in progress for this long is closed; also the TLS handshake's deadline. */
  readonly idleTimeoutMs: number;
  readonly headerLimitBytes: number;
  readonly requestTimeoutMs: number;
  readonly log?: (line: string) => void;
}

/** The authority of a target as URLs write it: `host:port`, an IPv6 address in brackets. */
export const authorityOf = (target: Pick<TunnelTarget, "host" | "port">) => `${isIP(target.host) === 6 ? `[${target.host}]` : target.host}:${target.port}`;

/** The https tools of this agent whose origin is exactly this host and port: the only ones a tunnel serves. */
export function tunnelTools(tools: Iterable<ToolModule>, target: Pick<TunnelTarget, "host" | "port">): ToolModule[] {
  return [...tools].filter((tool) => {
    if (tool.forward === undefined) return false;
    const origin = new URL(tool.forward.origin);
    if (origin.protocol !== "https:") return false;
    const host = origin.hostname.startsWith("[") ? origin.hostname.slice(1, -1) : origin.hostname;
    return host === target.host && (origin.port === "" ? "443" : origin.port) === target.port;
  });
}

/** The host and port of a Host header, the port defaulting to 443; undefined when it does not parse. */
function hostHeaderTarget(header: string): { host: string; port: string } | undefined {
  try {
    const url = new URL(`https://${header}`);
    if (url.username !== "" || url.password !== "" || url.pathname !== "/" || url.search !== "" || url.hash !== "") return undefined;
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    return { host: host.toLowerCase(), port: url.port === "" ? "443" : url.port };
  } catch {
    return undefined;
  }
}

export class Interception {
  readonly server: Server;
  readonly #targets = new WeakMap<object, TunnelTarget>();
  /** Answers not yet closed: a count, not a set of responses changed per request (http/owed-answers.ts says why). */
  #inFlight = 0;
  #draining = false;
  /** The tunnels open now (changed once per tunnel), for the drain. */
  readonly #tunnels = new Set<TlsSocket>();
  /** Tunnels whose newest answer closes them: nothing parsed after it runs. */
  readonly #closing = new WeakSet<object>();

  constructor(
    private readonly ctx: RouteContext,
    private readonly options: InterceptionOptions,
  ) {
    this.server = createServer(
      {
        maxHeaderSize: options.headerLimitBytes,
        requestTimeout: options.requestTimeoutMs,
        headersTimeout: Math.min(10_000, options.requestTimeoutMs, options.idleTimeoutMs),
        connectionsCheckingInterval: Math.min(1000, options.requestTimeoutMs),
        keepAliveTimeout: options.idleTimeoutMs,
      },
      // A tunnel's pipelined requests take turns, as on the server's own connections (pipelining.ts).
      (req, res) => {
        // Pipelined behind an answer that closes the tunnel: never answered, so it never runs.
        if (this.#closing.has(req.socket)) return;
        inTurn(req, res, this.#request);
      },
    );
    keepAnswersOnClientError(this.server);
    answerAfterHalfClose(this.server);
    // This server never listens (tunnels are handed to it); Node starts the checks behind headersTimeout
    // and requestTimeout on 'listening', so that is announced here, or a slowloris would never be cut.
    this.server.emit("listening");
  }

  /** Requests being served inside tunnels (the drain waits for them). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Idle tunnels close now; on a busy one what runs is answered, the newest answer closes it and what
   * waits its turn never runs (drain-connection.ts); a request read from then on closes its tunnel.
   */
  drain(): void {
    this.#draining = true;
    this.server.closeIdleConnections();
    for (const tls of this.#tunnels) closeAfterRunning(tls, this.#closing);
  }

  closeAll(): void {
    this.server.closeAllConnections();
  }

  /** The leaf for a host, before the CONNECT is answered: a failure here is still an HTTP answer. */
  contextFor(host: string) {
    return this.options.leaves.contextFor(host);
  }

  /** Terminates TLS on an admitted CONNECT's socket; `head` is what the client sent after its CONNECT. */
  open(socket: Duplex, head: Buffer, target: TunnelTarget, context: Awaited<ReturnType<LeafCache["contextFor"]>>): void {
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) socket.unshift(head);
    const ip = isIP(target.host) !== 0;
    // node:tls is taken on the first intercepted tunnel, not at every start.
    const { TLSSocket } = process.getBuiltinModule("node:tls");
    const tls: TlsSocket = new TLSSocket(socket as never, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: ["http/1.1"],
      requestCert: false,
      SNICallback: (name, callback) => {
        // The name the client's TLS asked for must be the one its CONNECT named (no SNI for an IP).
        if (!ip && name.toLowerCase() === target.host) return callback(null, context);
        void this.ctx.engine.refuseForward(target.agent, "CONNECT", `${authorityOf(target)} (TLS server name ${JSON.stringify(name.slice(0, 256))})`, "sni_mismatch");
        callback(new Error("TLS server name differs from the CONNECT host"));
      },
    });
    const handshake = setTimeout(() => tls.destroy(), this.options.idleTimeoutMs);
    handshake.unref();
    tls.on("error", () => tls.destroy());
    socket.on("error", () => tls.destroy());
    tls.on("close", () => {
      clearTimeout(handshake);
      this.#tunnels.delete(tls);
      socket.destroy();
    });
    tls.once("secure", () => {
      clearTimeout(handshake);
      // ALPN offers only http/1.1; a client that asked for h2 alone is refused rather than read as HTTP/1.1.
      if (tls.alpnProtocol !== false && tls.alpnProtocol !== "http/1.1") return void tls.destroy();
      this.#targets.set(tls, target);
      this.#tunnels.add(tls);
      this.server.emit("connection", tls);
    });
  }

  readonly #request = (req: IncomingMessage, res: ServerResponse): void => {
    const target = this.#targets.get(req.socket);
    if (target === undefined) return void req.socket.destroy();
    this.#inFlight++;
    res.once("close", () => this.#inFlight--);
    if (this.#draining && !res.headersSent) {
      res.setHeader("connection", "close");
      this.#closing.add(req.socket);
    }
    this.#serve(req, res, target).catch((error: unknown) => {
      if (error instanceof HttpError) return send(res, error.status, error.body, "application/json", error.headers);
      this.options.log?.(this.ctx.engine.redactor.text(`internal error in a tunnel to ${authorityOf(target)}: ${(error as Error).message ?? "unknown"}`));
      if (!res.headersSent) send(res, 500, { status: "error", message: "internal error" });
    });
  };

  async #serve(req: IncomingMessage, res: ServerResponse, target: TunnelTarget): Promise<void> {
    const { engine } = this.ctx;
    const method = req.method ?? "GET";
    const authority = authorityOf(target);
    const path = req.url ?? "";
    // A web page's request (Origin, Sec-Fetch-Site) is refused here as on every route.
    const refusal = guardRefusal(req, new Set(), true);
    if (refusal !== undefined) throw refusal;
    if (!path.startsWith("/")) {
      const auditId = await engine.refuseForward(target.agent, method, `https://${authority} ${path.slice(0, 256)}`, "forward_refused");
      return sendForwardError(res, 400, "invalid_request", "inside a tunnel a request target is a path (origin-form)", { audit_id: auditId });
    }
    const rawTarget = `https://${authority}${path}`;
    const named = hostHeaderTarget(String(req.headers.host ?? ""));
    if (named === undefined || named.host !== target.host || named.port !== target.port) return refuseHostMismatch(this.ctx, res, target.agent, method, rawTarget);
    if (target.reason !== undefined && req.headers["x-keyrunner-reason"] === undefined) req.headers["x-keyrunner-reason"] = target.reason;
    let url: URL;
    try {
      url = new URL(rawTarget);
    } catch {
      return sendForwardError(res, 400, "invalid_request", "the request target is not a valid URL");
    }
    return forwardAs(this.ctx, req, res, target.agent, rawTarget, url, tunnelTools(engine.visibleTools(target.agent), target));
  }
}
