// Kernel-held locks: a killed holder, an old pid file, a draining holder, racing starters.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { FileLock, LockHeld, probeLock } from "./file-lock.js";
import { markDraining } from "./lifecycle-status.js";

const lockPath = () => join(mkdtempSync(join(tmpdir(), "kr-lock-")), "state.lock");
const options = { what: "state folder X", hint: "do Y", waitMs: 300 };

describe("file lock", () => {
  it("a second acquirer is refused while the first holds it, and gets it once released", async () => {
    const path = lockPath();
    const first = await FileLock.acquire(path, options);
    await expect(FileLock.acquire(path, options)).rejects.toThrow(`the state folder X is in use by a running keyrunner (pid ${process.pid}); do Y`);
    await first.release();
    const second = await FileLock.acquire(path, options);
    expect(second.held).toBe(true);
    await second.release();
  });

  it("a holder killed with SIGKILL leaves a socket nobody accepts on: the next acquirer takes it at once", async () => {
    const path = lockPath();
    const holder = spawn(process.execPath, ["-e", `require("node:net").createServer().listen(${JSON.stringify(path)}, () => console.log("bound"))`], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve) => holder.stdout!.once("data", resolve));
    expect((await probeLock(path)).kind).not.toBe("stale");
    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.once("exit", resolve));
    expect((await probeLock(path)).kind).toBe("stale");
    const started = Date.now();
    const lock = await FileLock.acquire(path, options);
    expect(Date.now() - started).toBeLessThan(250);
    await lock.release();
  });

  it("an old pid-file lock naming a live process is no holder", async () => {
    const path = lockPath();
    writeFileSync(path, String(process.pid));
    const lock = await FileLock.acquire(path, options);
    await lock.release();
  });

  it("starters racing for one stale lock: exactly one wins", async () => {
    for (let round = 0; round < 5; round++) {
      const path = lockPath();
      writeFileSync(path, "stale");
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => FileLock.acquire(path, options)));
      const won = results.filter((r): r is PromiseFulfilledResult<FileLock> => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(LockHeld);
      await won[0]!.value.release();
    }
  });

  it("a starter waits for a holder that is draining, past its own wait, and says so", async () => {
    const path = lockPath();
    const holder = await FileLock.acquire(path, options);
    markDraining(Date.now() + 1000);
    const said: string[] = [];
    const waiting = FileLock.acquire(path, { ...options, waitMs: 100, onWait: (m) => said.push(m) });
    await sleep(600);
    await holder.release();
    const lock = await waiting;
    expect(said).toEqual([expect.stringMatching(new RegExp(`^the state folder X is held by a keyrunner that is shutting down \\(pid ${process.pid}, 1 s left at most\\); waiting for it$`))]);
    await lock.release();
  });

  it("a draining holder that stops answering is not announced a second time as silent", async () => {
    const path = lockPath();
    // Says it is shutting down once, then accepts and never answers (as a holder closing its lock, or busy
    // at its end, does), then dies: the socket file it leaves is stale and the waiter takes it.
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `let n = 0; require("node:net").createServer((s) => { if (n++ === 0) s.end(JSON.stringify({ pid: process.pid, draining: true, left_ms: 400 }) + "\\n"); }).listen(${JSON.stringify(path)}, () => console.log("bound")); setTimeout(() => process.kill(process.pid, "SIGKILL"), 1200);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise((resolve) => holder.stdout!.once("data", resolve));
    const said: string[] = [];
    const lock = await FileLock.acquire(path, { ...options, waitMs: 100, onWait: (m) => said.push(m) });
    expect(lock.held).toBe(true);
    expect(said).toEqual([`the state folder X is held by a keyrunner that is shutting down (pid ${holder.pid}, 1 s left at most); waiting for it`]);
    await lock.release();
  });

  it("a path too long for a socket is refused with the reason", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "kr-lock-")), "x".repeat(120));
    await expect(FileLock.acquire(path, options)).rejects.toThrow(/longer than the 107 bytes a socket path may have; use a shorter path$/);
  });
});
