// A real HTTP upstream on 127.0.0.1 that records every request it receives and answers by route.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export type Route = (request: Received, res: ServerResponse) => void | Promise<void>;

export class Upstream {
  readonly received: Received[] = [];
  readonly routes = new Map<string, Route>();
  /** TCP connections accepted, whether or not they carried an HTTP request (a TLS hello does not). */
  connections = 0;
  #server: Server | undefined;
  port = 0;

  /** With a key and certificate, the upstream speaks HTTPS. */
  constructor(private readonly tls?: { key: Buffer; cert: Buffer }) {}

  async start(): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const request: Received = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString("utf8") };
        this.received.push(request);
        const path = request.url.split("?")[0]!;
        const route = [...this.routes].find(([prefix]) => path.startsWith(prefix))?.[1];
        if (route === undefined) {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ ok: true, path }));
          return;
        }
        void route(request, res);
      });
    };
    this.#server = this.tls === undefined ? createServer(handler) : createTlsServer(this.tls, handler);
    // Counted at TCP accept, before any TLS handshake.
    this.#server.on("connection", () => this.connections++);
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.#server!.address() as AddressInfo).port;
    return this;
  }

  /** Requests received since `mark` (a length of `received`). */
  since(mark: number): Received[] {
    return this.received.slice(mark);
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}
