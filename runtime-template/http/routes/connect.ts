// CONNECT: KeyRunner does not tunnel what it cannot inspect, so every CONNECT is refused, and audited.
// Nothing thrown here may escape: a listener's exception would take the whole server down.

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { UNAUTHENTICATED } from "../../core/engine.js";
import type { RouteContext } from "../context.js";
import { forwardError } from "../forward-route.js";
import { proxyAgent } from "../identity.js";

export function connectRoute(ctx: RouteContext, req: IncomingMessage, socket: Duplex): void {
  socket.on("error", () => socket.destroy());
  const refuse = (auditId: string | undefined) => {
    const text = JSON.stringify(forwardError("permission_denied", "KeyRunner does not tunnel (CONNECT); send plain-http requests for tool endpoints through the proxy", auditId === undefined ? {} : { audit_id: auditId }));
    socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  };
  let agent = UNAUTHENTICATED;
  try {
    agent = proxyAgent(req, ctx.principals) ?? agent;
  } catch {
    // an unreadable credential is no credential
  }
  ctx.engine.refuseForward(agent, "CONNECT", req.url ?? "", "connect_refused").then(refuse, () => refuse(undefined));
}
