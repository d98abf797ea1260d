// What this process tells a starter that finds its locks held: its pid, and whether it is draining
// (and until when), so the starter can wait for a server that is shutting down instead of failing.

export interface HolderStatus {
  readonly pid: number;
  readonly draining: boolean;
  /** Milliseconds until the drain deadline, when draining. */
  readonly left_ms?: number;
}

let drainDeadline: number | undefined;

/** Marks this process as draining until `deadline` (epoch ms); every lock it holds says so. */
export function markDraining(deadline: number): void {
  drainDeadline = deadline;
}

export function holderStatus(): HolderStatus {
  return drainDeadline === undefined ? { pid: process.pid, draining: false } : { pid: process.pid, draining: true, left_ms: Math.max(0, drainDeadline - Date.now()) };
}
