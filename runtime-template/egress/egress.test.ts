// Egress with a stub DNS resolver, real undici, a real upstream on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Egress, EgressRefused, UpstreamTimeout } from "./egress.js";
import type { HttpRequestPlan } from "../contract/tool-module.js";
import { Upstream } from "../../test/support/upstream.js";

const upstream = new Upstream();
beforeAll(() => upstream.start());
afterAll(() => upstream.stop());

const plan = (origin: string, path = "/v1/x"): HttpRequestPlan => ({ kind: "http", method: "GET", origin, path, query: "", headers: [], timeoutMs: 2000, maxResponseBytes: 1 << 20 });
const binding = (origin: string) => ({ origin, method: "GET", path: /^\/v1\/x$/ });

describe("egress", () => {
  it.each([
    ["loopback", [{ address: "127.0.0.1", family: 4 }]],
    ["metadata", [{ address: "169.254.169.254", family: 4 }]],
    ["private and loopback together", [{ address: "10.0.0.5", family: 4 }, { address: "127.0.0.1", family: 4 }]],
    ["IPv4-mapped loopback", [{ address: "::ffff:127.0.0.1", family: 6 }]],
  ])("refuses a name that resolves to %s, and sends nothing", async (_name, answer) => {
    const egress = new Egress(async () => answer);
    const origin = `http://api.example.test:${upstream.port}`;
    const mark = upstream.received.length;
    await expect(egress.send(plan(origin), binding(origin))).rejects.toBeInstanceOf(EgressRefused);
    expect(upstream.since(mark)).toHaveLength(0);
    await egress.close();
  });

  it("connects to exactly the address it checked: `localhost` may reach loopback, through one lookup", async () => {
    let lookups = 0;
    const egress = new Egress(async () => {
      lookups++;
      return [{ address: "127.0.0.1", family: 4 }];
    });
    const origin = `http://localhost:${upstream.port}`;
    const mark = upstream.received.length;
    const response = await egress.send(plan(origin), binding(origin));
    expect(response.status).toBe(200);
    expect(upstream.since(mark)).toHaveLength(1);
    expect(lookups).toBe(1);
    await egress.close();
  });

  it("refuses a request outside the tool's origin, method or path before any lookup", async () => {
    let lookups = 0;
    const egress = new Egress(async () => (lookups++, [{ address: "127.0.0.1", family: 4 }]));
    const origin = `http://localhost:${upstream.port}`;
    await expect(egress.send(plan(origin, "/v1/other"), binding(origin))).rejects.toThrow("request outside the tool's origin, method or path");
    await expect(egress.send(plan("http://evil.test"), binding(origin))).rejects.toBeInstanceOf(EgressRefused);
    expect(lookups).toBe(0);
    await egress.close();
  });

  it("timeout_ms bounds the whole exchange: an upstream dripping a byte every 50 ms is cut off at the deadline", async () => {
    const ticks: NodeJS.Timeout[] = [];
    upstream.routes.set("/v1/x", (_request, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      const tick = setInterval(() => res.write("."), 50);
      ticks.push(tick);
      setTimeout(() => (clearInterval(tick), res.end()), 5000);
    });
    const egress = new Egress(async () => [{ address: "127.0.0.1", family: 4 }]);
    const origin = `http://localhost:${upstream.port}`;
    const started = Date.now();
    try {
      await expect(egress.send({ ...plan(origin), timeoutMs: 400 }, binding(origin))).rejects.toBeInstanceOf(UpstreamTimeout);
      // Generous: the point is that it does not wait for the 5 s body.
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      ticks.forEach(clearInterval);
      upstream.routes.delete("/v1/x");
      await egress.close();
    }
  });
});
