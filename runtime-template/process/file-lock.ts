// A lock the kernel releases when its holder dies: a Unix-domain socket bound at a path beside the
// thing it guards. Binding is the acquisition (bind(2) on an existing path fails); a live holder answers
// connections with its status; a dead holder leaves a socket file nobody accepts on (ECONNREFUSED), which
// a starter removes before binding — under a takeover mutex, so two starters that find the same stale
// socket cannot both remove and bind it. No pid is ever compared: a reused pid or a zombie is no holder.

import { createHash } from "node:crypto";
import { unlinkSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { resolve } from "node:path";
import { holderStatus, type HolderStatus } from "./lifecycle-status.js";

/** sun_path holds 108 bytes with its terminating NUL; a longer path would be cut short silently. */
export const MAX_SOCKET_PATH_BYTES = 107;
/** How long a connected holder has to say who it is before it counts as busy (a blocked event loop). */
const ANSWER_MS = 300;
/** How long a start waits for a holder that is serving (not draining): long enough for an orphaned server to notice its launcher died. */
export const DEFAULT_LOCK_WAIT_MS = 3000;
/** The most a start waits for a draining holder beyond the drain deadline it announces. */
const DRAIN_GRACE_MS = 2000;
const RETRY_MS = 25;

export class LockHeld extends Error {
  constructor(
    readonly path: string,
    readonly holder: HolderStatus | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface AcquireOptions {
  /** What the lock guards, for messages ("state folder /x", "audit file /y"). */
  readonly what: string;
  /** What the operator should do when the lock is held by a server that stays. */
  readonly hint: string;
  /** How long to wait for a holder that is serving (default DEFAULT_LOCK_WAIT_MS). */
  readonly waitMs?: number;
  /** Called once each time the reason for waiting changes. */
  readonly onWait?: (message: string) => void;
}

type Probe = { kind: "absent" } | { kind: "stale" } | { kind: "live"; status: HolderStatus } | { kind: "silent" };

export class FileLock {
  #server: Server | undefined;

  private constructor(
    readonly path: string,
    server: Server,
  ) {
    this.#server = server;
  }

  /** Binds the lock at `path`, waiting (bounded) for a holder that is shutting down. */
  static async acquire(path: string, options: AcquireOptions): Promise<FileLock> {
    // A name in Linux's abstract socket namespace (`\0…`) is no file: it never goes stale.
    const abstract = path.startsWith("\0");
    const absolute = abstract ? path : resolve(path);
    if (Buffer.byteLength(absolute) > MAX_SOCKET_PATH_BYTES) {
      throw new LockHeld(absolute, undefined, `the lock of the ${options.what} would be ${absolute}, longer than the ${MAX_SOCKET_PATH_BYTES} bytes a socket path may have; use a shorter path`);
    }
    const started = Date.now();
    let deadline = started + (options.waitMs ?? DEFAULT_LOCK_WAIT_MS);
    let said = "";
    const say = (message: string, reason: string) => {
      if (reason !== said) options.onWait?.(message);
      said = reason;
    };
    let last: HolderStatus | undefined;
    for (;;) {
      const bound = await bind(absolute);
      if (bound !== undefined) return new FileLock(absolute, bound);
      const probe = await probeLock(absolute);
      if (probe.kind === "stale" && abstract) {
        // Its holder closed it between our bind and our connect: bind again.
      } else if (probe.kind === "stale") {
        const taken = await takeOver(absolute);
        if (taken !== undefined) return new FileLock(absolute, taken);
      } else if (probe.kind === "live") {
        last = probe.status;
        if (probe.status.draining) {
          deadline = Math.max(deadline, Date.now() + Math.min(probe.status.left_ms ?? 0, 3_600_000) + DRAIN_GRACE_MS);
          say(`the ${options.what} is held by a keyrunner that is shutting down (pid ${probe.status.pid}, ${Math.ceil((probe.status.left_ms ?? 0) / 1000)} s left at most); waiting for it`, `draining ${probe.status.pid}`);
        } else say(`the ${options.what} is held by a running keyrunner (pid ${probe.status.pid}); waiting up to ${Math.ceil((deadline - Date.now()) / 1000)} s`, `serving ${probe.status.pid}`);
      } else if (probe.kind === "silent" && last?.draining !== true) {
        // A holder that said it is shutting down and then stops answering is closing its lock, as it
        // said it would: not news. Only a holder silent from the start is reported as such.
        say(`the ${options.what} is held by a process that does not answer (busy or dying); waiting up to ${Math.ceil((deadline - Date.now()) / 1000)} s`, "silent");
      }
      if (Date.now() >= deadline) {
        const who = last === undefined ? "another process" : `a running keyrunner (pid ${last.pid})`;
        throw new LockHeld(absolute, last, `the ${options.what} is in use by ${who}; ${options.hint}`);
      }
      await new Promise((resolveSleep) => setTimeout(resolveSleep, RETRY_MS));
    }
  }

  get held(): boolean {
    return this.#server !== undefined;
  }

  /** Releases the lock: the socket is closed, and its file removed (by libuv, with the close). */
  async release(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    await new Promise<void>((done) => server.close(() => done()));
  }
}

/** Binds a socket at `path`; undefined when something is already there. */
function bind(path: string): Promise<Server | undefined> {
  return new Promise((done, fail) => {
    const server = createServer((socket) => {
      socket.on("error", () => undefined);
      socket.end(`${JSON.stringify(holderStatus())}\n`);
    });
    // A listen error names no path (the lock's is what a person needs to see).
    server.once("error", (error: NodeJS.ErrnoException) => (error.code === "EADDRINUSE" ? done(undefined) : fail(Object.assign(error, { path }))));
    server.listen(path, () => {
      // The lock must not keep a drained process alive.
      server.unref();
      done(server);
    });
  });
}

/** Who holds the lock at `path`: nobody (no file), a dead holder (refused), a live one, or one that does not answer. */
export function probeLock(path: string): Promise<Probe> {
  return new Promise((done) => {
    const socket = connect(path);
    let text = "";
    const timer = setTimeout(() => finish({ kind: "silent" }), ANSWER_MS);
    const finish = (probe: Probe) => {
      clearTimeout(timer);
      socket.destroy();
      done(probe);
    };
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      const line = text.indexOf("\n");
      if (line === -1) return;
      try {
        const status = JSON.parse(text.slice(0, line)) as HolderStatus;
        finish(typeof status.pid === "number" ? { kind: "live", status } : { kind: "silent" });
      } catch {
        finish({ kind: "silent" });
      }
    });
    socket.on("end", () => finish({ kind: "silent" }));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      // A regular file (an old pid-file lock) or a socket nobody listens on: what a dead holder leaves.
      if (error.code === "ECONNREFUSED" || error.code === "ENOTSOCK") finish({ kind: "stale" });
      else if (error.code === "ENOENT") finish({ kind: "absent" });
      else finish({ kind: "silent" });
    });
  });
}

/**
 * Removes a stale lock and binds it, as one step among starters: on Linux they serialise on an abstract
 * socket named after the path (released by the kernel too, so a starter dying here blocks nobody), and
 * the lock is checked stale again under it. Elsewhere there is no such mutex, and two starters racing for
 * the same stale lock could both win (documented in docs/runtime.md).
 */
async function takeOver(path: string): Promise<Server | undefined> {
  let mutex: Server | undefined;
  if (process.platform === "linux") {
    mutex = await bind(`\0keyrunner-takeover-${createHash("sha256").update(path).digest("hex").slice(0, 32)}`);
    if (mutex === undefined) return undefined;
  }
  try {
    if ((await probeLock(path)).kind !== "stale") return undefined;
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    return await bind(path);
  } finally {
    if (mutex !== undefined) await new Promise<void>((done) => mutex.close(() => done()));
  }
}
