// The docs stay true to the code: docs/diagnostics.md is rendered from the code registry, and every path the docs name exists.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
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

// The paths the docs name are the tree's: a file or folder that moves or goes takes its mention with it.
it("every repository path README.md and docs/*.md name exists", () => {
  const root = join(import.meta.dirname, "..");
  const pages = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const missing: string[] = [];
  for (const page of pages) {
    for (const [, token] of readFileSync(join(root, page), "utf8").matchAll(/`([^`\s]+)`/g)) {
      // a path of two or more segments; not build output, a placeholder (DIR/…), an MCP method or outside the repository
      if (!/^[a-z][\w.-]*(\/[\w.-]+)+\/?$/.test(token!) || /^(dist|bench\/results|node_modules|tools\/(list|call))\b/.test(token!)) continue;
      // runtime files may be named from runtime-template/ or its http/, and suites from test/
      const bases = [root, join(root, "runtime-template"), join(root, "runtime-template", "http"), join(root, "test")];
      const found = bases.some((base) => existsSync(join(base, token!)) || existsSync(join(base, `${token}.test.ts`)));
      if (!found) missing.push(`${page}: ${token}`);
    }
  }
  expect(missing).toEqual([]);
});
