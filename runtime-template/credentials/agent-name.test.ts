// Agent names: the runtime accepts exactly the names the policy schema allows.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AGENT_NAME } from "./agents-file.js";

describe("agent names", () => {
  it("the runtime accepts exactly the names a policy can give an agent", () => {
    const schema = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "schemas", "policy.schema.json"), "utf8")) as { properties: { agents: { items: { pattern: string } } } };
    expect(AGENT_NAME.source).toBe(schema.properties.agents.items.pattern);
  });

  it.each([
    ["support-agent", true],
    ["a", true],
    ["Agent_1.v2", true],
    ["a".repeat(64), true],
    ["a".repeat(65), false],
    ["", false],
    ["-lead", false],
    ["two words", false],
    ["line\nbreak", false],
    ["ünïcode", false],
  ])("%j is a name: %s", (name, ok) => {
    expect(AGENT_NAME.test(name)).toBe(ok);
  });
});
