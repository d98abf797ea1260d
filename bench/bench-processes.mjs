// The benchmarks' child processes: servers started and awaited on their ready line (and killed with the
// script, whatever ends it), the load generator run to completion, and CPU time read from /proc.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createNetServer, connect } from "node:net";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const children = [];
process.on("exit", () => children.forEach((child) => child.kill("SIGKILL")));

/**
 * Starts `node ARGS` and resolves with it and its port once it prints a `listening … PORT` line;
 * `prefix` runs it under another program that execs it (`taskset -c 1`), so the pid stays the server's.
 */
export function startServer(args, env = {}, { stderr = "pipe", prefix = [] } = {}) {
  const [program, ...programArgs] = [...prefix, process.execPath, ...args];
  const child = spawn(program, programArgs, { env: { PATH: process.env.PATH, ...env }, cwd: root, stdio: ["ignore", "pipe", stderr] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      const m = /listening (?:on http:\/\/[^:]+:)?(\d+)/.exec(out);
      // output(): everything the server has printed so far (bench:profile --gc reads V8's GC trace from it).
      if (m) resolve({ child, port: Number(m[1]), output: () => out });
    });
    child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited ${code}`)));
  });
}

/** Starts a program that prints no ready line (nginx) and resolves once `port` accepts connections. */
export async function startProgram(argv, port, { prefix = [] } = {}) {
  const [program, ...programArgs] = [...prefix, ...argv];
  const child = spawn(program, programArgs, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  children.push(child);
  let exited;
  child.on("exit", (code) => (exited = code));
  for (let i = 0; i < 200; i++) {
    if (exited !== undefined) throw new Error(`${argv.join(" ")} exited ${exited}`);
    const open = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1", () => (socket.end(), resolve(true)));
      socket.on("error", () => resolve(false));
    });
    if (open) return { child, port };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${argv.join(" ")} did not listen on ${port}`);
}

/** A port that is free now (for programs that cannot take port 0 and report it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Kills every server this script started (SIGTERM: a KeyRunner flushes its audit). */
export function stopServers() {
  for (const child of children) child.kill("SIGTERM");
}

/** `bench/load.mjs` against a port: N requests at concurrency C over keep-alive connections, its JSON result (`prefix`: e.g. taskset). */
export function runLoad(port, path, concurrency, total, body, headers = {}, prefix = []) {
  const [program, ...programArgs] = [...prefix, process.execPath];
  const result = spawnSync(program, [...programArgs, join(root, "bench", "load.mjs"), `http://127.0.0.1:${port}`, path, String(concurrency), String(total), body, JSON.stringify(headers)], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout);
}

/**
 * User and system CPU seconds and minor page faults of a process and its children (the sandboxed
 * server runs as the launcher's child), from /proc.
 */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const own = { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100, faults: Number(fields[7]) };
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ").filter(Boolean);
  return kids.map((k) => cpuSeconds(Number(k))).reduce((s, c) => ({ user: s.user + c.user, system: s.system + c.system, faults: s.faults + c.faults }), own);
}
