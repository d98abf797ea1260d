// The HTTP API's plumbing shared by every route: JSON answers, errors that become answers, bounded bodies.

import type { IncomingMessage, ServerResponse } from "node:http";

/** Thrown by a route for an answer it gives instead of going on; the server sends its status and body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message ?? body.status));
  }
}

export const notFound = () => new HttpError(404, { status: "not_found", message: "no such endpoint" });

export function send(res: ServerResponse, status: number, body: unknown, contentType = "application/json", headers?: Record<string, string>): void {
  const text = contentType === "application/json" ? JSON.stringify(body) : String(body);
  const head = { "content-type": contentType, "content-length": Buffer.byteLength(text), "cache-control": "no-store" };
  res.writeHead(status, headers === undefined ? head : { ...head, ...headers });
  res.end(text);
}

/** Percent-decoded text, or undefined when it is not valid percent-encoding. */
export function percentDecoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** A decoded path segment; one that does not decode names nothing here. */
export function pathPart(segment: string): string {
  const decoded = percentDecoded(segment);
  if (decoded === undefined) throw notFound();
  return decoded;
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => collectBody(req, limit, resolve, reject));
}

/** Collects a bounded body; one chunk (the usual small request) is used as it came, without a copy. */
function collectBody(req: IncomingMessage, limit: number, resolve: (body: Buffer) => void, reject: (error: HttpError) => void): void {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) return reject(new HttpError(413, { status: "too_large", message: `request body over ${limit} bytes` }));
  let first: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      reject(new HttpError(413, { status: "too_large", message: `request body over ${limit} bytes` }));
      req.destroy();
      return;
    }
    if (first === undefined) first = chunk;
    else (chunks ??= [first]).push(chunk);
  });
  req.on("end", () => resolve(chunks !== undefined ? Buffer.concat(chunks) : (first ?? EMPTY)));
  req.on("error", () => reject(new HttpError(400, { status: "invalid", message: "the request body could not be read" })));
}

const EMPTY = Buffer.alloc(0);

/** The body as a JSON object, or the 400 that says what is wrong with it. */
function jsonObject(raw: Buffer): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, { status: "invalid", errors: [{ path: "(body)", message: "malformed JSON" }] });
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, { status: "invalid", errors: [{ path: "(body)", message: "must be a JSON object" }] });
  return body as Record<string, unknown>;
}

/** A JSON object body, or a 400 that says what is wrong with it — parsed where the body ends, in one promise. */
export function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) =>
    collectBody(
      req,
      limit,
      (raw) => {
        try {
          resolve(jsonObject(raw));
        } catch (error) {
          reject(error);
        }
      },
      reject,
    ),
  );
}
