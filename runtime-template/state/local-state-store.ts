// The embedded state store: a folder with a snapshot and an append-only journal. Each change appends one
// small durable line (its cost does not grow with the number of approvals), written off the event loop
// and grouped with the changes made meanwhile; the snapshot is rewritten from time to time, also off the
// event loop, with expired and decided approvals pruned. An approval's input is serialised once, when it
// is created. Each operation decides and changes memory synchronously (so it is atomic) and resolves once
// its line is durable; a write the disk refuses rolls back its change and every change made after it
// (they may build on it), and they all fail (closed). A kernel-held lock
// (`state.lock`, process/file-lock.ts) keeps a second process out of the folder (use Redis for several
// replicas), and once it is released — after close() — the store refuses every write.

import { closeSync, constants, existsSync, ftruncateSync, fstatSync, readdirSync, readFileSync, renameSync, rmSync, write, writeSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { endOfTurn, openDurable } from "../audit/audit-log.js";
import { FileLock, type AcquireOptions } from "../process/file-lock.js";
import { makeDirectory } from "../process/make-directory.js";
import { systemErrorText } from "../process/system-error-text.js";
import { ApprovalLimitReached, effectiveStatus, StateUnavailable, windowOf, type Approval, type ApprovalStatus, type Reservation, type ReserveResult, type StateStore } from "./state-store.js";

const writeAsync = promisify(write);

/** Pending approvals an agent may have at once unless configured (`serve --max-pending-approvals`). */
export const DEFAULT_MAX_PENDING_APPROVALS = 100;
/** How long an approval stays readable after it expired or was decided, before it is pruned. */
export const APPROVAL_RETENTION_MS = 60 * 60 * 1000;
/** The journal is folded into a new snapshot once it outgrows the snapshot (and at least this much). */
const COMPACT_MIN_BYTES = 1024 * 1024;
const PRUNE_EVERY_MS = 60 * 1000;
const SNAPSHOT = "snapshot.jsonl";
const LEGACY_SNAPSHOT = "state.json";
const journalName = (generation: number) => `journal.${generation}.jsonl`;

export interface LocalStateOptions {
  /** Pending approvals per agent; a request past it is refused (default DEFAULT_MAX_PENDING_APPROVALS). */
  maxPendingApprovals?: number;
  /** Told when the start waits for another server's lock. */
  onWait?: AcquireOptions["onWait"];
}

type Meta = Omit<Approval, "input">;
interface Stored {
  meta: Meta;
  /** Serialised once per change of the approval's status (small), for the snapshot. */
  metaText: string;
  input: unknown;
  /** Serialised once, when the approval is created. */
  inputText: string;
}
/** Journal lines waiting for one write, with how to undo each change should the write fail. */
class Batch {
  readonly lines: string[] = [];
  readonly undo: Array<() => void> = [];
  readonly done: Promise<void>;
  settle!: (error?: Error) => void;
  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = (error) => (error === undefined ? resolve() : reject(error));
    });
  }
}

interface Counter {
  windowStart: number;
  windowEnd: number;
  used: number;
}

export class LocalStateStore implements StateStore {
  readonly #approvals = new Map<string, Stored>();
  readonly #counters = new Map<string, Counter>();
  /** Ids of approvals each agent has pending (or pending once: expired ones are dropped when counted). */
  readonly #pendingByAgent = new Map<string, Set<string>>();
  readonly #maxPending: number;
  #lock: FileLock | undefined;
  #generation = 0;
  #fd = -1;
  #journalBytes = 0;
  #snapshotBytes = 0;
  #compacting: Promise<void> | undefined;
  /** Changes made while a write is in flight: written together next. */
  #next: Batch | undefined;
  #writing: Promise<void> | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(
    readonly dir: string,
    options: LocalStateOptions,
  ) {
    this.#maxPending = options.maxPendingApprovals ?? DEFAULT_MAX_PENDING_APPROVALS;
  }

  /** Takes the folder's lock (waiting, bounded, for a server that is shutting down), then loads it. */
  static async open(dir: string, options: LocalStateOptions = {}): Promise<LocalStateStore> {
    // Under the permission model a recursive mkdir would check the parents too: the launcher made it.
    if (!existsSync(dir)) makeDirectory(dir);
    const lock = await FileLock.acquire(join(dir, "state.lock"), {
      what: `state folder ${dir}`,
      hint: "give each server its own --state folder, or use --state redis://… to share state between replicas",
      ...(options.onWait ? { onWait: options.onWait } : {}),
    });
    const store = new LocalStateStore(dir, options);
    try {
      store.#load(Date.now());
    } catch (error) {
      await lock.release();
      throw error instanceof StateUnavailable ? error : new StateUnavailable(`cannot read the state in ${dir}: ${systemErrorText(error)}`);
    }
    store.#lock = lock;
    store.#pruneTimer = setInterval(() => store.#prune(Date.now()), PRUNE_EVERY_MS).unref();
    return store;
  }

  // --- loading -------------------------------------------------------------------------------------

  #load(nowMs: number): void {
    const snapshot = join(this.dir, SNAPSHOT);
    const journals = readdirSync(this.dir)
      .map((name) => /^journal\.(\d+)\.jsonl$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    if (existsSync(snapshot)) {
      const text = readFileSync(snapshot, "utf8");
      this.#snapshotBytes = Buffer.byteLength(text);
      const lines = text.split("\n").filter((l) => l !== "");
      const header = JSON.parse(lines[0] ?? "{}") as { v?: number; generation?: number; counters?: Record<string, Counter> };
      this.#generation = header.generation ?? 0;
      for (const [key, counter] of Object.entries(header.counters ?? {})) this.#counters.set(key, counter);
      for (const line of lines.slice(1)) this.#applyLine(line);
    } else if (existsSync(join(this.dir, LEGACY_SNAPSHOT))) {
      // The store's first format: one JSON file rewritten on every change.
      const legacy = JSON.parse(readFileSync(join(this.dir, LEGACY_SNAPSHOT), "utf8")) as { counters?: Record<string, { windowStart: number; used: number }>; approvals?: Record<string, Approval> };
      for (const [key, c] of Object.entries(legacy.counters ?? {})) this.#counters.set(key, { ...c, windowEnd: c.windowStart + 24 * 3600 * 1000 });
      for (const approval of Object.values(legacy.approvals ?? {})) this.#put(approval, JSON.stringify(approval.input ?? null));
    }
    // Journals older than the snapshot are already folded into it (a crash before their removal).
    for (const generation of journals) {
      if (generation < this.#generation) continue;
      const text = readFileSync(join(this.dir, journalName(generation)), "utf8");
      for (const line of text.split("\n")) {
        if (line === "") continue;
        // A torn last line is a write that never completed: it was never acknowledged.
        try {
          this.#applyLine(line);
        } catch {
          break;
        }
      }
    }
    this.#prune(nowMs);
    // A fresh generation on every start: the snapshot holds everything loaded, and old files go.
    this.#generation = Math.max(this.#generation, ...journals, 0) + 1;
    this.#openJournal();
    this.#writeSnapshotSync();
    for (const generation of journals) rmSync(join(this.dir, journalName(generation)), { force: true });
    rmSync(join(this.dir, LEGACY_SNAPSHOT), { force: true });
  }

  /** One line of the snapshot or the journal, applied to memory. */
  #applyLine(line: string): void {
    const entry = JSON.parse(line) as { op?: string; a?: Meta; input?: unknown; id?: string; f?: Partial<Meta>; c?: Array<[string, number, number, number]> };
    if (entry.a !== undefined) {
      // An approval (snapshot line, or journal `create`): its input text is kept as it was written.
      const inputText = JSON.stringify(entry.input ?? null);
      this.#put({ ...entry.a, input: entry.input }, inputText);
    } else if (entry.op === "set" && entry.id !== undefined) {
      const current = this.#approvals.get(entry.id);
      if (current !== undefined) this.#replaceMeta(current, { ...current.meta, ...entry.f });
    } else if (entry.op === "counters") {
      for (const [key, windowStart, windowEnd, used] of entry.c ?? []) this.#counters.set(key, { windowStart, windowEnd, used });
    }
  }

  #put(approval: Approval, inputText: string): Stored {
    const { input, ...meta } = approval;
    const stored: Stored = { meta, metaText: JSON.stringify(meta), input, inputText };
    this.#approvals.set(meta.id, stored);
    this.#indexPending(stored);
    return stored;
  }

  #replaceMeta(stored: Stored, meta: Meta): void {
    stored.meta = meta;
    stored.metaText = JSON.stringify(meta);
    this.#indexPending(stored);
  }

  #indexPending(stored: Stored): void {
    const { agent, id, status } = stored.meta;
    let ids = this.#pendingByAgent.get(agent);
    if (status === "pending") {
      if (ids === undefined) this.#pendingByAgent.set(agent, (ids = new Set()));
      ids.add(id);
    } else ids?.delete(id);
  }

  // --- writing -------------------------------------------------------------------------------------

  #openJournal(): void {
    const fd = openDurable(join(this.dir, journalName(this.#generation)), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT);
    if (this.#fd !== -1) closeSync(this.#fd);
    this.#fd = fd;
    this.#journalBytes = fstatSync(fd).size;
  }

  /**
   * Queues one journal line for the change just made in memory; resolves once it is durable (O_DSYNC).
   * The write happens off the event loop, together with every change made while the previous one was in
   * flight. A failed or short write is cut off again, so the journal never holds half a line before a
   * whole one.
   */
  #commit(line: string, undo: () => void): Promise<void> {
    const batch = (this.#next ??= new Batch());
    batch.lines.push(line);
    batch.undo.push(undo);
    this.#writing ??= this.#flush();
    return batch.done;
  }

  async #flush(): Promise<void> {
    // Changes made in the same turn of the event loop share the write: it starts in the turn's check
    // phase, once every request read in the same poll has made its change (as the audit's group commit).
    for (;;) {
      await endOfTurn();
      if (this.#next === undefined) break;
      const batch = this.#next;
      this.#next = undefined;
      const bytes = Buffer.from(`${batch.lines.join("\n")}\n`, "utf8");
      try {
        let written = 0;
        while (written < bytes.length) written += (await writeAsync(this.#fd, bytes, written, bytes.length - written)).bytesWritten;
        this.#journalBytes += bytes.length;
        batch.settle();
      } catch (error) {
        try {
          ftruncateSync(this.#fd, this.#journalBytes);
        } catch {
          // The next write fails the same way, or the start cuts the torn line off.
        }
        // Changes queued meanwhile may build on this batch's: undo them too, newest first.
        const later = this.#next as Batch | undefined;
        this.#next = undefined;
        for (const undo of [...(later?.undo ?? []), ...batch.undo].reverse()) undo();
        const failed = new StateUnavailable(`cannot write the state in ${this.dir}: ${systemErrorText(error)}`);
        batch.settle(failed);
        later?.settle(failed);
      }
    }
    this.#writing = undefined;
    // Only between writes: the snapshot then holds durable changes only.
    if (!this.#closed && this.#journalBytes > Math.max(COMPACT_MIN_BYTES, this.#snapshotBytes)) this.#compacting ??= this.#compact();
  }

  #refuseIfClosed(): void {
    if (this.#closed) throw new StateUnavailable("the state store is closed");
  }

  /** The snapshot as of now: its header, and references to each approval's text, already serialised. */
  #snapshotParts(): { header: string; approvals: Array<[string, string]> } {
    const counters: Record<string, Counter> = {};
    for (const [key, counter] of this.#counters) counters[key] = counter;
    const approvals: Array<[string, string]> = [];
    for (const stored of this.#approvals.values()) approvals.push([stored.metaText, stored.inputText]);
    return { header: JSON.stringify({ v: 2, generation: this.#generation, counters }), approvals };
  }

  #writeSnapshotSync(): void {
    const temp = join(this.dir, `${SNAPSHOT}.tmp`);
    const { header, approvals } = this.#snapshotParts();
    const text = `${[header, ...approvals.map(([meta, input]) => `{"a":${meta},"input":${input}}`)].join("\n")}\n`;
    const fd = openDurable(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, join(this.dir, SNAPSHOT));
    this.#snapshotBytes = Buffer.byteLength(text);
  }

  /**
   * Starts a new journal, then writes the state as of that instant to a new snapshot in chunks, off the
   * event loop. Until the rename, a crash leaves the old snapshot and both journals: the start replays them.
   */
  async #compact(): Promise<void> {
    if (this.#closed) return void (this.#compacting = undefined);
    try {
      this.#prune(Date.now());
      this.#generation++;
      this.#openJournal();
      const { header, approvals } = this.#snapshotParts();
      const temp = join(this.dir, `${SNAPSHOT}.tmp`);
      const fd = openDurable(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
      let bytes = 0;
      try {
        // About a megabyte of lines per write: each turn of the event loop does a little of it.
        const CHUNK = 1024 * 1024;
        const lines = approvals.length;
        for (let i = -1; i < lines; ) {
          const parts: string[] = [];
          let size = 0;
          if (i === -1) {
            parts.push(header);
            i = 0;
          }
          while (i < lines && size < CHUNK) {
            const [meta, input] = approvals[i]!;
            parts.push(`{"a":${meta},"input":${input}}`);
            size += meta.length + input.length + 16;
            i++;
          }
          const chunk = Buffer.from(`${parts.join("\n")}\n`, "utf8");
          let written = 0;
          while (written < chunk.length) written += (await writeAsync(fd, chunk, written, chunk.length - written)).bytesWritten;
          bytes += chunk.length;
        }
      } finally {
        closeSync(fd);
      }
      renameSync(temp, join(this.dir, SNAPSHOT));
      this.#snapshotBytes = bytes;
      rmSync(join(this.dir, journalName(this.#generation - 1)), { force: true });
    } catch {
      // The journal still holds everything; the next change tries again.
    } finally {
      this.#compacting = undefined;
    }
  }

  /** Forgets approvals past their retention and counters whose window ended (the snapshot drops them). */
  #prune(nowMs: number): void {
    for (const [id, stored] of this.#approvals) {
      const status = effectiveStatus(stored.meta as Approval, nowMs);
      const settled = status === "expired" ? stored.meta.expiresAt : status === "executed" || status === "denied" ? (stored.meta.decidedAt ?? stored.meta.createdAt) : undefined;
      if (settled !== undefined && nowMs - settled >= APPROVAL_RETENTION_MS) {
        this.#approvals.delete(id);
        this.#pendingByAgent.get(stored.meta.agent)?.delete(id);
      }
    }
    for (const [key, counter] of this.#counters) if (counter.windowEnd <= nowMs) this.#counters.delete(key);
  }

  // --- the store -----------------------------------------------------------------------------------

  async reserve(reservations: readonly Reservation[], nowMs: number): Promise<ReserveResult> {
    const updates: Array<[string, Counter]> = [];
    for (const [index, r] of reservations.entries()) {
      const window = windowOf(nowMs, r.windowSeconds);
      const current = this.#counters.get(r.key);
      const used = current !== undefined && current.windowStart === window.start ? current.used : 0;
      if (used + r.amount > r.max) return { ok: false, index, used, retryAfterSeconds: Math.max(1, Math.ceil((window.end - nowMs) / 1000)) };
      updates.push([r.key, { windowStart: window.start, windowEnd: window.end, used: used + r.amount }]);
    }
    this.#refuseIfClosed();
    const before = updates.map(([key]) => [key, this.#counters.get(key)] as const);
    for (const [key, value] of updates) this.#counters.set(key, value);
    await this.#commit(JSON.stringify({ op: "counters", c: updates.map(([key, c]) => [key, c.windowStart, c.windowEnd, c.used]) }), () => {
      for (const [key, value] of before) value === undefined ? this.#counters.delete(key) : this.#counters.set(key, value);
    });
    return { ok: true };
  }

  async createApproval(approval: Approval): Promise<void> {
    const pending = this.#pendingByAgent.get(approval.agent);
    if (pending !== undefined && pending.size >= this.#maxPending) {
      // Expired ones do not count; drop them from the index before judging.
      for (const id of pending) {
        const stored = this.#approvals.get(id);
        if (stored === undefined || effectiveStatus(stored.meta as Approval, approval.createdAt) !== "pending") pending.delete(id);
      }
      if (pending.size >= this.#maxPending) throw new ApprovalLimitReached(this.#maxPending);
    }
    this.#refuseIfClosed();
    const { input, ...meta } = approval;
    const inputText = JSON.stringify(input ?? null);
    const metaText = JSON.stringify(meta);
    const stored: Stored = { meta, metaText, input, inputText };
    this.#approvals.set(meta.id, stored);
    this.#indexPending(stored);
    await this.#commit(`{"a":${metaText},"input":${inputText}}`, () => {
      this.#approvals.delete(meta.id);
      this.#pendingByAgent.get(meta.agent)?.delete(meta.id);
    });
  }

  async getApproval(id: string): Promise<Approval | undefined> {
    const stored = this.#approvals.get(id);
    return stored === undefined ? undefined : { ...stored.meta, input: stored.input };
  }

  async transitionApproval(id: string, from: readonly ApprovalStatus[], to: ApprovalStatus, fields: Partial<Approval> = {}): Promise<Approval | undefined> {
    const stored = this.#approvals.get(id);
    if (stored === undefined || !from.includes(stored.meta.status)) return undefined;
    const { input: _input, id: _id, ...changes } = fields;
    this.#refuseIfClosed();
    const f = { ...changes, status: to };
    const before = stored.meta;
    this.#replaceMeta(stored, { ...stored.meta, ...f });
    const after = { ...stored.meta, input: stored.input };
    // Only the changed fields are journalled: the input stays where it was written once.
    await this.#commit(JSON.stringify({ op: "set", id, f }), () => this.#replaceMeta(stored, before));
    return after;
  }

  async listApprovals(): Promise<Approval[]> {
    return [...this.#approvals.values()].map((s) => ({ ...s.meta, input: s.input }));
  }

  /** Finishes a snapshot in progress, then releases the lock; every later write is refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pruneTimer);
    await this.#writing;
    await this.#compacting;
    try {
      if (this.#fd !== -1) closeSync(this.#fd);
    } catch {
      // Already unusable: every write since has been refused.
    }
    this.#fd = -1;
    await this.#lock?.release();
    this.#lock = undefined;
  }
}
