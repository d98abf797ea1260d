// GET /v1/tools: the tools this agent may call, in the Anthropic (default), OpenAI or MCP tool shape.

import type { IncomingMessage, ServerResponse } from "node:http";
import { LISTING_FORMATS, listTools, renderListing, type ListingFormat } from "../../core/tool-listing.js";
import type { RouteContext } from "../context.js";
import { agentOf } from "../identity.js";
import { HttpError, send } from "../respond.js";

export function toolsRoute(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const agent = agentOf(req, ctx.principals, url.searchParams.get("agent") ?? undefined);
  const format = url.searchParams.get("format") ?? "anthropic";
  if (!(LISTING_FORMATS as readonly string[]).includes(format)) {
    throw new HttpError(400, { status: "invalid", errors: [{ path: "format", message: `must be one of ${LISTING_FORMATS.join(", ")}` }] });
  }
  send(res, 200, { tools: renderListing(listTools(ctx.engine.visibleTools(agent)), format as ListingFormat) });
}
