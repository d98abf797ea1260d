// Runs `serve` and `mcp` under Node's permission model where Node has one: the bundle re-executes
// itself with file reads limited to what it needs (itself, the agents and secrets files, the audit
// and the state), writes limited to the audit and state paths, child processes only when the
// configuration has exec tools, and code generation from strings disabled.

import { realpathSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { auditLockPath } from "../audit/audit-lock.js";
import { poolAuditFile } from "../process/pool-worker.js";
import { handOnNamed } from "../process/inherited-descriptors.js";
import { makeDirectory, PathError } from "../process/make-directory.js";
import { LIFELINE_FD, LIFELINE_STDIO, watchLifeline } from "../process/launcher-watch.js";
import { credentialNames, handOver, HANDOVER_STDIO, splitEnvironment } from "../process/secret-handover.js";
import { isRedisUrl } from "../state/state-store.js";
import type { CompiledConfig } from "../contract/tool-module.js";

export interface SandboxPaths {
  readonly audit: string;
  readonly state: string | undefined;
  readonly agents: string | undefined;
  readonly secretsFile: string | undefined;
  /** The interception CA's folder (serve --ca), read at start-up. */
  readonly ca?: string | undefined;
  /** `serve --workers N`: the primary forks N workers, each writing its own audit file. */
  readonly workers?: number;
}

const OWN_FDINFO = "/proc/self/fdinfo";

const permissionFlag = (): string | undefined =>
  process.allowedNodeEnvironmentFlags.has("--permission") ? "--permission" : process.allowedNodeEnvironmentFlags.has("--experimental-permission") ? "--experimental-permission" : undefined;

/**
 * Drops paths inside another granted path. Besides being shorter, this matters: Node 20 denies a stat of
 * a granted directory when a file inside it is granted too.
 */
export function minimalGrants(paths: Iterable<string>): string[] {
  const all = [...new Set(paths)].sort();
  return all.filter((p) => !all.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/** Whether the configuration has exec tools (commands run here) beside its HTTP ones. */
export const hasExecTools = (config: CompiledConfig): boolean => [...config.tools.values()].some((tool) => tool.egress === undefined);

/** Whether this process already runs under the permission model (then it is the sandboxed server). */
export function sandboxed(): boolean {
  return (process as { permission?: unknown }).permission !== undefined;
}

/** The flags the sandboxed server starts with. */
export function sandboxFlags(config: CompiledConfig, bundle: string, paths: SandboxPaths): string[] | undefined {
  const flag = permissionFlag();
  if (flag === undefined) return undefined;
  const reads = new Set<string>([bundle, realpathSync(bundle), resolve(paths.audit)]);
  // The audit's lock socket: bound without a grant, but a stale one is removed, which is a write.
  const writes = new Set<string>([resolve(paths.audit), auditLockPath(resolve(paths.audit))]);
  const workers = paths.workers ?? 1;
  for (let slot = 1; workers > 1 && slot <= workers; slot++) {
    const file = poolAuditFile(resolve(paths.audit), slot);
    reads.add(file);
    writes.add(file).add(auditLockPath(file));
  }
  for (const file of [paths.agents, paths.secretsFile, paths.ca]) if (file !== undefined) reads.add(resolve(file));
  // To find the descriptors its starter left open (inherited-descriptors.ts): flags and position only.
  reads.add(OWN_FDINFO);
  const hasExec = hasExecTools(config);
  // What an exec tool gets in place of a descriptor kept open on purpose (exec-runner.ts).
  if (hasExec) reads.add("/dev/null");
  if (paths.state !== undefined) {
    reads.add(resolve(paths.state));
    writes.add(resolve(paths.state));
  }
  // Preloads given to node (for example a test's stub resolver) must stay readable.
  for (let i = 0; i < process.execArgv.length; i++) {
    if (process.execArgv[i] === "--import" || process.execArgv[i] === "--require") reads.add(resolve(process.execArgv[i + 1] ?? ""));
  }
  return [
    flag,
    ...minimalGrants(reads).map((p) => `--allow-fs-read=${p}`),
    ...minimalGrants(writes).map((p) => `--allow-fs-write=${p}`),
    // A pool's primary forks its workers (cluster), and each watches the primary from a worker thread.
    ...(hasExec || workers > 1 ? ["--allow-child-process"] : []),
    ...(workers > 1 ? ["--allow-worker"] : []),
    "--disallow-code-generation-from-strings",
    ...(process.allowedNodeEnvironmentFlags.has("--disable-warning") ? ["--disable-warning=ExperimentalWarning"] : []),
    ...(oneCpu() ? ["--single-threaded-gc"] : []),
  ];
}

/**
 * Whether this process may run on one CPU only (its affinity, as `taskset` or a cpuset sets it). There
 * V8's parallel GC helper threads cannot run beside the main thread, only take turns with it: the server
 * collects on its main thread instead (-7 to -16 % CPU per request, docs/performance.md).
 */
const oneCpu = (): boolean => process.getBuiltinModule("node:os").availableParallelism() === 1;

/**
 * The flags for a sandboxed `serve`/`mcp` with these paths, after creating the audit and state folders
 * (inside the sandbox a recursive mkdir would need their parents too); undefined without a permission model.
 */
export function prepareSandbox(config: CompiledConfig, moduleUrl: string, paths: SandboxPaths): string[] | undefined {
  const redis = paths.state !== undefined && isRedisUrl(paths.state);
  if (paths.state !== undefined && !redis) makeDirectory(paths.state);
  makeDirectory(dirname(resolve(paths.audit)));
  // The permission model would deny a directory named as the audit file before it could say what it is.
  if (statSync(resolve(paths.audit), { throwIfNoEntry: false })?.isDirectory()) throw new PathError(paths.audit, `--audit ${paths.audit} is a directory; name a file, e.g. ${join(paths.audit, "audit.log")}`);
  return sandboxFlags(config, fileURLToPath(moduleUrl), { ...paths, state: redis ? undefined : paths.state });
}

/**
 * Starts the sandboxed server as a child and relays signals and the exit code; undefined when the
 * permission model is unavailable (the caller then serves in this process).
 */
export function relaunchSandboxed(config: CompiledConfig, moduleUrl: string, argv: readonly string[], paths: SandboxPaths): Promise<number> | undefined {
  const flags = prepareSandbox(config, moduleUrl, paths);
  if (flags === undefined) return undefined;
  // The server watches its launcher from a worker thread (see dieWithLauncher), so it may start one.
  const watch = ["--allow-worker", ...(process.allowedNodeEnvironmentFlags.has("--disable-warning") ? ["--disable-warning=SecurityWarning"] : [])];
  // The credentials go through a pipe: the server's environment, readable in /proc, never holds one.
  const { env, handed } = splitEnvironment(process.env, credentialNames(config.secrets));
  const child = process.getBuiltinModule("node:child_process").spawn(process.execPath, [...process.execArgv, ...flags, ...watch, fileURLToPath(moduleUrl), ...argv], {
    // fd 3 the hand-over, fd 4 the lifeline: this process holds its other end, open until it dies; then
    // the descriptors the command line names, each at its own number.
    stdio: [...HANDOVER_STDIO, LIFELINE_STDIO, ...handOnNamed(argv)],
    env: { ...env, [LIFELINE_ENV]: String(LIFELINE_FD) },
  });
  handOver(child, handed);
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolveExit) => child.on("exit", (code, signal) => resolveExit(code ?? (signal ? 1 : 0))));
}

/** A flag as a POSIX shell word: bare when it holds nothing the shell would read, else single-quoted. */
export function shellWord(flag: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(flag) ? flag : `'${flag.replace(/'/g, "'\\''")}'`;
}

/** Tells the sandboxed server that its launcher holds a lifeline to it, and at which descriptor. */
const LIFELINE_ENV = "KEYRUNNER_LIFELINE_FD";

/**
 * In the sandboxed server: if the launcher dies (even by SIGKILL), die with it — watched on the
 * lifeline from a worker thread, so a blocked event loop cannot keep an orphan serving (an IPC
 * `disconnect` event once did). A server started by hand (`sandbox-flags`) has no launcher to watch.
 */
export function dieWithLauncher(): void {
  const named = process.env[LIFELINE_ENV];
  delete process.env[LIFELINE_ENV];
  if (named !== String(LIFELINE_FD)) return;
  watchLifeline(LIFELINE_FD);
}

export const defaultStateDir = (audit: string): string => join(dirname(resolve(audit)), "keyrunner-state");
