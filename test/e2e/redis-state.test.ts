// The shared state store against real Redis processes on loopback, through real bundle replicas:
// rediss:// with an ACL user and a database number against a TLS-only redis-server (certificates made
// here), verification that cannot be skipped, a plaintext URL to a TLS-only server, reconnection after
// an outage, and a Sentinel failover that keeps the count shared.

import { join } from "node:path";
import { createClient } from "@redis/client";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { sha256Hex } from "../../runtime-template/credentials/constant-time.js";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { describeWithRedis, makeCertificates, startSentinelSet, startTlsRedis, type Certificates, type RedisProcess, type SentinelSet } from "../support/redis-server.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_redis_state_0123456789";
const AGENT = "kr_agent_token_redis_state_01";
const PASSWORD = "pw-redis-acl-0123456789";
const LIMIT = 50;
// What node-redis needs to connect (AUTH, SELECT, CLIENT SETINFO on Redis 7.2+) and the store's own commands, on its keys only.
const INSPECTOR = ["inspector", "on", `>${PASSWORD}`, "~*", "+@all"];
const ACL = ["keyrunner", "on", `>${PASSWORD}`, "~keyrunner:*", "resetchannels", "-@all", "+auth", "+hello", "+ping", "+select", "+client", "+eval", "+get", "+set", "+incrbyfloat", "+pexpireat", "+sadd", "+srem", "+smembers"];
const upstream = new Upstream();
const agent = { authorization: `Bearer ${AGENT}` };
const refund = { tool: "refund_payment", input: { payment_id: "pi_1", amount_cents: 100 }, reason: "asked" };
const env = { STRIPE_API_KEY: SECRET };
let dir: string;
let bundle: string;
const replicas: RunningBundle[] = [];

async function replica(state: string, extraEnv: Record<string, string> = {}): Promise<RunningBundle> {
  const r = await startBundle(bundle, ["--audit", join(dir, `audit-${replicas.length}.jsonl`), "--agents", join(dir, "agents.yaml"), "--state", state], { ...env, ...extraEnv });
  replicas.push(r);
  return r;
}

const refunds = () => upstream.received.filter((r) => r.url === "/v1/refunds").length;
const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});
const send = (targets: RunningBundle[], n: number) => Promise.all(Array.from({ length: n }, (_, i) => post(`${targets[i % targets.length]!.url}/v1/execute`, refund, agent).then((r) => r.status)));

beforeAll(async () => {
  await upstream.start();
  dir = writeConfig({
    "tools/refund_payment.yaml": `tool: refund_payment\ndescription: Refund\ninput:\n  payment_id: string\n  amount_cents: integer\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/v1/refunds\n  auth: { secret: STRIPE_API_KEY }\n  body: { payment_intent: "\${payment_id}", amount: "\${amount_cents}" }\n`,
    "policies/refunds.yaml": `policy: refunds\nagents: [support-agent]\nallow:\n  - tool: refund_payment\n    when: { require_reason: true }\n    rate_limit: { max: ${LIMIT}, per: 1d }\n`,
    "agents.yaml": `agents:\n  support-agent: { token_sha256: ${sha256Hex(AGENT)} }\n`,
  });
  bundle = await buildBundle(dir);
}, 60_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await upstream.stop();
});

describeWithRedis("rediss:// with an ACL user against a TLS-only redis-server", ["redis-server", "openssl"], () => {
  let certs: Certificates;
  let redis: RedisProcess;
  let url: string;
  beforeAll(async () => {
    certs = makeCertificates();
    redis = await startTlsRedis(certs, ["--user", "default", "off", "--user", ...ACL, "--user", ...INSPECTOR]);
    url = `rediss://keyrunner:${PASSWORD}@127.0.0.1:${redis.port}/3`;
  }, 30_000);
  afterAll(async () => redis?.stop());

  it("two replicas trusting the CA through NODE_EXTRA_CA_CERTS share one count in database 3", async () => {
    const trusting = { NODE_EXTRA_CA_CERTS: certs.ca };
    const [a, b] = [await replica(url, trusting), await replica(url, trusting)];
    const before = refunds();
    expect(tally(await send([a, b], LIMIT + 20))).toEqual({ 200: LIMIT, 429: 20 });
    expect(refunds() - before).toBe(LIMIT);
    // The counter is in database 3 under the ACL user's key pattern, and nothing is in database 0.
    const inspector = createClient({ url: `rediss://inspector:${PASSWORD}@127.0.0.1:${redis.port}/3`, socket: { tls: true, ca: [readFileSync(certs.ca, "utf8")] } });
    await inspector.connect();
    const inDatabase3 = (await inspector.sendCommand(["KEYS", "*"])) as string[];
    await inspector.sendCommand(["SELECT", "0"]);
    const inDatabase0 = (await inspector.sendCommand(["KEYS", "*"])) as string[];
    await inspector.destroy();
    expect(inDatabase3.length).toBeGreaterThan(0);
    expect(inDatabase3.every((k) => k.startsWith("keyrunner:"))).toBe(true);
    expect(inDatabase0).toEqual([]);
    // SIGTERM drains and closes the Redis connection: the replicas exit 0.
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
  }, 60_000);

  it("a server certificate from a CA the bundle does not trust fails closed: 503, nothing executes", async () => {
    const untrusting = await replica(url);
    const before = refunds();
    const res = await post(`${untrusting.url}/v1/execute`, refund, agent);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: "unavailable" });
    expect(refunds()).toBe(before);
    expect(untrusting.stderr()).toMatch(/state store rediss:\/\/keyrunner:\*\*\*@127\.0\.0\.1:\d+\/3 is unreachable/);
    expect(untrusting.stderr()).not.toContain(PASSWORD);
    await untrusting.stop();
  }, 30_000);

  it("a plaintext redis:// URL to the TLS-only server fails closed: 503, nothing executes", async () => {
    const plain = await replica(`redis://keyrunner:${PASSWORD}@127.0.0.1:${redis.port}/3`, { NODE_EXTRA_CA_CERTS: certs.ca });
    const before = refunds();
    const res = await post(`${plain.url}/v1/execute`, refund, agent);
    expect(res.status).toBe(503);
    expect(refunds()).toBe(before);
    await plain.stop();
  }, 30_000);

  it("a wrong password fails closed, and the password is never logged", async () => {
    const wrong = await replica(`rediss://keyrunner:not-the-password@127.0.0.1:${redis.port}/3`, { NODE_EXTRA_CA_CERTS: certs.ca });
    const before = refunds();
    expect((await post(`${wrong.url}/v1/execute`, refund, agent)).status).toBe(503);
    expect(refunds()).toBe(before);
    expect(wrong.stderr()).not.toContain("not-the-password");
    await wrong.stop();
  }, 30_000);

  it("while Redis is down every request answers 503 and nothing executes; when it is back the bundle reconnects by itself", async () => {
    const trusting = { NODE_EXTRA_CA_CERTS: certs.ca };
    const r = await replica(url, trusting);
    expect(await send([r], 1)).toEqual([429]); // the shared count from the first test
    await redis.kill9();
    const before = refunds();
    expect(tally(await send([r], 5))).toEqual({ 503: 5 });
    expect(refunds()).toBe(before);
    // Same port, empty memory (no persistence): the count starts again from zero.
    redis = await startTlsRedis(certs, ["--user", "default", "off", "--user", ...ACL, "--user", ...INSPECTOR], redis.port);
    const started = Date.now();
    let status = 0;
    while (status !== 200 && Date.now() - started < 15_000) {
      status = (await send([r], 1))[0]!;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(status).toBe(200);
    expect(r.stderr()).toMatch(/is reachable again/);
  }, 60_000);
});

describeWithRedis("Sentinel: master, replica and two sentinels on loopback", ["redis-server", "redis-sentinel"], () => {
  let set: SentinelSet;
  beforeAll(async () => {
    set = await startSentinelSet(2);
  }, 60_000);
  afterAll(async () => set?.stop());

  it("a failover (master killed, replica promoted) keeps the count shared: exactly the limit executes across it", async () => {
    const [a, b] = [await replica(set.url), await replica(set.url)];
    const before = refunds();
    expect(tally(await send([a, b], 30))).toEqual({ 200: 30 });

    // The documented window: a count the master acknowledged is kept once a replica has it (WAIT).
    const master = createClient({ socket: { host: "127.0.0.1", port: set.master.port } });
    await master.connect();
    expect(await master.sendCommand(["WAIT", "1", "2000"])).toBe(1);
    await master.destroy();

    await set.master.kill9();
    // Until a sentinel promotes the replica and the bundles follow, requests fail closed (503), one at a time.
    const during: number[] = [];
    const started = Date.now();
    while (during.at(-1) !== 200 && Date.now() - started < 30_000) {
      during.push((await send([[a, b][during.length % 2]!], 1))[0]!);
      if (during.at(-1) !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(during.at(-1)).toBe(200);
    expect(during.slice(0, -1).every((s) => s === 503)).toBe(true);
    expect(refunds() - before).toBe(31);

    // After the failover both replicas count on from 31: exactly the limit executes in all.
    expect(tally(await send([a, b], 40))).toEqual({ 200: LIMIT - 31, 429: 40 - (LIMIT - 31) });
    expect(refunds() - before).toBe(LIMIT);

    const promoted = createClient({ socket: { host: "127.0.0.1", port: set.replica.port } });
    await promoted.connect();
    expect(((await promoted.sendCommand(["ROLE"])) as unknown[])[0]).toBe("master");
    await promoted.destroy();
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
  }, 90_000);
});
