// The bundle's lazy chunks (node-redis, the X.509 stack, the MCP SDK, undici): a server compiles only
// those it uses, when it first uses them, and each still works from inside the one file. The preload
// test/support/observe-chunks.mjs reports every chunk compiled, from the real sandboxed server process.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";
import { eventually } from "../support/eventually.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_lazy_chunks_0123456789";
const OBSERVE = join(import.meta.dirname, "..", "support", "observe-chunks.mjs");
const upstream = new Upstream();
let dir: string;
let bundle: string;
const servers: RunningBundle[] = [];

const compiled = (server: RunningBundle) => [...server.stderr().matchAll(/lazy chunk compiled: (\w+)/g)].map((m) => m[1]);

beforeAll(async () => {
  await upstream.start();
  upstream.routes.set("/v1/refunds", (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "re_lazy", status: "succeeded" }));
  });
  dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
  bundle = await buildBundle(dir);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await upstream.stop();
});

async function serve(name: string, args: string[] = []): Promise<RunningBundle> {
  const server = await startBundle(bundle, ["--audit", join(dir, `${name}.jsonl`), ...args], { STRIPE_API_KEY: SECRET }, ["--import", OBSERVE]);
  servers.push(server);
  return server;
}

describe("lazy chunks", () => {
  it("is one file of ASCII only, so V8 holds it as a one-byte string", () => {
    const text = readFileSync(bundle, "latin1");
    expect(text.length).toBeGreaterThan(100_000);
    expect(/[^\x00-\x7f]/.test(text)).toBe(false);
  });

  it("a server with a state folder, no --ca and no MCP request compiles only undici, after it is ready", async () => {
    const server = await serve("plain");
    // Ready before any chunk; undici follows on its own, once the ready line is out.
    expect(await eventually(() => compiled(server), (names) => names.length > 0)).toEqual(["undici"]);
    const answer = await post(`${server.url}/v1/execute`, { tool: "refund_payment", agent: "support-agent", input: { payment_id: "pi_1", amount_cents: 100 }, reason: "customer asked" });
    expect([answer.status, answer.text]).toEqual([200, expect.any(String)]);
    expect(upstream.received.filter((r) => r.url === "/v1/refunds")).toHaveLength(1);
    expect(compiled(server)).toEqual(["undici"]);
  });

  it("its imports of Node's built-ins are lookups: what only a module's namespace would load is not loaded at start", async () => {
    // compiler/phases/6-bundle/builtin-imports.ts: an ES module import of node:util, node:net or node:fs reads
    // every export, running lazy getters that load util's MIMEType, net's BlockList and SocketAddress, fs's streams.
    expect(/^import \{[^}]*\} from "node:.*$/m.exec(readFileSync(bundle, "latin1"))?.[0]).toBeUndefined();
    const server = await serve("builtins");
    const line = /built-ins at ready: (.*)/.exec(server.stderr())?.[1] ?? "";
    const loaded = line.split(" ");
    expect(loaded).toContain("http");
    for (const unused of ["internal/mime", "internal/blocklist", "internal/socketaddress", "internal/fs/streams"]) expect(loaded).not.toContain(unused);
  });

  it("the MCP SDK is compiled by the first MCP request, once, and answers from inside the bundle", async () => {
    const server = await serve("mcp");
    expect(await eventually(() => compiled(server), (names) => names.length > 0)).toEqual(["undici"]);
    const headers = { accept: "application/json, text/event-stream", "x-keyrunner-agent": "support-agent" };
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "t", version: "1" } } };
    for (let i = 0; i < 2; i++) {
      const answer = await post(`${server.url}/mcp`, init, headers);
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('"serverInfo"');
    }
    expect(compiled(server)).toEqual(["undici", "mcp"]);
  });
});
