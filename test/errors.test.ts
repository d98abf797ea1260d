// Golden diagnostics: each test/errors/<case>/ is a config a user might write; expected.txt is the full
// rendered output of `keyrunner check` on it, code frames and hints included.

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { codes } from "../compiler/diagnostics/codes.js";
import { check, renderHuman, renderSummary } from "../compiler/index.js";
import { expectGolden } from "./support/snapshot.js";

const root = join(import.meta.dirname, "errors");
const cases = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
const seenCodes = new Set<string>();

describe("golden diagnostics", () => {
  it.each(cases)("%s", (name) => {
    const dir = join(root, name);
    const result = check({ dir });
    for (const d of result.diagnostics) seenCodes.add(d.code);
    const text = `${renderHuman(result.diagnostics, result.sources)}\n${renderSummary(result.diagnostics)}\n`;
    expectGolden(join(dir, "expected.txt"), text);
    expect(result.diagnostics.length).toBeGreaterThan(0);
  });

  it("has at least 40 cases, which together exercise every code in the registry", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect([...Object.keys(codes)].filter((code) => !seenCodes.has(code))).toEqual([]);
  });
});
