// Restarts an operator's supervisor makes: `kill -9` of the pid it started (the launcher, not its process
// group) and a new start 100 ms later on the same audit and state — also while the server's event loop
// is blocked — and starts on folders whose old pid-file lock names a live, unrelated process.

import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditFile } from "../../runtime-template/audit/audit-verify.js";
import { buildBundle, post, startBundle, writeConfig } from "../support/bundle-process.js";
import { seedConfig } from "../support/seed-config.js";
import { Upstream } from "../support/upstream.js";

const SECRET = "sk_test_restart_0123456789";
const env = { STRIPE_API_KEY: SECRET };
const upstream = new Upstream();
let dir: string;
let bundle: string;
const refund = (id: string) => ({ agent: "support-agent", tool: "refund_payment", input: { payment_id: id, amount_cents: 100 }, reason: "r" });

beforeAll(async () => {
  await upstream.start();
  dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
  bundle = await buildBundle(dir);
}, 60_000);
/** Sandboxed servers seen: killed after the file, should a test fail with one orphaned (its launcher is gone). */
const seen: number[] = [];
afterAll(async () => {
  for (const pid of seen) if (running(pid)) process.kill(pid, "SIGKILL");
  await upstream.stop();
});

/** The sandboxed server the launcher started. */
function serverPid(launcher: number): number {
  return Number(readFileSync(`/proc/${launcher}/task/${launcher}/children`, "utf8").trim().split(" ")[0]);
}

/** Whether a process is still running (a zombie waiting to be reaped holds nothing and serves nothing). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

describe("restart after kill -9", () => {
  it("20 times: kill -9 of the launcher, a start 100 ms later serves; the audit verifies; no earlier server remains", async () => {
    const audit = join(dir, "restart-audit.jsonl");
    const state = join(dir, "restart-state");
    const servers: number[] = [];
    let acknowledged = 0;
    for (let run = 0; run < 20; run++) {
      const server = await startBundle(bundle, ["--audit", audit, "--state", state], env);
      const answer = await post(`${server.url}/v1/execute`, refund(`pi_restart_${run}`));
      expect(answer.status).toBe(200);
      acknowledged++;
      servers.push(serverPid(server.process.pid!));
      seen.push(servers.at(-1)!);
      process.kill(server.process.pid!, "SIGKILL");
      await sleep(100);
    }
    const last = await startBundle(bundle, ["--audit", audit, "--state", state], env);
    expect((await post(`${last.url}/v1/execute`, refund("pi_restart_last"))).status).toBe(200);
    expect(await last.stop()).toBe(0);
    expect(servers.filter(running)).toEqual([]);
    const ids = new Set(readFileSync(audit, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { id: string; decision: string }).decision));
    expect(ids.has("allow")).toBe(true);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
    expect(spawnSync(process.execPath, [bundle, "audit", "verify", audit], { encoding: "utf8" }).status).toBe(0);
    expect(acknowledged).toBe(20);
  }, 120_000);

  it("a server whose event loop is blocked dies with its launcher: a start 100 ms after kill -9 serves", async () => {
    const audit = join(dir, "blocked-audit.jsonl");
    const state = join(dir, "blocked-state");
    const blocked = await startBundle(bundle, ["--audit", audit, "--state", state], { ...env, KR_TEST_BLOCK_LOOP: "1" }, ["--import", join(import.meta.dirname, "..", "support", "block-event-loop.mjs")]);
    const child = serverPid(blocked.process.pid!);
    seen.push(child);
    // This request blocks the server's event loop for good: it is never answered.
    const stuck = fetch(`${blocked.url}/healthz`).catch(() => undefined);
    await sleep(200);
    process.kill(blocked.process.pid!, "SIGKILL");
    await sleep(100);
    const next = await startBundle(bundle, ["--audit", audit, "--state", state], env);
    expect((await post(`${next.url}/v1/execute`, refund("pi_after_block"))).status).toBe(200);
    expect(running(child)).toBe(false);
    expect(await next.stop()).toBe(0);
    await stuck;
  }, 60_000);
});

describe("the launcher watch", () => {
  /** Voluntary context switches of every thread of a process: each one a wake-up after waiting. */
  function wakeUps(pid: number): number {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) total += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))?.[1] ?? 0);
    return total;
  }

  it("costs an idle server nothing: its threads wake fewer than 10 times in 2 s (a 50 ms poll of the parent pid woke 40 times)", async () => {
    const server = await startBundle(bundle, ["--audit", join(dir, "idle-audit.jsonl"), "--state", join(dir, "idle-state")], env);
    const child = serverPid(server.process.pid!);
    seen.push(child);
    expect((await post(`${server.url}/v1/execute`, refund("pi_idle"))).status).toBe(200);
    // The answered request's outcome record goes out within LAZY_FLUSH_MS; after that, nothing is due.
    await sleep(500);
    const before = wakeUps(child);
    await sleep(2000);
    expect(wakeUps(child) - before).toBeLessThan(10);
    // And the watch still watches: kill -9 of the launcher ends the server.
    process.kill(server.process.pid!, "SIGKILL");
    for (let i = 0; i < 100 && running(child); i++) await sleep(20);
    expect(running(child)).toBe(false);
  }, 30_000);
});

describe("locks that name no holder", () => {
  it("a state folder and audit whose old pid-file locks name a live, unrelated process: the server serves", async () => {
    const root = mkdtempSync(join(tmpdir(), "kr-pidlock-"));
    const state = join(root, "state");
    const audit = join(root, "audit.jsonl");
    mkdirSync(state);
    // The old lock format: a regular file holding a pid — here this test runner's, which is alive.
    writeFileSync(join(state, "state.lock"), String(process.pid));
    writeFileSync(`${audit}.lock`, String(process.pid));
    const server = await startBundle(bundle, ["--audit", audit, "--state", state], env);
    expect((await post(`${server.url}/v1/execute`, refund("pi_pidlock"))).status).toBe(200);
    expect(await server.stop()).toBe(0);
    expect(existsSync(join(state, "state.lock"))).toBe(false);
  });

  it("a second server on the same audit file (its own state) is refused, and told what to do", async () => {
    const audit = join(dir, "shared-audit.jsonl");
    const first = await startBundle(bundle, ["--audit", audit], env);
    await expect(startBundle(bundle, ["--audit", audit], env)).rejects.toThrow(
      new RegExp(`exited 1: [\\s\\S]*the audit file \\S+ is in use by a running keyrunner \\(pid ${serverPid(first.process.pid!)}\\); each server needs its own --audit file; to let several MCP clients share one server and one audit, start \`keyrunner mcp --url`),
    );
    expect((await post(`${first.url}/v1/execute`, refund("pi_still_one_writer"))).status).toBe(200);
    expect(await first.stop()).toBe(0);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
  });

  it.each([
    ["a symbolic link", (target: string, link: string) => symlinkSync(target, link)],
    ["a hard link", (target: string, link: string) => linkSync(target, link)],
  ])("so is a second server on the same audit file by another name (%s): the file itself is locked", async (_name, makeLink) => {
    // Found from outside: each name had its own FILE.lock, both servers wrote, the chain broke (seq twice).
    const audit = join(dir, `linked-audit-${randomUUID()}.jsonl`);
    const other = mkdtempSync(join(tmpdir(), "kr-audit-link-"));
    const first = await startBundle(bundle, ["--audit", audit], env);
    expect((await post(`${first.url}/v1/execute`, refund("pi_first_writer"))).status).toBe(200);
    makeLink(audit, join(other, "link.jsonl"));
    await expect(startBundle(bundle, ["--audit", join(other, "link.jsonl")], env)).rejects.toThrow(
      new RegExp(`exited 1: [\\s\\S]*the audit file \\S+link\\.jsonl is in use by a running keyrunner \\(pid ${serverPid(first.process.pid!)}\\)`),
    );
    expect((await post(`${first.url}/v1/execute`, refund("pi_still_one_writer"))).status).toBe(200);
    expect(await first.stop()).toBe(0);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
    // Once the first has stopped, the file is free by either name.
    const second = await startBundle(bundle, ["--audit", join(other, "link.jsonl")], env);
    expect((await post(`${second.url}/v1/execute`, refund("pi_second_writer"))).status).toBe(200);
    expect(await second.stop()).toBe(0);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
  });
});
