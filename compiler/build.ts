// `keyrunner build`: check, generate, bundle, and write dist/ — or compile in memory for run/serve/SDK.

import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { check, type CheckResult } from "./index.js";
import type { ConfigLocation } from "./phases/1-load/load-config.js";
import { generateConfig, type GeneratedFiles } from "./phases/5-generate/generate-config.js";
import { BUNDLE_ENTRY, bundleRuntime } from "./phases/6-bundle/bundle-runtime.js";
import type { Analysis } from "./phases/4-analyze/analyze-rules.js";

export interface Manifest {
  config_sha256: string;
  tools: Array<{ name: string; source: string; kind: "http" | "exec"; egress?: { origin: string; method: string } }>;
  egress_origins: string[];
  secrets: string[];
  bundle_sha256: string;
}

export interface BuildOutput {
  check: CheckResult;
  generated?: GeneratedFiles;
  bundle?: Buffer;
  manifest?: Manifest;
}

/** Generated files plus the bundle entry, as written under dist/generated/. */
export function generatedTree(generated: GeneratedFiles): Map<string, string> {
  return new Map([...generated.files, ["main.ts", BUNDLE_ENTRY]]);
}

function writeTree(root: string, files: ReadonlyMap<string, string>): void {
  rmSync(root, { recursive: true, force: true });
  for (const [path, text] of [...files].sort()) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

function manifestOf(analysis: Analysis, generated: GeneratedFiles, bundleSha256: string): Manifest {
  const tools = [...analysis.config.tools.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return {
    config_sha256: generated.configSha256,
    tools: tools.map((t) => ({
      name: t.name,
      source: `${t.span.file}:${t.span.line}`,
      kind: t.run.type,
      ...(t.run.type === "http" ? { egress: { origin: t.run.origin, method: t.run.method } } : {}),
    })),
    egress_origins: [...new Set(tools.flatMap((t) => (t.run.type === "http" ? [t.run.origin] : [])))].sort(),
    secrets: [...generated.secrets],
    bundle_sha256: bundleSha256,
  };
}

/** Compiles into `out` (generated/, keyrunner.mjs, manifest.json). Nothing is written when check fails. */
export async function buildConfig(location: ConfigLocation, out: string): Promise<BuildOutput> {
  const result = check(location);
  if (result.analysis === undefined) return { check: result };
  const generated = await generateConfig(result.analysis);
  const tree = generatedTree(generated);
  writeTree(join(out, "generated"), tree);
  const bundle = await bundleRuntime(tree);
  const manifest = manifestOf(result.analysis, generated, bundle.sha256);
  writeFileSync(join(out, "keyrunner.mjs"), bundle.code);
  chmodSync(join(out, "keyrunner.mjs"), 0o755);
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return { check: result, generated, bundle: bundle.code, manifest };
}

/** `build --check`: the files under out/generated that differ from what the config generates. */
export async function staleGeneratedFiles(location: ConfigLocation, out: string): Promise<{ check: CheckResult; stale: string[] }> {
  const result = check(location);
  if (result.analysis === undefined) return { check: result, stale: [] };
  const expected = generatedTree(await generateConfig(result.analysis));
  const dir = join(out, "generated");
  const present = existsSync(dir) ? listFiles(dir).map((f) => relative(dir, f).split("\\").join("/")) : [];
  const stale = new Set<string>();
  for (const [path, text] of expected) if (!existsSync(join(dir, path)) || readFileSync(join(dir, path), "utf8") !== text) stale.add(path);
  for (const path of present) if (!expected.has(path)) stale.add(path);
  return { check: result, stale: [...stale].sort() };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Builds into a private temporary folder (keyed by the config digest) and returns the bundle's path. */
export async function buildToTemp(location: ConfigLocation): Promise<{ check: CheckResult; bundlePath?: string }> {
  const result = check(location);
  if (result.analysis === undefined) return { check: result };
  const generated = await generateConfig(result.analysis);
  const key = createHash("sha256").update(generated.configSha256).digest("hex").slice(0, 16);
  const out = mkdtempSync(join(tmpdir(), `keyrunner-${key}-`));
  const bundle = await bundleRuntime(generatedTree(generated));
  const bundlePath = join(out, "keyrunner.mjs");
  writeFileSync(bundlePath, bundle.code, { mode: 0o700 });
  return { check: result, bundlePath };
}
