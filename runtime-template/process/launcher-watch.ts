// In a server started by a launcher (the sandboxed server; a pool's worker): die with the launcher, even
// while this process's event loop is blocked. The launcher gives its child one end of a socket pair, the
// lifeline, and never writes to it; when the launcher dies — `kill -9` included — the kernel closes its
// end and the child's end reads end-of-file. A worker thread (its own event loop) waits for that and
// SIGKILLs the whole process, so no orphan keeps serving or holding the locks. Waiting costs nothing: no
// timer, no wake-up until the launcher is gone (a 50 ms poll of the parent pid did this before and kept
// an idle server waking 20 times a second); and no pid is compared, so a reused pid cannot fool it.

import type { Worker } from "node:worker_threads";

/** The lifeline's file descriptor in the child: after stdin, stdout, stderr and fd 3 (the hand-over or the cluster's IPC). */
export const LIFELINE_FD = 4;

/** The child's stdio entry for the lifeline, at index LIFELINE_FD of the spawn's stdio array. */
export const LIFELINE_STDIO = "pipe";

// Runs in the worker: CommonJS source, holding nothing but the lifeline. Any end of it is the launcher's:
// end-of-file, an error, a close, or a descriptor that is not there at all.
const WATCH_SOURCE = `
const { workerData } = require("node:worker_threads");
const { Socket } = require("node:net");
const die = () => process.kill(process.pid, "SIGKILL");
try {
  const lifeline = new Socket({ fd: workerData.fd, readable: true, writable: false });
  lifeline.on("end", die);
  lifeline.on("close", die);
  lifeline.on("error", die);
  lifeline.resume();
} catch {
  die();
}
`;

/** Starts the watch on the lifeline at `fd`; the worker does not keep a drained server alive. */
export function watchLifeline(fd: number = LIFELINE_FD): Worker {
  const { Worker: WatchThread } = process.getBuiltinModule("node:worker_threads");
  const worker = new WatchThread(WATCH_SOURCE, { eval: true, workerData: { fd }, stdout: false, stderr: false, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 } });
  worker.unref();
  return worker;
}
