// Keys stay keys: the process that serves (the sandboxed child) is started without any secret in its
// environment — /proc/<pid>/environ of a process shows its initial environment for its whole life — and
// receives them through a pipe from its launcher. It still uses them: the upstream gets the credential.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_live_environ_suite_0123456789abcdef";
const AUDIT_KEY = "audit-key-environ-suite-0123456789";
const upstream = new Upstream();
let server: RunningBundle;

/** The pids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return Number(readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

beforeAll(async () => {
  await upstream.start();
  const dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
  server = await startBundle(await buildBundle(dir), ["--audit", join(dir, "audit.jsonl")], { STRIPE_API_KEY: SECRET, KEYRUNNER_AUDIT_KEY: AUDIT_KEY });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await upstream.stop();
});

describe("secrets reach the sandboxed server through a pipe, not its environment", () => {
  it("/proc/<pid>/environ of the serving process holds no secret and no audit key; the upstream gets the credential", async () => {
    const [serving] = childrenOf(server.process.pid!);
    expect(serving).toBeDefined();
    const environ = readFileSync(`/proc/${serving}/environ`);
    expect(environ.includes(SECRET)).toBe(false);
    expect(environ.includes(AUDIT_KEY)).toBe(false);
    expect(environ.toString("latin1")).not.toMatch(/(^|\0)(STRIPE_API_KEY|KEYRUNNER_AUDIT_KEY)=/);
    const mark = upstream.received.length;
    const res = await post(`${server.url}/v1/execute`, { agent: "a", tool: "refund_payment", input: { payment_id: "pi_1", amount_cents: 100 }, reason: "r" });
    expect(res.status).toBe(200);
    expect(upstream.since(mark)[0]!.headers.authorization).toBe(`Bearer ${SECRET}`);
    // What the operator gave the launcher stays in the launcher's own environment (docs/runtime.md: use
    // --secrets-file to keep it out of every environment).
    expect(readFileSync(`/proc/${server.process.pid}/environ`).includes(SECRET)).toBe(true);
  });
});
