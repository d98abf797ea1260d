// The journalled local state store: replay, torn lines, rollback, limits, pruning, compaction.
import { appendFileSync, closeSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { APPROVAL_RETENTION_MS, LocalStateStore } from "./local-state-store.js";
import { ApprovalLimitReached, StateUnavailable, type Approval } from "./state-store.js";

const folder = () => mkdtempSync(join(tmpdir(), "kr-local-state-"));
const approval = (id: string, over: Partial<Approval> = {}): Approval => ({ id, agent: "a", tool: "t", rule: "r", binding: "b", input: { big: "x".repeat(100) }, status: "pending", createdAt: Date.now(), expiresAt: Date.now() + 3_600_000, ...over });
const limit = [{ key: "rate", amount: 1, max: 10, windowSeconds: 3600 }];

/** The journal's file descriptor in this process, found through /proc. */
function journalFd(dir: string): number {
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (/journal\.\d+\.jsonl$/.test(readlinkSync(`/proc/self/fd/${fd}`)) && readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) return Number(fd);
    } catch {
      // closed meanwhile
    }
  }
  throw new Error("no journal open");
}

describe("local state store", () => {
  it("a restart sees every change: approvals, transitions and counters, from the journal", async () => {
    const dir = folder();
    const store = await LocalStateStore.open(dir);
    await store.createApproval(approval("apr_1"));
    await store.transitionApproval("apr_1", ["pending"], "approved", { decidedBy: "alice", decidedAt: 2000 });
    expect(await store.reserve(limit, Date.now())).toEqual({ ok: true });
    await store.close();
    const again = await LocalStateStore.open(dir);
    expect(await again.getApproval("apr_1")).toMatchObject({ status: "approved", decidedBy: "alice", input: { big: "x".repeat(100) } });
    expect(await again.reserve([{ ...limit[0]!, max: 1 }], Date.now())).toMatchObject({ ok: false, used: 1 });
    await again.close();
  });

  it("a transition journals only what changed: the input is written once", async () => {
    const dir = folder();
    const store = await LocalStateStore.open(dir);
    await store.createApproval(approval("apr_1", { input: { marker: "only-once-marker" } }));
    await store.transitionApproval("apr_1", ["pending"], "approved", { decidedBy: "alice", decidedAt: 2000 });
    await store.transitionApproval("apr_1", ["approved"], "executed", { decidedAt: 2000 });
    const journal = readdirSync(dir).find((n) => n.startsWith("journal."))!;
    expect(readFileSync(join(dir, journal), "utf8").split("only-once-marker")).toHaveLength(2);
    await store.close();
  });

  it("a torn last line (a crash mid-write) is dropped on the next start", async () => {
    const dir = folder();
    const store = await LocalStateStore.open(dir);
    await store.createApproval(approval("apr_1"));
    const journal = join(dir, readdirSync(dir).find((n) => n.startsWith("journal."))!);
    await store.close();
    appendFileSync(journal, '{"op":"set","id":"apr_1","f":{"sta');
    const again = await LocalStateStore.open(dir);
    expect(await again.getApproval("apr_1")).toMatchObject({ status: "pending" });
    await again.close();
  });

  it("a write the disk refuses changes nothing in memory, and says the state is unavailable", async () => {
    const dir = folder();
    const store = await LocalStateStore.open(dir);
    await store.createApproval(approval("apr_1"));
    closeSync(journalFd(dir));
    await expect(store.createApproval(approval("apr_2"))).rejects.toBeInstanceOf(StateUnavailable);
    await expect(store.transitionApproval("apr_1", ["pending"], "approved")).rejects.toBeInstanceOf(StateUnavailable);
    await expect(store.reserve(limit, Date.now())).rejects.toBeInstanceOf(StateUnavailable);
    expect(await store.getApproval("apr_2")).toBeUndefined();
    expect(await store.getApproval("apr_1")).toMatchObject({ status: "pending" });
    await store.close();
  });

  it("changes made while a failing write is in flight are rolled back with it, newest first", async () => {
    const dir = folder();
    const store = await LocalStateStore.open(dir);
    await store.createApproval(approval("apr_1"));
    closeSync(journalFd(dir));
    const results = await Promise.allSettled([
      store.transitionApproval("apr_1", ["pending"], "approved"),
      store.transitionApproval("apr_1", ["approved"], "executed"),
      store.createApproval(approval("apr_2")),
      store.reserve(limit, Date.now()),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected", "rejected"]);
    expect(await store.getApproval("apr_1")).toMatchObject({ status: "pending" });
    expect(await store.getApproval("apr_2")).toBeUndefined();
    await store.close();
  });

  it("changes made by callbacks of one event-loop turn share one durable write, whatever ran between them", async () => {
    const store = await LocalStateStore.open(folder());
    // Two immediates queued together run in one check phase with a microtask checkpoint between them —
    // as two requests read in one poll are. A write that started after the first's microtasks would hold
    // only its change; the second's would need a write of its own, done no sooner than a later turn.
    // (Two 1 ms timers once stood here: on a loaded machine the second was not yet due when the first ran.)
    const [first, second] = await new Promise<Array<Promise<unknown>>>((resolve) => {
      const changes: Array<Promise<unknown>> = [];
      setImmediate(() => changes.push(store.reserve([{ ...limit[0]!, key: "one" }], Date.now())));
      setImmediate(() => resolve([...changes, store.reserve([{ ...limit[0]!, key: "two" }], Date.now())]));
    });
    let secondDone = false;
    void second!.then(() => (secondDone = true));
    await first;
    // Settled by the same write: the second is done within the turn in which the first was.
    await new Promise((r) => setImmediate(r));
    expect(secondDone).toBe(true);
    await store.close();
  });

  it("once closed (its lock released), the store refuses every write", async () => {
    const store = await LocalStateStore.open(folder());
    await store.createApproval(approval("apr_1"));
    await store.close();
    await expect(store.createApproval(approval("apr_2"))).rejects.toThrow("the state store is closed");
    await expect(store.transitionApproval("apr_1", ["pending"], "approved")).rejects.toBeInstanceOf(StateUnavailable);
    await expect(store.reserve(limit, Date.now())).rejects.toBeInstanceOf(StateUnavailable);
  });

  it("pending approvals are limited per agent; expired ones do not count", async () => {
    const store = await LocalStateStore.open(folder(), { maxPendingApprovals: 2 });
    await store.createApproval(approval("apr_1"));
    await store.createApproval(approval("apr_2", { expiresAt: Date.now() - 1 }));
    await store.createApproval(approval("apr_3"));
    await expect(store.createApproval(approval("apr_4"))).rejects.toBeInstanceOf(ApprovalLimitReached);
    await store.createApproval(approval("apr_5", { agent: "other" }));
    await store.transitionApproval("apr_1", ["pending"], "denied", { decidedAt: Date.now() });
    await store.createApproval(approval("apr_4"));
    await store.close();
  });

  it("expired and decided approvals are pruned after their retention; the snapshot drops them", async () => {
    const dir = folder();
    const old = Date.now() - APPROVAL_RETENTION_MS - 1000;
    const store = await LocalStateStore.open(dir);
    await store.createApproval(approval("apr_expired", { createdAt: old - 10, expiresAt: old }));
    await store.createApproval(approval("apr_used"));
    await store.transitionApproval("apr_used", ["pending"], "executed", { decidedAt: old });
    await store.createApproval(approval("apr_recent"));
    await store.transitionApproval("apr_recent", ["pending"], "denied", { decidedAt: Date.now() });
    await store.close();
    const again = await LocalStateStore.open(dir);
    expect((await again.listApprovals()).map((a) => a.id)).toEqual(["apr_recent"]);
    expect(readFileSync(join(dir, "snapshot.jsonl"), "utf8")).not.toContain("apr_used");
    await again.close();
  });

  it("the journal is folded into a snapshot once it outgrows it; a restart after that sees everything", async () => {
    const dir = folder();
    const store = await LocalStateStore.open(dir, { maxPendingApprovals: 10_000 });
    for (let i = 0; i < 300; i++) await store.createApproval(approval(`apr_${i}`, { input: { blob: "y".repeat(8000) } }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await store.transitionApproval("apr_299", ["pending"], "approved", { decidedAt: 5 });
    await store.close();
    expect(readdirSync(dir).filter((n) => n.startsWith("journal.")).length).toBeLessThanOrEqual(1);
    const again = await LocalStateStore.open(dir, { maxPendingApprovals: 10_000 });
    expect(await again.listApprovals()).toHaveLength(300);
    expect(await again.getApproval("apr_299")).toMatchObject({ status: "approved" });
    await again.close();
  });

  it("a second store on the same folder waits, then is refused with what to do", async () => {
    const dir = folder();
    const store = await LocalStateStore.open(dir);
    await expect(LocalStateStore.open(dir)).rejects.toThrow(/^the state folder .* is in use by a running keyrunner \(pid \d+\); give each server its own --state folder, or use --state redis:\/\//);
    await store.close();
  }, 10_000);
});
