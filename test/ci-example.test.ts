// examples/ci/github-actions.yml stays true: its `run:` steps are run, as written, in a git repository made
// in a temporary folder (the example config on `main`, pushed to a local `origin`; a pull-request branch
// that raises a rate limit and adds an agent). `npx keyrunner` runs this checkout's CLI, `npm` does nothing
// (there is nothing to install), and `gh` records the comment it is asked to post.

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "./support/cli.js";
import { editYaml } from "./support/config-copy.js";

const workflow = parse(readFileSync(join(repoRoot, "examples/ci/github-actions.yml"), "utf8")) as {
  jobs: Record<string, { env?: Record<string, string>; steps: Array<{ name?: string; run?: string; env?: Record<string, string>; if?: string }> }>;
};
const work = mkdtempSync(join(tmpdir(), "kr-ci-example-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CONTEXT: Record<string, string> = { "github.base_ref": "main", "github.event.pull_request.number": "7", "github.token": "test-token" };
/** `${{ github.x }}` expressions of the workflow, as GitHub would fill them for this pull request. */
function expand(text: string): string {
  return text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expression: string) => {
    if (!(expression in CONTEXT)) throw new Error(`the test does not know the workflow expression ${expression}`);
    return CONTEXT[expression]!;
  });
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" });
}

function stubs(): string {
  const bin = join(work, "stub-bin");
  mkdirSync(bin);
  const write = (name: string, text: string) => {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  };
  write("npx", `#!/bin/sh\nif [ "$1" = keyrunner ]; then shift; exec "${process.execPath}" "${join(repoRoot, "bin/keyrunner.js")}" "$@"; fi\necho "unexpected: npx $*" >&2\nexit 127\n`);
  write("npm", `#!/bin/sh\necho "npm $*" >> "${join(work, "npm-calls")}"\n`);
  write("gh", `#!/bin/sh\necho "gh $*" >> "${join(work, "gh-calls")}"\nwhile [ $# -gt 0 ]; do if [ "$1" = --body-file ]; then cp "$2" "${join(work, "comment.md")}"; fi; shift; done\n`);
  return bin;
}

describe("examples/ci/github-actions.yml", () => {
  it("checks, tests, checks the generated code and posts the diff against the base branch", () => {
    const keyrunner = (cwd: string, ...args: string[]) => execFileSync(process.execPath, [join(repoRoot, "bin/keyrunner.js"), ...args], { cwd, encoding: "utf8" });
    const origin = join(work, "origin.git");
    git(work, "init", "--bare", origin);
    const repo = join(work, "repo");
    mkdirSync(repo);
    git(repo, "init");
    for (const folder of ["tools", "policies", "tests"]) cpSync(join(repoRoot, folder), join(repo, folder), { recursive: true });
    cpSync(join(repoRoot, "context.yaml"), join(repo, "context.yaml"));
    writeFileSync(join(repo, ".gitignore"), "dist/keyrunner.mjs\ndist/manifest.json\nkeyrunner-diff.md\n");
    keyrunner(repo, "build");
    git(repo, "add", "-A");
    git(repo, "commit", "-qm", "the example config");
    git(repo, "remote", "add", "origin", origin);
    git(repo, "push", "-q", "origin", "main");
    git(repo, "checkout", "-qb", "more-paging");
    editYaml(repo, "policies/oncall.yaml", (doc) => {
      const allow = (doc.toJS() as { allow: Array<Record<string, unknown>> }).allow;
      doc.setIn(["allow", allow.findIndex((r) => r.tool === "trigger_incident" && r.rate_limit !== undefined), "rate_limit", "max"], 60);
    });
    editYaml(repo, "policies/support_email.yaml", (doc) => doc.setIn(["agents"], doc.createNode([...(doc.toJS() as { agents: string[] }).agents, "support-lead"], { flow: true })));
    keyrunner(repo, "build");
    git(repo, "commit", "-qam", "more paging, and the support lead");

    const job = Object.values(workflow.jobs)[0]!;
    const steps = job.steps.filter((s) => s.run !== undefined);
    expect(steps.map((s) => s.run).join("\n")).toMatch(/keyrunner check[\s\S]*keyrunner test[\s\S]*keyrunner build --check[\s\S]*keyrunner diff "origin\/\$BASE_REF" --format markdown/);
    const PATH = `${stubs()}:${process.env.PATH}`;
    const results = steps.map((step) => {
      const env = { PATH, HOME: work, ...Object.fromEntries(Object.entries({ ...job.env, ...step.env }).map(([k, v]) => [k, expand(v)])) };
      const run = spawnSync("bash", ["-e", "-c", expand(step.run!)], { cwd: repo, env, encoding: "utf8", timeout: 120_000 });
      return { name: step.name ?? step.run!, code: run.status, stderr: run.stderr };
    });
    const failOn = results.pop()!;
    for (const r of results) expect(r.code, `${r.name}: ${r.stderr}`).toBe(0);
    // Widened access fails the last step (unless a reviewer labels the pull request).
    expect(failOn.name).toBe("Widened access needs a reviewer's label");
    expect(failOn.code, failOn.stderr).toBe(1);

    expect(readFileSync(join(work, "gh-calls"), "utf8")).toContain("gh pr comment 7 --edit-last --body-file keyrunner-diff.md");
    const comment = readFileSync(join(work, "comment.md"), "utf8");
    expect(comment.split("\n")[0]).toBe("**keyrunner diff: ⚠️ 2 widened, 0 narrowed, 1 obligation change, 1 other change**");
    expect(comment).toContain("support-lead");
    expect(comment).toContain("rate limit 30/1h] | allow by policies/oncall.yaml#allow[0] [rate limit 60/1h]");
    // The base revision was read with `git show`: nothing tracked in the working tree changed.
    expect(git(repo, "status", "--porcelain", "--untracked-files=no")).toBe("");
    expect(existsSync(join(repo, "keyrunner-diff.md"))).toBe(true);
  }, 300_000);
});
