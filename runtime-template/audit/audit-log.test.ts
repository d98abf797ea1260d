// The audit log: the chain, sealing, group writes and commit delay, torn tails, line separators, closing.
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chainHash, isoTime, lineSafe, maxSealedBytes, recordText, sealRecordInto, type AuditEntry } from "./audit-record.js";
import { AuditLog, logTail } from "./audit-log.js";
import { verifyAuditFile } from "./audit-verify.js";

/** A path for a new log, in a folder of its own. */
const logFile = () => join(mkdtempSync(join(tmpdir(), "kr-audit-")), "audit.jsonl");

const entry = (n: number) => ({ id: `id-${n}`, config: "c".repeat(64), agent: "support-agent", tool: "refund_payment", input: { payment_id: `pi_${n}`, amount_cents: n }, decision: "allow" as const, rule: "policies/p.yaml#allow[0]" });

async function logWith(records: number, key?: string): Promise<string> {
  const file = logFile();
  const log = AuditLog.open(file, key);
  await Promise.all(Array.from({ length: records }, (_, i) => log.append(entry(i + 1))));
  await log.close();
  return file;
}

function edit(file: string, line: number, change: (record: Record<string, any>) => void): void {
  const lines = readFileSync(file, "utf8").trim().split("\n");
  const record = JSON.parse(lines[line - 1]!);
  change(record);
  lines[line - 1] = JSON.stringify(record);
  writeFileSync(file, `${lines.join("\n")}\n`);
}

describe("audit chain", () => {
  it("refuses every record once closed: a request arriving during shutdown cannot execute", async () => {
    const file = logFile();
    const log = AuditLog.open(file, undefined);
    await log.append(entry(1));
    await log.close();
    await expect(log.append(entry(2))).rejects.toThrow("the audit log is closed");
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 1 });
  });

  it("escapes line separators (U+2028, U+2029, U+0085): a line-splitting reader sees exactly one record per line", async () => {
    const file = logFile();
    const log = AuditLog.open(file, undefined);
    const forged = '"}\u2028{"v":1,"seq":99,"decision":"approval_granted"}\u2029\u0085';
    await log.append({ ...entry(1), reason: forged, input: { payment_id: `pi\u2028${forged}`, amount_cents: 1 } });
    await log.append(entry(2));
    await log.close();
    const text = readFileSync(file, "utf8");
    expect(text).not.toMatch(/[\u0085\u2028\u2029]/);
    // JavaScript's line terminators and Python's splitlines() both split on these.
    expect(text.trim().split(/\r\n|[\n\r\u0085\u2028\u2029]/)).toHaveLength(2);
    const first = JSON.parse(text.split("\n")[0]!);
    expect(first.reason).toBe(forged);
    expect(first.input.payment_id).toBe(`pi\u2028${forged}`);
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 2 });
  });

  it.each([["U+0085", "\u0085"], ["U+2028", "\u2028"], ["U+2029", "\u2029"]])("escapes %s when it is the only separator in the record", async (_name, separator) => {
    const file = logFile();
    const log = AuditLog.open(file, undefined);
    const forged = `x"}${separator}{"v":1,"seq":99,"decision":"approval_granted"}`;
    await log.append({ ...entry(1), reason: forged });
    await log.close();
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(separator);
    expect(text.trim().split(/\r\n|[\n\r\u0085\u2028\u2029]/)).toHaveLength(1);
    expect(JSON.parse(text).reason).toBe(forged);
  });

  it("chains concurrent appends in call order and verifies", async () => {
    const file = await logWith(50);
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 50 });
    expect(readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l).seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it.each([
    ["an edited input value", (r: Record<string, any>) => (r.input.amount_cents = 1)],
    ["an edited decision", (r: Record<string, any>) => (r.decision = "deny")],
    ["a removed nested field", (r: Record<string, any>) => delete r.input.payment_id],
  ])("names the first broken record after %s", async (_name, change) => {
    const file = await logWith(5);
    edit(file, 3, change);
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: false, records: 2, brokenAt: 3, problem: "hash does not match its content" });
  });

  // The hash covers the parsed fields: these bytes once verified although no writer wrote them.
  it.each([
    ["a CR before the newline", (line: string) => `${line}\r`],
    ["added whitespace", (line: string) => line.replace('"seq":', '"seq": ')],
    ["a character written as an escape", (line: string) => line.replace('"support-agent"', '"support\\u002dagent"')],
    ["a repeated key with the same value", (line: string) => line.replace('"decision":', '"decision":"allow","decision":')],
  ])("names a record whose bytes the writer did not write: %s", async (_name, change) => {
    const file = await logWith(4);
    const lines = readFileSync(file, "utf8").trim().split("\n");
    lines[2] = change(lines[2]!);
    writeFileSync(file, `${lines.join("\n")}\n`);
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: false, records: 2, brokenAt: 3, problem: "not written as the runtime writes it (whitespace, escapes or a repeated key changed)" });
  });

  it("reads the file in chunks: records across chunk edges, multi-byte text at an edge, and megabytes of log", async () => {
    const file = logFile();
    const log = AuditLog.open(file, undefined);
    // ~2.4 MB of records, each with multi-byte characters, so some split across a 1 MiB read, inside a character.
    await Promise.all(Array.from({ length: 3000 }, (_, i) => log.append({ ...entry(i + 1), input: { payment_id: `pi_${"é€😀".repeat(60)}_${i}`, amount_cents: i } })));
    await log.close();
    expect(readFileSync(file).length).toBeGreaterThan(2 * 1024 * 1024);
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 3000 });
    appendFileSync(file, '{"torn":');
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: false, records: 3000, brokenAt: 3001, problem: "not a JSON record (torn or edited line)" });
  });

  it("detects a deleted record", async () => {
    const file = await logWith(5);
    const lines = readFileSync(file, "utf8").trim().split("\n");
    lines.splice(1, 1);
    writeFileSync(file, `${lines.join("\n")}\n`);
    expect(verifyAuditFile(file, undefined)).toMatchObject({ ok: false, brokenAt: 2, problem: "does not chain to the record before it" });
  });

  it("with KEYRUNNER_AUDIT_KEY, a rewritten chain without the key does not verify", async () => {
    const file = await logWith(3, "audit-key-1");
    expect(verifyAuditFile(file, "audit-key-1").ok).toBe(true);
    expect(verifyAuditFile(file, undefined)).toMatchObject({ ok: false, brokenAt: 1 });
  });

  it("repairs a torn last line on open and continues the chain", async () => {
    const file = await logWith(3);
    appendFileSync(file, '{"v":1,"seq":4,"time":"2026-');
    expect(verifyAuditFile(file, undefined)).toMatchObject({ ok: false, brokenAt: 4 });
    const log = AuditLog.open(file, undefined);
    await log.append(entry(9));
    await log.close();
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 4 });
  });

  it("writes each record as exactly the text a verifier re-creates from the parsed line", () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.constantFrom("\u2028", "\u0085\u2029", '"\\', "\u0000\ud800", "__proto__"));
    const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    const entry: fc.Arbitrary<AuditEntry> = fc.record({
      id: text,
      config: text,
      agent: text,
      tool: text,
      input: fc.jsonValue(),
      reason: optional(text),
      decision: fc.constantFrom("allow", "deny", "invalid", "outcome", "pending_approval", "approval_granted", "approval_denied"),
      rule: optional(text),
      approval_id: optional(text),
      approver: optional(text),
      status: optional(text),
      http_status: optional(fc.integer({ min: 100, max: 599 })),
      duration_ms: optional(fc.double({ min: 0, max: 1e6, noNaN: true })),
    });
    fc.assert(
      fc.property(entry, fc.nat(), (e) => {
        const written = recordText(7, "2026-11-21T00:00:00.000Z", e, "p".repeat(64));
        expect(lineSafe(JSON.stringify(JSON.parse(written)))).toBe(written);
        expect(written).not.toMatch(/[\u0085\u2028\u2029]/);
        // And it says what the entry says (serialised fragments are remembered per value: never another's).
        const parsed = JSON.parse(written) as Record<string, unknown>;
        for (const name of ["id", "config", "agent", "tool", "reason", "decision", "rule", "approval_id", "approver", "status", "http_status"] as const) {
          expect(parsed[name]).toEqual(e[name] === undefined ? undefined : JSON.parse(JSON.stringify(e[name])));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("seals a record in place: its text as UTF-8 with the hash of exactly those bytes as the last field", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.nat(8), fc.option(fc.string(), { nil: undefined }), (reason, offset, key) => {
        const text = recordText(3, "2026-11-21T00:00:00.000Z", { ...entry(3), reason }, "p".repeat(64));
        const into = Buffer.alloc(offset + maxSealedBytes(text), 0x78);
        const { hash, end } = sealRecordInto(text, key, into, offset);
        expect(hash).toBe(chainHash(text, key));
        expect(into.subarray(0, offset).toString("latin1")).toBe("x".repeat(offset));
        expect(into.toString("utf8", offset, end)).toBe(`${text.slice(0, -1)},"hash":"${hash}"}\n`);
      }),
      { numRuns: 1000 },
    );
  });

  it("a batch larger than its buffer grows, and every record of it verifies", async () => {
    const file = logFile();
    const log = AuditLog.open(file, undefined);
    // 64 KiB is the first buffer; these records take about 100 KiB each, in one batch.
    await Promise.all(Array.from({ length: 5 }, (_, i) => log.append({ ...entry(i + 1), input: { note: "é".repeat(50_000) } })));
    await log.close();
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 5 });
  });

  it("the record clock writes exactly what Date#toISOString writes, within a second, across seconds and at the edges", () => {
    // The clock keeps the text up to the second: times in one second, then the next, then an earlier one.
    const times = [Date.UTC(2026, 11, 1, 19, 54, 10, 0), Date.UTC(2026, 11, 1, 19, 54, 10, 7), Date.UTC(2026, 11, 1, 19, 54, 10, 999), Date.UTC(2026, 11, 1, 19, 54, 11, 42), Date.UTC(2026, 11, 1, 19, 54, 10, 85)];
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    fc.assert(
      fc.property(fc.integer({ min: -62_198_755_200_000, max: 8.64e15 }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5000 },
    );
  });

  it("a record nobody waits for joins the next write, and close() writes it", async () => {
    const file = logFile();
    const log = AuditLog.open(file, undefined);
    const outcome = log.append(entry(1), new Date(), "soon");
    const decision = log.append(entry(2));
    // One batch: the decision's durability is the outcome's too.
    expect(decision).toBe(outcome);
    await decision;
    expect(readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l).id)).toEqual(["id-1", "id-2"]);
    const last = log.append(entry(3), new Date(), "soon");
    await log.close();
    await last;
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 3 });
  });

  it("records appended by callbacks of one event-loop turn share one durable write, whatever ran between them", async () => {
    const file = logFile();
    const log = AuditLog.open(file, undefined);
    // Two immediates queued together run in one check phase with a microtask checkpoint between them — as
    // two requests read in one poll are. A write that started after the first's microtasks would hold only
    // it. (Two 1 ms timers once stood here: on a loaded machine the second was not yet due when the first ran.)
    const written = await new Promise<Array<Promise<void>>>((resolve) => {
      const appends: Array<Promise<void>> = [];
      setImmediate(() => appends.push(log.append(entry(1))));
      setImmediate(() => resolve([...appends, log.append(entry(2))]));
    });
    expect(written[1]).toBe(written[0]);
    await Promise.all(written);
    expect(readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l).id)).toEqual(["id-1", "id-2"]);
    await log.close();
  });

  describe("commit delay", () => {
    const fileSize = (file: string) => readFileSync(file).length;

    it("a grouped record's write waits for the delay, and records appended meanwhile share it", async () => {
      const file = logFile();
      const log = AuditLog.open(file, undefined, { commitDelayMs: 300 });
      const first = log.append(entry(1), undefined, "grouped");
      await new Promise((r) => setTimeout(r, 100));
      // Nothing is on disk yet: the write is waiting for others.
      expect(fileSize(file)).toBe(0);
      const second = log.append(entry(2), undefined, "grouped");
      expect(second).toBe(first);
      const started = Date.now();
      await first;
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 2 });
      await log.close();
    });

    it("a record whose writer has no siblings ends the delay at once, and takes the waiting records with it", async () => {
      const file = logFile();
      const log = AuditLog.open(file, undefined, { commitDelayMs: 60_000 });
      const grouped = log.append(entry(1), undefined, "grouped");
      await new Promise((r) => setTimeout(r, 20));
      const started = Date.now();
      const now = log.append(entry(2));
      await Promise.all([grouped, now]);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 2 });
      await log.close();
    });

    it("close() ends a delay in progress and writes what waited", async () => {
      const file = logFile();
      const log = AuditLog.open(file, undefined, { commitDelayMs: 60_000 });
      const grouped = log.append(entry(1), undefined, "grouped");
      const started = Date.now();
      await log.close();
      await grouped;
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 1 });
    });

    it("without a delay (the default), a grouped record is written like any other", async () => {
      const file = logFile();
      const log = AuditLog.open(file, undefined);
      const started = Date.now();
      await log.append(entry(1), undefined, "grouped");
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(fileSize(file)).toBeGreaterThan(0);
      await log.close();
    });
  });

  it("finds the end of the chain from the file's end: a last record larger than the read window, a torn tail, a blank line", async () => {
    const file = logFile();
    let log = AuditLog.open(file, undefined);
    await log.append(entry(1));
    await log.append({ ...entry(2), input: { note: "x".repeat(200_000) } });
    await log.close();
    const whole = readFileSync(file).length;
    const torn = `{"v":1,"seq":3,"time":"${"y".repeat(100_000)}`;
    appendFileSync(file, torn);
    expect(logTail(file)).toMatchObject({ wholeBytes: whole, size: whole + torn.length });
    expect(JSON.parse(logTail(file).lastLine!).seq).toBe(2);
    log = AuditLog.open(file, undefined);
    await log.append(entry(4));
    await log.close();
    expect(verifyAuditFile(file, undefined)).toEqual({ ok: true, records: 3 });
    appendFileSync(file, "\n");
    expect(JSON.parse(logTail(file).lastLine!).seq).toBe(3);
    const empty = logFile();
    writeFileSync(empty, "");
    expect(logTail(empty)).toEqual({ lastLine: undefined, wholeBytes: 0, size: 0 });
  });
});
