// `serve --workers N`: a Node cluster primary that serves nothing itself. It forks N workers sharing the
// port, hands each the credentials over IPC, prints the ready line once all listen, replaces a worker
// that dies (kill -9 included) in the same slot, and on SIGTERM/SIGINT drains them all and exits 0.
// State shared across workers must be Redis: the local state store has one owner (see docs/runtime.md).

import type { Cluster, Worker } from "node:cluster";
import type { CompiledConfig } from "../contract/tool-module.js";
import { isRedisUrl } from "../state/state-store.js";
import { handOnNamed } from "./inherited-descriptors.js";
import { LIFELINE_STDIO } from "./launcher-watch.js";
import { markDraining } from "./lifecycle-status.js";
import { POOL_SLOT_ENV, type PoolMessage } from "./pool-worker.js";
import { credentialNames } from "./secret-handover.js";

export interface PoolOptions {
  readonly workers: number;
  readonly state: string | undefined;
  readonly drainTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** A worker dying more often than this is not restarted again: the pool stops (exit 1). */
export const RESTART_LIMIT = { deaths: 5, withinMs: 60_000 } as const;

/** Why these options cannot run as a pool, or undefined. */
export function poolRefusal(options: Pick<PoolOptions, "workers" | "state">): string | undefined {
  if (options.workers > 1 && (options.state === undefined || !isRedisUrl(options.state))) {
    return `--workers ${options.workers} needs --state redis://HOST:PORT: the local state store has one owner, so workers share approvals, rate limits and budgets through Redis`;
  }
  return undefined;
}

export function runWorkerPool(config: CompiledConfig, options: PoolOptions): Promise<number> {
  const { log } = options;
  // The credentials leave this process's environment before any fork: a worker's environment stays
  // readable in /proc for its life, so each receives them over the IPC pipe instead.
  const credentials: Record<string, string> = {};
  for (const name of credentialNames(config.secrets)) {
    const value = process.env[name];
    delete process.env[name];
    if (value !== undefined && value !== "") credentials[name] = value;
  }
  const slots = new Map<number, Worker>();
  const listening = new Set<number>();
  const deaths: number[] = [];
  let ready = false;
  let draining = false;
  let failed = false;

  return new Promise<number>((resolve) => {
    const finishIfEmpty = () => {
      if (slots.size > 0) return;
      resolve(failed ? 1 : 0);
      setTimeout(() => process.exit(failed ? 1 : 0), 50).unref();
    };
    const stopAll = (signal: NodeJS.Signals) => {
      for (const worker of slots.values()) worker.process.kill(signal);
    };
    const cluster = process.getBuiltinModule("node:cluster") as unknown as Cluster;
    // fd 3 the cluster's IPC, fd 4 each worker's lifeline to this process (launcher-watch.ts), then the
    // descriptors the command line names, each at its own number (inherited-descriptors.ts).
    cluster.setupPrimary({ stdio: ["inherit", "inherit", "inherit", "ipc", LIFELINE_STDIO, ...handOnNamed(process.argv)] });
    const fork = (slot: number) => {
      const worker = cluster.fork({ [POOL_SLOT_ENV]: String(slot) });
      slots.set(slot, worker);
      worker.on("message", (message: PoolMessage) => {
        if (message?.type === "credentials?") return void worker.send({ type: "credentials", values: credentials } satisfies PoolMessage);
        if (message?.type !== "listening") return;
        listening.add(slot);
        if (!ready && listening.size === options.workers) {
          ready = true;
          const host = message.address.includes(":") ? `[${message.address}]` : message.address;
          log(`${options.workers} workers: ${[...slots.values()].map((w) => w.process.pid).join(", ")}`);
          process.stdout.write(`keyrunner listening on http://${host}:${message.port}\n`);
        }
      });
      worker.on("exit", (code, signal) => {
        if (slots.get(slot) === worker) slots.delete(slot);
        const served = listening.delete(slot);
        if (draining) {
          // A worker still starting when the drain began served nothing: the signal ending it is no failure.
          if (code !== 0 && served) failed = true;
          return finishIfEmpty();
        }
        const how = signal ?? `code ${code}`;
        if (!ready) {
          // A worker that cannot start (missing secrets, the audit held, Redis down) stops the start.
          log(`worker ${slot} exited (${how}) before listening; stopping`);
          failed = true;
          draining = true;
          stopAll("SIGTERM");
          return finishIfEmpty();
        }
        const now = Date.now();
        deaths.push(now);
        while (deaths.length > 0 && deaths[0]! < now - RESTART_LIMIT.withinMs) deaths.shift();
        if (deaths.length > RESTART_LIMIT.deaths) {
          log(`worker ${slot} exited (${how}); ${deaths.length} workers died within ${RESTART_LIMIT.withinMs / 1000} s, stopping`);
          failed = true;
          draining = true;
          stopAll("SIGTERM");
          return finishIfEmpty();
        }
        log(`worker ${slot} (pid ${worker.process.pid}) exited (${how}); starting a new one`);
        fork(slot);
      });
    };
    for (let slot = 1; slot <= options.workers; slot++) fork(slot);

    const drain = (signal: NodeJS.Signals) => {
      if (draining) return;
      draining = true;
      markDraining(Date.now() + options.drainTimeoutMs);
      // Each worker drains its own connections; past its deadline (and a margin) it is killed.
      stopAll(signal === "SIGINT" ? "SIGINT" : "SIGTERM");
      setTimeout(() => {
        failed = true;
        stopAll("SIGKILL");
      }, options.drainTimeoutMs + 5000).unref();
      finishIfEmpty();
    };
    process.once("SIGTERM", () => drain("SIGTERM"));
    process.once("SIGINT", () => drain("SIGINT"));
  });
}
