// The HTTP API of SPEC section 5 on Node's own `http` (the hot path needs no framework): /v1/execute,
// /v1/tools, /healthz, /metrics. Every answer is JSON without stack traces or internal paths.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { authenticate, type Principal } from "./agents-file.js";
import type { Engine } from "./engine.js";

export interface ServerOptions {
  engine: Engine;
  /** Present: bearer tokens identify agents. Absent: trusted loopback mode, the body names the agent. */
  principals?: readonly Principal[];
  bodyLimitBytes?: number;
  log?: (line: string) => void;
}

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
  const limit = options.bodyLimitBytes ?? 1024 * 1024;
  const { engine } = options;

  const identify = (req: IncomingMessage, claimed: unknown): string => {
    if (options.principals === undefined) {
      if (typeof claimed !== "string" || claimed === "") throw new HttpError(400, { status: "invalid", errors: [{ path: "agent", message: "is required without an agents file" }] });
      return claimed;
    }
    const header = req.headers.authorization ?? "";
    const match = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    const principal = match === null ? undefined : authenticate(options.principals, match[1]!);
    if (principal === undefined) throw new HttpError(401, { status: "unauthorized", message: "unknown or missing agent token" });
    return principal.name;
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
    const request = body as { agent?: unknown; tool?: unknown; input?: unknown; reason?: unknown };
    const agent = identify(req, request.agent);
    const result = await engine.execute({ agent, tool: request.tool, input: request.input, reason: request.reason });
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

  return createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    const url = new URL(req.url ?? "/", "http://keyrunner.invalid");
    const route = `${req.method} ${url.pathname}`;
    const handle = async () => {
      if (route === "POST /v1/execute") return execute(req, res);
      if (route === "GET /v1/tools") return tools(req, res, url);
      if (route === "GET /healthz") return send(res, 200, { status: "ok" });
      if (route === "GET /metrics") return send(res, 200, engine.metrics.render(), "text/plain; version=0.0.4");
      throw new HttpError(404, { status: "not_found", message: "no such endpoint" });
    };
    handle().catch((error: unknown) => {
      if (error instanceof HttpError) return send(res, error.status, error.body);
      options.log?.(`internal error on ${route}: ${engine.redactor.text((error as Error).message ?? "unknown")}`);
      if (!res.headersSent) send(res, 500, { status: "error", message: "internal error" });
    });
  });
}
