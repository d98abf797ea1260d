// Exec tools through the real bundle: a command's whole process group ends at its timeout, and nothing
// of it outlives the server, also after `kill -9` of the server.

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { noneLeft, processesWith, uniqueSleep } from "../support/processes.js";
import { eventually } from "../support/eventually.js";

const TIMED = uniqueSleep(60);
const LONG = uniqueSleep(70);
let dir: string;
let bundle: string;
const started: RunningBundle[] = [];

const serve = async () => {
  const r = await startBundle(bundle, ["--audit", join(dir, `audit-${started.length}.jsonl`)], {});
  started.push(r);
  return r;
};
const run = (server: RunningBundle, tool: string) => post(`${server.url}/v1/execute`, { agent: "ops", tool, input: {} });

beforeAll(async () => {
  dir = writeConfig({
    "tools/commands.yaml": [
      `tool: timed_command\ndescription: a shell whose grandchild sleeps past the timeout\nrun:\n  type: exec\n  command: ["/bin/sh", "-c", "sleep ${TIMED}; echo late"]\n  timeout_ms: 500\n`,
      `tool: long_command\ndescription: a shell whose grandchild sleeps for a long time\nrun:\n  type: exec\n  command: ["/bin/sh", "-c", "sleep ${LONG}; echo late"]\n  timeout_ms: 60000\n`,
    ].join("---\n"),
    "policies/ops.yaml": "policy: ops\nallow:\n  - tool: timed_command\n  - tool: long_command\n",
  });
  bundle = await buildBundle(dir);
}, 60_000);

afterAll(async () => {
  for (const r of started) r.kill9();
  for (const marker of [TIMED, LONG]) for (const p of processesWith(marker)) process.kill(p.pid, "SIGKILL");
});

describe("exec tools and process groups (real bundle, permission model)", () => {
  it("sh -c 'sleep 60; …' answers 504 at its timeout_ms, and no process of it remains", async () => {
    const server = await serve();
    const t0 = Date.now();
    const res = await run(server, "timed_command");
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ status: "upstream_timeout" });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await noneLeft(TIMED, 1000)).toBe(true);
  });

  it.each([
    ["kill -9 of the server process alone (its launcher still alive)", "server"],
    ["kill -9 of the bundle's whole process group, launcher and server at once", "group"],
  ] as const)("%s leaves no process of a running command", async (_name, how) => {
    const server = await serve();
    const pending = run(server, "long_command").catch(() => undefined);
    // The command's group leader is the `sh -c …` that the server spawned: its parent is the server.
    // Wait for both the shell and its sleep: the shell is found a moment before it has forked.
    const running = await eventually(() => processesWith(LONG), (ps) => ps.length >= 2, 10_000);
    expect(running.length).toBeGreaterThanOrEqual(2);
    const leader = running.find((p) => p.pid === p.pgid)!;
    expect(leader).toBeDefined();
    if (how === "server") process.kill(leader.ppid, "SIGKILL");
    else server.kill9();
    expect(await noneLeft(LONG, 3000)).toBe(true);
    server.kill9();
    await pending;
  });
});
