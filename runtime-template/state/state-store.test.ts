// The state-store contract on the local store: reservations, windows, approvals and their statuses.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalStateStore } from "./local-state-store.js";
import { effectiveStatus, windowOf, type Approval } from "./state-store.js";

const approval: Approval = { id: "apr_1", agent: "a", tool: "t", rule: "r", binding: "b", input: {}, status: "pending", createdAt: 0, expiresAt: 60_000 };

describe("state semantics", () => {
  it("windows are fixed and aligned to the epoch", () => {
    expect(windowOf(3_599_999, 3600)).toEqual({ start: 0, end: 3_600_000 });
    expect(windowOf(3_600_000, 3600)).toEqual({ start: 3_600_000, end: 7_200_000 });
  });

  it.each([
    ["pending before expiry", "pending", 59_999, "pending"],
    ["pending at expiry", "pending", 60_000, "expired"],
    ["approved but unused at expiry", "approved", 60_000, "expired"],
    ["executed stays executed", "executed", 90_000, "executed"],
    ["denied stays denied", "denied", 90_000, "denied"],
  ] as const)("%s", (_name, status, now, expected) => {
    expect(effectiveStatus({ ...approval, status }, now)).toBe(expected);
  });

  it("a reservation is all or nothing, and a new window starts from zero", async () => {
    const store = await LocalStateStore.open(mkdtempSync(join(tmpdir(), "kr-state-unit-")));
    const limits = (amount: number) => [
      { key: "rate", amount: 1, max: 3, windowSeconds: 60 },
      { key: "budget", amount, max: 100, windowSeconds: 60 },
    ];
    expect(await store.reserve(limits(60), 1000)).toEqual({ ok: true });
    expect(await store.reserve(limits(60), 2000)).toEqual({ ok: false, index: 1, used: 60, retryAfterSeconds: 58 });
    expect(await store.reserve(limits(40), 3000)).toEqual({ ok: true });
    expect(await store.reserve(limits(1), 4000)).toEqual({ ok: false, index: 1, used: 100, retryAfterSeconds: 56 });
    expect(await store.reserve(limits(0), 4500)).toEqual({ ok: true });
    expect(await store.reserve(limits(0), 5000)).toEqual({ ok: false, index: 0, used: 3, retryAfterSeconds: 55 });
    expect(await store.reserve(limits(0), 60_000)).toEqual({ ok: true });
    await store.close();
  });
});
