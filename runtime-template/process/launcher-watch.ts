// In the sandboxed server: die with the launcher, even while this process's event loop is blocked. A
// worker thread (its own event loop) polls the parent pid; once the launcher is gone (the server was
// re-parented), it SIGKILLs the whole process, so no orphan keeps serving or holding the locks.

import type { Worker } from "node:worker_threads";

/** How often the watch looks; a dead launcher's server is gone within about this long. */
export const LAUNCHER_POLL_MS = 50;

// Runs in the worker: CommonJS source, no access to anything but the process's pid and parent pid.
const WATCH_SOURCE = `
const { workerData } = require("node:worker_threads");
const launcher = workerData.launcher;
setInterval(() => {
  if (process.ppid !== launcher) process.kill(process.pid, "SIGKILL");
}, workerData.pollMs);
`;

/** Starts the watch; the worker does not keep a drained server alive. */
export function watchLauncher(launcherPid: number = process.ppid): Worker {
  const { Worker: WatchThread } = process.getBuiltinModule("node:worker_threads");
  const worker = new WatchThread(WATCH_SOURCE, { eval: true, workerData: { launcher: launcherPid, pollMs: LAUNCHER_POLL_MS }, stdout: false, stderr: false, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 } });
  worker.unref();
  return worker;
}
