// docs/diagnostics.md is rendered from the code registry, so the reference cannot drift from the code.
import { join } from "node:path";
import { it } from "vitest";
import { codes } from "../compiler/diagnostics/codes.js";
import { expectGolden } from "./support/snapshot.js";

it("docs/diagnostics.md lists every code of the registry", () => {
  const rows = Object.entries(codes).map(([code, info]) => `| ${code} | ${info.severity} | ${info.title} | ${"help" in info ? info.help.replace(/\|/g, "\\|") : ""} |`);
  const text = [
    "# Diagnostic codes",
    "",
    "Generated from `compiler/diagnostics/codes.ts` by `test/docs.test.ts` (`UPDATE_SNAPSHOTS=1 npm test` refreshes it).",
    "KR1xxx load, KR2xxx schema, KR3xxx resolve, KR4xxx analysis. Codes are never reused.",
    "Every code has at least one worked example under `test/errors/<case>/` with its full expected output.",
    "",
    "| code | severity | what | what to do |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
  expectGolden(join(import.meta.dirname, "..", "docs", "diagnostics.md"), text);
});
