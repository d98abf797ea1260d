// The audit file cannot grow (a full disk, here a file-size limit: the write is cut short, then EFBIG):
// the server fails closed, says so on /healthz, and leaves the file whole — no torn line to break
// `audit verify`, and a restart continues the chain. The real bundle under `ulimit -f`.

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditFile } from "../../runtime-template/audit/audit-verify.js";
import { buildBundle, post, startBundle, writeConfig } from "../support/bundle-process.js";
import { Upstream } from "../support/upstream.js";

const upstream = new Upstream();
let dir: string;
let bundle: string;
const env = { API_KEY: "sk_test_filelimit_0123456789" };
const call = (url: string, i: number) => post(`${url}/v1/execute`, { agent: "ops", tool: "ping", input: { note: `request ${i} ${"x".repeat(200)}` } });

beforeAll(async () => {
  await upstream.start();
  dir = writeConfig({
    "tools/ping.yaml": `tool: ping\ndescription: ping\ninput:\n  note: string\nrun:\n  type: http\n  method: POST\n  url: http://127.0.0.1:${upstream.port}/ping\n  auth: { secret: API_KEY }\n  body:\n    note: \${note}\n`,
    "policies/ops.yaml": "policy: ops\nallow:\n  - tool: ping\n",
  });
  bundle = await buildBundle(dir);
}, 60_000);

afterAll(() => upstream.stop());

describe("an audit file that cannot grow (real bundle, ulimit -f)", () => {
  it("fails closed, reports it on /healthz, leaves no torn line, and a restart continues the chain", async () => {
    const audit = join(dir, "limited.jsonl");
    // 8 KiB: a few dozen records fit; the write that crosses the limit is cut short.
    const limited = await startBundle(bundle, ["--audit", audit], env, [], ["/bin/bash", "-c", 'ulimit -f 8; exec "$@"', "bash"]);
    expect((await fetch(`${limited.url}/healthz`)).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 60 && !statuses.includes(503); i++) statuses.push((await call(limited.url, i)).status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(5);
    expect(statuses.at(-1)).toBe(503);
    const executed = upstream.received.length;
    // From now on nothing runs, and the health check says why.
    expect((await call(limited.url, 999)).status).toBe(503);
    expect(upstream.received.length).toBe(executed);
    // A forward-proxy request, even one refused, is not answered as if audited.
    const { request } = await import("node:http");
    const forwarded = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: new URL(limited.url).port, path: `http://127.0.0.1:${upstream.port}/nowhere`, headers: { host: `127.0.0.1:${upstream.port}`, "proxy-authorization": `Basic ${Buffer.from("ops:x").toString("base64")}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(forwarded).toBe(503);
    const health = await fetch(`${limited.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: "unavailable", message: "the audit log cannot be written, so nothing is executed" });
    // The file holds whole records only: it verifies as it is, every line a record.
    const text = readFileSync(audit, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
    const records = text.trim().split("\n").map((l) => JSON.parse(l) as { decision: string; input: { note: string } });
    // Every request the upstream received has its allow record.
    expect(records.filter((r) => r.decision === "allow").length).toBe(executed);
    await limited.stop();
    // Restarted without the limit: the chain goes on from the last whole record.
    const size = statSync(audit).size;
    const restarted = await startBundle(bundle, ["--audit", audit], env);
    expect((await call(restarted.url, 1000)).status).toBe(200);
    await restarted.stop();
    expect(statSync(audit).size).toBeGreaterThan(size);
    expect(verifyAuditFile(audit, undefined)).toMatchObject({ ok: true });
  });
});
