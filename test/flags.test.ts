// An unknown or misspelt flag stops every command with a message naming it, before anything runs:
// each CLI command (commander) and the bundle's own command line (node:util parseArgs, strict).

import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { keyrunner } from "./support/cli.js";
import { buildBundle, writeConfig } from "./support/bundle-process.js";
import { seedConfig } from "./support/seed-config.js";

describe("keyrunner: an unknown flag names itself and exits 1", () => {
  it.each([
    [["check", "--formt", "json"]],
    [["build", "--outt", "x"]],
    [["explain", "--agent", "a", "--tool", "t", "--input", "{}", "--resaon", "r"]],
    [["run", "--agent", "a", "--tool", "t", "--input", "{}", "--audti", "x"]],
    [["serve", "--prot", "9000"]],
    [["mcp", "--audti", "x"]],
    [["export", "--format", "mcp", "--agnet", "a"]],
    [["test", "--verbsoe"]],
    [["audit", "verify", "x.jsonl", "--kye", "k"]],
    [["approvals", "list", "--url", "http://127.0.0.1:9", "--tokne", "t"]],
    [["token", "alice", "--aprover"]],
  ])("keyrunner %j", async (args) => {
    const misspelt = args.find((a) => a.startsWith("--") && !["--format", "--agent", "--tool", "--input", "--url"].includes(a))!;
    const result = await keyrunner(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`unknown option '${misspelt}'`);
    expect(result.stdout).toBe("");
  });
});

describe("the bundle's command line: an unknown flag names itself and exits 1", () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await buildBundle(writeConfig(seedConfig("http://127.0.0.1:9")));
  }, 60_000);

  it.each([
    [["serve", "--prot", "9000"], "Unknown option '--prot'"],
    [["serve", "--port"], "Option '--port <value>' argument missing"],
    [["mcp", "--hots", "x"], "Unknown option '--hots'"],
    [["mcp", "--port", "1"], "Unknown option '--port'"],
    [["sandbox-flags", "serve", "--adit", "x"], "Unknown option '--adit'"],
    [["token", "alice", "--aprover"], "Unknown option '--aprover'"],
    [["audit", "verify", "x", "--key", "k"], "Unknown option '--key'"],
    [["serve", "extra-argument"], 'serve takes no arguments, not "extra-argument"'],
    [["sevre"], 'unknown command "sevre"'],
  ])("keyrunner.mjs %j", (args, message) => {
    const dir = mkdtempSync(join(tmpdir(), "kr-flags-"));
    const result = spawnSync(process.execPath, [bundle, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? "", STRIPE_API_KEY: "sk_test_flags_0123456789" }, encoding: "utf8", timeout: 20_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("usage: keyrunner.mjs serve");
    expect(result.stdout).toBe("");
  });

  it("--version prints the runtime's version, the same as keyrunner --version and package.json", async () => {
    const { version } = (await import("../package.json", { with: { type: "json" } })).default as { version: string };
    expect(spawnSync(process.execPath, [bundle, "--version"], { encoding: "utf8" }).stdout).toBe(`keyrunner ${version}\n`);
    expect((await keyrunner(["--version"])).stdout).toBe(`${version}\n`);
  });
});
