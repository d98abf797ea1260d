// `keyrunner build`: check, generate, bundle, and write dist/ — or compile in memory for run/serve/SDK.

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { check, type CheckResult } from "./index.js";
import type { ConfigLocation } from "./phases/1-load/load-config.js";
import { generateConfig, type GeneratedFiles } from "./phases/5-generate/generate-config.js";
import { BUNDLE_ENTRY, bundleRuntime, SHADOW_BUNDLE_ENTRY } from "./phases/6-bundle/bundle-runtime.js";
import type { Analysis } from "./phases/4-analyze/analyze-rules.js";
import { makeDirectory } from "../runtime-template/process/make-directory.js";
import { folderOutside, realFolder } from "./phases/1-load/config-file.js";

export interface Manifest {
  config_sha256: string;
  tools: Array<{ name: string; source: string; kind: "http" | "exec"; egress?: { origin: string; method: string } }>;
  egress_origins: string[];
  secrets: string[];
  bundle_sha256: string;
  /** `build --shadow DIR`: the config whose decisions the bundle records beside its own, never enforced. */
  shadow_config_sha256?: string;
}

export interface BuildOutput {
  check: CheckResult;
  generated?: GeneratedFiles;
  bundle?: Buffer;
  manifest?: Manifest;
}

/** Generated files plus the bundle entry, as written under dist/generated/ (a shadow config's under shadow/). */
export function generatedTree(generated: GeneratedFiles, shadow?: GeneratedFiles): Map<string, string> {
  if (shadow === undefined) return new Map([...generated.files, ["main.ts", BUNDLE_ENTRY]]);
  return new Map([...generated.files, ...[...shadow.files].map(([path, text]) => [`shadow/${path}`, text] as [string, string]), ["main.ts", SHADOW_BUNDLE_ENTRY]]);
}

function writeTree(root: string, files: ReadonlyMap<string, string>): void {
  for (const [path, text] of [...files].sort()) {
    makeDirectory(dirname(join(root, path)));
    writeFileSync(join(root, path), text, { flag: "wx" });
  }
}

/**
 * Writes generated/, keyrunner.mjs and manifest.json into `out` so that no reader ever finds a torn or
 * mixed build for long, and a failed write (a full disk, a kill -9) leaves the previous build as it was:
 * everything is written under a fresh staging folder in `out` first, then renamed into place — the
 * generated tree, then the bundle, then the manifest, which names the bundle's sha256, last. Renames
 * replace a symbolic link at a name, never write through it. `build --check` compares all three.
 */
function writeBuild(out: string, tree: ReadonlyMap<string, string>, bundle: Buffer, manifest: Manifest): void {
  makeDirectory(out);
  const stage = join(out, `.keyrunner-build-${process.pid}-${randomBytes(6).toString("hex")}`);
  try {
    mkdirSync(stage, { mode: 0o755 });
    writeTree(join(stage, "generated"), tree);
    writeFileSync(join(stage, "keyrunner.mjs"), bundle, { flag: "wx", mode: 0o755 });
    chmodSync(join(stage, "keyrunner.mjs"), 0o755);
    writeFileSync(join(stage, "manifest.json"), manifestText(manifest), { flag: "wx" });
    // A directory cannot replace one in a rename: the old tree steps aside first, and is removed after.
    const previous = join(stage, "previous-generated");
    if (lstatSync(join(out, "generated"), { throwIfNoEntry: false }) !== undefined) renameSync(join(out, "generated"), previous);
    renameSync(join(stage, "generated"), join(out, "generated"));
    renameSync(join(stage, "keyrunner.mjs"), join(out, "keyrunner.mjs"));
    renameSync(join(stage, "manifest.json"), join(out, "manifest.json"));
  } catch (error) {
    // A write's error names no path (ENOSPC): the output folder is the one to name.
    if ((error as NodeJS.ErrnoException).syscall !== undefined) (error as NodeJS.ErrnoException).path ??= out;
    throw error;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

const manifestText = (manifest: Manifest) => `${JSON.stringify(manifest, null, 2)}\n`;

/** The manifest of a build: what it came from, what it may reach, the secrets it needs, its bundle's digest. */
function manifestOf(analysis: Analysis, generated: GeneratedFiles, bundleSha256: string, shadow?: GeneratedFiles): Manifest {
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
    ...(shadow === undefined ? {} : { shadow_config_sha256: shadow.configSha256 }),
  };
}

/**
 * Compiles into `out` (generated/, keyrunner.mjs, manifest.json). Nothing is written when check fails.
 * With `shadow`, the candidate config must check too (else its result is returned) and its decisions
 * are bundled beside the enforced ones.
 */
export async function buildConfig(location: ConfigLocation, out: string, shadow?: ConfigLocation): Promise<BuildOutput> {
  const compiled = await compileTree(location, shadow);
  if (!("tree" in compiled)) return compiled;
  const bundle = await bundleRuntime(compiled.tree);
  const manifest = compiled.manifest(bundle.sha256);
  writeBuild(out, compiled.tree, bundle.code, manifest);
  return { check: compiled.check, generated: compiled.generated, bundle: bundle.code, manifest };
}

/**
 * Checks the config (and a shadow candidate, which must check too, else its result is returned) and
 * generates the tree under dist/generated, with the manifest it makes for a given bundle digest.
 */
async function compileTree(location: ConfigLocation, shadow?: ConfigLocation): Promise<{ check: CheckResult } | { check: CheckResult; generated: GeneratedFiles; tree: Map<string, string>; manifest: (bundleSha256: string) => Manifest }> {
  const result = check(location);
  if (result.analysis === undefined) return { check: result };
  const shadowResult = shadow === undefined ? undefined : check(shadow);
  if (shadowResult !== undefined && shadowResult.analysis === undefined) return { check: shadowResult };
  const analysis = result.analysis;
  const generated = await generateConfig(analysis);
  const shadowGenerated = shadowResult === undefined ? undefined : await generateConfig(shadowResult.analysis!);
  const tree = generatedTree(generated, shadowGenerated);
  return { check: result, generated, tree, manifest: (bundleSha256) => manifestOf(analysis, generated, bundleSha256, shadowGenerated) };
}

/**
 * The default output `DIR/dist`, refused (in words) when it is a symbolic link leading out of the config:
 * a pull request adding `dist -> ~/.ssh` would have CI write, and replace files, there. `--out` names an
 * output anywhere on purpose; only the default is held to the config.
 */
export function defaultOutOutside(dir: string, out: string): string | undefined {
  const problem = folderOutside(out, out, realFolder(dir));
  return problem === undefined ? undefined : `${problem}: the default output is written only inside the config; name an output elsewhere with --out`;
}

/** `build --check`: the files under out/generated that differ from what the config generates. */
export async function staleGeneratedFiles(location: ConfigLocation, out: string, shadow?: ConfigLocation): Promise<{ check: CheckResult; stale: string[] }> {
  const compiled = await compileTree(location, shadow);
  if (!("tree" in compiled)) return { check: compiled.check, stale: [] };
  const expected = compiled.tree;
  const dir = join(out, "generated");
  const present = existsSync(dir) ? listFiles(dir).map((f) => relative(dir, f).split("\\").join("/")) : [];
  const stale = new Set<string>();
  for (const [path, text] of expected) if (!existsSync(join(dir, path)) || readFileSync(join(dir, path), "utf8") !== text) stale.add(path);
  for (const path of present) if (!expected.has(path)) stale.add(path);
  // The bundle and its manifest, where they are there (a repository may commit only generated/): each
  // must be exactly what this config builds — a torn build, an edited bundle or an old one is stale.
  const bundlePath = join(out, "keyrunner.mjs");
  const manifestPath = join(out, "manifest.json");
  if (existsSync(bundlePath) || existsSync(manifestPath)) {
    const bundle = await bundleRuntime(expected);
    const manifest = manifestText(compiled.manifest(bundle.sha256));
    if (!existsSync(bundlePath) || !readFileSync(bundlePath).equals(bundle.code)) stale.add("../keyrunner.mjs");
    if (!existsSync(manifestPath) || readFileSync(manifestPath, "utf8") !== manifest) stale.add("../manifest.json");
  }
  return { check: compiled.check, stale: [...stale].sort() };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

/**
 * The folder in-memory builds (run/serve/mcp/SDK) write their bundle to: one per user under the system's
 * temporary folder, created 0700, and refused if it is a link, not this user's, or open to others —
 * another local user must not be able to swap the code that runs.
 */
export function bundleCacheDir(root = tmpdir()): string {
  const dir = join(root, `keyrunner-bundles-${process.getuid?.() ?? "user"}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const stat = lstatSync(dir);
  const ownedByUs = process.getuid === undefined || stat.uid === process.getuid();
  if (!stat.isDirectory() || !ownedByUs || (stat.mode & 0o077) !== 0) {
    throw new Error(`${dir} is not a private folder of this user; remove it or set TMPDIR to another folder`);
  }
  return dir;
}

/**
 * Builds in memory and writes the bundle to the per-user cache, named by its sha256: building the same
 * config again reuses the file instead of leaving a new temporary folder behind each time.
 */
export async function buildToTemp(location: ConfigLocation): Promise<{ check: CheckResult; bundlePath?: string }> {
  const result = check(location);
  if (result.analysis === undefined) return { check: result };
  const generated = await generateConfig(result.analysis);
  const bundle = await bundleRuntime(generatedTree(generated));
  const dir = bundleCacheDir();
  const bundlePath = join(dir, `keyrunner-${bundle.sha256.slice(0, 32)}.mjs`);
  const current = existsSync(bundlePath) ? readFileSync(bundlePath) : undefined;
  if (current === undefined || !current.equals(bundle.code)) {
    // Written whole under a private name, then renamed: a concurrent start never runs half a file.
    const partial = join(dir, `.partial-${process.pid}-${randomBytes(6).toString("hex")}`);
    writeFileSync(partial, bundle.code, { mode: 0o700 });
    renameSync(partial, bundlePath);
  }
  return { check: result, bundlePath };
}
