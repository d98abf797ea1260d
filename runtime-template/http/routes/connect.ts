// CONNECT: KeyRunner does not tunnel what it cannot inspect. Without a CA (`serve --ca`) every CONNECT is
// refused; with one, a CONNECT from an identified agent to the origin of an https tool it may see is
// intercepted (tunnel-server.ts) and everything else is refused. Refusals are audited.
// Nothing thrown here may escape: a listener's exception would take the whole server down.

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { UNAUTHENTICATED } from "../../core/engine.js";
import type { RouteContext } from "../context.js";
import { forwardError } from "../forward-route.js";
import { guardRefusal } from "../guards.js";
import { proxyAgent } from "../identity.js";
import { tunnelTools, type Interception, type TunnelTarget } from "../tunnel-server.js";

/** host:port of a CONNECT (an IPv6 address in brackets); undefined when it is anything else. */
export function connectTarget(authority: string): Pick<TunnelTarget, "host" | "port"> | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)):([1-9]\d{0,4})$/.exec(authority);
  if (match === null || Number(match[3]) > 65535) return undefined;
  return { host: (match[1] ?? match[2]!).toLowerCase(), port: match[3]! };
}

function answer(socket: Duplex, status: string, type: string, message: string, extra: Record<string, unknown> = {}, headers = ""): void {
  const text = JSON.stringify(forwardError(type, message, extra));
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n${headers}connection: close\r\n\r\n${text}`);
}

const NO_HOSTS: ReadonlySet<string> = new Set();

export function connectRoute(ctx: RouteContext, req: IncomingMessage, socket: Duplex, head: Buffer, interception: Interception | undefined): void {
  socket.on("error", () => socket.destroy());
  // A web page's CONNECT (a browser set to use this proxy: Origin, Sec-Fetch-Site) is refused as on every route.
  if (guardRefusal(req, NO_HOSTS, true) !== undefined) return answer(socket, "403 Forbidden", "forbidden", "requests from web pages are refused");
  const authority = req.url ?? "";
  const refuse = (message: string) => (auditId: string | undefined) => answer(socket, "403 Forbidden", "permission_denied", message, auditId === undefined ? {} : { audit_id: auditId });
  let agent: string | undefined;
  try {
    agent = proxyAgent(req, ctx.principals);
  } catch {
    // an unreadable credential is no credential
  }
  if (interception === undefined) {
    const message = "KeyRunner does not tunnel (CONNECT) without a CA (serve --ca DIR); send plain-http requests for tool endpoints through the proxy";
    ctx.engine.refuseForward(agent ?? UNAUTHENTICATED, "CONNECT", authority, "connect_refused").then(refuse(message), () => refuse(message)(undefined));
    return;
  }
  if (agent === undefined) {
    const message = "KeyRunner needs the agent's token in Proxy-Authorization (HTTPS_PROXY=http://AGENT:TOKEN@host:port)";
    const challenge = (auditId: string | undefined) => answer(socket, "407 Proxy Authentication Required", "proxy_authentication_required", message, auditId === undefined ? {} : { audit_id: auditId }, 'proxy-authenticate: Basic realm="keyrunner"\r\n');
    ctx.engine.refuseForward(UNAUTHENTICATED, "CONNECT", authority, "proxy_auth_required").then(challenge, () => challenge(undefined));
    return;
  }
  const parsed = connectTarget(authority);
  const reason = req.headers["x-keyrunner-reason"];
  const target = parsed === undefined ? undefined : { agent, ...parsed, ...(typeof reason === "string" ? { reason } : {}) };
  if (target === undefined || tunnelTools(ctx.engine.visibleTools(agent), target).length === 0) {
    const message = `no https tool of this agent has the origin ${JSON.stringify(authority.slice(0, 300))}; KeyRunner intercepts only the origins its tools declare, and tunnels nothing else`;
    ctx.engine.refuseForward(agent, "CONNECT", authority, "connect_refused").then(refuse(message), () => refuse(message)(undefined));
    return;
  }
  interception.contextFor(target.host).then(
    (context) => {
      if (socket.destroyed) return;
      interception.open(socket, head, target, context);
    },
    () => answer(socket, "503 Service Unavailable", "unavailable", "KeyRunner could not make a certificate for this host"),
  );
}
