// The live processes of this machine whose command line contains a marker, read from /proc.
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface LiveProcess {
  pid: number;
  ppid: number;
  pgid: number;
  cmdline: string;
}

export function processesWith(marker: string): LiveProcess[] {
  const found: LiveProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      if (!cmdline.includes(marker)) continue;
      // stat: pid (comm) state ppid pgrp …; comm may hold spaces, so read after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z" || state === "X") continue;
      found.push({ pid: Number(entry), ppid: Number(ppid), pgid: Number(pgid), cmdline });
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/** Waits until no live process carries `marker` (true), or `timeoutMs` passes (false). */
export async function noneLeft(marker: string, timeoutMs = 3000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (processesWith(marker).length > 0) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

/** A sleep duration no other process uses, so that `sleep <it>` marks this test's processes. */
export const uniqueSleep = (whole: number): string => `${whole}.${String(process.pid).padStart(7, "0")}${Math.floor(Math.random() * 1e6)}`;
