// The bundle serves under Node's permission model: reads limited to what it needs, writes to the audit
// and state paths, child processes only when the config has exec tools, no code from strings.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig } from "../support/bundle-process.js";
import { eventually } from "../support/eventually.js";
import { seedConfig } from "../support/seed-config.js";
import { Upstream } from "../support/upstream.js";

const upstream = new Upstream();
beforeAll(() => upstream.start());
afterAll(() => upstream.stop());

/** The command line of the launcher's child: the sandboxed server. */
function serverArgs(launcherPid: number): string[] {
  const child = readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, "utf8").trim().split(" ")[0]!;
  return readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0").filter(Boolean);
}

describe("permission model", () => {
  it("an http-only config serves with reads and writes limited to its own files and no child processes", async () => {
    const dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
    const bundle = await buildBundle(dir);
    const audit = join(dir, "logs", "audit.jsonl");
    const server = await startBundle(bundle, ["--audit", audit, "--state", join(dir, "state")], { STRIPE_API_KEY: "sk_test_permission_01" });
    const args = serverArgs(server.process.pid!);
    expect(args).toContain("--experimental-permission");
    expect(args).toContain("--disallow-code-generation-from-strings");
    expect(args).not.toContain("--allow-child-process");
    const reads = args.filter((a) => a.startsWith("--allow-fs-read=")).map((a) => a.slice("--allow-fs-read=".length)).sort();
    const writes = args.filter((a) => a.startsWith("--allow-fs-write=")).map((a) => a.slice("--allow-fs-write=".length)).sort();
    // Beside its files, the flags of its own descriptors (test/security/inherited-descriptors).
    expect(reads).toEqual([bundle, audit, join(dir, "state"), "/proc/self/fdinfo"].sort());
    // The audit's lock socket beside it: a stale one is removed, which needs a write grant.
    expect(writes).toEqual([audit, `${audit}.lock`, join(dir, "state")].sort());
    // The launcher watch runs in a worker thread, so that a blocked event loop cannot outlive the launcher.
    expect(args).toContain("--allow-worker");
    const res = await post(`${server.url}/v1/execute`, { agent: "a", tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
    expect(res.status).toBe(200);
    expect(await server.stop()).toBe(0);
  });

  it("a config with exec tools may start child processes; --no-permission-model serves unsandboxed", async () => {
    const dir = writeConfig({
      "tools/t.yaml": `tool: say\ndescription: echo\ninput:\n  word: string\nrun: { type: exec, command: ["${process.execPath}", "-e", "console.log(process.argv[1])", "\${word}"] }\n`,
      "policies/p.yaml": "policy: p\nallow:\n  - tool: say\n",
    });
    const bundle = await buildBundle(dir);
    const sandboxed = await startBundle(bundle, ["--audit", join(dir, "a.jsonl")], {});
    expect(serverArgs(sandboxed.process.pid!)).toContain("--allow-child-process");
    const res = await post(`${sandboxed.url}/v1/execute`, { agent: "a", tool: "say", input: { word: "hello" } });
    expect(res.body.result.stdout).toBe("hello\n");
    await sandboxed.stop();
    const open = await startBundle(bundle, ["--audit", join(dir, "b.jsonl"), "--no-permission-model"], {});
    const pid = open.process.pid!;
    expect(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim()).toBe("");
    await open.stop();
  });

  it("sandbox-flags: the sandboxed server started directly, in one process, with exactly the printed grants", async () => {
    const dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
    const bundle = await buildBundle(dir);
    const audit = join(dir, "deploy", "audit.jsonl");
    const state = join(dir, "deploy", "state");
    const printed = await promisify(execFile)(process.execPath, [bundle, "sandbox-flags", "serve", "--audit", audit, "--state", state]);
    const flags = printed.stdout.trim().split(" ");
    expect(flags).toEqual([
      "--experimental-permission",
      ...[bundle, audit, state, "/proc/self/fdinfo"].sort().map((p) => `--allow-fs-read=${p}`),
      ...[audit, `${audit}.lock`, state].sort().map((p) => `--allow-fs-write=${p}`),
      "--disallow-code-generation-from-strings",
      "--disable-warning=ExperimentalWarning",
    ]);
    const server = await startBundle(bundle, ["--audit", audit, "--state", state], { STRIPE_API_KEY: "sk_test_permission_01" }, flags);
    const pid = server.process.pid!;
    // No launcher: this process is the server, and it runs under the permission model.
    expect(readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim()).toBe("");
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")).toContain("--experimental-permission");
    const res = await post(`${server.url}/v1/execute`, { agent: "a", tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
    expect(res.status).toBe(200);
    // The decision record, and the outcome record that follows the answer.
    expect(await eventually(() => readFileSync(audit, "utf8").trim().split("\n"), (lines) => lines.length >= 2)).toHaveLength(2);
    expect(await server.stop()).toBe(0);
  });

  it("on one CPU (taskset) the server collects garbage on its main thread; on two it does not", async () => {
    const dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
    const bundle = await buildBundle(dir);
    const audit = join(dir, "deploy", "audit.jsonl");
    const onOne = await promisify(execFile)("taskset", ["-c", "0", process.execPath, bundle, "sandbox-flags", "serve", "--audit", audit]);
    expect(onOne.stdout.trim().split(" ")).toContain("--single-threaded-gc");
    const onAll = await promisify(execFile)(process.execPath, [bundle, "sandbox-flags", "serve", "--audit", audit]);
    expect(onAll.stdout.trim().split(" ")).not.toContain("--single-threaded-gc");
    // And the sandboxed server started by self-relaunch on one CPU has it.
    const pinned = await startBundle(bundle, ["--audit", audit], { STRIPE_API_KEY: "sk_test_permission_01" }, [], ["taskset", "-c", "0"]);
    expect(serverArgs(pinned.process.pid!)).toContain("--single-threaded-gc");
    const res = await post(`${pinned.url}/v1/execute`, { agent: "a", tool: "refund_payment", input: { payment_id: "p", amount_cents: 1 }, reason: "r" });
    expect(res.status).toBe(200);
    expect(await pinned.stop()).toBe(0);
  });

  it("sandbox-flags printed for other paths: the server refuses to start and says why", async () => {
    const dir = writeConfig(seedConfig(`http://127.0.0.1:${upstream.port}`));
    const bundle = await buildBundle(dir);
    const printed = await promisify(execFile)(process.execPath, [bundle, "sandbox-flags", "serve", "--audit", join(dir, "a", "audit.jsonl")]);
    await expect(startBundle(bundle, ["--audit", join(dir, "b", "audit.jsonl")], { STRIPE_API_KEY: "sk_test_permission_01" }, printed.stdout.trim().split(" "))).rejects.toThrow(
      /exited 1: [\s\S]*the permission model denies \S+; start with the flags `sandbox-flags serve` prints/,
    );
  });
});
