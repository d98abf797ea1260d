// Installing the package from a local clone, as a consumer does: a folder install, and a tarball that
// `npm pack` made in the clone. Offline: a folder install needs no registry, a tarball's dependencies
// come from npm's cache through a lockfile taken from this repository's own.

import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const run = async (command: string, args: string[], cwd: string) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, { cwd, env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" }, maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};
const npm = (args: string[], cwd: string) => run("npm", [...args, "--offline"], cwd);

/** A clone of this tree: every file git tracks or would track, nothing it ignores (no lib/, no node_modules/). */
async function cloneOfThisTree(): Promise<string> {
  const parent = mkdtempSync(join(tmpdir(), "kr-install-"));
  made.push(parent);
  const clone = join(parent, "keyrunner");
  const listed = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root);
  for (const file of listed.stdout.split("\0").filter((f) => f !== "")) {
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    try {
      cpSync(join(root, file), join(clone, file));
    } catch {
      // deleted in the working tree but not yet in the index
    }
  }
  return clone;
}

/** Every folder made here: a consumer holds a whole installed node_modules, so none is left behind. */
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function consumer(dependency: string, lock?: object): string {
  const dir = mkdtempSync(join(tmpdir(), "kr-consumer-"));
  made.push(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { "@keyrunner/runtime": dependency } }));
  if (lock !== undefined) writeFileSync(join(dir, "package-lock.json"), JSON.stringify(lock));
  cpSync(join(root, "tools"), join(dir, "tools"), { recursive: true });
  cpSync(join(root, "policies"), join(dir, "policies"), { recursive: true });
  cpSync(join(root, "context.yaml"), join(dir, "context.yaml"));
  // The SDK in process, on a request policy denies: nothing leaves the machine.
  writeFileSync(
    join(dir, "use.mjs"),
    'import { KeyRunner } from "@keyrunner/runtime";\n' +
      'const runtime = new KeyRunner({ tools: "./tools", policies: "./policies" });\n' +
      'const result = await runtime.execute({ agent: "support-agent", tool: "refund_payment", input: { payment_id: "pi_1", amount_cents: 9000 }, reason: "too much" });\n' +
      "console.log(result.status);\nawait runtime.close();\n",
  );
  return dir;
}

/** The consumer's lockfile for a tarball: the package plus this repository's locked runtime dependencies. */
function lockFor(tarball: string): object {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; [k: string]: unknown }> };
  const self = lock.packages[""]!;
  const packages: Record<string, unknown> = {
    "": { name: "consumer", dependencies: { "@keyrunner/runtime": tarball } },
    "node_modules/@keyrunner/runtime": { version: self.version, resolved: tarball, license: self.license, dependencies: self.dependencies, bin: self.bin, engines: self.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path.startsWith("node_modules/") && entry.dev !== true) packages[path] = entry;
  return { name: "consumer", lockfileVersion: 3, requires: true, packages };
}

let clone: string;
beforeAll(async () => {
  clone = await cloneOfThisTree();
});

describe("npm install from a local clone", () => {
  it("a clone nobody installed in stops with what to do, not `tsc: not found`", async () => {
    const dir = consumer(`file:${clone}`);
    const result = await npm(["install", clone], dir);
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toContain("tsc: not found");
    expect(result.stderr).toContain("lib/ is not compiled and TypeScript (a devDependency) is not installed in this folder");
    expect(result.stderr).toContain("Run `npm install` inside the clone first");
  });

  it("a clone that was installed links, compiles lib/ in `prepare`, and serves the CLI and the SDK", async () => {
    // As after `npm install` in the clone: its dependencies (the devDependencies too) are there.
    symlinkSync(join(root, "node_modules"), join(clone, "node_modules"));
    const dir = consumer(`file:${clone}`);
    const installed = await npm(["install", clone], dir);
    expect(installed.code, installed.stderr).toBe(0);
    expect(readdirSync(join(clone, "lib"))).toEqual(expect.arrayContaining(["compiler", "runtime-template", "sdk"]));
    const version = await run(join(dir, "node_modules", ".bin", "keyrunner"), ["--version"], dir);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version);
    expect((await run("node", ["use.mjs"], dir)).stdout).toBe("denied\n");
  });

  it("`npm pack` in the clone ships a fresh lib/; the tarball installs into an empty folder and works", async () => {
    const packed = await npm(["pack", "--pack-destination", dirname(clone)], clone);
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = join(dirname(clone), packed.stdout.trim().split("\n").pop()!);
    const dir = consumer(`file:${tarball}`, lockFor(`file:${tarball}`));
    const installed = await npm(["ci"], dir);
    expect(installed.code, installed.stderr).toBe(0);
    const bin = join(dir, "node_modules", ".bin", "keyrunner");
    const checked = await run(bin, ["check"], dir);
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/^0 errors, 0 warnings: 6 tools/);
    expect((await run("node", ["use.mjs"], dir)).stdout).toBe("denied\n");
    // Only what the sources compile to: no module left over from an older layout.
    const shipped = join(dir, "node_modules", "@keyrunner", "runtime", "lib", "runtime-template");
    expect(readdirSync(shipped).filter((f) => f.endsWith(".js")).sort()).toEqual(["entry.js", "runtime.js", "version.js"]);
  });
});
