// Crash consistency: under concurrent load, `kill -9` the bundle at random moments. Every request the
// client saw acknowledged must be in the audit; the torn last line a crash leaves is repaired on the next
// start; `audit verify` passes. KR_CRASH_RUNS sets the number of kills (CI: 12; test:full: 200).

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

/** Waits until the process named in the state lock is gone (a killed server lingers until it is reaped). */
async function lockReleased(lock: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    let pid: number;
    try {
      pid = Number(readFileSync(lock, "utf8"));
    } catch {
      return;
    }
    // Until it is reaped, a killed process still answers kill(pid, 0): wait for /proc to forget it.
    try {
      readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return;
    }
    await sleep(20);
  }
}

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
      await sleep(30 + Math.floor(Math.random() * 120));
      server.kill9();
      stop = true;
      await Promise.all(clients);
      await server.exited;
      await lockReleased(join(state, "state.lock"));
      const text = readFileSync(audit, "utf8");
      if (text.length > 0 && !text.endsWith("\n")) torn++;
    }
    // One more start repairs whatever the last crash left; then the whole chain must verify.
    const last = await startBundle(bundle, ["--audit", audit, "--state", state], { STRIPE_API_KEY: SECRET });
    await last.stop();
    const ids = new Set(readFileSync(audit, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { id: string }).id));
    const missing = acknowledged.filter((id) => !ids.has(id));
    expect(acknowledged.length).toBeGreaterThan(RUNS * 5);
    expect(missing).toEqual([]);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
    const verify = spawnSync(process.execPath, [bundle, "audit", "verify", audit], { encoding: "utf8" });
    expect(verify.status).toBe(0);
    console.log(`crash consistency: ${RUNS} kills (half with a 2 ms audit commit delay), ${acknowledged.length} acknowledged requests all audited, ${torn} torn last lines repaired`);
  }, 60_000 + RUNS * 3_000);
});
