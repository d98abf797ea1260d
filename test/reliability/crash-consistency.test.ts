// Crash consistency: under concurrent load, `kill -9` the bundle at random moments. Every request the
// client saw acknowledged must be in the audit; the torn last line a crash leaves is repaired on the next
// start; `audit verify` passes. KR_CRASH_RUNS sets the number of kills (CI: 12; test:full: 200). The
// moment of each kill is a count of acknowledged requests, never a time: on a loaded machine the test
// checks the same thing, only more slowly (speed belongs to the benchmarks).

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditFile } from "../../runtime-template/audit/audit-verify.js";
import { buildBundle, startBundle, writeConfig } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";
import { Upstream } from "../support/upstream.js";

const RUNS = Number(process.env.KR_CRASH_RUNS ?? 12);
const SECRET = "sk_test_crash_0123456789";
const upstream = new Upstream();
let dir: string;
let bundle: string;

beforeAll(async () => {
  await upstream.start();
  dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
  bundle = await buildBundle(dir);
}, 60_000);
afterAll(() => upstream.stop());

describe("kill -9 under load", () => {
  it(`keeps every acknowledged request in the audit across ${RUNS} crashes`, async () => {
    const audit = join(dir, "crash-audit.jsonl");
    const state = join(dir, "crash-state");
    const acknowledged: string[] = [];
    let torn = 0;
    for (let run = 0; run < RUNS; run++) {
      // Every other server groups its durable writes (--audit-commit-delay): the guarantee is the same.
      const commitDelay = run % 2 === 1 ? ["--audit-commit-delay", "2"] : [];
      const server = await startBundle(bundle, ["--audit", audit, "--state", state, ...commitDelay], { STRIPE_API_KEY: SECRET });
      let stop = false;
      // 32 clients: allowed refunds (two records each) and denials (one record), as fast as they go.
      const clients = Array.from({ length: 32 }, async (_, c) => {
        for (let i = 0; !stop; i++) {
          const amount = (c + i) % 3 === 0 ? 9000 : 100;
          try {
            const res = await fetch(`${server.url}/v1/execute`, {
              method: "POST",
              body: JSON.stringify({ agent: "support-agent", tool: "refund_payment", input: { payment_id: `pi_${run}_${c}_${i}`, amount_cents: amount }, reason: "r" }),
            });
            const body = (await res.json()) as { audit_id?: string };
            if (body.audit_id !== undefined) acknowledged.push(body.audit_id);
          } catch {
            return; // the server died under this request: it was never acknowledged
          }
        }
      });
      // Killed after a random number of acknowledged requests (1 to 40), wherever that falls.
      const killAfter = acknowledged.length + 1 + Math.floor(Math.random() * 40);
      while (acknowledged.length < killAfter && !(await Promise.race([server.exited.then(() => true), sleep(5).then(() => false)])));
      server.kill9();
      stop = true;
      await Promise.all(clients);
      await server.exited;
      const text = readFileSync(audit, "utf8");
      if (text.length > 0 && !text.endsWith("\n")) torn++;
    }
    // One more start repairs whatever the last crash left; then the whole chain must verify.
    const last = await startBundle(bundle, ["--audit", audit, "--state", state], { STRIPE_API_KEY: SECRET });
    await last.stop();
    const records = readFileSync(audit, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { id: string; decision: string });
    const ids = new Set(records.map((r) => r.id));
    const missing = acknowledged.filter((id) => !ids.has(id));
    // Counts, not speeds: every run acknowledged requests before its kill, and each one is recorded.
    expect(acknowledged.length).toBeGreaterThanOrEqual(RUNS);
    expect(missing).toEqual([]);
    expect(ids.size).toBeGreaterThanOrEqual(new Set(acknowledged).size);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
    const verify = spawnSync(process.execPath, [bundle, "audit", "verify", audit], { encoding: "utf8" });
    expect(verify.status).toBe(0);
    console.log(`crash consistency: ${RUNS} kills (half with a 2 ms audit commit delay), ${acknowledged.length} acknowledged requests all audited, ${torn} torn last lines repaired`);
  }, 60_000 + RUNS * 3_000);
});
