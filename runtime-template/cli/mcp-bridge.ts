// `keyrunner mcp --url http://HOST:PORT`: a stdio MCP server that relays every message to a running
// bundle's `/mcp` (Streamable HTTP, stateless). Any number of MCP clients that start their servers as
// processes then share one server, one state and one audit, instead of each starting its own.

import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

export interface BridgeOptions {
  /** The running bundle, e.g. http://127.0.0.1:8787 (its `/mcp` is used), or the `/mcp` URL itself. */
  url: string;
  /** The agent's bearer token (KEYRUNNER_TOKEN); without an agents file on the server, `agent` names it. */
  token?: string;
  agent?: string;
  log: (line: string) => void;
}

/** The `/mcp` endpoint of a bundle URL; undefined when it is not an http(s) URL. */
export function mcpEndpoint(url: string): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
  if (!parsed.pathname.endsWith("/mcp")) parsed.pathname = `${parsed.pathname.replace(/\/$/, "")}/mcp`;
  return parsed;
}

/** Relays stdin/stdout MCP to the bundle until stdin ends; resolves with the exit code. */
export async function bridgeMcpStdio(options: BridgeOptions): Promise<number> {
  const endpoint = mcpEndpoint(options.url);
  if (endpoint === undefined) {
    options.log(`--url must be the http:// or https:// address of a running keyrunner, not ${JSON.stringify(options.url)}`);
    return 1;
  }
  const [{ StdioServerTransport }, { StreamableHTTPClientTransport }] = await Promise.all([
    import("@modelcontextprotocol/sdk/server/stdio.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
  ]);
  const headers: Record<string, string> = {};
  if (options.token !== undefined && options.token !== "") headers.authorization = `Bearer ${options.token}`;
  else if (options.agent !== undefined && options.agent !== "") headers["x-keyrunner-agent"] = options.agent;
  const remote = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers } });
  const local = new StdioServerTransport();
  local.onmessage = (message: JSONRPCMessage) => {
    remote.send(message).catch((error: Error) => {
      // The client gets an answer, not a hang: a request fails with what went wrong (never a stack).
      if ("id" in message && "method" in message) {
        void local.send({ jsonrpc: "2.0", id: message.id, error: { code: -32000, message: `keyrunner at ${endpoint.origin}: ${bridgeError(error)}` } });
      }
      options.log(`relay to ${endpoint.origin} failed: ${bridgeError(error)}`);
    });
  };
  remote.onmessage = (message: JSONRPCMessage) => void local.send(message);
  remote.onerror = (error: Error) => options.log(`relay from ${endpoint.origin}: ${bridgeError(error)}`);
  await remote.start();
  await local.start();
  return new Promise<number>((resolve) => {
    const stop = () => void Promise.allSettled([remote.close(), local.close()]).then(() => resolve(0));
    process.stdin.once("end", stop);
    process.once("SIGTERM", stop);
  });
}

function bridgeError(error: Error): string {
  // fetch's "fetch failed" says why in its causes (an AggregateError when several addresses were tried).
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && cause !== undefined && cause !== null; depth++) {
    const c = cause as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof c.code === "string" && c.code !== "") return `cannot reach it (${c.code})`;
    const next = c.cause ?? c.errors?.[0];
    if (next === undefined && depth > 0 && cause instanceof Error) return `cannot reach it (${cause.message.split("\n")[0]!.slice(0, 200)})`;
    cause = next;
  }
  return error.message.split("\n")[0]!.slice(0, 200);
}
