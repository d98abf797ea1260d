// Inside an intercepted HTTPS tunnel (serve --ca), as on the server's own connections: requests followed by
// the client's half-close are answered, and at SIGTERM the pipelined requests still waiting their turn never
// run while the running ones are answered, the newest closing the tunnel. Each asserts what the upstream
// received, not only what the client saw.

import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditFile } from "../../runtime-template/audit/audit-verify.js";
import { basic, rawConnect, readUntilClosed, startHttpsWorld, tlsOverTunnel, TOKEN, type HttpsWorld } from "../support/https-world.js";

let world: HttpsWorld;

beforeAll(async () => {
  world = await startHttpsWorld(["--drain-timeout", "8000"]);
  // Each refund is answered after 1 s: 8 of a tunnel's pipelined requests run at once, the rest wait.
  world.upstream.routes.set("/v1/refunds", async (req, res) => {
    await sleep(1000);
    const form = new URLSearchParams(req.body);
    if (!res.destroyed) res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: "re_1", amount: Number(form.get("amount")) }));
  });
}, 90_000);

afterAll(async () => {
  await world?.stop();
});

const host = () => `localhost:${world.upstream.port}`;
const refund = (amount: number) => {
  const body = `payment_intent=pi_tunnel&amount=${amount}`;
  return `POST /v1/refunds HTTP/1.1\r\nHost: ${host()}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
};
const heads = (text: string) => text.split(/(?=HTTP\/1\.1 \d{3} )/).map((h) => h.toLowerCase());
const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
const refunds = (amount: number) => world.upstream.received.filter((r) => r.url === "/v1/refunds" && new URLSearchParams(r.body).get("amount") === String(amount)).length;

async function openTunnel() {
  const answer = await rawConnect(world, host(), basic("support-agent", TOKEN));
  expect(answer.status).toBe(200);
  return tlsOverTunnel(answer.socket, join(world.caDir, "ca.pem"));
}

describe("a tunnel's pipelined requests", () => {
  it("followed by the client's half-close are all answered, then the tunnel closes", async () => {
    const tls = await openTunnel();
    const read = readUntilClosed(tls, 10_000);
    tls.end(refund(11) + refund(11) + refund(11));
    const { text, closed } = await read;
    expect(closed).toBe(true);
    expect(statuses(text)).toEqual([200, 200, 200]);
    expect(refunds(11)).toBe(3);
  }, 30_000);

  it("at SIGTERM: those waiting their turn never run, the running ones are answered, the newest closing the tunnel", async () => {
    const tls = await openTunnel();
    const read = readUntilClosed(tls, 15_000);
    tls.write(refund(12).repeat(20));
    await sleep(300);
    world.server.process.kill("SIGTERM");
    const { text, closed } = await read;
    expect(closed).toBe(true);
    expect(await world.server.exited).toBe(0);
    const answers = heads(text);
    expect(answers.map((h) => Number(/^http\/1\.1 (\d{3})/.exec(h)?.[1]))).toEqual(Array(8).fill(200));
    expect(answers.slice(0, 7).some((h) => h.includes("connection: close"))).toBe(false);
    expect(answers[7]).toContain("connection: close");
    expect(refunds(12)).toBe(8);
    const records = world.audit().filter((r) => r.input?.amount_cents === 12);
    expect(records.filter((r) => r.decision === "allow")).toHaveLength(8);
    expect(records.filter((r) => r.decision === "outcome")).toHaveLength(8);
    expect(verifyAuditFile(join(world.dir, "audit.jsonl"), undefined)).toMatchObject({ ok: true });
  }, 30_000);
});
