// Exec tools: argv passed literally, exact environment, and the process group killed on every end.
import { afterAll, describe, expect, it } from "vitest";
import { noneLeft, processesWith, uniqueSleep } from "../../test/support/processes.js";
import { CommandNotStarted, runExec } from "./exec-runner.js";
import type { ExecPlan } from "../contract/tool-module.js";

const plan = (argv: string[], extra: Partial<ExecPlan> = {}): ExecPlan => ({ kind: "exec", argv, env: { PATH: "/usr/bin:/bin" }, timeoutMs: 5000, maxOutputBytes: 1 << 20, ...extra });
const markers: string[] = [];
const marked = (whole: number) => {
  const m = uniqueSleep(whole);
  markers.push(m);
  return m;
};
afterAll(() => {
  for (const m of markers) for (const p of processesWith(m)) process.kill(p.pid, "SIGKILL");
});

describe("exec runner", () => {
  it("passes every argv element as it is: nothing is read by a shell", async () => {
    const result = await runExec(plan(["printf", "%s|", "$(echo injected)", "a;b", "*", "`id`", "$1"]));
    expect(result).toMatchObject({ exitCode: 0, signal: null, stdout: "$(echo injected)|a;b|*|`id`|$1|", timedOut: false, truncated: false });
  });

  it("reports the command's own exit code and signal", async () => {
    expect(await runExec(plan(["sh", "-c", "echo out; echo err >&2; exit 3"]))).toMatchObject({ exitCode: 3, signal: null, stdout: "out\n", stderr: "err\n" });
    expect(await runExec(plan(["sh", "-c", "kill -TERM $$"]))).toMatchObject({ exitCode: null, signal: "SIGTERM" });
  });

  it("a command that does not exist could not be started", async () => {
    await expect(runExec(plan(["keyrunner-no-such-command"]))).rejects.toBeInstanceOf(CommandNotStarted);
    await expect(runExec(plan(["/nonexistent/bin/tool"]))).rejects.toBeInstanceOf(CommandNotStarted);
  });

  it("the command gets only its declared environment (nothing the supervising shell would add)", async () => {
    const result = await runExec(plan(["/usr/bin/env"], { env: { ONLY: "this" } }));
    expect(result.stdout).toBe("ONLY=this\n");
  });

  it("the command reads nothing: its stdin is empty", async () => {
    expect(await runExec(plan(["cat"]))).toMatchObject({ exitCode: 0, stdout: "" });
  });

  it("on timeout the whole group ends: sh -c 'sleep 60; …' answers at timeout_ms and leaves nothing behind", async () => {
    const sleep = marked(60);
    const started = Date.now();
    const result = await runExec(plan(["sh", "-c", `sleep ${sleep}; echo late`], { timeoutMs: 400 }));
    expect(result).toMatchObject({ timedOut: true, stdout: "" });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await noneLeft(sleep, 1000)).toBe(true);
  });

  it("on output overflow the whole group ends, a writer in the background included", async () => {
    const sleep = marked(61);
    const started = Date.now();
    const result = await runExec(plan(["sh", "-c", `while :; do echo 0123456789; done & sleep ${sleep}`], { maxOutputBytes: 1000 }));
    expect(result).toMatchObject({ truncated: true, timedOut: false });
    expect(result.stdout.length).toBe(1000);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await noneLeft(sleep, 1000)).toBe(true);
  });

  it("what the command leaves running when it exits does not outlive the request", async () => {
    const sleep = marked(62);
    const started = Date.now();
    const result = await runExec(plan(["sh", "-c", `sleep ${sleep} & echo started`]));
    expect(result).toMatchObject({ exitCode: 0, stdout: "started\n", timedOut: false });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await noneLeft(sleep, 1000)).toBe(true);
  });
});
