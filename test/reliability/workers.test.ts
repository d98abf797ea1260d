// `serve --workers N` at process level: the real bundle (launcher → sandboxed primary → N workers) on a
// real Redis, requests over fresh connections spread over the workers, each worker's own audit chain,
// kill -9 of a worker (replaced in its slot), of the primary and of the launcher (nothing survives), the
// drain on SIGTERM, the refusal without Redis, and no credential in any worker's environment.

import { request } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { verifyAuditFile } from "../../runtime-template/audit/audit-verify.js";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { eventually } from "../support/eventually.js";
import { basic, rawConnect, readUntilClosed, startHttpsWorld, STRIPE_KEY, tlsOverTunnel, TOKEN } from "../support/https-world.js";
import { describeWithRedis, startRedis, type RedisProcess } from "../support/redis-server.js";
import { seedConfig } from "../support/seed-config.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_workers_0123456789";
const env = { STRIPE_API_KEY: SECRET };
const upstream = new Upstream();
let dir: string;
let bundle: string;
let redis: RedisProcess;
const refund = (id: string, amount = 100) => ({ agent: "support-agent", tool: "refund_payment", input: { payment_id: id, amount_cents: amount }, reason: "r" });

/** POST over a connection of its own (closed after the answer), so the primary hands each to a worker in turn. */
function postFresh(url: string, body: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/execute`, { method: "POST", agent: false, headers: { "content-type": "application/json", connection: "close" } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

const children = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
/** The sandboxed primary (the launcher's child) and its workers. */
function tree(server: RunningBundle): { primary: number; workers: number[] } {
  const primary = children(server.process.pid!)[0]!;
  return { primary, workers: children(primary) };
}
const seen = new Set<number>();
const startPool = async (name: string, workers = 2) => {
  const audit = join(dir, `${name}.jsonl`);
  const server = await startBundle(bundle, ["--audit", audit, "--state", redis.url, "--workers", String(workers)], env);
  const t = tree(server);
  [t.primary, ...t.workers].forEach((p) => seen.add(p));
  return { server, audit, ...t };
};

beforeAll(async () => {
  await upstream.start();
  dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
  bundle = await buildBundle(dir);
}, 60_000);
afterAll(async () => {
  for (const pid of seen) if (running(pid)) process.kill(pid, "SIGKILL");
  await upstream.stop();
});

it("--workers 2 with the local state store is refused before anything starts (the store has one owner)", async () => {
  const audit = join(dir, "refused.jsonl");
  await expect(startBundle(bundle, ["--audit", audit, "--workers", "2"], env)).rejects.toThrow(/--workers 2 needs --state redis:\/\/HOST:PORT: the local state store has one owner/);
  expect(existsSync(audit)).toBe(false);
});

describeWithRedis("serve --workers on Redis", ["redis-server"], () => {
  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(async () => redis?.stop());

  it.each([
    ["under the permission model", []],
    ["with --no-permission-model", ["--no-permission-model"]],
  ])("a worker that cannot start (a secret missing) stops the pool %s: exit 1, named, no process left", async (_name, extra) => {
    const started = Date.now();
    // Without the secret every worker refuses to start; its channel to the primary once kept it (and the pool) alive.
    await expect(startBundle(bundle, ["--audit", join(dir, `no-secret-${extra.length}.jsonl`), "--state", redis.url, "--workers", "2", ...extra], {})).rejects.toThrow(/bundle exited 1: [\s\S]*missing secrets: STRIPE_API_KEY[\s\S]*before listening; stopping/);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it("two workers share the port: fresh connections reach both, each writes its own chain, a denial reaches no upstream, no worker's environment holds the secret", async () => {
    const { server, audit, workers } = await startPool("spread");
    expect(workers).toHaveLength(2);
    const mark = upstream.received.length;
    for (let i = 0; i < 20; i++) expect((await postFresh(server.url, refund(`pi_spread_${i}`))).status).toBe(200);
    expect(upstream.received.length - mark).toBe(20);
    const denied = await postFresh(server.url, refund("pi_spread_big", 999_999));
    expect(denied.status).toBe(403);
    expect(upstream.received.length - mark).toBe(20);
    for (const pid of workers) expect(readFileSync(`/proc/${pid}/environ`, "latin1")).not.toContain(SECRET);
    expect(await server.stop()).toBe(0);
    const files = [1, 2].map((slot) => audit.replace(/\.jsonl$/, `.worker-${slot}.jsonl`));
    const decisions = files.map((f) => readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { decision: string; id: string }));
    // Round-robin: both workers served some of the 21 requests; every request has its decision record.
    for (const d of decisions) expect(d.filter((r) => r.decision === "allow").length).toBeGreaterThan(0);
    expect(decisions.flat().filter((r) => r.decision === "allow")).toHaveLength(20);
    expect(decisions.flat().filter((r) => r.decision === "deny")).toHaveLength(1);
    for (const f of files) expect(verifyAuditFile(f, undefined)).toMatchObject({ ok: true });
    expect(existsSync(audit)).toBe(false);
  }, 60_000);

  it("--ca with --workers 2: every worker intercepts HTTPS with the one CA; allowed refunds execute on both, a denied one reaches nothing, each chain verifies", async () => {
    const world = await startHttpsWorld(["--workers", "2", "--state", redis.url]);
    try {
      const host = `localhost:${world.upstream.port}`;
      /** One refund in a tunnel of its own (a fresh connection, so the primary hands each to a worker in turn). */
      const refundInTunnel = async (amount: number): Promise<number> => {
        const answer = await rawConnect(world, host, basic("support-agent", TOKEN));
        expect(answer.status).toBe(200);
        const tls = await tlsOverTunnel(answer.socket, join(world.caDir, "ca.pem"));
        const body = `payment_intent=pi_workers&amount=${amount}`;
        tls.write(`POST /v1/refunds HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
        return Number(/^HTTP\/1\.1 (\d{3})/.exec((await readUntilClosed(tls)).text)?.[1]);
      };
      const mark = world.upstream.received.length;
      for (let i = 0; i < 6; i++) expect(await refundInTunnel(100 + i)).toBe(200);
      expect(world.upstream.received.length - mark).toBe(6);
      expect(await refundInTunnel(999_999)).toBe(403);
      expect(world.upstream.received.length - mark).toBe(6);
      for (const r of world.upstream.since(mark)) expect(r.headers.authorization).toBe(`Bearer ${STRIPE_KEY}`);
      expect(await world.server.stop()).toBe(0);
      const files = [1, 2].map((slot) => join(world.dir, `audit.worker-${slot}.jsonl`));
      const allowed = files.map((f) => readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { decision: string }).filter((r) => r.decision === "allow").length);
      for (const n of allowed) expect(n).toBeGreaterThan(0);
      expect(allowed[0]! + allowed[1]!).toBe(6);
      for (const f of files) expect(verifyAuditFile(f, undefined)).toMatchObject({ ok: true });
    } finally {
      await world.stop();
    }
  }, 90_000);

  it("kill -9 of a worker: the primary starts a new one in its slot, serving continues, the slot's chain still verifies", async () => {
    const { server, audit, primary, workers } = await startPool("worker-killed");
    for (let i = 0; i < 4; i++) expect((await postFresh(server.url, refund(`pi_before_${i}`))).status).toBe(200);
    process.kill(workers[0]!, "SIGKILL");
    const replaced = await eventually(() => children(primary), (now) => now.length === 2 && !now.includes(workers[0]!), 10_000);
    replaced.forEach((p) => seen.add(p));
    await eventually(() => server.stderr(), (text) => /worker 1 \(pid \d+\) exited \(SIGKILL\); starting a new one/.test(text), 5000);
    // The new worker listens once its start is done (until then the primary hands connections to the
    // other); then it serves in slot 1, appending to the killed worker's chain.
    const slot1 = audit.replace(/\.jsonl$/, ".worker-1.jsonl");
    const before = readFileSync(slot1, "utf8").length;
    let sent = 0;
    while (readFileSync(slot1, "utf8").length === before && sent < 200) {
      expect((await postFresh(server.url, refund(`pi_after_${sent++}`))).status).toBe(200);
      await sleep(20);
    }
    expect(readFileSync(slot1, "utf8").length).toBeGreaterThan(before);
    expect(await server.stop()).toBe(0);
    for (const slot of [1, 2]) expect(verifyAuditFile(audit.replace(/\.jsonl$/, `.worker-${slot}.jsonl`), undefined)).toMatchObject({ ok: true });
    expect([primary, ...replaced].filter(running)).toEqual([]);
  }, 60_000);

  it("kill -9 of the primary, or of the launcher: no worker keeps serving", async () => {
    for (const victim of ["primary", "launcher"] as const) {
      const { server, primary, workers } = await startPool(`kill-${victim}`);
      expect((await postFresh(server.url, refund(`pi_${victim}`))).status).toBe(200);
      process.kill(victim === "primary" ? primary : server.process.pid!, "SIGKILL");
      await eventually(() => [primary, ...workers].filter(running), (alive) => alive.length === 0, 5000);
      await server.exited;
    }
  }, 60_000);

  it("kill -9 of the primary while a worker's event loop is blocked: that worker dies too (its watch runs on a thread of its own)", async () => {
    const audit = join(dir, "blocked.jsonl");
    const server = await startBundle(bundle, ["--audit", audit, "--state", redis.url, "--workers", "2"], { ...env, KR_TEST_BLOCK_LOOP: "1" }, ["--import", join(import.meta.dirname, "..", "support", "block-event-loop.mjs")]);
    const { primary, workers } = tree(server);
    [primary, ...workers].forEach((p) => seen.add(p));
    // Blocks the event loop of the worker it reaches, for good: never answered.
    const stuck = fetch(`${server.url}/healthz`).catch(() => undefined);
    await sleep(300);
    process.kill(primary, "SIGKILL");
    expect(await eventually(() => workers.filter(running), (alive) => alive.length === 0, 5000)).toEqual([]);
    server.kill9();
    await stuck;
  }, 60_000);

  it("SIGTERM drains every worker: an answer in flight arrives, the launcher exits 0", async () => {
    const { server, primary, workers } = await startPool("drain");
    upstream.routes.set("/v1/refunds", async (_request, res) => {
      await sleep(400);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: "re_slow" }));
    });
    try {
      const slow = postFresh(server.url, refund("pi_drain_slow"));
      await sleep(150);
      process.kill(server.process.pid!, "SIGTERM");
      expect((await slow).status).toBe(200);
      expect(await server.exited).toBe(0);
      expect([primary, ...workers].filter(running)).toEqual([]);
    } finally {
      upstream.routes.delete("/v1/refunds");
    }
  }, 60_000);
});
