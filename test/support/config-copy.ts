// A copy of the example config in a temporary folder, edited programmatically through the YAML model, so
// tests that compare configs hold whatever else changes in the example.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument, type Document } from "yaml";
import { repoRoot } from "./cli.js";

export function copyExampleConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), "kr-config-copy-"));
  for (const folder of ["tools", "policies"]) cpSync(join(repoRoot, folder), join(dir, folder), { recursive: true });
  cpSync(join(repoRoot, "context.yaml"), join(dir, "context.yaml"));
  return dir;
}

/** Edits one YAML file of `dir` through its document model (comments and the rest kept). */
export function editYaml(dir: string, path: string, edit: (doc: Document) => void): void {
  const file = join(dir, path);
  const doc = parseDocument(readFileSync(file, "utf8"));
  edit(doc);
  writeFileSync(file, doc.toString());
}

/** The index in `policy.allow` of the first rule for `tool` that satisfies `test`. */
export function ruleIndex(doc: Document, list: "allow" | "deny", tool: string, test: (rule: Record<string, unknown>) => boolean = () => true): number {
  const rules = (doc.toJS() as Record<string, Array<Record<string, unknown>>>)[list] ?? [];
  const index = rules.findIndex((r) => r.tool === tool && test(r));
  if (index < 0) throw new Error(`no ${list} rule for ${tool} matches`);
  return index;
}

export function removeConfig(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
