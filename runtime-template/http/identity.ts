// Who is calling. With an agents file the bearer token decides (constant-time lookup); without one the
// server listens on loopback only and takes the caller's claim, which must be a name a policy could name.

import type { IncomingMessage } from "node:http";
import { AGENT_NAME, AGENT_NAME_RULE, authenticate, type Principal } from "../credentials/agents-file.js";
import { HttpError, percentDecoded } from "./respond.js";

export type Role = Principal["role"];

/** The token of an `Authorization: Bearer` header, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  return /^Bearer ([\x21-\x7e]+)$/.exec(req.headers.authorization ?? "")?.[1];
}

export function principal(req: IncomingMessage, principals: readonly Principal[] | undefined, claimed: unknown, role: Role): Principal {
  if (principals === undefined) {
    const field = role === "agent" ? "agent" : "approver";
    if (typeof claimed !== "string" || claimed === "") throw new HttpError(400, { status: "invalid", errors: [{ path: field, message: "is required without an agents file" }] });
    if (!AGENT_NAME.test(claimed)) throw new HttpError(400, { status: "invalid", errors: [{ path: field, message: AGENT_NAME_RULE }] });
    return { name: claimed, tokenSha256: "", role };
  }
  const token = bearerToken(req);
  const found = token === undefined ? undefined : authenticate(principals, token);
  if (found === undefined) throw new HttpError(401, { status: "unauthorized", message: "unknown or missing agent token" });
  return found;
}

/** The agent making a request; approvers' tokens cannot execute tools. */
export function agentOf(req: IncomingMessage, principals: readonly Principal[] | undefined, claimed: unknown): string {
  const who = principal(req, principals, claimed, "agent");
  if (who.role !== "agent") throw new HttpError(403, { status: "forbidden", message: "approvers' tokens cannot execute tools" });
  return who.name;
}

/** The agent of a forward-proxy request: its token rides in Proxy-Authorization (Basic agent:TOKEN, or Bearer). */
export function proxyAgent(req: IncomingMessage, principals: readonly Principal[] | undefined): string | undefined {
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
  if (principals === undefined) return user !== undefined && AGENT_NAME.test(user) ? user : undefined;
  const found = token === undefined ? undefined : authenticate(principals, token);
  return found?.role === "agent" ? found.name : undefined;
}
