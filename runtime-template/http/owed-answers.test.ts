// The answers a connection owes: requests pipelined on one connection are owed oldest first while the
// server holds them, each connection its own; each is released once its answer closes. Kept by the
// request handler every server shares (pipelining.ts's inTurn).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { owedAnswers } from "./owed-answers.js";
import { inTurn } from "./pipelining.js";

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(() => Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done).closeAllConnections()))));

describe("owed answers", () => {
  it("keeps each connection's unanswered requests in order and releases each as its answer closes", async () => {
    const held = new Map<string, { req: IncomingMessage; res: ServerResponse }>();
    let arrived!: () => void;
    const all = new Promise<void>((resolve) => (arrived = resolve));
    const server = createServer((request, response) =>
      inTurn(request, response, (req, res) => {
        held.set(req.url!, { req, res });
        if (held.size === 3) arrived();
      }),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    // Two requests pipelined on one connection (Node parses both at once and answers them in order), one on another.
    const a = connect(port, "127.0.0.1").on("error", () => undefined);
    const b = connect(port, "127.0.0.1").on("error", () => undefined);
    a.write("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
    b.write("GET /three HTTP/1.1\r\nHost: x\r\n\r\n");
    await all;
    const onA = held.get("/one")!.req.socket;
    const onB = held.get("/three")!.req.socket;
    const urls = (socket: typeof onA) => owedAnswers(socket).map((r) => r.req.url);
    expect(urls(onA)).toEqual(["/one", "/two"]);
    expect(urls(onB)).toEqual(["/three"]);
    const closed = (path: string) => new Promise((resolve) => held.get(path)!.res.once("close", resolve));
    const one = closed("/one");
    held.get("/one")!.res.end("1");
    await one;
    expect(urls(onA)).toEqual(["/two"]);
    const rest = Promise.all([closed("/two"), closed("/three")]);
    held.get("/two")!.res.end("2");
    held.get("/three")!.res.end("3");
    await rest;
    expect(urls(onA)).toEqual([]);
    expect(urls(onB)).toEqual([]);
    a.destroy();
    b.destroy();
  });

  it("a connection never tracked owes nothing", () => {
    expect(owedAnswers(connect({ port: 9, host: "127.0.0.1" }).on("error", () => undefined))).toEqual([]);
  });
});
