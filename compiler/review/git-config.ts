// A config as it was at a git revision: its files read with `git show REV:path` (no checkout, the
// working tree is untouched) into a private temporary folder that `keyrunner diff` then reads.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";

export class RevisionError extends Error {}

const git = (cwd: string, args: string[]): Buffer => execFileSync("git", args, { cwd, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });

/** Whether `revision` names a commit in the repository around `dir`. */
export function isRevision(revision: string, dir: string): boolean {
  if (revision.startsWith("-")) return false;
  try {
    git(dir, ["rev-parse", "--verify", "--quiet", `${revision}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the config under `dir` (relative to the repository root, as it is in the working tree) at
 * `revision` into a temporary folder: tools/, policies/ and the YAML files beside them (context.yaml).
 */
export function configAtRevision(revision: string, dir: string): { dir: string; remove: () => void } {
  let root: string;
  try {
    root = git(dir, ["rev-parse", "--show-toplevel"]).toString("utf8").trim();
  } catch {
    throw new RevisionError(`${dir} is not inside a git repository`);
  }
  const prefix = relative(realpathSync(root), realpathSync(dir)).split(sep).join("/");
  const base = prefix === "" ? "" : `${prefix}/`;
  const listed = git(root, ["ls-tree", "-r", "-z", "--name-only", revision, "--", base === "" ? "." : base]).toString("utf8").split("\0").filter(Boolean);
  const wanted = listed.filter((path) => {
    const inside = path.slice(base.length);
    return /^(tools|policies)\//.test(inside) || /^[^/]+\.ya?ml$/.test(inside);
  });
  const out = mkdtempSync(join(tmpdir(), "kr-diff-rev-"));
  try {
    for (const path of wanted) {
      const target = join(out, path.slice(base.length));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, git(root, ["show", `${revision}:${path}`]));
    }
    // A revision without a policies folder is still a config (one that allows nothing).
    mkdirSync(join(out, "policies"), { recursive: true });
  } catch (error) {
    rmSync(out, { recursive: true, force: true });
    throw new RevisionError(`cannot read ${revision}:${base}: ${(error as Error).message}`);
  }
  return { dir: out, remove: () => rmSync(out, { recursive: true, force: true }) };
}
