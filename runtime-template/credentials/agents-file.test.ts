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

  // Each of these once left a server knowing fewer principals than its operator wrote, silently.
  const digest = sha256Hex("a".repeat(40));
  it.each([
    ["a misspelt section", `agent:\n  bot: { token_sha256: ${digest} }\n`, "line 1: unknown section `agent`; an agents file has two sections, `agents:` and `approvers:`"],
    ["an entry before any section", `  bot: { token_sha256: ${digest} }\n`, "line 1: an entry before any section"],
    ["a name with no digest under it", `agents:\n  bot:\n  two: { token_sha256: ${digest} }\n`, "line 2: bot has no token_sha256 under it"],
    ["a section that is neither a map nor empty", "agents: bot\n", "line 1: expected `<name>: { token_sha256: <64 hex digits> }`"],
    ["an empty file", "", "names no agent, so every request would be refused"],
    ["approvers only", `approvers:\n  alice: { token_sha256: ${digest} }\n`, "names no agent"],
    ["an empty flow map", "agents: {}\n", "names no agent"],
    ["JSON that does not parse", "{ agents", "not valid JSON"],
    ["a JSON section misspelt", `{"agents":{"bot":{"token_sha256":"${digest}"}},"approver":{}}`, 'unknown section "approver"'],
    ["a JSON section that is a list", `{"agents":["bot"]}`, "agents must be an object"],
    ["a JSON name no policy could name", `{"agents":{"bot\\nx":{"token_sha256":"${digest}"}}}`, '"bot\\nx" must be an agent name'],
  ])("refuses %s, saying where", (_case, text, message) => {
    expect(() => loadAgentsFile(file(text))).toThrow(message);
  });

  it("reads agents in a flow map on the section's own line, as the docs show", () => {
    const path = file(`agents: { bot: { token_sha256: ${digest} }, two: { token_sha256: "${sha256Hex("b".repeat(40))}" } }\n`);
    expect(loadAgentsFile(path).map((p) => p.name)).toEqual(["bot", "two"]);
  });
});
