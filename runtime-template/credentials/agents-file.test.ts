// The agents file: agents and approvers, each with a name and a token of its own.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAgentsFile } from "./agents-file.js";
import { sha256Hex } from "./constant-time.js";

const file = (text: string) => {
  const path = join(mkdtempSync(join(tmpdir(), "kr-agents-")), "agents.yaml");
  writeFileSync(path, text);
  return path;
};

describe("the agents file", () => {
  it("refuses a name that is both an agent and an approver: nobody approves their own requests", () => {
    const path = file(`agents:\n  ops-agent: { token_sha256: ${sha256Hex("a".repeat(40))} }\napprovers:\n  ops-agent: { token_sha256: ${sha256Hex("b".repeat(40))} }\n`);
    expect(() => loadAgentsFile(path)).toThrow("ops-agent is both an agent and an approver; an approver must be someone other than the agents it approves for");
  });

  it("accepts agents and approvers with names and tokens of their own", () => {
    const path = file(`agents:\n  ops-agent: { token_sha256: ${sha256Hex("a".repeat(40))} }\napprovers:\n  alice: { token_sha256: ${sha256Hex("b".repeat(40))} }\n`);
    expect(loadAgentsFile(path).map((p) => `${p.role}:${p.name}`)).toEqual(["agent:ops-agent", "approver:alice"]);
  });
});
