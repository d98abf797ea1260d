// Soak: many requests at high concurrency through the real bundle with durable audit; memory must stay
// bounded. KR_SOAK_REQUESTS / KR_SOAK_CONCURRENCY (CI: 5,000 at 64; test:full: 100,000 at 256).

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";
import { Upstream } from "../support/upstream.js";

const REQUESTS = Number(process.env.KR_SOAK_REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.KR_SOAK_CONCURRENCY ?? 64);
const upstream = new Upstream();
let server: RunningBundle;
let dir: string;

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

beforeAll(async () => {
  await upstream.start();
  // The recording upstream would itself grow with every request: answer without recording.
  upstream.routes.set("/v1/refunds", (_req, res) => res.end('{"id":"re_1","status":"succeeded"}'));
  dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
  server = await startBundle(await buildBundle(dir), ["--audit", join(dir, "audit.jsonl")], { STRIPE_API_KEY: "sk_test_soak_0123456789" });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

describe("soak", () => {
  it(`serves ${REQUESTS} requests at concurrency ${CONCURRENCY} with bounded memory`, async () => {
    const pid = server.process.pid!;
    const body = JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_1", amount_cents: 100 }, reason: "soak" });
    // The load runs in its own process, asynchronously: the upstream lives in this one and must keep answering.
    const load = (total: number) =>
      promisify(execFile)(process.execPath, [join(import.meta.dirname, "..", "..", "bench", "load.mjs"), server.url, "/v1/execute", String(CONCURRENCY), String(total), body, "{}"], { timeout: 900_000 });
    await load(2000); // warm-up; memory is measured across the long run that follows
    const before = rssMiB(pid);
    const run = await load(REQUESTS);
    const result = JSON.parse(run.stdout) as { errors: number; rps: number; statuses: Record<string, number> };
    const after = rssMiB(pid);
    console.log(`soak: ${REQUESTS} requests at concurrency ${CONCURRENCY}, ${Math.round(result.rps)} req/s, RSS ${before.toFixed(0)} MiB before → ${after.toFixed(0)} MiB after`);
    expect(result.statuses).toEqual({ 200: REQUESTS });
    expect(after).toBeLessThan(before + 64);
    expect(after).toBeLessThan(300);
  });
});
