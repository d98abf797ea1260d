// Descriptors that KeyRunner's own starter leaves open without close-on-exec never reach an exec tool:
// the real bundle is started by a bash that opens two of them (one above dash's limit of 9) and names a
// third on the command line as the secrets file; an exec tool lists what it holds.

import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { repoRoot } from "../support/cli.js";

let dir: string;
let bundle: string;
let leaked: string;
let secrets: string;
const started: RunningBundle[] = [];

/** bash opens fd 40 and 251 on a file without close-on-exec, fd 63 on the secrets file, then runs the command. */
const opener = (): string[] => ["/bin/bash", "-c", `exec 40<'${leaked}' 251<'${leaked}' 63<'${secrets}'; exec "$@"`, "bash"];

/** The `N -> target` lines of `ls -l /proc/self/fd`, minus ls's own listing of that folder. */
function descriptors(stdout: string): Array<{ fd: number; target: string }> {
  return [...stdout.matchAll(/ (\d+) -> (.*)$/gm)].map((m) => ({ fd: Number(m[1]), target: m[2]! })).filter((d) => !/^\/proc\/\d+\/fd$/.test(d.target));
}

function expectOnlyStdio(stdout: string): void {
  const held = descriptors(stdout);
  expect(held.filter((d) => d.target === leaked || d.target === secrets)).toEqual([]);
  expect(held.map((d) => d.fd).filter((fd) => fd > 2 && fd !== 63)).toEqual([]);
  // The named descriptor is covered by a socket whose other end is already closed, not the operator's file.
  for (const d of held.filter((d) => d.fd === 63)) expect(d.target).toMatch(/^socket:/);
}

beforeAll(async () => {
  dir = writeConfig({
    "tools/fds.yaml": 'tool: list_fds\ndescription: lists the descriptors the command holds\nrun:\n  type: exec\n  command: ["/bin/ls", "-l", "/proc/self/fd"]\n  env:\n    FD_SECRET: "${secrets.FD_SECRET}"\n  timeout_ms: 5000\n',
    "policies/ops.yaml": "policy: ops\nallow:\n  - tool: list_fds\n",
  });
  leaked = join(dir, "left-open.txt");
  secrets = join(dir, "secrets.env");
  writeFileSync(leaked, "a descriptor the starter forgot\n");
  writeFileSync(secrets, "FD_SECRET=fd-secret-value\n");
  bundle = await buildBundle(dir);
}, 60_000);

afterAll(() => {
  for (const r of started) r.kill9();
});

describe("descriptors inherited from KeyRunner's starter (real bundle)", () => {
  it.each([
    ["under the permission model (launcher and sandboxed server)", []],
    ["with --no-permission-model (one process)", ["--no-permission-model"]],
  ])("%s: an exec tool holds only stdin, stdout and stderr; the named secrets file was still read", async (_name, extra) => {
    // Without the secret the server would refuse to start: it read /dev/fd/63.
    const server = await startBundle(bundle, ["--audit", join(dir, `audit-${started.length}.jsonl`), "--secrets-file", "/dev/fd/63", ...extra], {}, [], opener());
    started.push(server);
    const res = await post(`${server.url}/v1/execute`, { agent: "ops", tool: "list_fds", input: {} });
    expect(res.status).toBe(200);
    expect(descriptors(res.body.result.stdout).map((d) => d.fd)).toEqual(expect.arrayContaining([0, 1, 2]));
    expectOnlyStdio(res.body.result.stdout);
    expect(res.text).not.toContain("fd-secret-value");
  });

  it("`keyrunner run` (tools executed in the command's own process) closes them as well", async () => {
    const { stdout } = await promisify(execFile)(opener()[0]!, [...opener().slice(1), process.execPath, join(repoRoot, "bin", "keyrunner.js"), "run", dir, "--agent", "ops", "--tool", "list_fds", "--input", "{}", "--audit", join(dir, "run-audit.jsonl"), "--secrets-file", "/dev/fd/63"]);
    const outcome = JSON.parse(stdout) as { status: string; result: { stdout: string } };
    expect(outcome.status).toBe("ok");
    expectOnlyStdio(outcome.result.stdout);
  });

  it("a secrets file named at descriptor 3 or 4, which the sandboxed server uses itself, is refused with a hint", async () => {
    const result = await promisify(execFile)("/bin/bash", ["-c", `exec 3<'${secrets}'; exec "$@"`, "bash", process.execPath, bundle, "serve", "--port", "0", "--audit", join(dir, "refused.jsonl"), "--secrets-file", "/dev/fd/3"]).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("descriptor 3 is KeyRunner's own in the sandboxed server");
    expect(result.stderr).toContain("5 or above");
  });
});
