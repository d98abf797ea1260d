// Upstream faults: down, resetting connections, answering garbage, a corrupt gzip body. Each is a clear
// 502/504 with no internals (no stack, no address, no path), and the server keeps serving.

import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { freePort } from "../support/redis-server.js";
import { Upstream } from "../support/upstream.js";

const upstream = new Upstream();
let raw: TcpServer;
let server: RunningBundle;

beforeAll(async () => {
  await upstream.start();
  upstream.routes.set("/corrupt-gzip", (_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
    res.end(Buffer.from("this is not gzip at all"));
  });
  upstream.routes.set("/reset", (req, res) => void res.socket?.destroy());
  raw = createTcpServer((socket) => socket.end("HELLO I AM NOT HTTP\r\n\r\n"));
  await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
  const rawPort = (raw.address() as { port: number }).port;
  const down = await freePort();
  const tool = (name: string, url: string) => `tool: ${name}\ndescription: ${name}\nrun: { type: http, method: GET, url: "${url}", timeout_ms: 2000 }\n`;
  const dir = writeConfig({
    "tools/faults.yaml": [
      tool("down", `http://127.0.0.1:${down}/x`),
      tool("reset", `http://127.0.0.1:${upstream.port}/reset`),
      tool("garbage", `http://127.0.0.1:${rawPort}/x`),
      tool("corrupt_gzip", `http://127.0.0.1:${upstream.port}/corrupt-gzip`),
      tool("healthy", `http://127.0.0.1:${upstream.port}/ok`),
    ].join("---\n"),
    "policies/p.yaml": `policy: p\nallow:\n${["down", "reset", "garbage", "corrupt_gzip", "healthy"].map((t) => `  - tool: ${t}\n`).join("")}`,
  });
  server = await startBundle(await buildBundle(dir), ["--audit", `${dir}/audit.jsonl`], {});
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
  raw?.close();
});

describe("upstream faults", () => {
  it.each([
    ["down (connection refused)", "down", "the upstream could not be reached"],
    ["resetting the connection", "reset", "the upstream could not be reached"],
    ["answering garbage instead of HTTP", "garbage", "the upstream could not be reached"],
    ["sending a corrupt gzip body", "corrupt_gzip", "the upstream response could not be decoded"],
  ])("an upstream %s is a clear 502, and the server keeps serving", async (_name, tool, message) => {
    const res = await post(`${server.url}/v1/execute`, { agent: "a", tool, input: {} });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ status: "upstream_error", message });
    expect(res.text).not.toMatch(/127\.0\.0\.1|ECONN|at .*\.[jt]s:\d+|node:internal|\/tmp\//);
    const healthy = await post(`${server.url}/v1/execute`, { agent: "a", tool: "healthy", input: {} });
    expect(healthy.status).toBe(200);
  });

  it("nothing upstream went wrong leaked into the bundle's stderr as a crash", () => {
    expect(server.stderr()).not.toMatch(/Uncaught|unhandled|TypeError|RangeError/i);
    expect(server.process.exitCode).toBeNull();
  });
});
