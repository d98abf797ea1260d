// The Model Context Protocol face of the runtime: an agent's allowed tools over MCP (Streamable HTTP at
// /mcp, stateless, and stdio), through the same engine — validation, policy, approvals, audit,
// redaction. Denials come back as tool errors that carry the reason, so the model can adjust.

import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { Protocol } from "@modelcontextprotocol/sdk/shared/protocol.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, RequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Engine } from "../core/engine.js";
import type { Outcome } from "../core/outcome.js";
import { listTools, renderMcp } from "../core/tool-listing.js";

const noValidation = {
  getValidator() {
    return () => ({ valid: true, data: undefined, errorMessage: undefined });
  },
};

/** Each outcome as an MCP tool result: denials are tool errors that carry the reason, so the model can adjust. */
function toolResult(body: Outcome): CallToolResult {
  const text = (t: string): CallToolResult["content"] => [{ type: "text", text: t }];
  switch (body.status) {
    case "ok":
      return {
        content: text(typeof body.result === "string" ? body.result : JSON.stringify(body.result)),
        ...(body.result !== null && typeof body.result === "object" && !Array.isArray(body.result) ? { structuredContent: body.result as Record<string, unknown> } : {}),
      };
    case "denied":
      return { isError: true, content: text(`Denied by KeyRunner policy: ${body.reason}${body.rule ? ` (rule ${body.rule})` : ""}${body.remaining !== undefined ? `; remaining budget ${body.remaining}` : ""}. Nothing was executed.`) };
    case "invalid":
      return { isError: true, content: text(`Invalid input, nothing was executed: ${body.errors.map((e) => `${e.path} ${e.message}`).join("; ")}`) };
    case "not_found":
      return { isError: true, content: text("Unknown tool.") };
    case "pending_approval":
      return { isError: true, content: text(`Waiting for a person to approve this request (approval_id ${body.approval_id}, expires ${body.expires_at}). Nothing was executed. Once approved, call again with the identical arguments and "approval_id": "${body.approval_id}".`) };
    case "rate_limited":
      return { isError: true, content: text(`Rate limited by KeyRunner policy; try again in ${body.retry_after_s} seconds. Nothing was executed.`) };
    case "unavailable":
      return { isError: true, content: text(`${body.message}.`) };
    case "upstream_error":
    case "upstream_timeout":
      return { isError: true, content: text(`The tool ran but its upstream failed: ${body.message}${body.http_status ? ` (HTTP ${body.http_status})` : ""}.`) };
  }
}

/** Tool calls still running: a stdio server that is told to stop answers them before it closes. */
export class CallsInFlight {
  #running = new Set<Promise<unknown>>();

  track<T>(call: Promise<T>): Promise<T> {
    this.#running.add(call);
    const done = () => this.#running.delete(call);
    call.then(done, done);
    return call;
  }

  /** Resolves once no call is running (calls that start meanwhile are waited for too). */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}

export function createMcpServer(engine: Engine, agent: string, version: string, calls = new CallsInFlight()): Server {
  const server = new Server({ name: "keyrunner", version }, { capabilities: { tools: {} }, jsonSchemaValidator: noValidation as never });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: renderMcp(listTools(engine.visibleTools(agent))),
  }));
  // The SDK checks a tools/call against its schema and answers a malformed one (`"arguments": null`) with
  // the schema library's issue dump as the message: the request is checked here instead, in words, by a
  // handler installed past the SDK's own check (Protocol's, with a schema that accepts any params).
  Protocol.prototype.setRequestHandler.call(server, ANY_TOOL_CALL, async (request: { params?: unknown }) => {
    const { name, args } = toolCall(request.params);
    const { reason, approval_id, ...input } = args;
    const result = await calls.track(engine.execute({ agent, tool: name, input, ...(reason === undefined ? {} : { reason }), ...(approval_id === undefined ? {} : { approval_id }) }));
    return { ...toolResult(result), _meta: { "keyrunner/audit_id": result.audit_id } };
  });
  return server;
}

/** A tools/call with any params: checked by toolCall. */
const ANY_TOOL_CALL = CallToolRequestSchema.extend({ params: RequestSchema.shape.params });

/** The tool's name and arguments of a tools/call, or an "invalid params" error saying what is wrong. */
function toolCall(params: unknown): { name: string; args: Record<string, unknown> } {
  const { name, arguments: args } = (params ?? {}) as { name?: unknown; arguments?: unknown };
  if (typeof name !== "string") throw new McpError(ErrorCode.InvalidParams, "tools/call needs params.name, the tool's name as a string");
  if (args === undefined) return { name, args: {} };
  if (args === null || typeof args !== "object" || Array.isArray(args)) throw new McpError(ErrorCode.InvalidParams, "tools/call params.arguments must be an object of the tool's input fields");
  return { name, args: args as Record<string, unknown> };
}
