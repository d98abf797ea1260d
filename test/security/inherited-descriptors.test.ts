// Descriptors that KeyRunner's own starter leaves open without close-on-exec never reach an exec tool:
// the real bundle is started by a bash that opens two of them (one above dash's limit of 9) and names a
// third on the command line as the secrets file; an exec tool lists what it holds.

import { execFile, execFileSync, spawn } from "node:child_process";
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, post, startBundle, writeConfig, type RunningBundle } from "../support/bundle-process.js";
import { repoRoot } from "../support/cli.js";
import { describeWithRedis, startRedis, type RedisProcess } from "../support/redis-server.js";

let dir: string;
let bundle: string;
let leaked: string;
let secrets: string;
const started: RunningBundle[] = [];

/** bash opens fd 40 and 251 on a file without close-on-exec, fd 63 on the secrets file, then runs the command. */
const opener = (named = 63): string[] => ["/bin/bash", "-c", `exec 40<'${leaked}' 251<'${leaked}' ${named}<'${secrets}'; exec "$@"`, "bash"];

/** The `N -> target` lines of `ls -l /proc/self/fd`, minus ls's own listing of that folder. */
function descriptors(stdout: string): Array<{ fd: number; target: string }> {
  return [...stdout.matchAll(/ (\d+) -> (.*)$/gm)].map((m) => ({ fd: Number(m[1]), target: m[2]! })).filter((d) => !/^\/proc\/\d+\/fd$/.test(d.target));
}

function expectOnlyStdio(stdout: string, named = 63): void {
  const held = descriptors(stdout);
  expect(held.map((d) => d.fd)).toEqual(expect.arrayContaining([0, 1, 2]));
  expect(held.filter((d) => d.target === leaked || d.target === secrets)).toEqual([]);
  expect(held.map((d) => d.fd).filter((fd) => fd > 2 && fd !== named)).toEqual([]);
  // In place of the named descriptor: the server's /dev/null, not the operator's file.
  for (const d of held.filter((d) => d.fd === named)) expect(d.target).toBe("/dev/null");
}

const execute = (server: RunningBundle) => post(`${server.url}/v1/execute`, { agent: "ops", tool: "list_fds", input: {} });

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
    ["under the permission model (launcher and sandboxed server)", [], 63],
    ["with --no-permission-model (one process)", ["--no-permission-model"], 63],
    // Node marks the run of open descriptors from 0 close-on-exec at start: a low one is handed on by number.
    ["under the permission model, the secrets file at a low descriptor", [], 9],
  ] as const)("%s: an exec tool holds only stdin, stdout and stderr; the named secrets file was still read", async (_name, extra, named) => {
    // Without the secret the server would refuse to start: it read the named descriptor.
    const server = await startBundle(bundle, ["--audit", join(dir, `audit-${started.length}.jsonl`), "--secrets-file", `/dev/fd/${named}`, ...extra], {}, [], opener(named));
    started.push(server);
    const res = await execute(server);
    expect(res.status).toBe(200);
    expectOnlyStdio(res.body.result.stdout, named);
    expect(res.text).not.toContain("fd-secret-value");
  });

  it("a process substitution at a low descriptor is the operator's pipe (bash leaves a second read end of it at 63), not Node's", async () => {
    const prefix = ["/bin/bash", "-c", `exec "$@" 5< <(cat '${secrets}')`, "bash"];
    const server = await startBundle(bundle, ["--audit", join(dir, "substituted.jsonl"), "--secrets-file", "/dev/fd/5"], {}, [], prefix);
    started.push(server);
    const res = await execute(server);
    expect(res.status).toBe(200);
    expectOnlyStdio(res.body.result.stdout, 5);
  });

  it("a server started directly with the sandbox-flags line closes them itself", async () => {
    const audit = join(dir, "direct.jsonl");
    const flags = execFileSync(process.execPath, [bundle, "sandbox-flags", "serve", "--audit", audit, "--secrets-file", "/dev/fd/63", "--state", join(dir, "direct-state")], { encoding: "utf8" }).trim().split(" ");
    const server = await startBundle(bundle, ["--audit", audit, "--secrets-file", "/dev/fd/63", "--state", join(dir, "direct-state")], {}, flags, opener());
    started.push(server);
    const res = await execute(server);
    expect(res.status).toBe(200);
    expectOnlyStdio(res.body.result.stdout);
    // What lets it: the line grants reading its own descriptors' flags.
    expect(flags).toContain("--allow-fs-read=/proc/self/fdinfo");
  });

  it("a Node parent's IPC channel above the first gap stays open and working (closing it hung every exec)", async () => {
    // Node takes NODE_CHANNEL_FD out of the environment before KeyRunner runs: the channel must be found by its handle.
    const stdio = ["ignore", "pipe", "pipe", ...Array<"ignore">(21).fill("ignore"), "ipc"] as const;
    const child = spawn(process.execPath, [bundle, "serve", "--port", "0", "--no-permission-model", "--audit", join(dir, "ipc.jsonl"), "--state", join(dir, "ipc-state"), "--secrets-file", secrets], { stdio: [...stdio] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout!.on("data", (c: Buffer) => {
          out += c.toString();
          const match = /keyrunner listening on (http:\/\/\S+)/.exec(out);
          if (match) resolve(match[1]!);
        });
        child.on("exit", (code) => reject(new Error(`exited ${code}`)));
      });
      for (let i = 0; i < 3; i++) {
        const res = await post(`${url}/v1/execute`, { agent: "ops", tool: "list_fds", input: {} });
        expect(res.status).toBe(200);
        // The tool's fd 24 is /dev/null, not the server's end of the channel.
        expect(readlinkSync(`/proc/${child.pid}/fd/24`)).toMatch(/^socket:/);
        const held = descriptors(res.body.result.stdout).filter((d) => d.fd > 2);
        expect(held).toEqual([{ fd: 24, target: "/dev/null" }]);
      }
      expect(child.connected).toBe(true);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it.each([
    // --logfile: V8 would otherwise write an isolate-…-v8.log into the current folder.
    ["--perf-basic-prof", ["--perf-basic-prof", "--logfile=LOGFILE"]],
    ["--prof", ["--prof", "--logfile=LOGFILE"]],
  ])("under V8's %s: its log files stay V8's (closed, the next open took their number and the start failed), and no exec tool holds them", async (_name, flags) => {
    const nodeFlags = flags.map((f) => f.replace("LOGFILE", join(dir, `v8-${started.length}.log`)));
    for (const extra of [[], ["--no-permission-model"]]) {
      const auditFile = join(dir, `audit-v8-${started.length}.jsonl`);
      const server = await startBundle(bundle, ["--audit", auditFile, "--secrets-file", "/dev/fd/63", ...extra], {}, nodeFlags, opener());
      started.push(server);
      const res = await execute(server);
      expect(res.status).toBe(200);
      // Each of V8's files (the server's and its worker thread's) is covered with /dev/null; nothing else is held.
      const held = descriptors(res.body.result.stdout);
      expect(held.filter((d) => d.fd > 2 && d.target !== "/dev/null")).toEqual([]);
      expect(held.filter((d) => d.target === leaked || d.target === secrets)).toEqual([]);
      // V8 wrote into its own files only: every audit line is a record.
      for (const line of readFileSync(auditFile, "utf8").trim().split("\n")) expect(JSON.parse(line)).toHaveProperty("hash");
    }
  });

  it("`keyrunner run` (tools executed in the command's own process) closes them as well", async () => {
    const { stdout } = await promisify(execFile)(opener()[0]!, [...opener().slice(1), process.execPath, join(repoRoot, "bin", "keyrunner.js"), "run", dir, "--agent", "ops", "--tool", "list_fds", "--input", "{}", "--audit", join(dir, "run-audit.jsonl"), "--secrets-file", "/dev/fd/63"]);
    const outcome = JSON.parse(stdout) as { status: string; result: { stdout: string } };
    expect(outcome.status).toBe("ok");
    expectOnlyStdio(outcome.result.stdout);
  });

  it("`keyrunner serve` (compile, then start the bundle) hands a low named descriptor on to it", async () => {
    // The command line is `keyrunner serve --port 0 --state S DIR …`: the config folder as its argument.
    const server = await startBundle(join(repoRoot, "bin", "keyrunner.js"), [dir, "--audit", join(dir, "cli-serve.jsonl"), "--secrets-file", "/dev/fd/9"], { PATH: process.env.PATH ?? "" }, [], opener(9));
    started.push(server);
    const res = await execute(server);
    expect(res.status).toBe(200);
    expectOnlyStdio(res.body.result.stdout, 9);
  });

  it.each([
    ["a descriptor nothing was passed at", 30, "descriptor 30 is not open: the command line names /dev/fd/30"],
    // Reading one of libuv's own pipes would block the start for ever.
    ["one of Node's own descriptors", 5, "descriptor 5 is not a file passed to KeyRunner but one of Node's own"],
  ])("naming %s is refused in one line, before anything starts", async (_name, fd, message) => {
    for (const mode of [[], ["--no-permission-model"]]) {
      const result = await promisify(execFile)(process.execPath, [bundle, "serve", "--port", "0", "--audit", join(dir, "typo.jsonl"), "--secrets-file", `/dev/fd/${fd}`, ...mode], { timeout: 10_000 }).then(
        () => ({ code: 0, stderr: "" }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`keyrunner: ${message}`);
    }
  });

  it("a secrets file named at descriptor 3 or 4, which the sandboxed server uses itself, is refused with a hint", async () => {
    const result = await promisify(execFile)("/bin/bash", ["-c", `exec 3<'${secrets}'; exec "$@"`, "bash", process.execPath, bundle, "serve", "--port", "0", "--audit", join(dir, "refused.jsonl"), "--secrets-file", "/dev/fd/3"]).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("descriptor 3 is KeyRunner's own in the server it starts");
    expect(result.stderr).toContain("5 or above");
  });
});

describeWithRedis("descriptors and serve --workers", ["redis-server"], () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(async () => redis?.stop());

  it("a pipe as the secrets file is refused: only one of the workers could read it", async () => {
    const result = await promisify(execFile)("/bin/bash", ["-c", `exec "$@" 63< <(printf 'FD_SECRET=fd-secret-value\\n')`, "bash", process.execPath, bundle, "serve", "--port", "0", "--audit", join(dir, "pipe.jsonl"), "--state", redis.url, "--workers", "2", "--secrets-file", "/dev/fd/63"], { timeout: 10_000 }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("descriptor 63 is a pipe, which only one of the 2 workers could read");
  });

  it("so is stdin as the secrets file when it is a pipe", async () => {
    const result = await promisify(execFile)("/bin/bash", ["-c", `printf 'FD_SECRET=fd-secret-value\\n' | "$@"`, "bash", process.execPath, bundle, "serve", "--port", "0", "--audit", join(dir, "stdin.jsonl"), "--state", redis.url, "--workers", "2", "--secrets-file", "/dev/stdin"], { timeout: 10_000 }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("descriptor 0 is a pipe, which only one of the 2 workers could read");
  });

  it("each worker reads the secrets file at a low named descriptor, and its exec tools hold only stdio", async () => {
    const server = await startBundle(bundle, ["--audit", join(dir, "pool.jsonl"), "--state", redis.url, "--workers", "2", "--secrets-file", "/dev/fd/9"], {}, [], opener(9));
    started.push(server);
    for (let i = 0; i < 4; i++) {
      const res = await execute(server);
      expect(res.status).toBe(200);
      expectOnlyStdio(res.body.result.stdout, 9);
    }
  });
});
