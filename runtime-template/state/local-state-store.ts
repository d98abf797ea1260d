// The embedded state store: one JSON file in a directory, rewritten atomically (a durable write of a
// temp file, then rename) on every change, so pending approvals and counters survive a restart. Operations run
// synchronously inside one process, which makes each of them atomic; a lock file keeps a second
// process from sharing the directory (use Redis for several replicas).

import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { openDurable } from "../audit/audit-log.js";
import { join } from "node:path";
import { StateUnavailable, windowOf, type Approval, type ApprovalStatus, type Reservation, type ReserveResult, type StateStore } from "./state-store.js";

interface Snapshot {
  counters: Record<string, { windowStart: number; used: number }>;
  approvals: Record<string, Approval>;
}

export class LocalStateStore implements StateStore {
  #state: Snapshot;
  readonly #file: string;
  readonly #lock: string;

  constructor(readonly dir: string) {
    // Under the permission model a recursive mkdir would check the parents too: the launcher made it.
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    this.#file = join(dir, "state.json");
    this.#lock = join(dir, "state.lock");
    try {
      const fd = openSync(this.#lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
    } catch {
      const holder = Number(readFileSync(this.#lock, "utf8"));
      if (holder && holder !== process.pid && processAlive(holder)) {
        throw new StateUnavailable(`state directory ${dir} is in use by process ${holder}; use --state redis://… to share state between replicas`);
      }
      writeFileSync(this.#lock, String(process.pid));
    }
    this.#state = existsSync(this.#file) ? (JSON.parse(readFileSync(this.#file, "utf8")) as Snapshot) : { counters: {}, approvals: {} };
  }

  #persist(): void {
    const temp = `${this.#file}.${process.pid}.tmp`;
    try {
      const fd = openDurable(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
      writeSync(fd, JSON.stringify(this.#state));
      closeSync(fd);
      renameSync(temp, this.#file);
    } catch (error) {
      throw new StateUnavailable(`cannot write ${this.#file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
    }
  }

  async reserve(reservations: readonly Reservation[], nowMs: number): Promise<ReserveResult> {
    const updates: Array<[string, { windowStart: number; used: number }]> = [];
    for (const [index, r] of reservations.entries()) {
      const window = windowOf(nowMs, r.windowSeconds);
      const current = this.#state.counters[r.key];
      const used = current !== undefined && current.windowStart === window.start ? current.used : 0;
      if (used + r.amount > r.max) return { ok: false, index, used, retryAfterSeconds: Math.max(1, Math.ceil((window.end - nowMs) / 1000)) };
      updates.push([r.key, { windowStart: window.start, used: used + r.amount }]);
    }
    const before = { ...this.#state.counters };
    for (const [key, value] of updates) this.#state.counters[key] = value;
    try {
      this.#persist();
    } catch (error) {
      this.#state.counters = before;
      throw error;
    }
    return { ok: true };
  }

  async createApproval(approval: Approval): Promise<void> {
    this.#state.approvals[approval.id] = approval;
    this.#persist();
  }

  async getApproval(id: string): Promise<Approval | undefined> {
    return Object.hasOwn(this.#state.approvals, id) ? { ...this.#state.approvals[id]! } : undefined;
  }

  async transitionApproval(id: string, from: readonly ApprovalStatus[], to: ApprovalStatus, fields: Partial<Approval> = {}): Promise<Approval | undefined> {
    const current = Object.hasOwn(this.#state.approvals, id) ? this.#state.approvals[id] : undefined;
    if (current === undefined || !from.includes(current.status)) return undefined;
    const next = { ...current, ...fields, status: to };
    this.#state.approvals[id] = next;
    try {
      this.#persist();
    } catch (error) {
      this.#state.approvals[id] = current;
      throw error;
    }
    return { ...next };
  }

  async listApprovals(): Promise<Approval[]> {
    return Object.values(this.#state.approvals).map((a) => ({ ...a }));
  }

  async close(): Promise<void> {
    rmSync(this.#lock, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
