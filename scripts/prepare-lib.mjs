// npm's `prepare`: compiles the TypeScript into lib/ when TypeScript is installed, and otherwise says what to do.
//
// TypeScript is a devDependency, so it is there in a clone after `npm install` (and for a git dependency,
// which npm installs in full before packing), but not for a consumer of a folder that was never installed.
// Then a prebuilt lib/ is kept as it is; without one, the install stops with a message instead of
// `tsc: not found`. `npm pack` and `npm publish` always compile afresh, so a tarball never ships a stale lib/.
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const root = join(import.meta.dirname, "..");
const packing = ["pack", "publish"].includes(process.env.npm_command ?? "");

let tsc;
try {
  tsc = join(dirname(createRequire(join(root, "package.json")).resolve("typescript/package.json")), "bin", "tsc");
} catch {
  tsc = undefined;
}

if (tsc !== undefined) {
  // A clean lib/: files of modules that moved or were removed do not linger in it.
  rmSync(join(root, "lib"), { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, "-p", root], { stdio: "inherit" });
} else if (packing || !existsSync(join(root, "lib", "compiler", "cli.js"))) {
  process.stderr.write(
    "@keyrunner/runtime: lib/ is not compiled and TypeScript (a devDependency) is not installed in this folder.\n" +
      "  Run `npm install` inside the clone first (it installs TypeScript and compiles lib/), then install the folder,\n" +
      "  or install a tarball made there with `npm pack`.\n",
  );
  process.exit(1);
}
