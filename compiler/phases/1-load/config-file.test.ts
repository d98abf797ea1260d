// A config file is read only when it is a regular file inside the config; anything else is a KR1004
// naming what it is, never a stack trace, a hang on a FIFO, or a file from outside echoed in a code frame.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { check, renderHuman } from "../../index.js";

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
});
