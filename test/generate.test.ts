// Golden generated code: test/samples/<case>/{tools,policies} compile to _expected/, which a reviewer
// reads; UPDATE_SNAPSHOTS=1 rewrites it. Every golden tree is type-checked with TypeScript itself.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { generatedTree } from "../compiler/build.js";
import { check } from "../compiler/index.js";
import { generateConfig } from "../compiler/phases/5-generate/generate-config.js";
import { updatingSnapshots } from "./support/snapshot.js";

const root = join(import.meta.dirname, "..");
const samples = join(import.meta.dirname, "samples");
const cases = readdirSync(samples).sort();

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

describe("generated code", () => {
  it.each(cases)("%s matches its golden files", async (name) => {
    const result = check({ dir: join(samples, name) });
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const files = generatedTree(await generateConfig(result.analysis!));
    const expectedDir = join(samples, name, "_expected");
    if (updatingSnapshots) {
      rmSync(expectedDir, { recursive: true, force: true });
      for (const [path, text] of files) {
        mkdirSync(dirname(join(expectedDir, path)), { recursive: true });
        writeFileSync(join(expectedDir, path), text);
      }
    }
    const present = listFiles(expectedDir).map((f) => relative(expectedDir, f));
    expect(present.sort()).toEqual([...files.keys()].sort());
    for (const [path, text] of files) expect(text, path).toBe(readFileSync(join(expectedDir, path), "utf8"));
  });

  it("every golden tree type-checks under strict TypeScript", () => {
    const rootNames = cases.flatMap((name) => listFiles(join(samples, name, "_expected")).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")));
    const program = ts.createProgram(rootNames, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      skipLibCheck: true,
      types: ["node"],
      typeRoots: [join(root, "node_modules", "@types")],
      baseUrl: root,
      paths: { "@keyrunner/runtime/runtime-template/*": [join(root, "runtime-template", "*")] },
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n") + (d.file ? ` (${relative(root, d.file.fileName)})` : ""));
    expect(problems).toEqual([]);
    expect(rootNames.length).toBeGreaterThan(cases.length * 2);
  });
});
