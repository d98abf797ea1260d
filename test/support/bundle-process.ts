// Builds a config into a temporary folder and runs the real bundle as a child process.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildConfig } from "../../compiler/build.js";

export function writeConfig(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kr-test-config-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

export async function buildBundle(dir: string): Promise<string> {
  const out = join(dir, "dist");
  const built = await buildConfig({ dir }, out);
  if (built.manifest === undefined) throw new Error(`config does not compile: ${JSON.stringify(built.check.diagnostics, null, 2)}`);
  return join(out, "keyrunner.mjs");
}

/** Every bundle process a test file started and has not seen exit: killed after the file (test/support/cleanup.ts). */
const running = new Set<ChildProcess>();

/** kill -9 of every bundle process group still running: the launchers and their sandboxed servers. */
export function killRunningBundles(): void {
  for (const child of running) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
}

export interface RunningBundle {
  url: string;
  /** The launched process: the permission-model launcher, whose child serves. */
  process: ChildProcess;
  /** kill -9 of the whole process group: the launcher and the sandboxed server at once. */
  kill9(): void;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** `prefix`: a command that runs node, as `taskset -c 0` does (it execs it, so the pid is the server's or launcher's). */
export async function startBundle(bundle: string, args: string[], env: Record<string, string>, nodeFlags: string[] = [], prefix: string[] = []): Promise<RunningBundle> {
  // Each bundle gets its own state directory unless the test shares one on purpose.
  const state = args.includes("--state") ? [] : ["--state", mkdtempSync(join(tmpdir(), "kr-state-"))];
  const [program, ...programArgs] = [...prefix, process.execPath, ...nodeFlags, bundle, "serve", "--port", "0", ...state, ...args];
  const child = spawn(program!, programArgs, {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bundle did not start: ${err}`)), 10_000);
    const check = () => {
      const match = /keyrunner listening on (http:\/\/\S+)/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", check);
    void exited.then((code) => reject(new Error(`bundle exited ${code}: ${err}`)));
  });
  return {
    url,
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill9() {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    },
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text };
}
