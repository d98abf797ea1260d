// An append-only JSON Lines audit log. Records are chained in the order they are appended; writes are
// batched: every record appended while one durable write is in flight goes out in the next one, so
// durability does not serialise the server. `append` resolves only once the record is on disk; if
// the disk refuses, it rejects (and the caller denies: fail closed).

import { closeSync, constants, existsSync, fdatasync, fstatSync, ftruncateSync, openSync, readSync, statSync, write } from "node:fs";
import { promisify } from "node:util";
import { lockAuditFile, type AuditLock } from "./audit-lock.js";
import { chainHash, GENESIS, isoTime, maxSealedBytes, recordTextFrom, requestText, sealRecordInto, type AuditEntry, type AuditRecord, type RecordFields } from "./audit-record.js";

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

/**
 * With O_DSYNC a write returns once its data is on disk, so no separate fdatasync is needed — which also
 * keeps the log durable under Node's permission model, where fsync/fdatasync are disabled. Where the
 * platform has no O_DSYNC, each batch is followed by fdatasync.
 */
const DSYNC = (constants as { O_DSYNC?: number }).O_DSYNC;
export function openDurable(path: string, flags: number): number {
  return openSync(path, flags | (DSYNC ?? 0), 0o640);
}

/**
 * The end of a log, read backwards from its end (a start costs the same for a log of any size): its last
 * whole line, and the bytes up to and including that line's newline — anything after is a torn write.
 */
export function logTail(path: string): { lastLine: string | undefined; wholeBytes: number; size: number } {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    for (let window = Math.min(size, 64 * 1024); ; window = Math.min(size, window * 2)) {
      const start = size - window;
      const bytes = Buffer.alloc(window);
      readSync(fd, bytes, 0, window, start);
      const lastNewline = bytes.lastIndexOf(0x0a);
      // The last line's end, past any blank lines before the last newline.
      let end = lastNewline;
      while (end > 0 && bytes[end - 1] === 0x0a) end--;
      const previous = end <= 0 ? -1 : bytes.lastIndexOf(0x0a, end - 1);
      // Not one whole line in the window: look further back, unless the window is the whole file.
      if (previous === -1 && start > 0) continue;
      if (end <= 0) return { lastLine: undefined, wholeBytes: lastNewline + 1, size };
      return { lastLine: bytes.subarray(previous + 1, end).toString("utf8"), wholeBytes: start + lastNewline + 1, size };
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Resolves in the check phase of the event loop's current turn: after the I/O callbacks of its poll. A
 * group commit started there takes every change the requests read in that poll made (the audit's and
 * the local state store's journal).
 */
export const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The longest a record appended with `soon` waits for a write to join. */
const LAZY_FLUSH_MS = 10;

/**
 * How a record is written. `now`: its writer waits and nobody else is in flight, so the write starts
 * at once. `grouped`: its writer waits, but other requests are in flight; the write may wait up to the
 * commit delay for their records to join it (PostgreSQL's commit_delay with commit_siblings). `soon`:
 * nobody waits for it; it joins the next write, or starts one after LAZY_FLUSH_MS.
 */
export type Durability = "now" | "grouped" | "soon";

export interface AuditLogOptions {
  /**
   * Milliseconds a `grouped` record's write waits for others before it starts (0, the default: never
   * waits). Each durable write costs the kernel a journal commit (~0.1-0.25 ms of CPU on ext4 here);
   * fewer, larger writes cost less CPU per record, at the price of that much latency per request
   * (docs/performance.md has the measurements).
   */
  commitDelayMs?: number;
}
export const DEFAULT_COMMIT_DELAY_MS = 0;

/** A batch's buffer starts at this size and doubles as records need; one up to the cap is reused. */
const BATCH_BYTES = 64 * 1024;
const REUSED_BATCH_BYTES_MAX = 1024 * 1024;

/**
 * Records appended while a write is in flight: sealed straight into one buffer as UTF-8 (each record's
 * bytes encoded once, hashed where they lie), written together, settled together.
 */
class Batch {
  bytes: Buffer;
  length = 0;
  readonly done: Promise<void>;
  settle!: (error?: Error) => void;
  constructor(spare: Buffer | undefined) {
    this.bytes = spare ?? Buffer.allocUnsafe(BATCH_BYTES);
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = (error) => (error === undefined ? resolve() : reject(error));
    });
  }

  /** Seals a record at the end of the batch; returns its hash. */
  seal(text: string, key: string | undefined): string {
    const room = maxSealedBytes(text);
    if (this.length + room > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + room));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    const { hash, end } = sealRecordInto(text, key, this.bytes, this.length);
    this.length = end;
    return hash;
  }
}

export class AuditLog {
  #fd: number;
  #seq: number;
  #prev: string;
  #next: Batch | undefined;
  #flushing: Promise<void> | undefined;
  #lazyFlush: NodeJS.Timeout | undefined;
  #failed: Error | undefined;
  /** The buffer of the last batch written, for the next batch to fill. */
  #spare: Buffer | undefined;
  /** The next batch holds a `now` record: it is written without a commit delay. */
  #urgent = false;
  /** Ends a commit delay in progress (a `now` record arrived, or the log is closing). */
  #endDelay: (() => void) | undefined;
  /** The one-writer lock, when the log was opened with `acquire`; released by close(). */
  #lock: AuditLock | undefined;
  /** The file's size up to its last whole record: what a failed write is cut back to. */
  #wholeBytes: number;

  private constructor(
    readonly path: string,
    private readonly key: string | undefined,
    private readonly commitDelayMs: number,
    fd: number,
    seq: number,
    prev: string,
    wholeBytes: number,
  ) {
    this.#fd = fd;
    this.#seq = seq;
    this.#prev = prev;
    this.#wholeBytes = wholeBytes;
  }

  /** Why nothing can be appended (a failed write, or the log closed); undefined while it can. */
  get unavailable(): string | undefined {
    return this.#failed?.message;
  }

  /** Whether `grouped` records may wait for others (a commit delay is set). */
  get groupsWrites(): boolean {
    return this.commitDelayMs > 0;
  }

  /** Requests in flight, counted only while writes are grouped (nothing reads the count otherwise). */
  #inFlight = 0;

  /**
   * Runs one request's work. With a commit delay the log counts the requests in flight, so that a
   * decision record may wait briefly to share its durable write with theirs; without one it only runs it.
   */
  request<T>(work: () => Promise<T>): Promise<T> {
    if (!this.groupsWrites) return work();
    this.#inFlight++;
    return work().finally(() => this.#inFlight--);
  }

  /**
   * A request's record. Its decision is waited for: written at once, or grouped while other requests are
   * in flight. Its outcome follows the answer and nobody waits for it: it joins the next write.
   */
  appendRequestRecord(request: string, fields: RecordFields, role: "decision" | "outcome"): Promise<void> {
    return this.#append(request, fields, Date.now(), role === "outcome" ? "soon" : this.#inFlight > 1 ? "grouped" : "now");
  }

  /**
   * Takes the audit file's lock (waiting, bounded, for a server that is shutting down), then opens the
   * log: the tail is read only once no other process can append to it.
   */
  static async acquire(path: string, key: string | undefined, options: AuditLogOptions & { onWait?: (message: string) => void } = {}): Promise<AuditLog> {
    const lock = await lockAuditFile(path, options.onWait);
    try {
      const log = AuditLog.open(path, key, options);
      log.#lock = lock;
      return log;
    } catch (error) {
      await lock?.release();
      throw error;
    }
  }

  /** Opens (creating) the log; a torn last line from a crash is cut off, and the chain continues. */
  static open(path: string, key: string | undefined, options: AuditLogOptions = {}): AuditLog {
    let seq = 0;
    let prev = GENESIS;
    let wholeBytes = 0;
    // Only a regular file holds a chain to continue (a device such as /dev/full is written, never read).
    if (existsSync(path) && statSync(path).isFile()) {
      const tail = logTail(path);
      if (tail.lastLine !== undefined) {
        const record = JSON.parse(tail.lastLine) as AuditRecord;
        seq = record.seq;
        prev = record.hash;
      }
      wholeBytes = tail.wholeBytes;
      if (tail.wholeBytes !== tail.size) {
        const fd = openDurable(path, constants.O_RDWR);
        ftruncateSync(fd, tail.wholeBytes);
        closeSync(fd);
      }
    }
    return new AuditLog(path, key, options.commitDelayMs ?? DEFAULT_COMMIT_DELAY_MS, openDurable(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT), seq, prev, wholeBytes);
  }

  /**
   * Chains the entry now (so order is the call order) and resolves once it is durable. Every record of
   * one batch shares the batch's promise: one allocation per write, not per record.
   *
   * A record nobody waits for (`soon`: a request's outcome, after its answer) does not start a write of
   * its own: it goes out with the next write, or after LAZY_FLUSH_MS. Otherwise, with one client, each
   * outcome record's write would hold up the next request's decision record behind it.
   */
  append(entry: AuditEntry, time?: Date, when: Durability = "now"): Promise<void> {
    return this.#append(requestText(entry), entry, time === undefined ? Date.now() : time.getTime(), when);
  }

  #append(request: string, fields: RecordFields, ms: number, when: Durability): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    const seq = this.#seq + 1;
    const batch = (this.#next ??= this.#newBatch());
    this.#prev = batch.seal(recordTextFrom(seq, isoTime(ms), request, fields, this.#prev), this.key);
    this.#seq = seq;
    if (when === "now") {
      this.#urgent = true;
      this.#endDelay?.();
    }
    if (when !== "soon") this.#flushing ??= this.#flush();
    else this.#lazyFlush ??= setTimeout(() => {
      this.#lazyFlush = undefined;
      this.#flushing ??= this.#flush();
    }, LAZY_FLUSH_MS);
    return batch.done;
  }

  #newBatch(): Batch {
    const spare = this.#spare;
    this.#spare = undefined;
    return new Batch(spare);
  }

  /** Resolves after the commit delay, or as soon as a `now` record or close() ends it. */
  #commitDelay(): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.#endDelay = undefined;
        resolve();
      };
      const timer = setTimeout(end, this.commitDelayMs);
      this.#endDelay = end;
    });
  }

  async #flush(): Promise<void> {
    // Group commit: appends made while one write is in flight wait for the next one. Each write starts
    // at the end of the event loop's turn (setImmediate), once every request read in the same poll has
    // appended, and they share it: under load about 30 % fewer durable writes than starting after the
    // first request's microtasks (docs/performance.md), with no wait beyond the turn's own work. Without
    // a `now` record, a write then waits up to the commit delay for more.
    for (;;) {
      await endOfTurn();
      if (this.#next === undefined) break;
      if (!this.#urgent && this.groupsWrites) await this.#commitDelay();
      const batch = this.#next;
      this.#next = undefined;
      this.#urgent = false;
      try {
        const { bytes, length } = batch;
        let written = 0;
        while (written < length) written += (await writeAsync(this.#fd, bytes, written, length - written)).bytesWritten;
        if (DSYNC === undefined) await fdatasyncAsync(this.#fd);
        if (bytes.length <= REUSED_BATCH_BYTES_MAX) this.#spare = bytes;
        this.#wholeBytes += length;
        batch.settle();
      } catch (error) {
        // A partial write would break the chain: stop accepting records, fail closed from now on. What
        // the failed write left (a torn line, or whole records of requests now told 503, which never
        // ran) is cut off, so the file verifies and a restart continues its chain (a shrink needs no space).
        this.#failed = new Error(`audit log unavailable: ${(error as NodeJS.ErrnoException).code ?? "write failed"}`);
        try {
          ftruncateSync(this.#fd, this.#wholeBytes);
        } catch {
          // a device (/dev/full) has no size to cut back to
        }
        batch.settle(this.#failed);
        // Appends made during the failed write were batched behind it: they fail too.
        (this.#next as Batch | undefined)?.settle(this.#failed);
        this.#next = undefined;
      }
    }
    this.#flushing = undefined;
  }

  async close(): Promise<void> {
    // A record appended from now on is refused: a request arriving during shutdown does not execute.
    this.#failed ??= new Error("the audit log is closed");
    clearTimeout(this.#lazyFlush);
    this.#lazyFlush = undefined;
    this.#urgent = true;
    this.#endDelay?.();
    if (this.#next !== undefined) this.#flushing ??= this.#flush();
    await this.#flushing;
    if (this.#fd === -1) return;
    closeSync(this.#fd);
    this.#fd = -1;
    // Nothing is appended once the lock is released: another writer may own the chain by then.
    this.#failed ??= new Error("audit log closed");
    await this.#lock?.release();
    this.#lock = undefined;
  }
}
