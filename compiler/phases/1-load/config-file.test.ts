// A config file is read only when it is a regular file inside the config; anything else is a KR1004
// naming what it is, never a stack trace, a hang on a FIFO, or a file from outside echoed in a code frame.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { check, renderHuman } from "../../index.js";
import { readPolicyTests } from "../../policy-tests.js";

const TOOL = "tool: ping\ndescription: Ping\ninput: {}\nrun: { type: http, method: GET, url: 'https://api.example.com/ping' }\n";
const POLICY = "policy: p\nallow:\n  - tool: ping\n";

function config(): string {
  const dir = mkdtempSync(join(tmpdir(), "kr-config-file-"));
  mkdirSync(join(dir, "tools"));
  mkdirSync(join(dir, "policies"));
  writeFileSync(join(dir, "tools", "ping.yaml"), TOOL);
  writeFileSync(join(dir, "policies", "p.yaml"), POLICY);
  return dir;
}

const kr1004 = (dir: string, options: { tools?: string } = {}) => check({ dir, ...options }).diagnostics.filter((d) => d.code === "KR1004").map((d) => d.message);

describe("config files", () => {
  it("a named pipe is refused without being opened (reading it would wait for ever)", () => {
    const dir = config();
    execFileSync("mkfifo", [join(dir, "tools", "pipe.yaml")]);
    expect(kr1004(dir)).toEqual(["tools/pipe.yaml is a named pipe, not a file"]);
  });

  it("a link out of the config is refused unread: the environment never reaches a code frame", () => {
    const dir = config();
    symlinkSync("/proc/self/environ", join(dir, "tools", "env.yaml"));
    symlinkSync("/proc/self/environ", join(dir, "context.yaml"));
    process.env.KR_TEST_CANARY = "canary_0f3b9c";
    try {
      const result = check({ dir });
      expect(result.diagnostics.filter((d) => d.code === "KR1004").map((d) => d.message)).toEqual([
        "context.yaml is a symbolic link to /proc/self/environ, outside the config: KeyRunner reads only files inside it",
        "tools/env.yaml is a symbolic link to /proc/self/environ, outside the config: KeyRunner reads only files inside it",
      ]);
      expect(renderHuman(result.diagnostics, result.sources)).not.toContain("canary_0f3b9c");
    } finally {
      delete process.env.KR_TEST_CANARY;
    }
  });

  it("a link within the config is read, and so is a --tools folder outside it", () => {
    const dir = config();
    mkdirSync(join(dir, "shared"));
    writeFileSync(join(dir, "shared", "ping.yaml"), readFileSync(join(dir, "tools", "ping.yaml")));
    writeFileSync(join(dir, "tools", "ping.yaml"), TOOL.replace("ping", "pong"));
    writeFileSync(join(dir, "policies", "p.yaml"), `${POLICY}  - tool: pong\n`);
    symlinkSync(join("..", "shared", "ping.yaml"), join(dir, "tools", "linked.yaml"));
    expect(check({ dir }).diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const elsewhere = config();
    expect(kr1004(dir, { tools: join(elsewhere, "tools") })).toEqual([]);
  });

  it("a default tools/ or policies/ folder that is a link out of the config is refused whole, unread", () => {
    // A pull request adding `tools -> /somewhere` must not have CI read (and echo) files from there.
    const outside = mkdtempSync(join(tmpdir(), "kr-outside-"));
    writeFileSync(join(outside, "secret.yaml"), "tool: canary_7d41e0\nnot yaml: [\n");
    const dir = mkdtempSync(join(tmpdir(), "kr-config-file-"));
    symlinkSync(outside, join(dir, "tools"));
    symlinkSync(outside, join(dir, "policies"));
    const result = check({ dir });
    expect(renderHuman(result.diagnostics, result.sources)).not.toContain("canary_7d41e0");
    expect(result.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      `KR1004 policies/ is a symbolic link to ${outside}, outside the config: KeyRunner reads only folders inside it; to read a folder elsewhere, name it with --policies`,
      `KR1004 tools/ is a symbolic link to ${outside}, outside the config: KeyRunner reads only folders inside it; to read a folder elsewhere, name it with --tools`,
    ]);
    expect([...result.sources.keys()]).toEqual([]);
  });

  it("a file in a default folder may not link into a folder outside the config either", () => {
    const outside = mkdtempSync(join(tmpdir(), "kr-outside-"));
    writeFileSync(join(outside, "secret.yaml"), "canary_2b9a55: [\n");
    const dir = config();
    symlinkSync(join(outside, "secret.yaml"), join(dir, "policies", "leak.yaml"));
    const result = check({ dir });
    expect(result.diagnostics.filter((d) => d.code === "KR1004").map((d) => d.message)).toEqual([
      `policies/leak.yaml is a symbolic link to ${join(outside, "secret.yaml")}, outside the config: KeyRunner reads only files inside it`,
    ]);
    expect(renderHuman(result.diagnostics, result.sources)).not.toContain("canary_2b9a55");
  });

  it("a default folder that links to another folder inside the config is read", () => {
    const dir = config();
    renameSync(join(dir, "tools"), join(dir, "shared-tools"));
    symlinkSync("shared-tools", join(dir, "tools"));
    expect(check({ dir }).diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  });

  it("a tests/ folder that is a link out of the config is refused whole, and so is a case file linking out", () => {
    const outside = mkdtempSync(join(tmpdir(), "kr-outside-"));
    writeFileSync(join(outside, "cases.yaml"), "tests:\n  - { agent: a, tool: ping, input: {}, expect: allow, name: canary_5c0e91 }\n");
    const dir = config();
    symlinkSync(outside, join(dir, "tests"));
    expect(readPolicyTests(join(dir, "tests"), dir)).toEqual({ cases: [], problems: [`tests/ is a symbolic link to ${outside}, outside the config: KeyRunner reads only folders inside it`] });
    const other = config();
    mkdirSync(join(other, "tests"));
    symlinkSync(join(outside, "cases.yaml"), join(other, "tests", "cases.yaml"));
    expect(readPolicyTests(join(other, "tests"), other)).toEqual({ cases: [], problems: [`tests/cases.yaml is a symbolic link to ${join(outside, "cases.yaml")}, outside the config: KeyRunner reads only files inside it`] });
  });
});
