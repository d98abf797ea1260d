import { createServer, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { inTurn, PIPELINED_IN_FLIGHT } from "./pipelining.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: Server | undefined;
afterEach(() => server?.close());

/** A server whose handler holds every answer until `release`; it counts the requests parsed and handled. */
async function holdingServer() {
  const held: ServerResponse[] = [];
  let parsed = 0;
  let handled = 0;
  let running = 0;
  let mostRunning = 0;
  server = createServer((req, res) =>
    inTurn(req, res, (r, s) => {
      handled++;
      running++;
      mostRunning = Math.max(mostRunning, running);
      // First among the listeners: the turn ends (and the next request starts) after it.
      s.prependOnceListener("close", () => running--);
      r.resume();
      held.push(s);
    }),
  );
  server.prependListener("request", () => parsed++);
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    held,
    counts: () => ({ parsed, handled, mostRunning }),
    release: (pad = "") => {
      for (const res of held.splice(0)) res.end(`${res.req.url}\n${pad}`);
    },
  };
}

const request = (i: number) => `POST /r${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`;

describe("pipelined requests take turns", () => {
  it(`runs at most ${PIPELINED_IN_FLIGHT} of one connection's requests at once and stops reading it while the rest wait`, async () => {
    const s = await holdingServer();
    const socket = connect(s.port, "127.0.0.1");
    let answers = "";
    socket.on("data", (c: Buffer) => (answers += c.toString()));
    const n = 20_000; // ~1.2 MB: more than the kernel's socket buffers hold, so what is unread stays with the client
    socket.write(Array.from({ length: n }, (_, i) => request(i)).join(""));
    await sleep(400);
    // Only the first few run; the parser stopped after the bytes it had read (one read's worth at most).
    expect(s.counts().handled).toBe(PIPELINED_IN_FLIGHT);
    expect(s.counts().parsed).toBeLessThan(2_000);
    // Answering lets the rest through, in order, never more than the limit at once.
    for (let round = 0; s.counts().handled < n || s.held.length > 0; round++) {
      s.release();
      await sleep(round < 50 ? 5 : 0);
      if (round > 100_000) throw new Error("stalled");
    }
    await new Promise<void>((resolve) => {
      const check = () => ((answers.match(/HTTP\/1\.1 200/g) ?? []).length === n ? resolve() : setTimeout(check, 20));
      check();
    });
    expect(s.counts()).toMatchObject({ parsed: n, handled: n, mostRunning: PIPELINED_IN_FLIGHT });
    const order = [...answers.matchAll(/\r\n\r\n(?:[0-9a-f]+\r\n)?\/r(\d+)\n/g)].map((m) => Number(m[1]));
    expect(order).toEqual(Array.from({ length: n }, (_, i) => i));
    socket.destroy();
  }, 60_000);

  it("keeps the connection unread while requests wait, also after large answers back up and drain (Node resumes it then)", async () => {
    const s = await holdingServer();
    const socket = connect(s.port, "127.0.0.1");
    let answered = 0;
    socket.on("data", (c: Buffer) => (answered += c.toString("latin1").split("HTTP/1.1 200").length - 1));
    const n = 20_000;
    socket.write(Array.from({ length: n }, (_, i) => request(i)).join(""));
    await sleep(200);
    // Answers of 64 KB each fill the socket's buffer past its mark, and its 'drain' is where Node's own
    // backpressure resumes reading: what it read then would join the queue, one read's worth per drain.
    const pad = "x".repeat(64 * 1024);
    let mostWaiting = 0;
    for (let round = 0; round < 60; round++) {
      s.release(pad);
      await sleep(10);
      mostWaiting = Math.max(mostWaiting, s.counts().parsed - s.counts().handled);
    }
    expect(answered).toBeGreaterThan(100);
    // One read's worth (64 KB, ~1,100 of these requests) may be parsed ahead; never a read per drain.
    expect(mostWaiting).toBeLessThan(2_000);
    socket.destroy();
  }, 30_000);

  it("runs nothing that waited once its connection is closed (the drain's timeout closes them all)", async () => {
    const s = await holdingServer();
    const socket = connect(s.port, "127.0.0.1");
    socket.on("error", () => undefined);
    socket.write(Array.from({ length: 50 }, (_, i) => request(i)).join(""));
    await sleep(200);
    expect(s.counts().handled).toBe(PIPELINED_IN_FLIGHT);
    server!.closeAllConnections();
    await sleep(100);
    s.release();
    await sleep(100);
    expect(s.counts().handled).toBe(PIPELINED_IN_FLIGHT);
  });

  it("connections take turns apart: a busy one does not hold up another", async () => {
    const s = await holdingServer();
    const busy = connect(s.port, "127.0.0.1");
    busy.write(Array.from({ length: 50 }, (_, i) => request(i)).join(""));
    await sleep(150);
    const other = connect(s.port, "127.0.0.1");
    let answer = "";
    other.on("data", (c: Buffer) => (answer += c.toString()));
    other.write(request(999));
    await sleep(150);
    expect(s.counts().handled).toBe(PIPELINED_IN_FLIGHT + 1);
    s.held.pop()!.end("/r999\n");
    await sleep(100);
    expect(answer).toContain("/r999");
    busy.destroy();
    other.destroy();
  });
});
