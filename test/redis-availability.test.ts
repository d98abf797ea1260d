// A machine without redis-server: the suites that need it are skipped with a printed reason, the rest
// run; with KR_REQUIRE_REDIS=1 (as in .ci/run) the missing program is a failure instead.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { missingReason, onPath } from "./support/redis-server.js";

/** A PATH with every program of this one except redis-server and redis-sentinel. */
function pathWithoutRedis(): string {
  const bin = mkdtempSync(join(tmpdir(), "kr-no-redis-bin-"));
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (/^redis-(server|sentinel)$/.test(name)) continue;
      try {
        symlinkSync(join(dir, name), join(bin, name));
      } catch {
        // an earlier PATH entry had it
      }
    }
  }
  return bin;
}

describe("tests that need Redis on a machine without it", () => {
  it("says which program is missing and how to get it", () => {
    expect(missingReason(["redis-server", "openssl"], "/nonexistent")).toBe("needs redis-server and openssl, not found on PATH (Debian: apt-get install redis-server openssl)");
    expect(onPath("sh", "/nonexistent:/bin")).toBe(true);
  });

  const path = pathWithoutRedis();
  const project = mkdtempSync(join(tmpdir(), "kr-no-redis-"));
  const root = join(import.meta.dirname, "..");
  // A suite written like the obligation tests: one part needs redis-server, one does not.
  mkdirSync(join(project, "test"));
  writeFileSync(
    join(project, "test", "uses-redis.test.ts"),
    `import { describe, expect, it } from "vitest";\nimport { describeWithRedis, startRedis } from ${JSON.stringify(join(root, "test", "support", "redis-server.js"))};\n` +
      `describeWithRedis("needs redis", ["redis-server"], () => { it("talks to redis", async () => { await startRedis(); }); });\n` +
      `describe("does not", () => { it("runs", () => expect(1).toBe(1)); });\n`,
  );
  writeFileSync(join(project, "vitest.config.ts"), `export default { test: { include: ["test/**/*.test.ts"] } };\n`);
  const vitest = (env: Record<string, string>) =>
    spawnSync(process.execPath, [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--root", project], { env: { ...process.env, PATH: path, NO_COLOR: "1", FORCE_COLOR: "0", ...env }, encoding: "utf8", timeout: 60_000 });

  it("skips the suites that need redis-server with the reason printed, runs the rest, and exits 0", () => {
    expect(onPath("redis-server", path)).toBe(false);
    const run = vitest({ KR_REQUIRE_REDIS: "" });
    expect(run.stdout + run.stderr).toContain('skipped "needs redis": it needs redis-server, not found on PATH (Debian: apt-get install redis-server); set KR_REQUIRE_REDIS=1 to make this a failure');
    expect(run.stdout).toMatch(/1 passed \| 1 skipped/);
    expect(run.status).toBe(0);
  });

  it("with KR_REQUIRE_REDIS=1, as in CI, the missing program fails the run", () => {
    const run = vitest({ KR_REQUIRE_REDIS: "1" });
    expect(run.stdout).toContain("cannot run: needs redis-server, not found on PATH");
    expect(run.status).toBe(1);
  });
});
