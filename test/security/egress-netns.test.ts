// Egress that cannot be bypassed: the agent runs in a network namespace whose only link is a veth pair to
// the host, on which the bundle listens; the namespace has no default route, and the upstream listens on
// the host's loopback. The agent's proxied call works; its direct connections to the upstream (by name, by
// the host's address, by a public address) all fail. Needs root (ip netns); skipped with the reason otherwise.

import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpsWorld, STRIPE_KEY, type HttpsWorld } from "../support/https-world.js";

const id = process.pid % 250;
const NS = `kr-egress-${process.pid}`;
const HOST_IF = `krh${process.pid % 100000}`;
const NS_IF = `krn${process.pid % 100000}`;
const HOST_IP = `10.231.${id}.1`;
const NS_IP = `10.231.${id}.2`;

function setUpNamespace(): string | undefined {
  const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
  try {
    ip("netns", "add", NS);
  } catch (error) {
    return `cannot create a network namespace (ip netns add needs root and iproute2): ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
  ip("link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF);
  ip("link", "set", NS_IF, "netns", NS);
  ip("addr", "add", `${HOST_IP}/30`, "dev", HOST_IF);
  ip("link", "set", HOST_IF, "up");
  ip("netns", "exec", NS, "ip", "addr", "add", `${NS_IP}/30`, "dev", NS_IF);
  ip("netns", "exec", NS, "ip", "link", "set", NS_IF, "up");
  ip("netns", "exec", NS, "ip", "link", "set", "lo", "up");
  return undefined;
}

let skipped: string | undefined;
let world: HttpsWorld | undefined;

beforeAll(async () => {
  skipped = setUpNamespace();
  if (skipped !== undefined) return;
  // The bundle listens on the host's end of the veth: the one address the namespace can reach.
  world = await startHttpsWorld(["--host", HOST_IP]);
}, 90_000);

afterAll(async () => {
  await world?.stop();
  if (skipped === undefined) {
    try {
      // Deleting the namespace deletes its end of the veth, and with it the host's end.
      execFileSync("ip", ["netns", "del", NS], { stdio: "pipe" });
    } catch {
      // already gone
    }
  }
});

/** curl inside the namespace, with the environment `keyrunner proxy-env` printed (and `extra` curl flags). */
async function curlInNamespace(url: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ["netns", "exec", NS, "curl", "-s", "-S", "--max-time", "5", ...extra, url, "-d", "payment_intent=pi_ns", "-d", "amount=400"];
  return promisify(execFile)("ip", args, { env: { PATH: process.env.PATH ?? "", ...world!.env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe("an agent in a network namespace whose only way out is the bundle", () => {
  it("its proxied HTTPS call works, with the real key injected", async (test) => {
    if (skipped !== undefined) {
      console.log(`skipped: ${skipped}`);
      return test.skip();
    }
    const mark = world!.upstream.received.length;
    const ran = await curlInNamespace(`https://localhost:${world!.upstream.port}/v1/refunds`);
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ amount: 400, seen_authorization: "Bearer [REDACTED]" });
    expect(world!.upstream.since(mark).map((r) => r.headers.authorization)).toEqual([`Bearer ${STRIPE_KEY}`]);
  });

  it("its direct connections fail: the upstream by name, by the host's address, and any public address", async (test) => {
    if (skipped !== undefined) {
      console.log(`skipped: ${skipped}`);
      return test.skip();
    }
    const connections = world!.upstream.connections;
    const direct = ["--noproxy", "*", "--cacert", world!.env.SSL_CERT_FILE!];
    const byName = await curlInNamespace(`https://localhost:${world!.upstream.port}/v1/refunds`, direct);
    expect(byName.code, byName.stdout).toBe(7); // couldn't connect
    const byHostAddress = await curlInNamespace(`https://${HOST_IP}:${world!.upstream.port}/v1/refunds`, direct);
    expect(byHostAddress.code).toBe(7);
    const outside = await curlInNamespace("https://203.0.113.10/v1/refunds", direct);
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toMatch(/unreachable|Couldn't connect|Failed to connect/i);
    expect(world!.upstream.connections).toBe(connections);
  });
});
