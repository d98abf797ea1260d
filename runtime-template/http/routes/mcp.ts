// /mcp: MCP over Streamable HTTP, stateless — a fresh MCP server per POST, bound to the caller's identity.
// Stateless servers hold no event streams: GET and DELETE are answered 405, as the MCP spec allows.

import type { IncomingMessage, ServerResponse } from "node:http";
import { RUNTIME_VERSION } from "../../version.js";
import type { RouteContext } from "../context.js";
import { agentOf } from "../identity.js";
import { readBody, send } from "../respond.js";

export async function mcpRoute(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method !== "POST") {
    return send(res, 405, { jsonrpc: "2.0", id: null, error: { code: -32000, message: "Method not allowed: this MCP server is stateless; send requests with POST" } }, "application/json", { allow: "POST" });
  }
  const agent = agentOf(req, ctx.principals, url.searchParams.get("agent") ?? req.headers["x-keyrunner-agent"]);
  const body = await readBody(req, ctx.bodyLimitBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return send(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
  }
  // The protocol echoes each request's id as it came: one holding a secret whole would carry it back.
  for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
    const id = (message as { id?: unknown } | null)?.id;
    if (typeof id === "string" && ctx.engine.holdsWholeSecret(id)) {
      return send(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: the id holds one of this gateway's own secrets" } });
    }
  }
  // Loaded on first use: the MCP SDK builds its message schemas at import, which would slow every start.
  const [{ StreamableHTTPServerTransport }, { createMcpServer }] = await Promise.all([import("@modelcontextprotocol/sdk/server/streamableHttp.js"), import("../../mcp/mcp-server.js")]);
  const server = createMcpServer(ctx.engine, agent, RUNTIME_VERSION);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on("close", () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, parsed);
}
