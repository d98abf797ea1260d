// One worker of `serve --workers N` (Node cluster): its own audit file, the credentials received from the
// primary over the cluster's IPC pipe (never its environment, readable in /proc), its ready line told to
// the primary instead of printed, and death with the primary (its lifeline, launcher-watch.ts).

import type { Cluster } from "node:cluster";
import { extname } from "node:path";
import { watchLifeline } from "./launcher-watch.js";

/** Names the worker's slot (1…N) to it; a restarted worker takes the slot, and so the audit file, of the one it replaces. */
export const POOL_SLOT_ENV = "KEYRUNNER_POOL_SLOT";

/** Whether this process is a worker of a pool (then its primary owns the port and the lifecycle). */
export function isPoolWorker(): boolean {
  // node:cluster is loaded only where the slot says this may be a worker (it costs a start without workers).
  return process.env[POOL_SLOT_ENV] !== undefined && (process.getBuiltinModule("node:cluster") as unknown as Cluster).isWorker;
}

export function poolSlot(): number {
  return Number(process.env[POOL_SLOT_ENV]);
}

/**
 * The audit file of slot N: `audit.jsonl` → `audit.worker-N.jsonl`. Each worker owns one file and one
 * hash chain (one writer per file, as the audit lock demands), verified on its own.
 */
export function poolAuditFile(audit: string, slot: number): string {
  const ext = extname(audit);
  return `${audit.slice(0, audit.length - ext.length)}.worker-${slot}${ext}`;
}

export type PoolMessage = { type: "credentials?" } | { type: "credentials"; values: Record<string, string> } | { type: "listening"; address: string; port: number };

/**
 * Asks the primary for the credentials and puts them where loading the secrets takes them from (asked,
 * not pushed: a message sent before this process listens for it would be lost).
 */
export function receiveCredentials(): Promise<void> {
  watchLifeline();
  return new Promise((resolve) => {
    const take = (message: PoolMessage) => {
      if (message?.type !== "credentials") return;
      process.off("message", take);
      for (const [name, value] of Object.entries(message.values)) if (typeof value === "string") process.env[name] = value;
      resolve();
    };
    process.on("message", take);
    process.send?.({ type: "credentials?" } satisfies PoolMessage);
  });
}

/** Tells the primary this worker listens (the primary prints the one ready line once every worker does). */
export function announceListening(address: string, port: number): void {
  process.send?.({ type: "listening", address, port } satisfies PoolMessage);
}
